"""The bundled demo as a benchmark: training time until dev WER < 20%, and the final WERs.

Runs `python main.py --config configs/demo.yaml` exactly as the README says (in a
scratch work directory) and reads its training history.

    python -m benchmarks.bench_demo [--work-dir DIR]
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row, load_note, record, run_benchmark
from utils.cli import ArgumentParser
from utils.work_dir import TEST_RESULTS, TRAINING_HISTORY

REPO = Path(__file__).resolve().parents[1]
BAR_WER, BAR_MINUTES = 20.0, 15.0


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.mkdtemp(prefix="slowfastsign_demo_")))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    subprocess.run([sys.executable, "main.py", "--config", "configs/demo.yaml", "--work-dir", str(args.work_dir),
                    "--no-resume"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    history = json.loads((args.work_dir / TRAINING_HISTORY).read_text(encoding="utf-8"))
    elapsed, reached = 0.0, None
    for epoch in history["epochs"]:
        elapsed += epoch["train_seconds"]
        if reached is None and epoch["wer"].get("dev", {}).get("wer", 100.0) < BAR_WER:
            reached = elapsed / 60
    final = json.loads((args.work_dir / TEST_RESULTS).read_text(encoding="utf-8"))
    record("bench_demo", [
        Row("training minutes until dev WER < 20% (demo, CPU)", "never" if reached is None else f"{reached:.1f} min",
            f"< {BAR_MINUTES:.0f} min", reached is not None and reached < BAR_MINUTES),
        Row("total training minutes (20 epochs)", f"{elapsed / 60:.1f} min"),
        Row("best checkpoint: dev / test WER", f"{final['dev']['wer']:.2f}% / {final['test']['wer']:.2f}%"),
        Row("whole command (generate, preprocess, train, test)", f"{wall / 60:.1f} min"),
    ], notes=f"{load_note()}; dev is evaluated every 5 epochs, so the first time under 20% is an upper bound")


if __name__ == "__main__":
    run_benchmark(main)
