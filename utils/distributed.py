"""Process-group set-up for torchrun and srun (utils/launch.py): NCCL on CUDA, gloo on CPU; plain single process
otherwise.

torchrun keeps one rendezvous store for the whole job and hands it to every attempt of the worker group
(TORCHELASTIC_USE_AGENT_STORE), while every attempt's process group writes the same keys into it. After a
restart (`--max-restarts`) a process can therefore read a dead attempt's address and fail to connect
("Gloo connectFullMesh failed ... Connection refused") or hang (PyTorch issues 135712 and 167288; measured with
torch 2.14.1: 14 of 24 runs of a plain gloo script survived a killed worker). Each attempt here joins its group
under a key prefix of its own (join_process_group); with it, 24 of 24 such runs did.
"""
from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Sequence

import torch
import torch.distributed as dist

from utils.launch import export_for_torch, launch_environment

_GROUP_TIMEOUT = timedelta(minutes=30)  # torch's default for gloo and NCCL
_beacon: Any = None  # rank 0's small store that proves its attempt is alive (kept for the process's life)
_joins = 0


@dataclass
class DistContext:
    """Where this process runs and who it is among its peers."""

    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def select_device(device: str, local_rank: int = 0) -> torch.device:
    """'cpu' or GPU indexes such as '0,1': the local rank picks one; CPU when CUDA is absent."""
    if str(device).lower() == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    indexes = [int(i) for i in str(device).split(",") if i.strip() != ""] or [0]
    return torch.device("cuda", indexes[local_rank % len(indexes)])


def init_distributed(device: str) -> DistContext:
    """Join the process group of a launch of several processes (torchrun, or srun's tasks: utils/launch.py), else
    run alone."""
    launch = launch_environment()
    export_for_torch(launch)
    world_size, rank, local_rank = launch.world_size, launch.rank, launch.local_rank
    chosen = select_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if chosen.type == "cuda":
            torch.cuda.set_device(chosen)
        join_process_group("nccl" if chosen.type == "cuda" else "gloo", rank, world_size)
    return DistContext(chosen, rank, world_size, local_rank)


def join_process_group(backend: str, rank: int, world_size: int) -> None:
    """init_process_group; under torchrun's shared store, under a prefix this attempt's processes agree on.

    Rank 0 draws a nonce, serves it from a store of its own and publishes `host|port|nonce` in torchrun's
    store; the others take a published value only when that server is alive and holds the same nonce (a
    value a dead attempt left refuses to connect, so they read again). torchrun's restart count cannot serve
    as the prefix: each node's agent counts its own restarts."""
    global _beacon, _joins
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        dist.init_process_group(backend=backend)  # env://: not torchrun, or its store is not shared
        return
    address, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    shared = dist.TCPStore(address, port, world_size, is_master=False, timeout=_GROUP_TIMEOUT)
    _joins += 1
    namespace = f"slowfastsign/{os.environ.get('TORCHELASTIC_RUN_ID', '')}/{_joins}"
    if rank == 0:
        nonce = uuid.uuid4().hex
        # global rank 0 runs on the rendezvous host (MASTER_ADDR) with torchrun's c10d and static rendezvous
        host = address if os.environ.get("GROUP_RANK", "0") == "0" else socket.getfqdn()
        _beacon = dist.TCPStore(host, 0, 1, is_master=True, timeout=_GROUP_TIMEOUT, wait_for_workers=False)
        _beacon.set("nonce", nonce)
        shared.set(f"{namespace}/beacon", f"{host}|{_beacon.port}|{nonce}")
    else:
        nonce = _live_nonce(shared, f"{namespace}/beacon")
    store = dist.PrefixStore(f"{namespace}/{nonce}", shared)
    dist.init_process_group(backend=backend, store=store, rank=rank, world_size=world_size)


def _live_nonce(shared: Any, key: str) -> str:
    """The nonce published under `key` by a rank 0 that is alive now (module docstring)."""
    deadline = time.monotonic() + _GROUP_TIMEOUT.total_seconds()
    while True:
        host, port, nonce = shared.get(key).decode().split("|")
        try:
            socket.create_connection((host, int(port)), timeout=5).close()  # a dead attempt's port refuses
            beacon = dist.TCPStore(host, int(port), 1, is_master=False, timeout=timedelta(seconds=5))
            if beacon.get("nonce").decode() == nonce:
                return nonce
        except (OSError, RuntimeError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no process of rank 0 answered under {key} within {_GROUP_TIMEOUT}")
        time.sleep(0.05)


# what gloo and NCCL say when a peer process has died or its connection dropped
_PEER_GONE = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "NCCL communicator was aborted",
              "Socket Timeout")


def peer_failure(error: BaseException) -> bool:
    """Whether a collective failed because another process of the group stopped (not a fault of this one)."""
    return isinstance(error, getattr(dist, "DistNetworkError", ())) or any(text in str(error) for text in _PEER_GONE)


def barrier(context: DistContext) -> None:
    if context.distributed:
        dist.barrier()


def gather_objects(context: DistContext, obj: Any) -> list[Any]:
    """Every process's `obj`, in rank order (just [obj] when alone)."""
    if not context.distributed:
        return [obj]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def all_reduce_sums(context: DistContext, values: Sequence[float] | torch.Tensor) -> list[float]:
    """Each value (numbers, or the entries of a 1-d tensor, read once) summed over the processes in one
    collective, in float64; the values themselves when alone."""
    if isinstance(values, torch.Tensor):
        values = values.detach().double()
    else:
        values = torch.tensor([float(value) for value in values], dtype=torch.float64)
    if context.distributed:
        values = values.to(context.device)
        dist.all_reduce(values)
    return values.tolist()

def gather_values(context: DistContext, values: Sequence[float]) -> list[list[float]]:
    """Every process's `values` (the same count on each), in rank order, in one collective (float64)."""
    local = torch.tensor([float(value) for value in values], dtype=torch.float64)
    if not context.distributed:
        return [local.tolist()]
    local = local.to(context.device)
    gathered = [torch.empty_like(local) for _ in range(context.world_size)]
    dist.all_gather(gathered, local)
    return [row.tolist() for row in gathered]


def any_process(context: DistContext, flag: bool) -> bool:
    """Whether `flag` is set on any process: one collective, so that every process decides alike."""
    return bool(all_reduce_sums(context, [float(flag)])[0])


def broadcast_buffers(model: torch.nn.Module, context: DistContext) -> None:
    """Every process takes the main process's buffers (BatchNorm running statistics): those its checkpoints
    save. DDP broadcasts them only before a training forward pass, and each process's own batches move them
    after it, so evaluating without this would give each process's share of a split other statistics."""
    if context.distributed:
        for buffer in model.buffers():
            dist.broadcast(buffer.data, src=0)


def cleanup(context: DistContext) -> None:
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()
