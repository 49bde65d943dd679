"""The trainer: one for every task (tasks/). It owns epochs, optimiser steps, gradient accumulation, the one
skip policy, the epoch counter, checkpoints, stop signals, resuming, the run's record, TensorBoard and progress;
the task supplies data, model, loss, evaluation and the metric the best checkpoint is chosen by.

One optimiser step, start to end (`train_epoch`, reading down):
1. this process takes `accumulate` micro-batches and the task says what it found in them (`local_step`);
2. one collective agrees, for all processes, whether any micro-batch had nothing readable, how much the loss can
   learn from, whether a stop or a checkpoint was asked for, and the task's own figures (`agree`);
3. a checkpoint is written, or the run stops, before the step when asked (every process at the same step);
4. the step is taken or skipped by SKIPS below, decided here and nowhere else;
5. forward and backward of each micro-batch, gradients accumulating (DDP reduces them with the last only), each
   loss the process's share of the global batch's mean;
6. gradients unscaled, their norm taken, the optimiser and (for per-step schedules) the schedule step.

SKIPS, each decided alike on every process, each moving no weight and no optimiser state:
- "missing": some process has a micro-batch with no readable sample. Nothing runs; the data moves on.
- "nothing to learn": no sample of the global batch can be learnt from (recognition: CTC can align no clip). The
  task's `forward_without_learning` still runs on each micro-batch (recognition: the forward pass, as the official
  code computes it and its inf loss, so BatchNorm statistics and dropout draws move as officially).
- "non-finite loss": a micro-batch's loss is inf or NaN on any process, found before its backward pass. The
  micro-batches after it do not run; gradients are dropped; the AMP scale stays.
- "non-finite gradients": after the backward passes. Gradients are dropped; the AMP scaler lowers its scale
  (its update runs), as it does for an overflow.
Each skip is counted in the epoch's figures (EpochStats) and the history.
"""
from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from evaluation.training_curves import plot_training_curves, write_tensorboard
from evaluation.training_history import TrainingHistory
from tasks.base import AgreedStep, LocalStep, StepRecipe, Task
from training.epoch_state import EpochProgress, EpochStats, StepControl
from training.preemption import StopRequest, TrainingStopped
from training.weight_average import WeightAverage
from utils.checkpoint import (apply_model_weights, read_checkpoint, restore_training_state, resume_checkpoint,
                              save_checkpoint, training_state, unwrap)
from utils.config.merge import to_dict
from utils.config.schema import Config
from utils.distributed import (DistContext, all_reduce_sums, any_process, barrier, broadcast_buffers,
                               gather_objects, gather_values)
from utils.errors import CheckpointError
from utils.io import file_sha256, write_json_atomic
from utils.precision import AMP_DTYPES, Precision
from utils.progress import progress
from utils.provenance import RunRecord, public_config
from utils.random_state import get_rng_state, seed_process_stream, set_rng_state
from utils.work_dir import (BEST_CHECKPOINT, LAST_CHECKPOINT, TENSORBOARD_DIR, TRAINING_CURVES, TRAINING_HISTORY,
                            epoch_checkpoint)

logger = logging.getLogger("slowfastsign")
AVERAGE_KEY = "ema_state_dict"  # a checkpoint's weight average (ema_decay), for resuming


def agree(context: DistContext, local: LocalStep, *, stop: bool, save: bool) -> AgreedStep:
    """Step 2: the one collective of a step. `stop` and `save` are this process's wishes, granted to all when
    any process has them."""
    row = [local.missing, local.learnable, stop, save, *local.sums, *local.maxima]
    rows = gather_values(context, row)
    sums = len(local.sums)
    return AgreedStep(missing=any(r[0] for r in rows), learnable=int(sum(r[1] for r in rows)),
                      stop=any(r[2] for r in rows), save=any(r[3] for r in rows),
                      sums=tuple(sum(r[4 + i] for r in rows) for i in range(sums)),
                      maxima=tuple(max(r[4 + sums + i] for r in rows) for i in range(len(local.maxima))))


@dataclass
class _StepLoss:
    """One optimiser step's loss: the global values to report (summed over its micro-batches)."""

    value: float
    parts: dict[str, float]


