"""Scoring the full PHOENIX14 dev set (540 sentences) with realistic hypotheses (~20% WER).

Run from the repository root: `python -m benchmarks.bench_eval`.
"""
from __future__ import annotations

import random
import tempfile
from pathlib import Path

from benchmarks.common import Row, load_note, median_time, record, run_benchmark
from evaluation import find_sclite, ground_truth_stm, read_stm, score, write_ctm
from utils.cli import ArgumentParser



def noisy_hypotheses(seed: int = 0) -> dict[str, list[str]]:
    """The dev references with random substitutions, deletions and insertions (about 20% WER)."""
    references = read_stm(ground_truth_stm("phoenix2014", "dev"))
    vocabulary = sorted({w for s in references.values() for w in s.words})
    rng = random.Random(seed)
    hypotheses = {}
    for fileid, segment in references.items():
        words = []
        for word in segment.words:
            roll = rng.random()
            if roll < 0.08:
                continue
            words.append(rng.choice(vocabulary) if roll < 0.16 else word)
            if rng.random() < 0.04:
                words.append(rng.choice(vocabulary))
        hypotheses[fileid] = words
    return hypotheses


def main(argv: list[str] | None = None) -> None:
    ArgumentParser(prog="python -m benchmarks.bench_eval", description=__doc__.split("\n")[0]).parse_args(argv)
    stm = ground_truth_stm("phoenix2014", "dev")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        ctm = Path(scratch) / "output-hypothesis-dev.ctm"
        write_ctm(ctm, noisy_hypotheses())
        for tool in ("python", "sclite"):
            seconds = median_time(lambda: score(ctm, stm, tool=tool, sclite="/nonexistent/sclite",
                                                out_dir=Path(scratch) / tool), repeats=5)
            rows.append(Row(f"score() dev, {tool} tool, no binary (540 sent.)", f"{seconds * 1000:.0f} ms"))
            report = score(ctm, stm, tool=tool, sclite="/nonexistent/sclite")
            rows.append(Row(f"WER of the synthetic hypotheses, {tool} tool", f"{report.wer:.2f}%"))
        binary = find_sclite()
        if binary is not None:
            with_sclite = median_time(lambda: score(ctm, stm, tool="sclite", out_dir=Path(scratch) / "sc"), repeats=5)
            checked = score(ctm, stm, tool="sclite", out_dir=Path(scratch) / "sc")
            rows.append(Row("score() dev, Python + sclite reports", f"{with_sclite * 1000:.0f} ms"))
            rows.append(Row("sclite agrees with Python (N,S,D,I)", "yes" if "agrees" in checked.note else checked.note))
    record("bench_eval", rows, notes=f"{load_note()}; "
                                     "median of 5 warm runs; hypotheses = dev references with random edits.")


if __name__ == "__main__":
    run_benchmark(main)
