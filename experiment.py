"""One run of main.py once its configuration is validated: the work directory, logging, seeds, devices and
(under torchrun) the process group; the model, data, decoder and optimiser built from the configuration;
then the phase (train, test, features, predict) handed to the loops in seq_scripts.py.

main.py imports this module only after parsing, so `--help` and configuration errors answer without
loading torch.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.data import DataLoader

import seq_scripts
from dataset.collate import PadCollate
from dataset.errors import DataError
from dataset.frames import STORED_FRAME_SUFFIX, InputGeometry
from dataset.gloss_dict import load_gloss_dict
from dataset.paths import DataPaths
from dataset.sampler import ResumableSampler
from dataset.video_dataset import SignVideoDataset, init_loader_worker, split_dataset
from decoding.ctc_decoder import CTCDecoder
from evaluation.alignment_figure import save_alignment_picture
from evaluation.analyse import write_analysis
from evaluation.training_curves import plot_training_curves, write_tensorboard
from evaluation.training_history import TrainingHistory
from modules.c2_model_loading import load_c2_checkpoint
from modules.losses import SLRLoss
from slr_network import SLRModel
from utils.allocator import reexec_under_jemalloc
from training.epoch_state import EpochProgress, EpochStats
from training.preemption import StopRequest, TrainingStopped, end_workers_at_exit, ignore_stop_signals
from utils.checkpoint import (apply_model_weights, read_checkpoint, restore_training_state, save_checkpoint,
                              training_state, unwrap)
from utils.config.merge import resolve_path, to_dict
from utils.config.schema import Config, ConfigError
from utils.distributed import (DistContext, any_process, barrier, broadcast_buffers, cleanup, gather_objects,
                               init_distributed, select_device)
from utils.errors import CheckpointError
from utils.io import write_json_atomic
from utils.logging import setup_logging
from utils.precision import AMP_DTYPES, Precision
from utils.provenance import describe, finished, now, run_record, session_summary, without_diffs, write_run_records
from utils.random_state import configure_determinism, get_rng_state, seed_everything, seed_process_stream
from utils.work_dir import (ALIGNMENTS_DIR, ANALYSIS_DIR, BEST_CHECKPOINT, EXPORTED_MODEL, FEATURES_DIR,
                            LAST_CHECKPOINT, PREDICTIONS_DIR, TENSORBOARD_DIR, TEST_RESULTS, TRAINING_CURVES,
                            TRAINING_HISTORY, config_record, ensure_writable_directory, epoch_checkpoint, score_report)

logger = logging.getLogger("slowfastsign")


def build_loader(config: Config, dataset: Any, collate: PadCollate, context: DistContext, train: bool) -> DataLoader:
    """Training: shuffled per epoch (seeded), whole batches. Evaluation: the batches one process would
    make (consecutive clips, as officially), dealt out whole, since a clip's features depend on the
    padding its batch gives it: any number of processes then scores exactly like one."""
    if config.num_worker > 0:
        end_workers_at_exit()
    common = dict(collate_fn=collate, num_workers=config.num_worker, pin_memory=context.device.type == "cuda",
                  worker_init_fn=_init_loader_worker)
    if train:
        sampler = ResumableSampler(dataset, num_replicas=context.world_size, rank=context.rank, shuffle=True,
                                   seed=config.random_seed, drop_last=True)
        return DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True, **common)
    size = config.test_batch_size
    batches = [list(range(start, min(start + size, len(dataset)))) for start in range(0, len(dataset), size)]
    return DataLoader(dataset, batch_sampler=batches[context.rank::context.world_size], **common)


def _init_loader_worker(worker_id: int) -> None:
    init_loader_worker(worker_id)
    ignore_stop_signals()  # the main process finishes its step and checkpoints; the workers end with it


def build_model(config: Config, num_classes: int, context: DistContext, kinetics_init: bool = True,
                weights: dict | None = None, gloss_dict: dict[str, int] | None = None) -> torch.nn.Module:
    """The model on its device (DDP-wrapped under torchrun); `weights`: the --load-weights checkpoint, checked
    against the run's `gloss_dict`; `kinetics_init` only for a fresh training run."""
    args = config.model_args
    model = SLRModel(num_classes, args.backbone, kernel_spec=args.conv_type, hidden_size=args.hidden_size,
                     share_classifier=args.share_classifier, lstm_dropout=args.lstm_dropout,
                     activation_checkpointing=args.activation_checkpointing)
    if args.pretrained_backbone and kinetics_init:
        report = load_c2_checkpoint(resolve_path(args.pretrained_backbone), model.backbone)
        logger.info(report.summary())
        for line in report.unmapped:
            logger.info("  unmapped: %s", line)
    if weights is not None:
        apply_model_weights(model, weights, config.ignore_weights, source=config.load_weights, gloss_dict=gloss_dict)
        logger.info("Loaded model weights from %s", config.load_weights)
    model.to(context.device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last_3d)
    if context.distributed:
        if config.sync_bn:
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        device_ids = [context.device.index] if context.device.type == "cuda" else None
        # heads no active loss term reads get no gradient, as in one process: DDP must not wait for theirs
        unused = unwrap(model).parameters_outside(SLRLoss(config.loss_weights.active()).outputs_read())
        torch.nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, unused)
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    return model


