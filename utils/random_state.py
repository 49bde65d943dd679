"""Seeding and saving every random generator, so a resumed run draws what the original would."""
from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def process_seed(seed: int, rank: int) -> int:
    """The seed of process `rank`'s generators: `seed` itself for rank 0 (so one process draws what it always
    drew), for the others a 32-bit seed (what NumPy's global generator takes) hashed from (seed, rank), so that
    rank 1 of seed 0 does not draw what rank 0 of seed 1 draws."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def seed_process_stream(seed: int, rank: int) -> None:
    """Give this process its own random stream for training (dropout masks, the loader's base seed), as one
    process drawing for the whole global batch would draw independent masks for every clip; rank 0 keeps
    the stream it has (docs/METHOD.md, "Several processes, gradient accumulation")."""
    if rank > 0:
        seed_everything(process_seed(seed, rank))


# cuBLAS's fixed workspace: what CUDA needs for repeatable matrix products (CUDA's "Results reproducibility")
CUBLAS_WORKSPACE = ":4096:8"


def configure_determinism(deterministic: bool) -> None:
    """The `deterministic` key. Off (as officially): cuDNN autotuning picks the fastest kernel per input shape.
    On: cuDNN's deterministic kernels, no autotuning, cuBLAS's fixed workspace (set before the first CUDA
    matrix product) and torch.use_deterministic_algorithms. That is warn-only: a CUDA operation with no
    deterministic kernel (the CTC loss's backward pass, max-pool and adaptive-pool backward passes) warns once
    and runs, so a GPU run is repeatable up to those (README, "Reproducing the paper's table"). Uninitialised
    memory is then filled, at some cost in speed."""
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


def get_rng_state() -> dict[str, Any]:
    """Every generator's state, under the official checkpoint's keys (`random` is Python's generator)."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"torch": torch.get_rng_state(), "cuda": cuda, "numpy": np.random.get_state(), "random": random.getstate()}


def set_rng_state(state: dict[str, Any]) -> str:
    """Restore a state saved by get_rng_state, by the official code, or by earlier versions of this
    project (`python` instead of `random`). CUDA states are restored, as officially, only when this
    machine has as many GPUs as the saving one; returns a note when they were not."""
    python_state = state["random"] if "random" in state else state["python"]
    random.setstate(python_state)
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"].cpu())
    saved_cuda = list(state.get("cuda") or [])
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if saved_cuda and len(saved_cuda) == available:
        torch.cuda.set_rng_state_all([s.cpu() for s in saved_cuda])
        return ""
    if saved_cuda:
        return f"CUDA generator states of {len(saved_cuda)} GPU(s) not restored on a machine with {available}"
    return ""
