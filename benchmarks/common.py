"""Shared plumbing for benchmark scripts: machine facts, a printed table, a JSON record.

Each benchmark prints its table and writes `benchmarks/results/<name>.json`;
`benchmarks/run_all.py` turns those records into `benchmarks/RESULTS.md`.
"""
from __future__ import annotations

import datetime as _dt
import os
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

from dataset.gloss_dict import load_gloss_dict
from dataset.paths import shipped_gloss_dict
from utils.cli import run_command
from utils.io import write_json_atomic
from utils.provenance import cpu_description

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def released_gloss_dict(dataset: str = "phoenix2014") -> dict[str, int]:
    """The official gloss dictionary the released checkpoints were trained with."""
    return load_gloss_dict(shipped_gloss_dict(dataset))


def released_num_classes(dataset: str = "phoenix2014") -> int:
    """Output classes of the released models: the official dictionary's glosses plus the CTC blank."""
    return len(released_gloss_dict(dataset)) + 1


@dataclass
class Row:
    """One measured figure next to the bar it has to meet."""

    figure: str
    value: str
    bar: str = ""
    passed: bool | None = None


def machine_description() -> str:
    """CPU model with the kernels torch uses on it (AVX512, AVX2: figures differ between them), core count and
    torch version, so figures can be compared across runs."""
    try:
        import torch
    except ImportError:
        torch = None
    cpu = cpu_description()
    kernels = f" ({cpu['torch_kernels']} kernels)" if cpu.get("torch_kernels") else ""
    version = f"torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch is not None else "no torch"
    return f"{cpu['model']}{kernels}, {cpu['cores']} cores, {version}"


def load_note() -> str:
    """How busy the machine was, so a reader can judge the timings."""
    load = os.getloadavg()[0]
    return f"1-minute load average {load:.1f} on {os.cpu_count()} cores at the end of the run, the benchmark's own threads included"


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of `fn` over `repeats` warm calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_gb() -> float:
    """Peak resident set size of this process so far, in GB (10^9 bytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def print_table(rows: Sequence[Row]) -> None:
    """Print rows as an aligned plain-text table."""
    header = ("figure", "value", "bar", "pass")
    cells = [header] + [(r.figure, r.value, r.bar, "" if r.passed is None else ("yes" if r.passed else "NO")) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    for i, cell in enumerate(cells):
        print("  ".join(text.ljust(width) for text, width in zip(cell, widths)))
        if i == 0:
            print("  ".join("-" * width for width in widths))


def record(name: str, rows: Sequence[Row], device: str | None = None, notes: str = "", table: str = "") -> Path:
    """Print the table and save it as results/<name>.json with machine and date; `table` is a Markdown table the
    benchmark's rows summarise (a seed study by `python -m evaluation.runs`), shown in full in RESULTS.md."""
    print_table(rows)
    if table:
        print(table)
    path = RESULTS_DIR / f"{name}.json"
    write_json_atomic(
        path,
        {
            "benchmark": name,
            "date": _dt.date.today().isoformat(),
            "machine": device or machine_description(),
            "notes": notes,
            "rows": [asdict(r) for r in rows],
            "table": table,
        },
    )
    return path


def run_benchmark(main: Callable[[list[str]], int | None]) -> None:
    """A benchmark's `__main__`: its errors get the one-line treatment of every command."""
    sys.exit(run_command(lambda argv: main(argv) or 0))
