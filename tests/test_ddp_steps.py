"""Several processes step as one (torchrun over gloo): tests/ddp_step_worker.py trains through the real
training loop with 1 and with 2 processes on the same global batches."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from collective_counter import read_counts

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The worker's results with 1 process and with 2 (each clip of a global batch dealt to one process)."""
    out = tmp_path_factory.mktemp("ddp_steps")
    results = {}
    for processes in (1, 2):
        target = out / f"{processes}.pt"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
                   str(REPO / "tests" / "ddp_step_worker.py"), str(target)]
        done = subprocess.run(command, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        results[processes] = torch.load(target, weights_only=True)
        assert results[processes]["world_size"] == processes
        results[processes]["collectives"] = [read_counts(f"{target}.collectives.rank{rank}.json")
                                             for rank in range(processes)]
    return results


def test_every_process_issues_every_collective_equally_often(runs):
    """Through every scenario (a global batch with nothing to learn, a process whose only clip cannot align,
    micro-batches of unequal lengths), both processes issue the same collectives the same number of times; the
    skip decisions are agreed, not taken by one process alone."""
    first, second = runs[2]["collectives"]
    assert first == second
    assert first.get("all_reduce", 0) >= 3 + 2 + 1  # at least one agreement per optimiser step taken or skipped


@pytest.mark.parametrize("processes", [1, 2])
def test_a_global_batch_with_nothing_usable_moves_nothing(runs, processes):
    """Three steps whose third global batch has no alignable clip == the first two steps alone, bit for bit:
    Adam's moments and weight decay must not move any weight on a step nobody could use."""
    skip = runs[processes]["skip"]
    three, two = skip["three_steps"], skip["two_steps"]
    for name, value in two["parameters"].items():
        assert torch.equal(three["parameters"][name], value), name
    assert three["optimizer"].keys() == two["optimizer"].keys()
    for index, state in two["optimizer"].items():
        for key, value in state.items():
            assert torch.equal(three["optimizer"][index][key], value), (index, key)


def test_a_process_with_only_unusable_clips_weighs_the_others_as_one_process_would(runs):
    """Global batch [alignable clip, clip too short for its label]: 2 processes x 1 clip (the second process
    has nothing alignable) against 1 process x 2 clips. The CTC terms are the mean over the one usable clip,
    the distillation the mean over both clips' frames, in both; BatchNorm is frozen (per-process batch
    statistics would differ), so loss, gradients and the SGD step agree to float32 rounding."""
    assert_same_step(runs[2]["weigh"], runs[1]["weigh"], "2 x 1")


def assert_same_step(ours: dict, reference: dict, where: str) -> None:
    """Loss, parts, gradients and parameters of one step equal to float32 rounding (summed in another order)."""
    assert ours["loss"] == pytest.approx(reference["loss"], rel=1e-5), where
    for key, value in reference["parts"].items():
        assert ours["parts"][key] == pytest.approx(value, rel=1e-5, abs=1e-5), (where, key)
    for name, gradient in reference["gradients"].items():
        torch.testing.assert_close(ours["gradients"][name], gradient, rtol=1e-4, atol=1e-6, msg=f"{where}: {name}")
    for name, value in reference["parameters"].items():
        torch.testing.assert_close(ours["parameters"][name], value, rtol=1e-5, atol=1e-7, msg=f"{where}: {name}")


@pytest.mark.parametrize("processes, size", [(1, 2), (1, 1), (2, 1), (2, 2)])
def test_micro_batches_and_processes_of_clips_of_unequal_lengths_step_as_one_batch(runs, processes, size):
    """Four clips of 17 to 41 frames: one batch of four in one process against the same clips as micro-batches
    (accumulate_grad_batches) and over two processes. Every micro-batch is padded to the global batch's longest
    clip, so each clip's features, the distillation's rows and the CTC mean are one batch's: with BatchNorm
    frozen (its batch statistics are per micro-batch and per process) the steps agree to float32 rounding."""
    reference = runs[1]["accumulate"][4]
    assert_same_step(runs[processes]["accumulate"][size], reference, f"{processes} x {size}")
