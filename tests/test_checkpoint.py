"""utils/checkpoint.py: the whole training state in the official layout, and loading weights of ours or official."""
import os
import random

import numpy as np
import pytest
import torch

from conftest import tiny_backbone
from checkpoint_files import OFFICIAL_KEYS, CreatesAFile, save_as_official_code
from slr_network import SLRModel
from utils.checkpoint import (apply_model_weights, read_checkpoint, restore_training_state, save_checkpoint,
                              training_state)
from utils.errors import CheckpointError



def tiny_model(num_classes=7, seed=0):
    torch.manual_seed(seed)
    return SLRModel(num_classes, tiny_backbone(), hidden_size=16)


def training_parts(model):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[1], gamma=0.5)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    return optimizer, scheduler, scaler


def one_step(model, optimizer, scheduler):
    for index, p in enumerate(model.parameters()):
        p.grad = torch.full_like(p, 0.01 * (index % 3 - 1))
    optimizer.step()
    scheduler.step()


def test_round_trip_restores_weights_optimizer_schedule_and_random_generators(tmp_path):
    model = tiny_model()
    optimizer, scheduler, scaler = training_parts(model)
    one_step(model, optimizer, scheduler)
    state = training_state(4, model, optimizer, scheduler, scaler, {"epochs": [4]}, {"num_epoch": 9},
                           extras={"gloss_dict": {"A": 1}})
    save_checkpoint(tmp_path / "c.pt", state)
    expected_draws = (torch.rand(3), np.random.rand(2), random.random())

    fresh = tiny_model(seed=1)
    fresh_optimizer, fresh_scheduler, fresh_scaler = training_parts(fresh)
    point = restore_training_state(tmp_path / "c.pt", fresh, fresh_optimizer, fresh_scheduler, fresh_scaler)
    assert (point.start_epoch, point.history) == (5, {"epochs": [4]})
    assert torch.equal(torch.rand(3), expected_draws[0])
    assert np.array_equal(np.random.rand(2), expected_draws[1]) and random.random() == expected_draws[2]
    for (name, ours), theirs in zip(fresh.state_dict().items(), model.state_dict().values()):
        assert torch.equal(ours, theirs), name
    assert fresh_scheduler.state_dict() == scheduler.state_dict()
    assert fresh_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"] == 5e-4
    for ours, theirs in zip(fresh_optimizer.state.values(), optimizer.state.values()):
        assert all(torch.equal(ours[key], theirs[key]) for key in ("exp_avg", "exp_avg_sq", "step"))
    saved = read_checkpoint(tmp_path / "c.pt")
    assert set(OFFICIAL_KEYS) <= set(saved) and set(saved["rng_state"]) == {"torch", "cuda", "numpy", "random"}
    assert (saved["gloss_dict"], saved["config"]) == ({"A": 1}, {"num_epoch": 9})


def test_an_official_checkpoint_from_numpy_1_resumes_without_our_extra_keys(tmp_path):
    model = tiny_model()
    optimizer, scheduler, scaler = training_parts(model)
    one_step(model, optimizer, scheduler)
    full = training_state(0, model, optimizer, scheduler, scaler, {}, {})
    save_as_official_code(full, tmp_path / "official.pt")
    expected_numpy_draws = np.random.rand(3)
    np.random.seed(99)
    fresh = tiny_model(seed=1)
    fresh_optimizer, fresh_scheduler, fresh_scaler = training_parts(fresh)
    point = restore_training_state(tmp_path / "official.pt", fresh, fresh_optimizer, fresh_scheduler, fresh_scaler)
    assert (point.start_epoch, point.history) == (1, {})
    assert all(torch.equal(a, b) for a, b in zip(fresh.parameters(), model.parameters()))
    assert np.array_equal(np.random.rand(3), expected_numpy_draws)  # numpy's state under numpy 1's names
    assert fresh_scheduler.state_dict()["milestones"] == scheduler.state_dict()["milestones"]


