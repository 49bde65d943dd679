"""Stopping and resuming a real run: a scheduler's SIGTERM (one process and torchrun), a SIGKILL after a
periodic checkpoint, a checkpoint in the official layout, a worker killed under `torchrun --max-restarts`.
Every interrupted run must end with the weights of the run that was never interrupted, bit for bit."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from checkpoint_files import save_as_official_code
from conftest import child_env, run_args, torchrun
from training.preemption import STOPPED_EXIT_CODE
from utils.checkpoint import read_checkpoint

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

RESUME_ARGS = ["--num-epoch", "3", "--max-steps-per-epoch", "6", "--eval-interval", "5", "save_interval=1"]
# two processes of batch 1 accumulating 2 micro-batches, evaluated after every epoch
DDP_ARGS = ["--num-epoch", "2", "--max-steps-per-epoch", "4", "--batch-size", "1", "accumulate_grad_batches=2",
            "--eval-interval", "1"]


def start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=REPO, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def main_py(*args: str) -> list[str]:
    return [sys.executable, "main.py", *args]


def wait_for(process: subprocess.Popen, text: str) -> list[str]:
    """The output lines up to and including the first that contains `text`."""
    seen = []
    for line in process.stdout:
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never appeared:\n{''.join(seen[-30:])}")


def finish(process: subprocess.Popen, timeout: float = 600) -> str:
    output = process.communicate(timeout=timeout)[0]
    assert process.returncode == 0, output[-3000:]
    return output


def assert_same_run(work_dir: Path, reference: Path, history: bool = True) -> None:
    """The final checkpoints hold the same weights, buffers and optimiser state, and (`history`) the histories
    the same figures (training times aside)."""
    final, expected = (read_checkpoint(path / "last_checkpoint.pt") for path in (work_dir, reference))
    assert final["model_state_dict"].keys() == expected["model_state_dict"].keys()
    for key, value in expected["model_state_dict"].items():
        assert torch.equal(final["model_state_dict"][key], value), key
    for index, state in expected["optimizer_state_dict"]["state"].items():
        for key, value in state.items():
            assert torch.equal(final["optimizer_state_dict"]["state"][index][key], value), (index, key)
    if not history:
        return
    histories = [json.loads((path / "training_history.json").read_text()) for path in (work_dir, reference)]
    for history in histories:
        for record in history["epochs"]:
            record.pop("train_seconds")
    assert histories[0] == histories[1]


@pytest.fixture(scope="module")
def straight_run(corpus, tmp_path_factory):
    """Three short epochs without interruption, every epoch's checkpoint kept."""
    work_dir = tmp_path_factory.mktemp("straight")
    finish(start(main_py(*run_args(corpus, work_dir, *RESUME_ARGS))))
    return work_dir


@pytest.fixture(scope="module")
def straight_ddp_run(corpus, tmp_path_factory):
    """Two processes, uninterrupted."""
    work_dir = tmp_path_factory.mktemp("straight_ddp")
    finish(start(torchrun(2, *run_args(corpus, work_dir, *DDP_ARGS))))
    return work_dir


