"""The trainer's step (training/trainer.py): the skip policy, each skip moving what it says and nothing else."""
import copy
import logging

import torch

from conftest import tiny_backbone, tiny_recognition_batch
from modules.losses import SLRLoss
from slr_network import SLRModel
from tasks.recognition import RecognitionSteps
from training.trainer import train_epoch
from utils.distributed import DistContext
from utils.precision import Precision


def _batch(frames=(24, 20)):
    return tiny_recognition_batch(frames)


def _setup():
    model = SLRModel(5, tiny_backbone(), hidden_size=16, lstm_dropout=0.0)  # no randomness: runs comparable
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    return model, optimizer, scaler, DistContext(torch.device("cpu"))


def _train(model, batches, optimizer, scaler, context, **kwargs):
    return train_epoch(RecognitionSteps(SLRLoss(), model.conv1d), model, batches, optimizer, scaler, context,
                       epoch=0, precision=Precision(), log_interval=0, **kwargs)


def test_non_finite_gradients_skip_the_step_and_are_counted(caplog):
    batches = [_batch(), _batch(), _batch()]
    model, optimizer, scaler, context = _setup()
    reference = copy.deepcopy(model)
    poisoned = {"calls": 0}

    def poison(grad):
        poisoned["calls"] += 1
        return torch.full_like(grad, float("nan")) if poisoned["calls"] == 2 else grad

    model.classifier[0].weight.register_hook(poison)
    with caplog.at_level(logging.WARNING):
        stats = _train(model, batches, optimizer, scaler, context)
    assert stats.skipped_nonfinite == 1
    assert stats.steps == 2
    assert "non-finite gradients; step skipped" in caplog.text
    # the poisoned batch changed no weight (its forward pass did update BatchNorm statistics, as officially):
    # the weights equal those of training on the other two batches alone
    reference_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    _train(reference, [batches[0], batches[2]], reference_optimizer, scaler, context)
    for (name, ours), theirs in zip(model.named_parameters(), reference.parameters()):
        assert torch.equal(ours, theirs), name


def test_batches_with_no_alignable_sample_are_skipped_without_a_step():
    model, optimizer, scaler, context = _setup()
    before = [p.detach().clone() for p in model.parameters()]
    impossible = _batch((4, 4))  # one output step per clip, two glosses each
    stats = _train(model, [impossible], optimizer, scaler, context)
    assert stats.skipped_infeasible_batches == 1 and stats.steps == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_a_batch_with_no_alignable_sample_still_runs_its_forward_pass_as_officially():
    """The official loop computes the forward pass and an inf loss before skipping such a batch: BatchNorm's
    running statistics and the random stream (dropout masks) move as for any batch, so every later step
    depends on it as in the official code."""
    torch.manual_seed(0)
    model = SLRModel(5, tiny_backbone(dropout=0.5), hidden_size=16, lstm_dropout=0.3)
    by_hand = copy.deepcopy(model).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    impossible = _batch((4, 4))
    start = torch.get_rng_state()
    _train(model, [impossible], optimizer, torch.amp.GradScaler("cuda", enabled=False), DistContext(torch.device("cpu")))
    after = torch.get_rng_state()
    torch.set_rng_state(start)
    by_hand(impossible.network_input(), impossible.video_length)
    assert torch.equal(torch.get_rng_state(), after)
    buffers = dict(by_hand.named_buffers())
    assert any(value.abs().sum() > 0 for name, value in model.named_buffers() if name.endswith("running_mean"))
    for name, value in model.named_buffers():
        assert torch.equal(value, buffers[name]), name


