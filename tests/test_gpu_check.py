"""benchmarks.gpu_check: its CPU-testable parts (the one-line skip, the measurements, the end-to-end smoke run)."""
import copy

import pytest
import torch

from benchmarks import gpu_check
from conftest import tiny_backbone
from slr_network import SLRModel
from utils.precision import Precision


def test_without_cuda_it_says_so_in_one_line_and_succeeds(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    out = capsys.readouterr().out.strip()
    assert "no CUDA device" in out and "\n" not in out


def test_generated_batch_is_collated_and_ctc_feasible():
    batch = gpu_check.generated_batch((40, 24), size=32, num_classes=9)
    assert batch.video.dtype == torch.uint8 and tuple(batch.video.shape[2:]) == (32, 32, 3)
    assert batch.label_length.tolist() == [4, 2]
    assert int(batch.label.min()) >= 1 and int(batch.label.max()) < 9


def test_training_measurement_takes_the_training_loops_steps():
    """Warm-up + 1 timed step through training.trainer.train_epoch == two steps of the official Adam (lr 1e-4, weight
    decay 1e-4) on the same loss, computed here by hand."""
    torch.manual_seed(0)
    model = SLRModel(9, tiny_backbone(), hidden_size=16, lstm_dropout=0.0)
    by_hand = copy.deepcopy(model).train()
    batch = gpu_check.generated_batch((24, 20), size=32, num_classes=9)
    seconds, peak = gpu_check.measure_training(model, batch, torch.device("cpu"), Precision(), steps=1)
    assert seconds > 0 and peak is None
    optimizer = torch.optim.Adam(by_hand.parameters(), lr=1e-4, weight_decay=1e-4)
    for _ in range(2):
        optimizer.zero_grad()
        gpu_check.training_loss(by_hand, batch, torch.device("cpu"), Precision()).backward()
        optimizer.step()
    for (name, ours), theirs in zip(model.named_parameters(), by_hand.parameters()):
        assert torch.equal(ours, theirs), name


def test_dropout_free_copy_makes_the_training_loss_repeatable():
    torch.manual_seed(0)
    model = gpu_check.without_dropout(SLRModel(9, tiny_backbone(), hidden_size=16).train())
    batch = gpu_check.generated_batch((24, 20), size=32, num_classes=9)
    with torch.no_grad():
        first = gpu_check.training_loss(model, batch, torch.device("cpu"), Precision())
        second = gpu_check.training_loss(model, batch, torch.device("cpu"), Precision())
    assert torch.equal(first, second)


@pytest.mark.slow
def test_smoke_run_of_main_on_the_cpu(tmp_path):
    rows = gpu_check.smoke("cpu", tmp_path)
    assert [row.passed for row in rows] == [True, True, True], [row.value for row in rows]


def test_normalisation_check_passes_the_true_division_and_fails_a_reciprocal(monkeypatch):
    """On the CPU the division is exact; a network_input that multiplies by reciprocals, as CUDA does with
    Python divisors, must be caught (the check GPU sessions run)."""
    from dataset.collate import Batch

    failures = []
    assert gpu_check.check_normalisation(torch.device("cpu"), failures).passed and failures == []

    def by_reciprocal(self, memory_format=torch.contiguous_format):
        return self.video.permute(0, 4, 1, 2, 3).float().mul_(1 / 255.0).sub_(0.45).mul_(1 / 0.225)

    monkeypatch.setattr(Batch, "network_input", by_reciprocal)
    assert not gpu_check.check_normalisation(torch.device("cpu"), failures).passed
    assert len(failures) == 1 and "differs from the official CPU bits" in failures[0]


def test_an_accumulated_measurement_makes_each_optimiser_step_of_several_forward_passes():
    """The memory rows' 1 x 2 accumulated setting: every timed optimiser step (and the warm-up) is two forward
    passes (tasks/recognition.RecognitionSteps; tests/test_ddp_steps.py checks that they step as one batch)."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    torch.manual_seed(0)
    model = SLRModel(9, tiny_backbone(), hidden_size=16, lstm_dropout=0.0)
    forwards, steps = [], []
    model.register_forward_hook(lambda *_: forwards.append(len(steps)))
    handle = register_optimizer_step_post_hook(lambda *_: steps.append(len(forwards)))
    try:
        batch = gpu_check.generated_batch((24,), size=32, num_classes=9)
        gpu_check.measure_training(model, batch, torch.device("cpu"), Precision(), steps=2, accumulate=2)
    finally:
        handle.remove()
    assert steps == [2, 4, 6] and forwards == [0, 0, 1, 1, 2, 2]