def test_sigterm_checkpoints_mid_epoch_and_the_rerun_continues_exactly(corpus, straight_run, tmp_path):
    """As a scheduler stops a job: SIGTERM to every process of the run (its loader worker too), then a second
    one while it is stopping. The run finishes its step, writes a checkpoint of where it stands within the
    epoch, exits with code 75 within seconds; other settings cannot continue that epoch (one line naming the
    checkpoint to use instead); the same command again ends as the uninterrupted run, weights, optimiser and
    history alike."""
    work_dir = tmp_path / "stopped"
    args = run_args(corpus, work_dir, *RESUME_ARGS, "--num-worker", "1")
    process = start(main_py(*args))
    wait_for(process, "epoch 1 step 3/")
    sent = time.monotonic()
    os.killpg(process.pid, signal.SIGTERM)
    time.sleep(0.05)
    os.killpg(process.pid, signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    seconds = time.monotonic() - sent
    assert process.returncode == STOPPED_EXIT_CODE, output[-3000:]
    assert seconds < 30, seconds
    saved = read_checkpoint(work_dir / "last_checkpoint.pt")
    position = saved["position"]
    assert "epoch" not in position and 4 <= position["step"] <= 6 and saved["epoch"] == 0  # one epoch counter: 1 next
    assert f"stopped on SIGTERM epoch 1, before step {position['step']}" in output
    assert "error" not in output.lower()

    refused = subprocess.run(main_py(*args, "--batch-size", "1"), cwd=REPO, env=child_env(), capture_output=True,
                             text=True, timeout=300)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert (f"stopped part-way through epoch 1 with batch_size 2 (now 1); continue it with the same settings, or "
            f"resume from the last kept epoch checkpoint (--load-checkpoints {work_dir / 'epoch000_model.pt'})"
            in refused.stderr)
    resumed = finish(start(main_py(*args)))
    assert f"continuing at epoch 1 step {position['step']}" in resumed
    assert_same_run(work_dir, straight_run)


def test_sigusr1_stops_a_step_as_sigterm_does(corpus, straight_run, tmp_path):
    """SLURM's --signal sends SIGUSR1 before the end of a job's time: the run finishes its step, checkpoints the
    position within the epoch and exits 75; the rerun ends as the uninterrupted run."""
    work_dir = tmp_path / "usr1"
    args = run_args(corpus, work_dir, *RESUME_ARGS)
    process = start(main_py(*args))
    wait_for(process, "epoch 1 step 2/")
    os.killpg(process.pid, signal.SIGUSR1)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == STOPPED_EXIT_CODE, output[-3000:]
    assert "stopped on SIGUSR1 epoch 1, before step" in output
    saved = read_checkpoint(work_dir / "last_checkpoint.pt")
    assert saved["epoch"] == 0 and 3 <= saved["position"]["step"] <= 6
    finish(start(main_py(*args)))
    assert_same_run(work_dir, straight_run)


@pytest.mark.parametrize("moment", ["imports", "set-up", "test after training"])
def test_a_stop_at_any_moment_exits_75_and_the_rerun_ends_as_the_uninterrupted_run(corpus, straight_run, tmp_path,
                                                                                   moment):
    """SIGTERM while main.py imports torch, once the run has logged its first line, and while it tests its best
    checkpoint after training: exit code 75 with one line, nothing half-written, and the same command again ends
    with the uninterrupted run's weights and history."""
    work_dir = tmp_path / "stopped"
    args = run_args(corpus, work_dir, *RESUME_ARGS, "test_after_train=true")
    process = start(main_py(*args))
    if moment == "imports":
        time.sleep(0.8)  # main.py has parsed its configuration; torch takes seconds to import
    else:
        wait_for(process, "Phase train" if moment == "set-up" else "Testing ")
    os.killpg(process.pid, signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == STOPPED_EXIT_CODE, output[-3000:]
    assert "stopped on SIGTERM" in output and "Traceback" not in output
    assert not list(work_dir.rglob("*.tmp")) and not list(work_dir.rglob(".*partial*"))
    finish(start(main_py(*args)))
    assert_same_run(work_dir, straight_run)
    assert (work_dir / "test_results.json").is_file()


def test_a_sigkill_loses_only_the_steps_since_the_periodic_checkpoint(corpus, straight_run, tmp_path):
    """checkpoint_steps=2: killed without warning in the middle of epoch 1, the run resumes from the checkpoint
    written within that epoch, not from the epoch's start."""
    work_dir = tmp_path / "killed"
    process = start(main_py(*run_args(corpus, work_dir, *RESUME_ARGS, "checkpoint_steps=2")))
    wait_for(process, "epoch 1 step 3/")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    saved = read_checkpoint(work_dir / "last_checkpoint.pt")
    position = saved["position"]
    assert saved["epoch"] == 0 and position["step"] in (2, 4)  # part-way through epoch 1

    resumed = finish(start(main_py(*run_args(corpus, work_dir, *RESUME_ARGS))))
    assert f"Resumed from {work_dir / 'last_checkpoint.pt'}: continuing at epoch 1 step {position['step']}" in resumed
    assert_same_run(work_dir, straight_run)


def test_checkpoint_in_the_official_layout_resumes_exactly(corpus, straight_run, tmp_path):
    """Only the official keys, RNG under the official names, numpy's state pickled by numpy 1.x: resuming
    epoch 1 from it ends where the straight run ends (dropout masks come from the restored torch generator)."""
    save_as_official_code(read_checkpoint(straight_run / "epoch000_model.pt"), tmp_path / "official.pt")
    output = finish(start(main_py(*run_args(corpus, tmp_path / "resumed", *RESUME_ARGS, "--load-checkpoints",
                                            str(tmp_path / "official.pt")))))
    assert "continuing at epoch 1" in output
    assert_same_run(tmp_path / "resumed", straight_run, history=False)  # the official layout records none


def test_sigterm_to_torchrun_stops_every_process_at_one_step_and_the_rerun_continues_exactly(
        corpus, straight_ddp_run, tmp_path):
    """Two processes accumulating micro-batches: SIGTERM to torchrun (which passes it to its workers) stops
    both at the same step with one checkpoint holding both processes' random states; torchrun again ends with
    the uninterrupted run's weights."""
    work_dir = tmp_path / "stopped"
    process = start(torchrun(2, *run_args(corpus, work_dir, *DDP_ARGS)))
    wait_for(process, "epoch 0 step 1/")
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode != 0
    saved = read_checkpoint(work_dir / "last_checkpoint.pt")
    position = saved["position"]
    assert (position["processes"], position["accumulate_grad_batches"], len(saved["rng_states"])) == (2, 2, 2)
    assert not torch.equal(saved["rng_states"][0]["torch"], saved["rng_states"][1]["torch"])
    assert f"before step {position['step']}" in output

    resumed = finish(start(torchrun(2, *run_args(corpus, work_dir, *DDP_ARGS))))
    assert f"continuing at epoch {saved['epoch'] + 1} step {position['step']}" in resumed  # the stopped epoch
    assert_same_run(work_dir, straight_ddp_run)


def _worker(launcher: int, rank: int) -> int:
    """The pid of the training process of `rank` that the torchrun process `launcher` started."""
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environment = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent == launcher and f"RANK={rank}".encode() in environment:
            return int(entry.name)
    raise AssertionError(f"no worker of rank {rank} under process {launcher}")


def test_workers_killed_under_torchrun_max_restarts_are_restarted_and_the_run_ends_as_if_uninterrupted(
        corpus, straight_ddp_run, tmp_path):
    """`torchrun --max-restarts 2` with a checkpoint every step: SIGKILL one worker mid-epoch, twice; each time
    torchrun restarts the group, whose processes join a fresh process group (utils/distributed.py; without it
    about 4 restarts in 10 fail to connect) and resume from the latest checkpoint, each with its own random
    state; the run ends as the uninterrupted one."""
    work_dir = tmp_path / "restarted"
    command = torchrun(2, *run_args(corpus, work_dir, *DDP_ARGS, "checkpoint_steps=1"))
    command[command.index("main.py"):command.index("main.py")] = ["--max-restarts", "2"]
    process = start(command)
    seen = []
    for epoch, rank in ((0, 1), (1, 0)):
        seen += wait_for(process, f"epoch {epoch} step 1/")
        os.kill(_worker(process.pid, rank), signal.SIGKILL)
    output = "".join(seen) + finish(process)
    assert output.count("continuing at epoch") == 2 and "continuing at epoch 1 step" in output
    assert_same_run(work_dir, straight_ddp_run)
