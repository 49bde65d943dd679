"""One process of test_main's DDP test, started by torchrun in place of main.py: main.py's own entry point,
with the evaluation's decoding wrapped to record the BatchNorm buffers this process evaluates with.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/ddp_eval_worker.py OUT main.py-args...

Each process saves OUT.rank<r>.pt: the buffers of every decode_split call, in order; and
OUT.collectives.rank<r>.json: how often it issued each collective (training, checkpoints, evaluation).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import main as entry  # noqa: E402
from collective_counter import count_collectives, save_counts  # noqa: E402
import seq_scripts  # noqa: E402
from utils.checkpoint import unwrap  # noqa: E402


def run(out: str, argv: list[str]) -> int:
    decode, seen = seq_scripts.decode_split, []

    def recording(model: torch.nn.Module, *args, **kwargs):
        seen.append({name: value.detach().clone() for name, value in unwrap(model).named_buffers()})
        return decode(model, *args, **kwargs)

    seq_scripts.decode_split = recording
    counts = count_collectives()
    code = entry.main(argv)
    torch.save(seen, f"{out}.rank{os.environ['RANK']}.pt")
    save_counts(counts, f"{out}.collectives.rank{os.environ['RANK']}.json")
    return code


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], sys.argv[2:]))
