"""The bundled demo as a benchmark and a seed study: per seed the best checkpoint's dev and test WER, their mean
± standard deviation over the seeds (python -m evaluation.runs's figures), and the training time until dev WER
< 20%.

Runs `python main.py --config configs/demo.yaml --random-seed S` exactly as the README says, one scratch work
directory per seed, and reads the runs' own records; `--reuse` reads runs already finished there instead.

    python -m benchmarks.bench_demo [--seeds 0 1 2] [--work-dir DIR] [--reuse]
"""
from __future__ import annotations

import datetime
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import Row, load_note, record, run_benchmark
from evaluation.runs import load_run, study
from utils.cli import ArgumentParser
from utils.work_dir import TEST_RESULTS, TRAINING_HISTORY, provenance_record

REPO = Path(__file__).resolve().parents[1]
BAR_WER = 20.0  # the training minutes until dev WER falls under this are reported


def minutes_until(history: dict, wer: float) -> float | None:
    """Training minutes (the epochs' own times) until the first evaluation with a dev WER under `wer`."""
    elapsed = 0.0
    for epoch in history["epochs"]:
        elapsed += epoch["train_seconds"]
        if epoch["wer"].get("dev", {}).get("wer", 100.0) < wer:
            return elapsed / 60
    return None


def run_minutes(run_dir: Path) -> str:
    """The whole run's minutes (prepare the corpus, train, test), from its record; "-" for a run without one."""
    path = run_dir / provenance_record("train")
    if not path.is_file():
        return "-"
    provenance = json.loads(path.read_text(encoding="utf-8"))
    started, ended = (datetime.datetime.fromisoformat(provenance[key]) for key in ("started", "ended"))
    return f"{(ended - started).total_seconds() / 60:.1f} min"


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="the runs' --random-seed")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where the runs go, one seed<S> directory each (default: a new temporary directory)")
    parser.add_argument("--reuse", action="store_true", help="read the runs already finished in --work-dir")
    args = parser.parse_args(argv)
    args.work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="slowfastsign_demo_"))
    directories = [args.work_dir / f"seed{seed}" for seed in args.seeds]
    for seed, run_dir in zip(args.seeds, directories):
        if args.reuse and (run_dir / TEST_RESULTS).is_file():
            continue
        subprocess.run([sys.executable, "main.py", "--config", "configs/demo.yaml", "--work-dir", str(run_dir),
                        "--random-seed", str(seed), "--no-resume"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    runs = [load_run(run_dir) for run_dir in directories]
    (seeds,) = study(runs)
    dev, test = seeds.summary("dev"), seeds.summary("test")
    rows = [Row(f"seed {run.seed}: best checkpoint's dev / test WER (epoch {run.best_epoch})",
                f"{run.scores['dev']:.2f}% / {run.scores['test']:.2f}%") for run in runs]
    rows.append(Row(f"mean ± std over {len(runs)} seeds: dev / test WER",
                    f"{dev.mean:.2f} ± {dev.std or 0:.2f}% / {test.mean:.2f} ± {test.std or 0:.2f}%"))
    rows.append(Row("min - max: dev / test WER", f"{min(dev.values):.2f}-{max(dev.values):.2f}% / "
                                                 f"{min(test.values):.2f}-{max(test.values):.2f}%"))
    for run_dir, run in zip(directories, runs):
        history = json.loads((run_dir / TRAINING_HISTORY).read_text(encoding="utf-8"))
        reached = minutes_until(history, BAR_WER)
        total = sum(epoch["train_seconds"] for epoch in history["epochs"]) / 60
        rows.append(Row(f"seed {run.seed}: training minutes until dev WER < 20%, of {total:.1f} (20 epochs); "
                        f"whole command", ("never" if reached is None else f"{reached:.1f} min") +
                        f"; {run_minutes(run_dir)}"))
    notes = [load_note(), "dev is evaluated every 5 epochs, so the first time under 20% is an upper bound",
             "CPU kernels round differently by instruction set: these figures hold for this machine's kernels"]
    notes += [note.removeprefix("note: ") for note in seeds.notes]
    record("bench_demo", rows, notes="; ".join(notes))


if __name__ == "__main__":
    run_benchmark(main)
