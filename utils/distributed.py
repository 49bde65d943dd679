"""Process-group set-up for torchrun: NCCL on CUDA, gloo on CPU; plain single process otherwise."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.distributed as dist


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
    """Join the torchrun process group when WORLD_SIZE > 1, else run alone."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = select_device(device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if chosen.type == "cuda":
            torch.cuda.set_device(chosen)
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
    return DistContext(chosen, rank, world_size, local_rank)


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