def build_decoder(config: Config, gloss_dict: dict[str, int], num_classes: int) -> CTCDecoder:
    args = config.decode_args
    return CTCDecoder(gloss_dict, num_classes, search_mode="beam" if config.decode_mode == "beam" else "greedy",
                      beam_width=args.beam_width, cutoff_top_n=args.cutoff_top_n, backend=args.backend,
                      lm_path=args.lm_path or None, lm_weight=args.lm_weight, word_score=args.word_score)


def build_optimizer(config: Config, model: torch.nn.Module,
                    device: torch.device = torch.device("cpu")) -> tuple[torch.optim.Optimizer, Any]:
    """The optimiser and schedule; Adam runs its fused kernel on CUDA (same update, fewer launches)."""
    args = config.optimizer_args
    params = [p for p in model.parameters() if p.requires_grad]
    if args.optimizer == "Adam":
        fused = True if args.fused and device.type == "cuda" else None
        optimizer = torch.optim.Adam(params, lr=args.base_lr, weight_decay=args.weight_decay, fused=fused)
    else:
        optimizer = torch.optim.SGD(params, lr=args.base_lr, weight_decay=args.weight_decay,
                                    momentum=args.momentum, nesterov=args.nesterov)
    if args.scheduler == "multistep":
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(args.step), gamma=args.gamma)
    else:
        # the official eta_min: base_lr * 0.025
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.num_epoch),
                                                               eta_min=args.base_lr * 0.025)
    return optimizer, scheduler


def prediction_geometry(config: Config, recorded: dict) -> InputGeometry:
    """How prediction reads a clip: as the checkpoint `recorded` its training data was read; for checkpoints
    without that record (the official ones), as the configuration says, with the official preprocessing's
    256x256 frames in the dataset's stored format. predict_args.frame_size, when set, replaces the frame size."""
    feeder, size = config.feeder_args, config.predict_args.frame_size
    if recorded:
        geometry = InputGeometry.from_dict(recorded)
    else:
        geometry = InputGeometry(frame_suffix=STORED_FRAME_SUFFIX.get(config.dataset, ".png"), dataset=config.dataset,
                                 input_size=feeder.input_size, image_scale=feeder.image_scale,
                                 frame_interval=feeder.frame_interval)
    return replace(geometry, frame_size=(size, size)) if size else geometry


@dataclass
class TrainingRun:
    """What the epochs of one training run share; `resume` is the epoch a checkpoint stopped part-way and
    `evaluation_pending` the finished epoch whose evaluation a checkpoint still owes."""

    train_set: SignVideoDataset
    train_loader: DataLoader
    eval_loaders: dict[str, DataLoader]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    criterion: SLRLoss
    start_epoch: int = 0
    history: TrainingHistory = field(default_factory=TrainingHistory)
    writer: Any = None
    input_geometry: InputGeometry = field(default_factory=InputGeometry)
    resume: EpochProgress | None = None
    evaluation_pending: bool = False
    control: "CheckpointControl | None" = None
    config_recorded: bool = False


class CheckpointControl:
    """The training loop's questions between steps, answered for a run (training.epoch_state.StepControl): a
    stop was requested by a signal; a checkpoint is due every `checkpoint_steps` steps or once
    `checkpoint_minutes` have passed since the last one (judged by the main process's clock, then agreed)."""

    def __init__(self, experiment: "Experiment", run: TrainingRun, stop: StopRequest) -> None:
        self.experiment, self.run, self.stop = experiment, run, stop
        self.last_save = time.monotonic()

    def stop_requested(self) -> bool:
        return self.stop.requested

    def save_due(self, step: int) -> bool:
        config = self.experiment.config
        if config.checkpoint_steps and step % config.checkpoint_steps == 0:
            return True
        elapsed = time.monotonic() - self.last_save
        return bool(config.checkpoint_minutes) and self.experiment.context.is_main and \
            elapsed >= 60 * config.checkpoint_minutes

    def save(self, progress: EpochProgress) -> None:
        self.experiment._save_position(self.run, progress)
        self.saved()

    def saved(self) -> None:
        self.last_save = time.monotonic()