class _RunsACommand:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


@pytest.mark.parametrize(("payload", "named"), [(CreatesAFile, "io.open"), (_RunsACommand, "system")])
def test_a_checkpoint_that_names_code_is_refused_and_nothing_runs(tmp_path, payload, named):
    target = tmp_path / "created_by_the_checkpoint"
    crafted = {"model_state_dict": tiny_model().state_dict(), "epoch": payload(target)}
    torch.save(crafted, tmp_path / "crafted.pt")
    with pytest.raises(CheckpointError) as caught:
        read_checkpoint(tmp_path / "crafted.pt")
    message = str(caught.value)
    assert "crafted.pt is not a plain-data checkpoint: it names" in message and named in message
    assert "\n" not in message
    assert not target.exists()
    with pytest.raises(CheckpointError, match="not a plain-data checkpoint"):  # resuming reads it the same way
        restore_training_state(tmp_path / "crafted.pt", tiny_model(), *training_parts(tiny_model()))
    assert not target.exists()


@pytest.mark.parametrize(("content", "expected"), [
    (b"<!DOCTYPE html><html><head><title>Virus scan warning</title>", "is a web page (HTML)"),
    (b"epoch,wer\n1,20.3\n", "is no PyTorch checkpoint"),
    (b"", "is empty (0 bytes)"),
])
def test_files_that_are_no_checkpoint_say_so_in_plain_words(tmp_path, content, expected):
    (tmp_path / "download.pt").write_bytes(content)
    with pytest.raises(CheckpointError) as caught:
        read_checkpoint(tmp_path / "download.pt")
    assert expected in str(caught.value) and "MARK" not in str(caught.value)


def test_weights_alone_cannot_resume(tmp_path):
    model = tiny_model()
    save_checkpoint(tmp_path / "w.pt", {"model_state_dict": model.state_dict()})
    with pytest.raises(CheckpointError, match=r"w.pt cannot resume training: it has no epoch, optimizer_state_dict"):
        restore_training_state(tmp_path / "w.pt", model, *training_parts(model))


def test_data_parallel_prefixes_are_stripped():
    donor, model = tiny_model(seed=2), tiny_model(seed=3)
    apply_model_weights(model, {"model_state_dict": {f"module.{k}": v for k, v in donor.state_dict().items()}})
    for (name, ours), theirs in zip(model.state_dict().items(), donor.state_dict().values()):
        assert torch.equal(ours, theirs), name


def test_ignored_prefixes_keep_their_initialisation_across_vocabularies():
    donor, model = tiny_model(num_classes=9, seed=2), tiny_model(num_classes=7, seed=3)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    apply_model_weights(model, {"model_state_dict": donor.state_dict()}, ignore=["classifier", "conv1d.fc"])
    for name, value in model.state_dict().items():
        expected = initial[name] if name.startswith(("classifier", "conv1d.fc")) else donor.state_dict()[name]
        assert torch.equal(value, expected), name


def test_another_vocabulary_is_one_line_error_with_the_fix():
    donor, model = tiny_model(num_classes=9), tiny_model(num_classes=7)
    with pytest.raises(CheckpointError) as caught:
        apply_model_weights(model, {"model_state_dict": donor.state_dict()}, source="other.pt")
    message = str(caught.value)
    assert message.startswith("other.pt: conv1d.fc.0.weight is [16, 9] in the checkpoint but [16, 7] in the model")
    assert "ignore_weights=[classifier,conv1d.fc]" in message and "\n" not in message


def test_missing_and_truncated_files_are_one_line_errors(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        read_checkpoint(tmp_path / "absent.pt")
    model = tiny_model()
    save_checkpoint(tmp_path / "c.pt", {"model_state_dict": model.state_dict()})
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut.pt is damaged or truncated \(PytorchStreamReader failed reading "
                                              r"zip archive: failed finding central directory\); copy or download"):
        read_checkpoint(tmp_path / "cut.pt")