def _accumulate(recipe: StepRecipe, model: nn.Module, work: Sequence[tuple[Any, Any]], scaler: torch.amp.GradScaler,
                context: DistContext, precision: Precision, stats: EpochStats, where: str) -> _StepLoss | None:
    """Step 5. None, with nothing reduced, when a micro-batch's loss is not finite on any process (decided
    together, before its backward pass)."""
    value, parts = 0.0, {}
    last = len(work) - 1
    for index, (batch, plan) in enumerate(work):
        synchronised = contextlib.nullcontext() if index == last or not context.distributed else model.no_sync()
        with synchronised:
            result = recipe.loss(model, batch, plan, context, precision)
            stats.excluded_samples += len(result.excluded)
            keys = list(result.parts)
            totals = all_reduce_sums(context, torch.stack([result.total.detach(),
                                                           *(result.parts[k].detach() for k in keys)]))
            if not np.isfinite(totals[0]):
                stats.skipped_nonfinite += 1
                own = float(result.total.detach())
                if np.isfinite(own):
                    logger.warning("%s: non-finite loss on another process; step skipped on all", where)
                else:
                    logger.warning("%s: non-finite loss %s for %s; step skipped", where, own, result.names)
                return None
            # DDP averages gradients over the processes: each contributes its share times their number
            scaler.scale(result.total * context.world_size if context.distributed else result.total).backward()
        value += totals[0]
        for key, total in zip(keys, totals[1:]):
            parts[key] = parts.get(key, 0.0) + total
    return _StepLoss(value, parts)


def train_epoch(
    recipe: StepRecipe, model: nn.Module, loader: Sequence[Any], optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler, context: DistContext, *, epoch: int, precision: Precision, log_interval: int,
    max_steps: int = 0, accumulate: int = 1, scheduler: Any = None,
    on_step: Callable[[int, float, dict[str, float]], None] | None = None, resume: EpochProgress | None = None,
    control: StepControl | None = None,
) -> EpochStats:
    """One pass over the training data (autocast as `precision` says): optimiser steps of `accumulate`
    micro-batches each, as the module docstring lists. Any number of processes and micro-batches takes the steps
    one process would take on the same global batches (docs/METHOD.md, "Several processes, gradient
    accumulation"). `scheduler`: a schedule stepped after every optimiser step; `on_step(step, loss, parts)`:
    told of every step taken.

    `resume`: the epoch continues at `resume.step` (the loader then yields only the batches after it) with its
    figures and random state; `control` may checkpoint before a step, or stop there (TrainingStopped)."""
    model.train()
    stats = resume.stats if resume is not None else EpochStats()
    first = resume.step if resume is not None else 0
    params = [p for p in model.parameters() if p.requires_grad]
    total_steps = first + len(loader) // accumulate
    if max_steps > 0:
        total_steps = min(max_steps, total_steps)
    start = time.perf_counter()
    batches = iter(loader)  # a DataLoader draws its base seed here, before the restored state takes over
    if resume is not None and resume.rng_state is not None:
        set_rng_state(resume.rng_state)
    bar = progress(total=total_steps, initial=first, desc=f"epoch {epoch}", disable=not context.is_main,
                   leave=False)
    for step in range(first, total_steps):
        local = recipe.local_step([next(batches) for _ in range(accumulate)])
        agreed = agree(context, local, stop=control is not None and control.stop_requested(),
                       save=control is not None and step > first and control.save_due(step))
        if agreed.save or agreed.stop:
            stats.seconds += time.perf_counter() - start
            start = time.perf_counter()
            control.save(EpochProgress(epoch, step, stats))
            if agreed.stop:
                bar.close()
                batches = None  # the loader's workers (which ignore stop signals) shut down now
                raise TrainingStopped(f"epoch {epoch}, before step {step}")
        bar.update(1)
        optimizer.zero_grad(set_to_none=True)
        stats.bad_samples += local.bad_samples
        if agreed.missing:  # skip "missing"
            stats.skipped_missing_batches += 1
            continue
        work = recipe.plan(local, agreed)
        if agreed.learnable == 0:  # skip "nothing to learn"
            stats.skipped_infeasible_batches += 1
            with torch.no_grad():
                for batch, _ in work:
                    recipe.forward_without_learning(model, batch, context, precision)
            continue
        loss = _accumulate(recipe, model, work, scaler, context, precision, stats, f"epoch {epoch} step {step}")
        if loss is None:  # skip "non-finite loss"
            optimizer.zero_grad(set_to_none=True)
            continue
        scaler.unscale_(optimizer)
        # DDP has averaged the gradients by now, so every process sees the same norm and decides alike
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm=float("inf"))
        if not torch.isfinite(grad_norm):  # skip "non-finite gradients"
            stats.skipped_nonfinite += 1
            logger.warning("epoch %d step %d: non-finite gradients; step skipped (%d so far)",
                           epoch, step, stats.skipped_nonfinite)
            optimizer.zero_grad(set_to_none=True)
            scaler.update()
            continue
        scaler.step(optimizer)
        scaler.update()
        if scheduler is not None:
            scheduler.step()
        stats.add_step(loss.value, loss.parts)
        bar.set_postfix(loss=f"{loss.value:.3f}", lr=f"{optimizer.param_groups[0]['lr']:.1e}")
        if on_step is not None:
            on_step(step, loss.value, loss.parts)
        if log_interval > 0 and step % log_interval == 0:
            detail = " ".join(f"{k}={v:.3f}" for k, v in loss.parts.items())
            logger.info("epoch %d step %d/%d loss %.4f (%s) lr %.2e", epoch, step, total_steps, loss.value, detail,
                        optimizer.param_groups[0]["lr"])
    bar.close()
    optimizer.zero_grad(set_to_none=True)
    stats.excluded_samples, stats.bad_samples = map(int, all_reduce_sums(
        context, [stats.excluded_samples, stats.bad_samples]))
    stats.seconds += time.perf_counter() - start
    return stats