class Experiment:
    """One run: the configuration resolved into model, data, decoder and work directory."""

    def __init__(self, config: Config, context: DistContext, paths: DataPaths,
                 provenance: dict[str, Any] | None = None) -> None:
        self.provenance = provenance or run_record(config.phase, context.world_size, str(context.device),
                                                   to_dict(config))
        self.config = config
        self.context = context
        self.work_dir = Path(config.work_dir)
        dtype = AMP_DTYPES[config.amp_dtype]
        self.train_precision = Precision(dtype if config.amp else None, config.channels_last)
        self.eval_precision = Precision(dtype if config.eval_amp else None, config.channels_last)
        self.paths = paths
        checkpoint = read_checkpoint(resolve_path(config.load_weights)) if config.load_weights else None
        if checkpoint is not None:
            self._record_weights(resolve_path(config.load_weights), checkpoint)
        self.recorded_geometry = dict(checkpoint.get("input_geometry") or {}) if checkpoint is not None else {}
        self.gloss_dict = self._gloss_dict(checkpoint)
        self.num_classes = config.model_args.num_classes or len(self.gloss_dict) + 1
        fresh_training = config.phase == "train" and not config.load_weights and self.resume_from() is None
        self.model = build_model(config, self.num_classes, context, kinetics_init=fresh_training, weights=checkpoint,
                                 gloss_dict=self.gloss_dict)
        self.decoder = build_decoder(config, self.gloss_dict, self.num_classes)
        self.collate = PadCollate(unwrap(self.model).conv1d.layers)  # padded as the model's temporal head needs
        self.use_sclite = config.evaluate_tool == "sclite"
        self.split_scores: dict[str, seq_scripts.SplitScores] = {}

    def _gloss_dict(self, checkpoint: dict | None) -> dict[str, int]:
        """The dataset's gloss_dict.json; for prediction, the one stored in the checkpoint comes first."""
        stored = None
        if checkpoint is not None and (self.config.phase == "predict" or not self.paths.gloss_dict.is_file()):
            stored = checkpoint.get("gloss_dict")
        if stored is not None:
            return dict(stored)
        if self.paths.gloss_dict.is_file():
            return load_gloss_dict(self.paths.gloss_dict)
        raise DataError(f"gloss dictionary not found: {self.paths.gloss_dict} (run the preprocessing, "
                        f"or set dataset_info.gloss_dict)")

    def eval_loaders(self) -> dict[str, DataLoader]:
        loaders = {}
        for split in self.config.dataset_info.eval_splits:
            if not self.paths.info_file(split).is_file():
                logger.warning("No %s split (%s missing): not evaluated", split, self.paths.info_file(split))
                continue
            if not self.paths.stm(split).is_file():
                raise DataError(f"ground-truth STM of the {split} split not found: {self.paths.stm(split)}; the "
                                f"preprocessing writes it (or set dataset_info.evaluation_dir / evaluation_prefix)")
            dataset = split_dataset(self.config, self.paths, split, False, self.gloss_dict)
            loaders[split] = build_loader(self.config, dataset, self.collate, self.context, train=False)
        return loaders

    def evaluate(self, loaders: dict[str, DataLoader], pictures: bool = False,
                 should_stop: Callable[[], bool] | None = None) -> dict[str, dict[str, float]]:
        """WER per split under both official scorers (and the conv WERs); `wer` is the configured tool's.
        Only the main process gets the numbers; its reports stay in `self.split_scores`. `should_stop`:
        training's stop request, which ends the evaluation at once (TrainingStopped)."""
        results = {}
        tool = self.config.evaluate_tool
        for split, loader in loaders.items():
            scores = seq_scripts.evaluate_split(
                self.model, loader, self.decoder, self.context, split=split, stm=self.paths.stm(split),
                dataset=self.config.dataset, work_dir=self.work_dir, precision=self.eval_precision, use_sclite=self.use_sclite,
                sclite=self.config.sclite_path or None, left_pad=self.collate.left_pad,
                on_sentence=self._picture_saver(self.work_dir / ALIGNMENTS_DIR / split) if pictures else None,
                note=self._left_out_note(loader.dataset), should_stop=should_stop,
            )
            if scores is None:
                continue
            self.split_scores[split] = scores
            primary = scores.lstm[tool]
            for name, report in scores.lstm.items():
                logger.info("%s; conv WER %.2f%%", report.summary_line(), scores.conv[name].wer)
            length_ratio = scores.hypothesis_glosses / max(primary.num_ref_words, 1)
            logger.info("%s: %.1f%% of the output steps decode to blank; hypotheses are %.2f x the reference length",
                        split, 100 * scores.blank_share, length_ratio)
            if primary.note:
                logger.info("  %s", primary.note)
            results[split] = {"wer": primary.wer, "conv_wer": scores.conv[tool].wer, "sub": primary.sub_rate,
                              "del": primary.del_rate, "ins": primary.ins_rate, "sentences": primary.num_sentences,
                              "tool": tool, "note": primary.note, "blank_share": scores.blank_share,
                              "length_ratio": length_ratio}
            for name in scores.lstm:
                results[split][f"wer_{name}"] = scores.lstm[name].wer
                results[split][f"conv_wer_{name}"] = scores.conv[name].wer
        return results

    def _left_out_note(self, dataset: SignVideoDataset) -> str:
        """What the WER reports say when the official feeder's last-video quirk left a video unread."""
        if not dataset.left_out:
            return ""
        return (f"as in the official code, the split's last video ({', '.join(dataset.left_out)}) was not "
                f"decoded and scores as [EMPTY] (the official {self.config.dataset} feeder never loads it); "
                f"feeder_args.skip_last_video=false decodes it")

    def _picture_saver(self, out_dir: Path) -> seq_scripts.SentenceHook:
        """Saves each decoded clip's alignment picture into `out_dir`."""
        def save(name: str, frames: Any, posteriors: Any, decoded: Any) -> None:
            save_alignment_picture(out_dir, name, frames, posteriors, decoded, self.decoder.vocabulary,
                                   self.collate.stride)
        return save

    def record_run(self, directory: Path | None = None, outcome: str = "finished") -> dict | None:
        """The resolved configuration and the record of what produced the run (utils/provenance.py) beside the
        outputs they describe (a failed run leaves the old ones): `config.yaml` and `provenance.json` for
        training, `<phase>_config.yaml` and `<phase>_provenance.json` for the other phases, so that testing or
        predicting into a training run's directory never replaces the record of how it was trained. Returns
        the record as written (None on the other processes, which write nothing)."""
        if not self.context.is_main:
            return None
        return write_run_records(directory or self.work_dir, finished(self.provenance, outcome))

    def _record_weights(self, path: Path, checkpoint: dict, key: str = "weights") -> None:
        """Which checkpoint the run's weights came from (`weights`), or which one training's final test evaluated
        (`evaluated`), with that checkpoint's own record (official checkpoints have none)."""
        self.provenance[key] = {"checkpoint": str(path), "provenance": checkpoint.get("provenance")}

    def training_geometry(self, train_set: SignVideoDataset) -> InputGeometry:
        """How this run reads its training clips, for its checkpoints (prediction reads clips the same way)."""
        feeder = self.config.feeder_args
        frame_size, suffix = train_set.stored_frame_format()
        return InputGeometry(frame_size, suffix, self.config.dataset, feeder.input_size, feeder.image_scale,
                             feeder.frame_interval)

    def resume_from(self) -> Path | None:
        if self.config.load_checkpoints:
            return resolve_path(self.config.load_checkpoints)
        last = self.work_dir / LAST_CHECKPOINT
        return last if self.config.resume and last.is_file() else None

    def train(self) -> dict:
        """The recipe: set up (or resume), train and evaluate epoch by epoch, record, optionally test. A stop
        signal ends it with a resumable checkpoint (TrainingStopped)."""
        run = self._start_training()
        stop = StopRequest()
        run.control = CheckpointControl(self, run, stop)
        stopped = None
        with stop.installed():
            try:
                if run.evaluation_pending:
                    self._evaluate_epoch(run, run.start_epoch - 1)
                for epoch in range(run.start_epoch, self.config.num_epoch):
                    self._train_epoch(run, epoch)
            except TrainingStopped as where:
                # the message only: the exception, its traceback and the loader it holds go now, not at exit
                stopped = self._stopped_message(stop, where)
            finally:
                if run.writer is not None:
                    run.writer.close()
        self._finish_training(run)  # with a stop, the history and curves so far
        self.record_run(outcome=stopped or "finished")
        if stopped is not None:
            raise TrainingStopped(stopped)
        if self.config.test_after_train:
            self.test_best()
        return run.history.to_dict()

    def _stopped_message(self, stop: StopRequest, stopped: TrainingStopped) -> str:
        cause = stop.signal_name or "a signal to another process"
        delay = f" {time.monotonic() - stop.received_at:.1f} s after it" if stop.received_at is not None else ""
        return (f"stopped on {cause} {stopped}{delay}; {self.work_dir / LAST_CHECKPOINT} holds everything to "
                f"continue: run the same command again")

    def _start_training(self) -> "TrainingRun":
        config, context = self.config, self.context
        seed_process_stream(config.random_seed, context.rank)
        train_set = split_dataset(config, self.paths, "train", True, self.gloss_dict)
        run = TrainingRun(train_set, build_loader(config, train_set, self.collate, context, train=True), self.eval_loaders(),
                          *build_optimizer(config, self.model, context.device),
                          torch.amp.GradScaler("cuda", enabled=self.train_precision.needs_grad_scaler(context.device)),
                          SLRLoss(config.loss_weights.active()), start_epoch=config.optimizer_args.start_epoch)
        run.input_geometry = self.training_geometry(train_set)
        resume = self.resume_from()
        if resume is not None:
            point = restore_training_state(resume, self.model, run.optimizer, run.scheduler, run.scaler, context.rank)
            run.history, run.start_epoch = TrainingHistory.from_dict(point.history), point.start_epoch
            run.evaluation_pending = point.evaluation_pending
            earlier = point.provenance or {"checkpoint": str(resume), "note": "it records nothing of what produced it"}
            self.provenance["earlier_sessions"] = [*earlier.get("earlier_sessions", []), session_summary(earlier)]
            if point.position is not None:
                run.resume = self._resume_position(resume, point.position, point.rng_states)
            where = f"epoch {run.start_epoch}" + (f" step {run.resume.step}" if run.resume else "")
            pending = f" after evaluating epoch {run.start_epoch - 1}" if run.evaluation_pending else ""
            logger.info("Resumed from %s: continuing at %s%s", resume, where, pending)
        run.writer = self._tensorboard()
        steps = len(run.train_loader) // config.accumulate_grad_batches
        logger.info("Training %d clips (%d steps/epoch) for epochs %d..%d on %s%s", len(train_set), steps,
                    run.start_epoch, config.num_epoch - 1, context.device,
                    f" x{context.world_size}" if context.distributed else "")
        return run

    def _resume_position(self, path: Path, position: dict, rng_states: list[dict]) -> EpochProgress:
        """Where the stopped epoch continues on this process; a checkpoint written part-way through an epoch
        continues only with the batches it was reading."""
        config, context = self.config, self.context
        layout = {"processes": context.world_size, "batch_size": config.batch_size,
                  "accumulate_grad_batches": config.accumulate_grad_batches}
        differing = [f"{key} {position.get(key)} (now {value})" for key, value in layout.items()
                     if position.get(key) != value]
        if differing:
            kept = [self.work_dir / epoch_checkpoint(epoch) for epoch in range(int(position["epoch"]) - 1, -1, -1)]
            earlier = next((str(kept_path) for kept_path in kept if kept_path.is_file()), None)
            instead = (f"resume from the last kept epoch checkpoint (--load-checkpoints {earlier})" if earlier else
                       "start afresh (--no-resume)")
            raise CheckpointError(f"{path} stopped part-way through epoch {position['epoch']} with "
                                  f"{', '.join(differing)}; continue it with the same settings, or {instead}")
        stats = EpochStats.from_dict(position["epoch_stats"][context.rank])
        return EpochProgress(int(position["epoch"]), int(position["step"]), stats, rng_states[context.rank])

    def _train_epoch(self, run: "TrainingRun", epoch: int) -> None:
        """One epoch of training, its checkpoint, then (every eval_interval epochs and at the end) evaluation."""
        config, context = self.config, self.context
        resume, run.resume = run.resume, None
        run.train_set.set_epoch(epoch)
        run.train_loader.sampler.set_epoch(epoch)
        if resume is not None:
            run.train_loader.sampler.start_at(resume.step * config.accumulate_grad_batches * config.batch_size)
        lr = run.optimizer.param_groups[0]["lr"]
        stats = seq_scripts.train_epoch(
            self.model, run.train_loader, run.criterion, run.optimizer, run.scaler, context, epoch=epoch,
            precision=self.train_precision, log_interval=config.log_interval, max_steps=config.max_steps_per_epoch,
            accumulate=config.accumulate_grad_batches, resume=resume, control=run.control,
        )
        run.scheduler.step()
        logger.info("epoch %d: mean loss %.4f over %d steps in %.0f s (lr %.2e; %d non-finite steps skipped, "
                    "%d CTC-infeasible samples left out, %d bad samples skipped)", epoch, stats.loss, stats.steps,
                    stats.seconds, lr, stats.skipped_nonfinite, stats.excluded_samples, stats.bad_samples)
        run.history.add(epoch, lr=lr, loss=stats.loss, parts=stats.parts, skipped=stats.skipped_nonfinite,
                        seconds=stats.seconds, ctc_infeasible=stats.excluded_samples, steps=stats.steps)
        evaluate = (epoch + 1) % config.eval_interval == 0 or epoch == config.num_epoch - 1
        # written before the evaluation, so that a failure or a stop during it never costs the epoch's training
        self._save_epoch(run, epoch, evaluation_pending=evaluate)
        if evaluate:
            self._evaluate_epoch(run, epoch)
        elif run.writer is not None:
            write_tensorboard(run.history, run.writer, epoch)

    def _evaluate_epoch(self, run: "TrainingRun", epoch: int) -> None:
        """Evaluate the finished `epoch` with the buffers its checkpoint holds, record it, keep the best."""
        context = self.context
        if any_process(context, run.control.stop_requested()):
            raise TrainingStopped(f"after epoch {epoch}'s training, before its evaluation")
        broadcast_buffers(self.model, context)
        wer = self.evaluate(run.eval_loaders, should_stop=run.control.stop_requested)
        run.history.record_evaluation(epoch, wer)
        if context.is_main and run.history.looks_stuck(self.config.stuck_warning_steps):
            logger.warning(self._stuck_warning(run.history))
        if run.writer is not None:
            write_tensorboard(run.history, run.writer, epoch)
        self._save_epoch(run, epoch, evaluation_pending=False)

    def _stuck_warning(self, history: TrainingHistory) -> str:
        """What a user watching a run that recognises nothing should hear after its first evaluations."""
        split, scores = next(iter(history.epochs[-1]["wer"].items()))
        infeasible = sum(record.get("ctc_infeasible", 0) for record in history.epochs)
        config = self.work_dir / config_record("train")
        steps = sum(record.get("steps", 0) for record in history.epochs)
        evaluations = sum(1 for record in history.epochs if record["wer"])
        return (f"warning: after {evaluations} evaluations and {steps} training steps the {split} hypotheses are "
                f"still (nearly) empty "
                f"({scores['length_ratio']:.2f} x the reference length, {100 * scores['blank_share']:.0f}% of "
                f"the output steps blank; {infeasible} CTC-infeasible training samples left out so far). Likely "
                f"causes: clips too short for their labels, labels that do not match the videos, missing or "
                f"wrong frames, or a learning rate too high or too low for this corpus. Check the data with: "
                f"python -m dataset.check --config {config}")

    def _finish_training(self, run: "TrainingRun") -> None:
        if self.context.is_main:
            plot_training_curves(run.history, self.work_dir / TRAINING_CURVES)
            write_json_atomic(self.work_dir / TRAINING_HISTORY, run.history.to_dict())
            if run.history.best_epoch is not None:
                logger.info("Best dev WER %.2f%% at epoch %d (%s)", run.history.best_wer, run.history.best_epoch,
                            self.work_dir / BEST_CHECKPOINT)

    def test_best(self) -> dict:
        """Evaluate the best checkpoint (the last one when there was no dev split) and print the reports."""
        best = self.work_dir / BEST_CHECKPOINT
        path = best if best.is_file() else self.work_dir / LAST_CHECKPOINT
        checkpoint = read_checkpoint(path)
        apply_model_weights(self.model, checkpoint, source=str(path))
        self._record_weights(path, checkpoint, key="evaluated")
        logger.info("Testing %s", path)
        return self.test()

    def _state(self, run: "TrainingRun", epoch: int, rng_states: list[dict], **extra: Any) -> dict:
        return training_state(epoch, self.model, run.optimizer, run.scheduler, run.scaler, run.history.to_dict(),
                              self.gloss_dict, to_dict(self.config), run.input_geometry.to_dict(),
                              rng_states=rng_states, provenance=self._checkpoint_provenance(), **extra)

    def _checkpoint_provenance(self) -> dict:
        """The run's record as a checkpoint or an exported model's description carries it: without the
        configuration (a checkpoint holds it under `config`, model.json what prediction needs of it), with the
        time it was written; plain JSON data, as a checkpoint must hold (utils/checkpoint.py)."""
        record = {**{key: value for key, value in self.provenance.items() if key != "config"}, "written": now()}
        return json.loads(json.dumps(record))

    def _write_last(self, run: "TrainingRun", state: dict) -> None:
        if not run.config_recorded:  # with the run's first checkpoint
            self.record_run(outcome="running")
            run.config_recorded = True
        save_checkpoint(self.work_dir / LAST_CHECKPOINT, state)
        run.control.saved()

    def _save_epoch(self, run: "TrainingRun", epoch: int, evaluation_pending: bool) -> None:
        """After `epoch`'s training (its evaluation pending or not asked for) and after its evaluation: the
        resumable last checkpoint with every process's random state; with the evaluation's results, the best
        and the kept epoch checkpoints."""
        rng_states = gather_objects(self.context, get_rng_state())
        if self.context.is_main:
            state = self._state(run, epoch, rng_states, evaluation_pending=evaluation_pending)
            wer = run.history.epochs[-1]["wer"]
            if not evaluation_pending and "dev" in wer and run.history.best_epoch == epoch:
                save_checkpoint(self.work_dir / BEST_CHECKPOINT, state)
                logger.info("New best dev WER %.2f%%: saved %s", wer["dev"]["wer"], self.work_dir / BEST_CHECKPOINT)
            if not evaluation_pending and (epoch + 1) % self.config.save_interval == 0:
                save_checkpoint(self.work_dir / epoch_checkpoint(epoch), state)
            self._write_last(run, state)
        barrier(self.context)

    def _save_position(self, run: "TrainingRun", progress: EpochProgress) -> None:
        """The resumable checkpoint of an epoch stopped part-way: before `progress.step`, with every process's
        figures and random state (collective: every process calls it at the same step). Its `epoch` is the last
        finished one, as officially; only a reader of `position` continues inside the epoch (docs/METHOD.md,
        "Interruptions and resuming")."""
        gathered = gather_objects(self.context, (get_rng_state(), progress.stats.to_dict()))
        if self.context.is_main:
            config = self.config
            position = {"epoch": progress.epoch, "step": progress.step, "processes": self.context.world_size,
                        "batch_size": config.batch_size, "accumulate_grad_batches": config.accumulate_grad_batches,
                        "epoch_stats": [stats for _, stats in gathered]}
            state = self._state(run, progress.epoch - 1, [rng for rng, _ in gathered], position=position)
            self._write_last(run, state)
            logger.info("Checkpoint at epoch %d step %d: %s", progress.epoch, progress.step,
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

    def test(self) -> dict:
        if self.config.phase == "test" and not self.config.load_weights:
            logger.warning("--phase test without --load-weights evaluates an untrained model")
        results = self.evaluate(self.eval_loaders(), pictures=self.config.alignment_pictures)
        record = self.record_run()
        if self.context.is_main:
            write_json_atomic(self.work_dir / TEST_RESULTS, {**results, "provenance": record})
            if self.config.analysis:
                for split, scores in self.split_scores.items():
                    write_analysis(scores.lstm[self.config.evaluate_tool], self.work_dir / ANALYSIS_DIR / split)
                logger.info("Error analysis (JSON, Markdown, charts) in %s", self.work_dir / ANALYSIS_DIR)
            for split, figures in results.items():
                print(f"{split}: WER {figures['wer_python']:.2f}% (official python scorer), "
                      f"{figures['wer_sclite']:.2f}% (sclite); conv WER {figures['conv_wer_python']:.2f}% / "
                      f"{figures['conv_wer_sclite']:.2f}%\n(per-sentence alignments: "
                      f"{self.work_dir / score_report(split, 'python')}, {self.work_dir / score_report(split, 'sclite')})")
                print(f"note: {figures['note']}\n" if figures["note"] else "")
        return results

    def features(self) -> dict:
        """Framewise backbone features of every video of the eval splits (dataset_info.eval_splits)."""
        counts = {}
        for split in self.config.dataset_info.eval_splits:
            if not self.paths.info_file(split).is_file():
                logger.warning("No %s split (%s missing): no features", split, self.paths.info_file(split))
                continue
            dataset = split_dataset(self.config, self.paths, split, False, self.gloss_dict)
            loader = build_loader(self.config, dataset, self.collate, self.context, train=False)
            out_dir = self.work_dir / FEATURES_DIR / split
            counts[split] = seq_scripts.extract_features(
                self.model, loader, out_dir, self.collate.left_pad, self.context, self.eval_precision)
            logger.info("%s: %d feature files in %s", split, counts[split], out_dir)
        self.record_run()
        return counts

    def predict(self) -> list[dict]:
        args = self.config.predict_args
        if not args.inputs:
            raise ConfigError("--phase predict needs inputs: --input video.mp4 [frames_dir ...]")
        out_dir = Path(args.output_dir) if args.output_dir else self.work_dir / PREDICTIONS_DIR
        geometry = prediction_geometry(self.config, self.recorded_geometry)
        logger.info("Reading inputs as the model's %s: %s", "training data" if self.recorded_geometry else
                    "configuration says (the checkpoint records no input geometry)", geometry.describe())
        results = seq_scripts.predict(self.model, args.inputs, self.decoder, self.collate, self.context,
                                      geometry=geometry, args=args, out_dir=out_dir, precision=self.eval_precision)
        self.record_run(out_dir)
        return results


    def export(self) -> dict:
        """The checkpoint as model.onnx (deploy/export.py) with model.json beside it: what prediction through ONNX
        Runtime needs (gloss dictionary, input geometry, padding, decoding settings) and where it came from."""
        from deploy.export import export_onnx
        from deploy.onnx_format import file_sha256

        config = self.config
        if not config.load_weights:
            raise ConfigError("--phase export needs the checkpoint to export: --load-weights CHECKPOINT")
        args = config.export_args
        out_path = Path(args.output) if args.output else self.work_dir / EXPORTED_MODEL
        geometry = prediction_geometry(config, self.recorded_geometry)
        source = resolve_path(config.load_weights)
        description = {
            "gloss_dict": self.gloss_dict, "num_classes": self.num_classes, "input_geometry": geometry.to_dict(),
            "decoding": {"mode": config.decode_mode, **to_dict(config.decode_args)},
            "source": {"checkpoint": source.name, "sha256": file_sha256(source)},
            "exported": {"torch": torch.__version__, "date": time.strftime("%Y-%m-%d")},
            "provenance": without_diffs(self._checkpoint_provenance()),
        }
        if self.context.is_main:
            verification = export_onnx(unwrap(self.model), out_path, description, input_size=geometry.input_size,
                                       left_pad=self.collate.left_pad, stride=self.collate.stride,
                                       verify_frames=args.verify_frames, tolerance=args.tolerance, opset=args.opset)
            self.record_run(out_path.parent)
            print(f"exported {out_path} (and {out_path.with_suffix('.json').name}); largest logit difference "
                  f"ONNX Runtime vs PyTorch {verification.worst:.2e} (tolerance {args.tolerance:g})")
        barrier(self.context)
        return {"path": str(out_path)}


def data_folder(config: Config, context: DistContext) -> Path | None:
    """The info folder of the bundled demo corpus, prepared by the main process (the others wait) when
    `synthetic.enabled`; None: the configuration's dataset_info says where the data is."""
    if not config.synthetic.enabled:
        return None
    from preprocess.demo_corpus import demo_info_dir, prepare_demo_corpus

    if context.is_main:
        prepare_demo_corpus(config)
    barrier(context)
    return demo_info_dir(config)


def run(config: Config, context: DistContext) -> Any:
    """Set up the work directory, logging and seeds, then run the configured phase."""
    provenance = run_record(config.phase, context.world_size, str(context.device), to_dict(config))
    work_dir = Path(config.work_dir)
    if context.is_main:
        ensure_writable_directory(work_dir)
    setup_logging(work_dir, context.is_main)
    seed_everything(config.random_seed)
    configure_determinism(config.deterministic)
    allocator = "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else "system"
    logger.info("Phase %s, dataset %s, work dir %s, device %s, %s allocator", config.phase, config.dataset, work_dir,
                context.device, allocator)
    logger.info("Run of %s", describe(provenance))
    experiment = Experiment(config, context, DataPaths(config, data_folder(config, context)), provenance)
    return PHASES[config.phase](experiment)


PHASES: dict[str, Callable[[Experiment], Any]] = {
    "train": Experiment.train, "test": Experiment.test, "features": Experiment.features, "predict": Experiment.predict,
    "export": Experiment.export,
}


def check_launch(config: Config) -> None:
    """What the configuration asks of this launch that the machine cannot give, refused before anything runs."""
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    if config.sync_bn and processes > 1 and select_device(config.device).type == "cpu":
        raise ConfigError("sync_bn=true needs CUDA GPUs (SyncBatchNorm has no CPU implementation): leave it off "
                          f"for this CPU run of {processes} processes, whose BatchNorm statistics then stay per process")


def launch(config: Config, allow_reexec: bool = False) -> int:
    """Check the launch, restart under jemalloc on CPU when allowed, join the process group and run."""
    check_launch(config)
    if allow_reexec and select_device(config.device).type == "cpu":
        reexec_under_jemalloc()
    context = init_distributed(config.device)
    try:
        run(config, context)
    except TrainingStopped as stopped:
        logger.info("%s (exit code %d)", stopped, stopped.exit_code)
        if context.is_main:
            print(f"{stopped} (exit code {stopped.exit_code})", file=sys.stderr)
        return stopped.exit_code
    finally:
        cleanup(context)
    return 0
