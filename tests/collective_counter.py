"""How many times this process issued each torch.distributed collective: the torchrun workers of the tests record
it, and the tests ask that every process issued every collective equally often (a process that skips one
deadlocks its peers, or pairs its next collective with the wrong call)."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import torch.distributed as dist

COLLECTIVES = ("all_reduce", "all_gather", "all_gather_object", "broadcast", "broadcast_object_list", "barrier",
               "gather", "gather_object", "reduce", "scatter", "reduce_scatter", "all_to_all")


def count_collectives() -> Counter:
    """From now on, every call of a collective of torch.distributed in this process is counted by name."""
    counts: Counter = Counter()
    for name in COLLECTIVES:
        original = getattr(dist, name, None)
        if original is None:
            continue

        def counting(*args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        setattr(dist, name, counting)
    return counts


def save_counts(counts: Counter, path: str | Path) -> None:
    Path(path).write_text(json.dumps(dict(sorted(counts.items()))), encoding="utf-8")


def read_counts(path: str | Path) -> dict[str, int]:
    return json.loads(Path(path).read_text(encoding="utf-8"))