class Trainer:
    """Trains a task: set up (or resume), epoch by epoch train, checkpoint and evaluate, keep the best by the
    task's metric, record; a stop signal ends it with a resumable checkpoint (TrainingStopped)."""

    def __init__(self, task: Task, config: Config, context: DistContext, record: RunRecord) -> None:
        self.task, self.config, self.context, self.record = task, config, context, record
        self.work_dir = Path(config.work_dir)
        self.precision = Precision(AMP_DTYPES[config.amp_dtype] if config.amp else None, config.channels_last)
        self.history = TrainingHistory(metric=task.metric, families=task.families)
        self.start_epoch = config.optimizer_args.start_epoch
        self.resume: EpochProgress | None = None
        self.evaluation_pending = False
        self.stop = StopRequest()
        self.last_save = time.monotonic()
        self.config_recorded = False
        self.writer: Any = None
        self.average: WeightAverage | None = None

    # ---- the questions the epoch asks between steps (training.epoch_state.StepControl) ----
    def stop_requested(self) -> bool:
        return self.stop.requested

    def save_due(self, step: int) -> bool:
        """A checkpoint every `checkpoint_steps` steps, or once `checkpoint_minutes` have passed since the last one
        (judged by the main process's clock, then agreed)."""
        config = self.config
        if config.checkpoint_steps and step % config.checkpoint_steps == 0:
            return True
        elapsed = time.monotonic() - self.last_save
        return bool(config.checkpoint_minutes) and self.context.is_main and elapsed >= 60 * config.checkpoint_minutes

    def save(self, progress_: EpochProgress) -> None:
        self._save_position(progress_)

    # ---- the run ----
    def fit(self) -> dict:
        self._start()
        stopped = None
        with self.stop.installed():
            try:
                if self.evaluation_pending:
                    self._evaluate_epoch(self.start_epoch - 1)
                for epoch in range(self.start_epoch, self.config.num_epoch):
                    self._train_epoch(epoch)
            except TrainingStopped as where:
                # the message only: the exception, its traceback and the loader it holds go now, not at exit
                stopped = self._stopped_message(where)
            finally:
                if self.writer is not None:
                    self.writer.close()
        self._finish()  # with a stop, the history and curves so far
        self.record.write(self.work_dir, outcome=stopped or "finished")
        if stopped is not None:
            raise TrainingStopped(stopped)
        if self.config.test_after_train:
            self.test_best()
        return self.history.to_dict()

    def _start(self) -> None:
        config, context, task = self.config, self.context, self.task
        seed_process_stream(config.random_seed, context.rank)
        samples = task.training_data()
        self.optimizer, self.scheduler = task.optimizer()
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision.needs_grad_scaler(context.device))
        if config.ema_decay:
            self.average = WeightAverage(task.model, config.ema_decay)
        resume = self._agreed_resume()
        if resume is not None:
            point = restore_training_state(resume, task.model, self.optimizer, self.scheduler, self.scaler,
                                           context.rank)
            if self.average is not None:
                self._restore_average(resume)
            self.history = TrainingHistory.from_dict(point.history, task.metric, task.families)
            self.start_epoch, self.evaluation_pending = point.start_epoch, point.evaluation_pending
            self.record.continue_from(point.provenance, resume)
            if point.position is not None:
                self.resume = self._resume_position(resume, point.start_epoch, point.position, point.rng_states)
            where = f"epoch {self.start_epoch}" + (f" step {self.resume.step}" if self.resume else "")
            pending = f" after evaluating epoch {self.start_epoch - 1}" if self.evaluation_pending else ""
            logger.info("Resumed from %s: continuing at %s%s", resume, where, pending)
        self.writer = self._tensorboard()
        logger.info("Training %d %s (%d steps/epoch) for epochs %d..%d on %s%s", samples, task.sample_name,
                    task.steps_per_epoch(config.accumulate_grad_batches), self.start_epoch, config.num_epoch - 1,
                    context.device, f" x{context.world_size}" if context.distributed else "")

    def _restore_average(self, path: Path) -> None:
        stored = read_checkpoint(path).get(AVERAGE_KEY)
        if stored is None:
            raise CheckpointError(f"{path} holds no weight average: resume it without ema_decay, or start afresh "
                                  f"(--no-resume)")
        self.average.load_state_dict(stored)

    def _agreed_resume(self) -> Path | None:
        """The checkpoint to resume from, the same file for every process: under several processes each one's
        view of it (whether it is there, its SHA-256) is compared, and a difference (a stale read of a network
        file system, a process started elsewhere) is refused in one line before anything is loaded."""
        resume = resume_checkpoint(self.config)
        if not self.context.distributed:
            return resume
        seen = gather_objects(self.context, None if resume is None else (str(resume), file_sha256(resume)))
        if len(set(seen)) > 1:
            views = "; ".join(f"process {rank}: " + ("no checkpoint" if view is None else f"{view[0]} sha256 "
                                                     f"{view[1][:12]}") for rank, view in enumerate(seen))
            raise CheckpointError(f"the processes do not read the same checkpoint to resume from ({views}); wait "
                                  f"for the file system to settle, or give --load-checkpoints to all of them")
        return resume

    def _resume_position(self, path: Path, epoch: int, position: dict, rng_states: list[dict]) -> EpochProgress:
        """Where the stopped `epoch` continues on this process; a checkpoint written part-way through an epoch
        continues only with the batches it was reading."""
        config, context = self.config, self.context
        layout = {"processes": context.world_size, "batch_size": config.batch_size,
                  "accumulate_grad_batches": config.accumulate_grad_batches}
        differing = [f"{key} {position.get(key)} (now {value})" for key, value in layout.items()
                     if position.get(key) != value]
        if differing:
            kept = [self.work_dir / epoch_checkpoint(earlier) for earlier in range(epoch - 1, -1, -1)]
            earlier = next((str(kept_path) for kept_path in kept if kept_path.is_file()), None)
            instead = (f"resume from the last kept epoch checkpoint (--load-checkpoints {earlier})" if earlier else
                       "start afresh (--no-resume)")
            raise CheckpointError(f"{path} stopped part-way through epoch {epoch} with {', '.join(differing)}; "
                                  f"continue it with the same settings, or {instead}")
        stats = EpochStats.from_dict(position["epoch_stats"][context.rank])
        return EpochProgress(epoch, int(position["step"]), stats, rng_states[context.rank])

    def _train_epoch(self, epoch: int) -> None:
        """One epoch of training, its checkpoint, then (every eval_interval epochs and at the end) evaluation."""
        config, task = self.config, self.task
        resume, self.resume = self.resume, None
        skip = resume.step * config.accumulate_grad_batches * config.batch_size if resume is not None else 0
        loader = task.epoch_batches(epoch, skip)
        lr = self.optimizer.param_groups[0]["lr"]
        stats = train_epoch(
            task, task.model, loader, self.optimizer, self.scaler, self.context, epoch=epoch,
            precision=self.precision, log_interval=config.log_interval, max_steps=config.max_steps_per_epoch,
            accumulate=config.accumulate_grad_batches, scheduler=self.scheduler if task.scheduler_per_step else None,
            on_step=(lambda *_: self.average.update(task.model)) if self.average is not None else None,
            resume=resume, control=self,
        )
        if not task.scheduler_per_step:
            self.scheduler.step()
        logger.info("epoch %d: mean loss %.4f over %d steps in %.0f s (lr %.2e; %d non-finite steps skipped, "
                    "%d %s, %d bad samples skipped)", epoch, stats.loss, stats.steps, stats.seconds, lr,
                    stats.skipped_nonfinite, stats.excluded_samples, task.excluded_name, stats.bad_samples)
        self.history.add(epoch, lr=lr, loss=stats.loss, parts=stats.parts, skipped=stats.skipped_nonfinite,
                         seconds=stats.seconds, ctc_infeasible=stats.excluded_samples, steps=stats.steps,
                         excluded_key=task.excluded_key)
        evaluate = (epoch + 1) % config.eval_interval == 0 or epoch == config.num_epoch - 1
        # written before the evaluation, so that a failure or a stop during it never costs the epoch's training
        self._save_epoch(epoch, evaluation_pending=evaluate)
        if evaluate:
            self._evaluate_epoch(epoch)
        elif self.writer is not None:
            write_tensorboard(self.history, self.writer, epoch)

    def _evaluate_epoch(self, epoch: int) -> None:
        """Evaluate the finished `epoch` with the buffers its checkpoint holds, record it, keep the best."""
        context = self.context
        if any_process(context, self.stop.requested):
            raise TrainingStopped(f"after epoch {epoch}'s training, before its evaluation")
        broadcast_buffers(self.task.model, context)
        with self._averaged():
            evaluation = self.task.evaluate(should_stop=self.stop_requested)
        self.history.record_evaluation(epoch, evaluation)
        if context.is_main:
            self.task.after_evaluation(self.history)
        if self.writer is not None:
            write_tensorboard(self.history, self.writer, epoch)
        self._save_epoch(epoch, evaluation_pending=False)

    def _averaged(self) -> Any:
        """The model with the averaged weights (ema_decay), or as it is."""
        return self.average.applied(self.task.model) if self.average is not None else contextlib.nullcontext()

    def _finish(self) -> None:
        history = self.history
        if self.context.is_main:
            plot_training_curves(history, self.work_dir / TRAINING_CURVES)
            write_json_atomic(self.work_dir / TRAINING_HISTORY, history.to_dict())
            if history.best_epoch is not None:
                logger.info("Best dev %s %s at epoch %d (%s)", history.metric.label,
                            self._figure(history.best_value), history.best_epoch, self.work_dir / BEST_CHECKPOINT)

    def _figure(self, value: float) -> str:
        return f"{value:.2f}%" if self.history.metric.figure == "wer" else f"{value:.2f}"

    def _stopped_message(self, stopped: TrainingStopped) -> str:
        cause = self.stop.signal_name or "a signal to another process"
        received = self.stop.received_at
        delay = f" {time.monotonic() - received:.1f} s after it" if received is not None else ""
        return (f"stopped on {cause} {stopped}{delay}; {self.work_dir / LAST_CHECKPOINT} holds everything to "
                f"continue: run the same command again")

    def test_best(self) -> dict:
        """Evaluate the best checkpoint (the last one when there was no dev split) with the task's test."""
        best = self.work_dir / BEST_CHECKPOINT
        path = best if best.is_file() else self.work_dir / LAST_CHECKPOINT
        checkpoint = read_checkpoint(path)
        apply_model_weights(self.task.model, checkpoint, source=str(path))
        self.record.note_weights(path, checkpoint, key="evaluated")
        logger.info("Testing %s", path)
        return self.task.test()

    # ---- checkpoints ----
    def _state(self, epoch: int, rng_states: list[dict], **extra: Any) -> dict:
        extras = self.task.checkpoint_extras()
        if self.average is not None:
            extras[AVERAGE_KEY] = self.average.state_dict()
        return training_state(epoch, self.task.model, self.optimizer, self.scheduler, self.scaler,
                              self.history.to_dict(), public_config(to_dict(self.config)), extras=extras,
                              rng_states=rng_states, provenance=self.record.for_checkpoint(), **extra)

    def _evaluated_state(self, state: dict) -> dict:
        """A checkpoint of the weights that were evaluated: with ema_decay, the average as its model weights."""
        if self.average is None:
            return state
        with self.average.applied(self.task.model):
            weights = {key: value.clone() for key, value in unwrap(self.task.model).state_dict().items()}
        return {**state, "model_state_dict": weights}

    def _write_last(self, state: dict) -> None:
        if not self.config_recorded:  # with the run's first checkpoint
            self.record.write(self.work_dir, outcome="running")
            self.config_recorded = True
        save_checkpoint(self.work_dir / LAST_CHECKPOINT, state)
        self.last_save = time.monotonic()

    def _save_epoch(self, epoch: int, evaluation_pending: bool) -> None:
        """After `epoch`'s training (its evaluation pending or not asked for) and after its evaluation: the
        resumable last checkpoint with every process's random state; with the evaluation's results, the best
        and the kept epoch checkpoints."""
        rng_states = gather_objects(self.context, get_rng_state())
        if self.context.is_main:
            state = self._state(epoch, rng_states, evaluation_pending=evaluation_pending)
            metric = self.history.metric
            dev = self.history.epochs[-1].get(metric.family, {}).get("dev")
            if not evaluation_pending and dev is not None and self.history.best_epoch == epoch:
                save_checkpoint(self.work_dir / BEST_CHECKPOINT, self._evaluated_state(state))
                logger.info("New best dev %s %s: saved %s", metric.label, self._figure(dev[metric.figure]),
                            self.work_dir / BEST_CHECKPOINT)
            if not evaluation_pending and (epoch + 1) % self.config.save_interval == 0:
                save_checkpoint(self.work_dir / epoch_checkpoint(epoch), state)  # resumable: the raw weights
            self._write_last(state)
        barrier(self.context)

    def _save_position(self, progress_: EpochProgress) -> None:
        """The resumable checkpoint of an epoch stopped part-way: before `progress_.step`, with every process's
        figures and random state (collective: every process calls it at the same step). Its `epoch` is the last
        finished one, as officially, the one counter of epochs: the stopped epoch is the next one, and `position`
        says where in it to continue (docs/METHOD.md, "Interruptions and resuming")."""
        gathered = gather_objects(self.context, (get_rng_state(), progress_.stats.to_dict()))
        if self.context.is_main:
            config = self.config
            position = {"step": progress_.step, "processes": self.context.world_size,
                        "batch_size": config.batch_size, "accumulate_grad_batches": config.accumulate_grad_batches,
                        "epoch_stats": [stats for _, stats in gathered]}
            state = self._state(progress_.epoch - 1, [rng for rng, _ in gathered], position=position)
            self._write_last(state)
            logger.info("Checkpoint at epoch %d step %d: %s", progress_.epoch, progress_.step,
                        self.work_dir / LAST_CHECKPOINT)
        barrier(self.context)

    def _tensorboard(self) -> Any:
        if not self.context.is_main:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            logger.info("tensorboard is not installed: no TensorBoard scalars")
            return None
        return SummaryWriter(str(self.work_dir / TENSORBOARD_DIR))
