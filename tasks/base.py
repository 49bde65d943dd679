"""What a task supplies to the trainer (training/trainer.py), and the few types they exchange.

A task owns its data, model, loss, evaluation and metric; the trainer owns everything around them (epochs,
steps, accumulation, which steps are skipped, checkpoints, stop signals, resuming, records, progress). The
trainer reaches the task only through the methods of `Task` below, so a new task is a new class and the trainer
does not change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader

from evaluation.training_history import SelectionMetric
from training.optimizer import build_optimizer, per_step_schedule
from utils.config.schema import Config
from utils.distributed import DistContext
from utils.precision import Precision


@dataclass
class LocalStep:
    """What one process found in its micro-batches of a step, before the processes agree: the readable
    micro-batches, the unreadable samples left out, whether a micro-batch had nothing readable at all, how many
    things the loss can learn from (clips CTC can align, target words), and the task's own figures that every
    process must know (summed, or their maximum, over the processes)."""

    batches: list[Any]
    bad_samples: int = 0
    missing: bool = False
    learnable: int = 0
    sums: tuple[float, ...] = ()
    maxima: tuple[float, ...] = ()


@dataclass(frozen=True)
class AgreedStep:
    """What all processes agreed about a step (one collective): any micro-batch missing, the learnable total,
    a stop or a checkpoint asked for by any process, and the task's sums and maxima."""

    missing: bool
    learnable: int
    stop: bool
    save: bool
    sums: tuple[float, ...]
    maxima: tuple[float, ...]


@dataclass
class StepLoss:
    """One micro-batch's loss, already this process's share of the global batch's mean: the weighted `total`
    that is back-propagated, its named `parts`, and the samples left out of it by name (with why, logged by the
    task)."""

    total: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


class StepRecipe:
    """How a task turns micro-batches into losses: the part of a task one training step needs (tests drive the
    trainer's epoch with a recipe alone)."""

    excluded_name = "samples left out"  # what StepLoss.excluded counts, in the epoch's log line
    excluded_key = "excluded"  # its key in the training history

    def local_step(self, micro_batches: Sequence[Any]) -> LocalStep:
        raise NotImplementedError

    def plan(self, local: LocalStep, agreed: AgreedStep) -> list[tuple[Any, Any]]:
        """This process's micro-batches as the loss takes them (each with what its loss needs of the agreed
        figures), once the processes have agreed."""
        raise NotImplementedError

    def loss(self, model: nn.Module, batch: Any, plan: Any, context: DistContext, precision: Precision) -> StepLoss:
        raise NotImplementedError

    def forward_without_learning(self, model: nn.Module, batch: Any, context: DistContext,
                                 precision: Precision) -> None:
        """What a step with nothing to learn from still does (nothing, unless a task says otherwise)."""


class Task(StepRecipe):
    """A task as the trainer drives it. `model` is the network the optimiser steps (DDP-wrapped under several
    processes); the rest is asked of the task by the trainer, in this order: `training_data` once (which sets
    `train_set`, with a `set_epoch`, and `train_loader`, whose sampler is a dataset.sampler.ResumableSampler),
    `optimizer` once, then per epoch `epoch_batches`, the steps, and `evaluate` on the evaluated epochs."""

    name = "task"
    metric: SelectionMetric
    families: tuple[str, ...]  # the evaluation families of the history (SelectionMetric.family among them)
    sample_name = "samples"  # what a training sample is, in the log
    model: nn.Module
    config: Config
    context: DistContext
    train_set: Any
    train_loader: DataLoader

    def training_data(self) -> int:
        """Build the training set and loader; returns the number of training samples."""
        raise NotImplementedError

    def steps_per_epoch(self, accumulate: int) -> int:
        return len(self.train_loader) // accumulate

    def epoch_batches(self, epoch: int, skip_samples: int) -> Iterable[Any]:
        """This process's micro-batches of `epoch`, without its first `skip_samples` samples (resuming)."""
        self.train_set.set_epoch(epoch)
        self.train_loader.sampler.set_epoch(epoch)
        if skip_samples:
            self.train_loader.sampler.start_at(skip_samples)
        return self.train_loader

    def optimizer(self) -> tuple[torch.optim.Optimizer, Any]:
        return build_optimizer(self.config, self.model, self.context.device)

    @property
    def scheduler_per_step(self) -> bool:
        """The schedule steps after every optimiser step (else after every epoch)."""
        return per_step_schedule(self.config)

    def evaluate(self, should_stop: Callable[[], bool]) -> dict[str, dict[str, dict[str, Any]]]:
        """The evaluated splits' figures by family (`metric.family` among them): {family: {split: figures}}, on
        the main process (the others: {})."""
        raise NotImplementedError

    def after_evaluation(self, history: Any) -> None:
        """A look at the history after each evaluation (recognition warns of a run that decodes nothing)."""

    def checkpoint_extras(self) -> dict[str, Any]:
        """What a checkpoint holds beside the training state for this task (vocabularies, how to read inputs)."""
        return {}

    def test(self) -> dict:
        raise NotImplementedError

    def keep_chosen_decoding(self, spec: Any) -> None:
        """The test of a training run (test_after_train) records the translation decoding it chose on dev in the
        checkpoint it tested, so that the model decodes so wherever it goes (a translator of a recognition model,
        an export); a checkpoint named by --load-weights is never rewritten."""
        from translation.spec import CHECKPOINT_KEY
        from utils.checkpoint import record_in_checkpoint
        from utils.work_dir import BEST_CHECKPOINT, LAST_CHECKPOINT

        if self.config.phase != "train" or not self.context.is_main:
            return
        tested = Path(self.config.work_dir) / BEST_CHECKPOINT
        if not tested.is_file():
            tested = Path(self.config.work_dir) / LAST_CHECKPOINT
        decoding = {"beam_size": spec.decoding.beam_size, "alpha": spec.decoding.alpha}
        record_in_checkpoint(tested, CHECKPOINT_KEY, "decoding", decoding)
