"""The trainer's step (training/trainer.py): the skip policy, each skip moving what it says and nothing else."""
import copy
import logging

import pytest
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




class LinearSteps:
    """A task's step with nothing of recognition: y = w x, squared error; `None` batches are unreadable, a batch
    with `learn=False` has nothing to learn from, `nan` poisons the loss."""

    excluded_name, excluded_key = "left out", "excluded"

    def __init__(self):
        self.idle = 0

    def local_step(self, micro_batches):
        from tasks.base import LocalStep

        present = [batch for batch in micro_batches if batch is not None]
        return LocalStep(present, missing=len(present) < len(micro_batches),
                         learnable=sum(batch["learn"] for batch in present), sums=(len(present),))

    def plan(self, local, agreed):
        return [(batch, agreed.sums[0]) for batch in local.batches]

    def loss(self, model, batch, plan, context, precision):
        from tasks.base import StepLoss

        value = ((model(batch["x"]) - batch["y"]) ** 2).mean() / plan + batch.get("nan", 0.0)
        return StepLoss(value, {"mse": value.detach()}, names=["b"])

    def forward_without_learning(self, model, batch, context, precision):
        self.idle += 1


def linear_batch(learn=True, nan=0.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 3, generator=generator)
    return {"x": x, "y": x.sum(1, keepdim=True), "learn": learn, "nan": nan}


def test_the_skip_policy_is_the_trainers_whatever_the_task():
    """Missing, nothing to learn, non-finite loss: each skipped step moves no weight and no per-step schedule,
    is counted, and only a step with nothing to learn runs the task's forward_without_learning."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))
    recipe = LinearSteps()
    batches = [linear_batch(seed=1), None, linear_batch(learn=False), linear_batch(nan=float("nan")),
               linear_batch(seed=2)]
    reference = copy.deepcopy(model)
    stats = train_epoch(recipe, model, batches, optimizer, torch.amp.GradScaler("cuda", enabled=False),
                        DistContext(torch.device("cpu")), epoch=0, precision=Precision(), log_interval=0,
                        scheduler=scheduler)
    assert (stats.steps, stats.skipped_missing_batches, stats.skipped_infeasible_batches,
            stats.skipped_nonfinite) == (2, 1, 1, 1)
    assert recipe.idle == 1 and scheduler.last_epoch == 2  # the schedule moved with the two steps taken
    # the same weights as two plain SGD steps on the good batches, at the schedule's rates 1 and 1/2
    for rate, batch in ((0.1, batches[0]), (0.05, batches[4])):
        loss = ((reference(batch["x"]) - batch["y"]) ** 2).mean()
        grads = torch.autograd.grad(loss, list(reference.parameters()))
        with torch.no_grad():
            for parameter, grad in zip(reference.parameters(), grads):
                parameter -= rate * grad
    for ours, theirs in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-7)


def test_a_checkpoint_position_with_another_epoch_than_its_counter_is_refused(tmp_path):
    """One epoch counter: a position continues the epoch after the checkpoint's `epoch`; a checkpoint of an
    older version whose position names another epoch is inconsistent."""
    from utils.checkpoint import restore_training_state, save_checkpoint, training_state
    from utils.errors import CheckpointError

    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    for stored, expected in ((None, 5), (5, 5), (7, None)):
        position = {"step": 3} if stored is None else {"epoch": stored, "step": 3}
        save_checkpoint(tmp_path / "c.pt", training_state(4, model, optimizer, scheduler, scaler, {}, {},
                                                          position=position))
        if expected is None:
            with pytest.raises(CheckpointError, match="its position is in epoch 7 but its last finished epoch is 4"):
                restore_training_state(tmp_path / "c.pt", model, optimizer, scheduler, scaler)
        else:
            assert restore_training_state(tmp_path / "c.pt", model, optimizer, scheduler, scaler).start_epoch == expected


def test_processes_that_do_not_read_the_same_checkpoint_are_refused(tmp_path, monkeypatch):
    """Under several processes each one's checkpoint (its presence and SHA-256) is compared before loading."""
    import training.trainer as trainer_module
    from utils.config.merge import build_config
    from utils.errors import CheckpointError

    (tmp_path / "last_checkpoint.pt").write_bytes(b"one")
    trainer = trainer_module.Trainer.__new__(trainer_module.Trainer)
    trainer.config = build_config({"work_dir": str(tmp_path)})
    trainer.context = DistContext(torch.device("cpu"), rank=0, world_size=2)
    mine = (str(tmp_path / "last_checkpoint.pt"), __import__("hashlib").sha256(b"one").hexdigest())
    monkeypatch.setattr(trainer_module, "gather_objects", lambda context, view: [view, mine])
    assert trainer._agreed_resume() == tmp_path / "last_checkpoint.pt"
    monkeypatch.setattr(trainer_module, "gather_objects", lambda context, view: [view, None])
    with pytest.raises(CheckpointError, match="process 1: no checkpoint"):
        trainer._agreed_resume()
    monkeypatch.setattr(trainer_module, "gather_objects", lambda context, view: [view, (mine[0], "f" * 64)])
    with pytest.raises(CheckpointError, match=r"process 0: .*last_checkpoint.pt sha256 [0-9a-f]{12}; process 1: .* sha256 ffff"):
        trainer._agreed_resume()


