"""What an interruption costs: seconds from a scheduler's signal to the exit, training steps lost, the time a
rerun needs to take its first step again, and the time to write the R101's resumable checkpoint.

Runs the demo's configuration (generated corpus, 16-wide R18, 64 px) in scratch work directories: one process
and two (torchrun, gloo) are sent SIGTERM in the middle of an epoch, and rerun.

    python -m benchmarks.bench_interruption [--steps 30]
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import Row, load_note, record, run_benchmark
from utils.checkpoint import read_checkpoint
from utils.cli import ArgumentParser
from utils.work_dir import LAST_CHECKPOINT

REPO = Path(__file__).resolve().parents[1]
STEP_LINE = re.compile(r"epoch (\d+) step (\d+)/")


def _command(processes: int, work_dir: Path, data: Path, steps: int) -> list[str]:
    launcher = [sys.executable] if processes == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    return launcher + ["main.py", "--config", "configs/demo.yaml", "--work-dir", str(work_dir), "--num-epoch", "1",
                       "--max-steps-per-epoch", str(steps), "--log-interval", "1", "--batch-size", str(2 // processes),
                       "test_after_train=false", f"synthetic.root={data}", f"dataset_info.info_dir={data / 'preprocessed'}"]


def _stop_mid_epoch(command: list[str], at_step: int) -> tuple[float, int, int]:
    """Seconds from SIGTERM (sent once `at_step` is logged) to the exit, the last step logged before the exit,
    and the exit code."""
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    last, sent = -1, None
    for line in process.stdout:
        match = STEP_LINE.search(line)
        if match:
            last = int(match.group(2))
            if sent is None and last >= at_step:
                process.send_signal(signal.SIGTERM)
                sent = time.perf_counter()
    process.wait()
    return time.perf_counter() - sent, last, process.returncode


def _first_step_seconds(command: list[str]) -> float:
    """Seconds from the start of a command to its first logged training step (then it is stopped)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    for line in process.stdout:
        if STEP_LINE.search(line):
            seconds = time.perf_counter() - start
            process.kill()
            process.wait()
            return seconds
    raise RuntimeError("the run logged no training step")


def _r101_checkpoint(scratch: Path) -> tuple[float, float]:
    """Seconds and GB to write the R101's resumable checkpoint (weights, Adam's two moments, the rest)."""
    from training.optimizer import build_optimizer
    from slr_network import SLRModel
    from utils.checkpoint import save_checkpoint, training_state
    from utils.config.merge import build_config

    model = SLRModel(1296)
    optimizer, scheduler = build_optimizer(build_config(), model)
    for parameter in model.parameters():
        parameter.grad = torch.zeros_like(parameter)
    optimizer.step()  # creates the moments
    state = training_state(0, model, optimizer, scheduler, torch.amp.GradScaler("cuda", enabled=False), {}, {})
    start = time.perf_counter()
    save_checkpoint(scratch / "r101.pt", state)
    return time.perf_counter() - start, (scratch / "r101.pt").stat().st_size / 1e9


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="steps of the interrupted epoch")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="slowfastsign_interruption_") as scratch:
        scratch = Path(scratch)
        data = scratch / "data"
        for processes in (1, 2):
            work_dir = scratch / f"run{processes}"
            command = _command(processes, work_dir, data, args.steps)
            seconds, last, code = _stop_mid_epoch(command, args.steps // 2)
            checkpoint = read_checkpoint(work_dir / LAST_CHECKPOINT)
            lost = last + 1 - checkpoint["position"]["step"]
            who = "1 process" if processes == 1 else f"{processes} processes (torchrun, gloo)"
            rows += [Row(f"{who}: SIGTERM mid-epoch -> exit (exit code {code})", f"{seconds:.1f} s"),
                     Row(f"{who}: steps finished before the exit but not in the checkpoint", str(lost), "0",
                         lost == 0),
                     Row(f"{who}: rerun, start -> first step taken", f"{_first_step_seconds(command):.1f} s")]
        seconds, size = _r101_checkpoint(scratch)
        rows.append(Row(f"R101 resumable checkpoint ({size:.2f} GB: weights, Adam moments) written", f"{seconds:.1f} s"))
    record("bench_interruption", rows, notes=f"{load_note()}; demo model; a SIGKILL loses the steps since the last "
                                             f"checkpoint (checkpoint_minutes, checkpoint_steps)")


if __name__ == "__main__":
    run_benchmark(main)
