import logging

import torch

from conftest import padded_frames, tiny_backbone
from dataset.collate import Batch
from modules.losses import SLRLoss
from seq_scripts import train_epoch
from slr_network import SLRModel
from utils.distributed import DistContext
from utils.precision import Precision


def _batch(frames=(24, 20)):
    lengths = torch.tensor([padded_frames(t) for t in frames])
    video = torch.randint(0, 256, (len(frames), int(lengths.max()), 32, 32, 3), dtype=torch.uint8)
    return Batch(video=video, video_length=lengths,
                 label=torch.tensor([1, 2, 3, 1]), label_length=torch.tensor([2, 2]),
                 info=[{"fileid": f"v{i}"} for i in range(len(frames))])


def _setup():
    model = SLRModel(5, tiny_backbone(), hidden_size=16)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    return model, optimizer, scaler, DistContext(torch.device("cpu"))


def test_non_finite_gradients_skip_the_step_and_are_counted(caplog):
    model, optimizer, scaler, context = _setup()
    poisoned = {"calls": 0}

    def poison(grad):
        poisoned["calls"] += 1
        return torch.full_like(grad, float("nan")) if poisoned["calls"] == 2 else grad

    model.classifier[0].weight.register_hook(poison)
    snapshots = []
    with caplog.at_level(logging.WARNING):
        stats = train_epoch(model, [_batch(), _batch(), _batch()], SLRLoss(), optimizer, scaler, context, epoch=0,
                            precision=Precision(), log_interval=0,
                            on_step=lambda *_: snapshots.append(model.classifier[0].weight.detach().clone()))
    assert stats.skipped_nonfinite == 1
    assert stats.steps == 2
    assert "non-finite gradients; step skipped" in caplog.text
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # the second batch changed nothing: the third step starts from the weights left by the first
    assert len(snapshots) == 2 and not torch.equal(snapshots[0], snapshots[1])


def test_batches_with_no_alignable_sample_are_skipped_without_a_step():
    model, optimizer, scaler, context = _setup()
    before = [p.detach().clone() for p in model.parameters()]
    impossible = _batch((4, 4))  # one output step per clip, two glosses each
    stats = train_epoch(model, [impossible], SLRLoss(), optimizer, scaler, context, epoch=0, precision=Precision(), log_interval=0)
    assert stats.skipped_infeasible_batches == 1 and stats.steps == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