def test_a_checkpoint_is_due_every_checkpoint_steps_or_once_checkpoint_minutes_have_passed(monkeypatch):
    """checkpoint_steps: on the steps it divides; checkpoint_minutes: by the main process's clock since the last
    checkpoint (the other processes never judge time: they follow the main process's wish, agreed in the step)."""
    import training.trainer as trainer_module
    from utils.config.merge import build_config

    clock = {"now": 1000.0}
    monkeypatch.setattr(trainer_module.time, "monotonic", lambda: clock["now"])
    trainer = trainer_module.Trainer.__new__(trainer_module.Trainer)
    trainer.context, trainer.last_save = DistContext(torch.device("cpu")), clock["now"]
    trainer.config = build_config({"checkpoint_steps": 4, "checkpoint_minutes": 0})
    assert [step for step in range(1, 13) if trainer.save_due(step)] == [4, 8, 12]
    trainer.config = build_config({"checkpoint_steps": 0, "checkpoint_minutes": 2.5})
    trainer.last_save = clock["now"]
    clock["now"] += 149.0
    assert not trainer.save_due(7)
    clock["now"] += 1.0
    assert trainer.save_due(7)
    trainer.context = DistContext(torch.device("cpu"), rank=1, world_size=2)
    assert not trainer.save_due(7)  # time is judged by the main process alone
    trainer.context = DistContext(torch.device("cpu"))
    trainer.config = build_config({"checkpoint_steps": 0, "checkpoint_minutes": 0})
    clock["now"] += 10_000.0
    assert not trainer.save_due(7)


def test_stop_signals_are_handled_inside_the_block_and_the_earlier_handlers_come_back():
    """SIGTERM and SIGUSR1 are recorded by StopRequest inside its block (the first one counts), and whatever
    handled them before (here: the raising handler main.py installs) handles them again after it."""
    import os
    import signal

    from training.preemption import StopRequest, TrainingStopped, stopping_anywhere

    before = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGUSR1)}
    with stopping_anywhere():
        outer = signal.getsignal(signal.SIGUSR1)
        stop = StopRequest()
        with stop.installed():
            os.kill(os.getpid(), signal.SIGUSR1)
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop.requested and stop.signal_name == "SIGUSR1"
        assert signal.getsignal(signal.SIGUSR1) is outer
        with pytest.raises(TrainingStopped, match="stopped on SIGTERM outside the training loop"):
            os.kill(os.getpid(), signal.SIGTERM)
    assert {number: signal.getsignal(number) for number in before} == before
