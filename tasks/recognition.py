"""Continuous sign language recognition, the paper's task: SlowFast -> temporal convs -> BiLSTM -> CTC, decoded by
beam search and scored by WER with both official scorers. Besides what the trainer asks of a task, it runs the
other phases of a recognition model: test, features, predict and export.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

import seq_scripts
from dataset.collate import Batch, PadCollate
from dataset.errors import DataError
from dataset.frames import InputGeometry
from dataset.gloss_dict import load_gloss_dict
from dataset.paths import DataPaths
from dataset.sampler import ResumableSampler
from dataset.video_dataset import SignVideoDataset, init_loader_worker, split_dataset
from decoding.ctc_decoder import CTCDecoder
from deploy.model_folder import MODEL_CARD, TRANSLATOR_WEIGHTS, WEIGHTS, export_location, read_weights, write_weights
from deploy.onnx_format import sidecar_path
from deploy.prediction import prediction_geometry
from evaluation.alignment_figure import save_alignment_picture
from evaluation.analyse import write_analysis
from evaluation.training_history import WER, TrainingHistory
from modules.c2_model_loading import load_c2_checkpoint
from modules.losses import LossScale, SLRLoss, batch_alignability, ctc_required_lengths
from modules.temporal_conv import TemporalConv
from slr_network import SLRModel
from tasks.base import AgreedStep, LocalStep, StepLoss, StepRecipe, Task
from translation.corpus import translation_of
from translation.metrics import score_translations
from translation.report import score_line, signature_line, write_translation_table
from translation.spec import TranslatorSpec
from translation.translator import Translator
from training.preemption import end_workers_at_exit, ignore_stop_signals
from utils.checkpoint import apply_model_weights, read_checkpoint, resume_checkpoint, unwrap
from utils.config.merge import resolve_path, to_dict
from utils.config.schema import Config, ConfigError
from utils.distributed import DistContext, barrier, gather_objects
from utils.io import file_sha256, write_json_atomic
from utils.kernel_spec import feature_length
from utils.precision import AMP_DTYPES, Precision
from utils.provenance import RunRecord, public_config
from utils.work_dir import (ALIGNMENTS_DIR, ANALYSIS_DIR, FEATURES_DIR, PREDICTIONS_DIR,
                            TEST_RESULTS, config_record, score_report, translations_file)

logger = logging.getLogger("slowfastsign")
EXPORT_CHECK_SENTENCES = 20  # sources the exported translator must translate as PyTorch does


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
                weights: dict | None = None, gloss_dict: dict[str, int] | None = None,
                translator: torch.nn.Module | None = None) -> torch.nn.Module:
    """The model on its device (DDP-wrapped under torchrun); `weights`: the --load-weights checkpoint, checked
    against the run's `gloss_dict`; `kinetics_init` only for a fresh training run; `translator`: joint training's
    translation transformer on the BiLSTM features."""
    args = config.model_args
    model = SLRModel(num_classes, args.backbone, kernel_spec=args.conv_type, hidden_size=args.hidden_size,
                     share_classifier=args.share_classifier, lstm_dropout=args.lstm_dropout,
                     activation_checkpointing=args.activation_checkpointing, translator=translator)
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
        unused = [name for name in unwrap(model).parameters_outside(SLRLoss(config.loss_weights.active()).outputs_read())
                  if not name.startswith("translator.")]
        torch.nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, unused)
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    return model


def merged_across_processes(context: DistContext, part: dict) -> dict:
    """Every process's share of a mapping, merged (collective)."""
    merged: dict = {}
    for piece in gather_objects(context, part):
        merged.update(piece)
    return merged


class RecognitionSteps(StepRecipe):
    """A recognition step (tasks/base.py): every micro-batch of the global batch is padded to its longest clip, so
    each clip sees the padding one batch would give it and the distillation averages over the rows one batch would
    have; CTC averages over the clips it can align in the whole global batch. The feature lengths come from the
    temporal head's rule, before the model runs (docs/METHOD.md, "Several processes, gradient accumulation")."""

    excluded_name = "CTC-infeasible samples left out"
    excluded_key = "ctc_infeasible"

    def __init__(self, criterion: SLRLoss, head: TemporalConv) -> None:
        self.criterion, self.head = criterion, head

    def local_step(self, micro_batches: Sequence[Batch | None]) -> LocalStep:
        present = [batch for batch in micro_batches if batch is not None and not batch.is_empty]
        feat_lens = [self.head.output_lengths(batch.video_length) for batch in present]
        alignable = sum(int((feat_len >= ctc_required_lengths(batch.label, batch.label_length)).sum())
                        for feat_len, batch in zip(feat_lens, present))
        return LocalStep(batches=list(zip(present, feat_lens)),
                         bad_samples=sum(batch.skipped for batch in micro_batches if batch is not None),
                         missing=len(present) < len(micro_batches), learnable=alignable,
                         sums=(sum(batch.video.shape[0] for batch in present),),
                         maxima=(max((batch.video.shape[1] for batch in present), default=0),))

    def plan(self, local: LocalStep, agreed: AgreedStep) -> list[tuple[Batch, Any]]:
        length = int(agreed.maxima[0])
        steps = feature_length(length, self.head.layers)
        scale = LossScale(agreed.learnable, steps * int(agreed.sums[0]))
        padded = [(batch.padded_to(length), feat_len) for batch, feat_len in local.batches]
        return [(batch, (batch_alignability(feat_len, batch.label, batch.label_length, steps * batch.video.shape[0]),
                         scale)) for batch, feat_len in padded]

    def loss(self, model: torch.nn.Module, batch: Batch, plan: Any, context: DistContext,
             precision: Precision) -> StepLoss:
        return self.recognition_loss(model, batch, plan, context, precision)[0]

    def recognition_loss(self, model: torch.nn.Module, batch: Batch, plan: Any, context: DistContext,
                         precision: Precision) -> tuple[StepLoss, Any]:
        """The recognition losses of a micro-batch, and the model's output they were computed from."""
        alignable, scale = plan[:2]
        batch, output = seq_scripts.forward(model, batch, context, precision)
        if not torch.equal(output.feat_len.cpu(), alignable.feat_len):
            raise RuntimeError("the temporal head's length rule disagrees with the model's output lengths")
        names = [str(info.get("fileid", i)) for i, info in enumerate(batch.info)]
        result = self.criterion(output, batch.label, batch.label_length, names, scale, alignable)
        return StepLoss(result.total, result.parts, result.excluded, names), output

    def forward_without_learning(self, model: torch.nn.Module, batch: Batch, context: DistContext,
                                 precision: Precision) -> None:
        """As officially (its loss is inf): BatchNorm statistics and dropout draws move."""
        seq_scripts.forward(model, batch, context, precision)


class RecognitionTask(RecognitionSteps, Task):
    """One recognition run: the configuration resolved into model, data, decoder and work directory."""

    name = "recognition"
    metric = WER
    families = ("wer",)
    sample_name = "clips"

    def __init__(self, config: Config, context: DistContext, paths: DataPaths, record: RunRecord) -> None:
        self.config, self.context, self.paths, self.record = config, context, paths, record
        self.work_dir = Path(config.work_dir)
        dtype = AMP_DTYPES[config.amp_dtype]
        self.eval_precision = Precision(dtype if config.eval_amp else None, config.channels_last)
        checkpoint = read_weights(resolve_path(config.load_weights)) if config.load_weights else None
        if checkpoint is not None:
            record.note_weights(resolve_path(config.load_weights), checkpoint)
        self.loaded_history = checkpoint.get("history") if checkpoint is not None else None
        self.loaded_translator = checkpoint.get("translator_checkpoint") if checkpoint is not None else None
        self.recorded_geometry = dict(checkpoint.get("input_geometry") or {}) if checkpoint is not None else {}
        self.gloss_dict = self._gloss_dict(checkpoint)
        self.num_classes = config.model_args.num_classes or len(self.gloss_dict) + 1
        fresh_training = config.phase == "train" and not config.load_weights and resume_checkpoint(config) is None
        translator = self._translation_module(checkpoint)
        self.model = build_model(self.config, self.num_classes, context, kinetics_init=fresh_training,
                                 weights=checkpoint, gloss_dict=self.gloss_dict, translator=translator)
        self.decoder = CTCDecoder.from_settings(self.gloss_dict, self.num_classes, config.decode_mode, config.decode_args)
        self.collate = PadCollate(unwrap(self.model).conv1d.layers)  # padded as the model's temporal head needs
        self.use_sclite = config.evaluate_tool == "sclite"
        self.split_scores: dict[str, seq_scripts.SplitScores] = {}
        self.translator = self._translator()
        self.translate_clip: Callable[[Any], str] | None = None  # predict: a clip's sentence from its model output
        super().__init__(SLRLoss(config.loss_weights.active()), unwrap(self.model).conv1d)

    def _translation_module(self, checkpoint: dict | None) -> torch.nn.Module | None:
        """The model's own translation decoder (joint training; none for recognition)."""
        return None

    def _translator(self) -> Translator | None:
        """translation_args.translator: the gloss-to-text model that translates what is recognised (else the one
        an exported folder carries)."""
        path = self.config.translation_args.translator
        if not path and self.loaded_translator is not None:
            return Translator.from_checkpoint(resolve_path(self.config.load_weights), self.loaded_translator,
                                              self.context.device, self.config.translation_args.max_output_length)
        if not path:
            return None
        path = resolve_path(path)
        checkpoint = read_checkpoint(path)
        self.record.note_weights(path, checkpoint, key="translator")
        logger.info("Recognised glosses are translated by %s", path)
        return Translator.from_checkpoint(path, checkpoint, self.context.device,
                                          self.config.translation_args.max_output_length)

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

    # ---- what the trainer asks ----
    def training_data(self) -> int:
        config = self.config
        self.train_set = split_dataset(config, self.paths, "train", True, self.gloss_dict)
        self.train_loader = build_loader(config, self.train_set, self.collate, self.context, train=True)
        self.loaders = self.eval_loaders()
        self.input_geometry = self.training_geometry(self.train_set)
        return len(self.train_set)

    def evaluate(self, should_stop: Callable[[], bool]) -> dict[str, dict[str, dict[str, Any]]]:
        return {"wer": self.evaluate_splits(self.loaders, should_stop=should_stop)}

    def after_evaluation(self, history: TrainingHistory) -> None:
        if history.looks_stuck(self.config.stuck_warning_steps):
            logger.warning(self._stuck_warning(history))

    def checkpoint_extras(self) -> dict[str, Any]:
        return {"gloss_dict": dict(self.gloss_dict), "input_geometry": self.input_geometry.to_dict()}

    def training_geometry(self, train_set: SignVideoDataset) -> InputGeometry:
        """How this run reads its training clips, for its checkpoints (prediction reads clips the same way)."""
        feeder = self.config.feeder_args
        frame_size, suffix = train_set.stored_frame_format()
        return InputGeometry(frame_size, suffix, self.config.dataset, feeder.input_size, feeder.image_scale,
                             feeder.frame_interval)

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

    # ---- evaluation ----
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

    def evaluate_splits(self, loaders: dict[str, DataLoader], pictures: bool = False,
                        should_stop: Callable[[], bool] | None = None,
                        on_output: Callable[[str], seq_scripts.OutputHook] | None = None) -> dict[str, dict[str, float]]:
        """WER per split under both official scorers (and the conv WERs); `wer` is the configured tool's.
        Only the main process gets the numbers; its reports stay in `self.split_scores`. `should_stop`:
        training's stop request, which ends the evaluation at once (TrainingStopped); `on_output(split)`: the hook
        that sees that split's model outputs."""
        results = {}
        tool = self.config.evaluate_tool
        for split, loader in loaders.items():
            scores = seq_scripts.evaluate_split(
                self.model, loader, self.decoder, self.context, split=split, stm=self.paths.stm(split),
                dataset=self.config.dataset, work_dir=self.work_dir, precision=self.eval_precision,
                use_sclite=self.use_sclite, sclite=self.config.sclite_path or None, left_pad=self.collate.left_pad,
                on_sentence=self._picture_saver(self.work_dir / ALIGNMENTS_DIR / split) if pictures else None,
                note=self._left_out_note(loader.dataset), should_stop=should_stop,
                on_output=on_output(split) if on_output is not None else None,
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

    # ---- the other phases ----
    def test(self) -> dict:
        if self.config.phase == "test" and not self.config.load_weights:
            logger.warning("--phase test without --load-weights evaluates an untrained model")
        translated: dict[str, dict[str, str]] = {}
        loaders = self.eval_loaders()
        results = self.evaluate_splits(loaders, pictures=self.config.alignment_pictures,
                                       on_output=self.test_output_hook(translated))
        translated = {split: merged_across_processes(self.context, translated.get(split, {})) for split in loaders}
        if self.context.is_main:
            self.prepare_translations(translated)
            for split, scores in self.split_scores.items():
                translations = self.translations(split, scores.hypotheses, translated.get(split, {}))
                if translations is not None:
                    results[split]["translation"] = self.report_translations(split, scores.hypotheses, translations)
        record = self.record.write(self.work_dir)
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
                if figures.get("translation"):
                    print(score_line(split, figures["translation"], self.translation_source()) +
                          f"\n(translations: {self.work_dir / translations_file(split)})")
                print(f"note: {figures['note']}\n" if figures["note"] else "")
            scored = [figures["translation"] for figures in results.values() if figures.get("translation")]
            if scored:
                print(signature_line(scored[0]))
        return results

    # ---- translating what is recognised ----
    def test_output_hook(self, kept: dict[str, dict[str, Any]]) -> Callable[[str], seq_scripts.OutputHook] | None:
        """What the test keeps of each clip's model output, into `kept[split][id]` (joint training: the features
        its decoder reads; recognition: nothing, its translator reads the recognised glosses afterwards)."""
        return None

    def prepare_translations(self, kept: dict[str, dict[str, Any]]) -> None:
        """Once before the splits are translated, with what the test kept of every split (joint training chooses
        its decoding on dev there)."""

    def translation_spec(self) -> TranslatorSpec:
        return self.translator.spec

    def translation_source(self) -> str:
        return f"recognised glosses translated by {self.config.translation_args.translator}"

    def translations(self, split: str, hypotheses: dict[str, list[str]], kept: dict[str, Any]
                     ) -> dict[str, str] | None:
        """The split's translations by id (None without a translator): the recognised glosses translated."""
        if self.translator is None:
            return None
        ids = sorted(hypotheses)
        return dict(zip(ids, self.translator.translate([hypotheses[name] for name in ids])))

    def _translate_one(self, glosses: list[str]) -> str:
        return self.translation_spec().readable(self.translator.translate([glosses])[0])

    def report_translations(self, split: str, hypotheses: dict[str, list[str]], translations: dict[str, str]
                            ) -> dict | None:
        """A split's translations written to translations-<split>.tsv beside the recognised glosses, and scored
        against the corpus's translations (None, with a warning, when it has none)."""
        records = self.paths.info(split).records
        ids = [str(record["fileid"]) for record in records]
        references = [translation_of(record, self.config.dataset, self.translation_spec().level) for record in records]
        sentences = [translations.get(name, "") for name in ids]
        write_translation_table(self.work_dir / translations_file(split), ids, sentences,
                                [reference or "" for reference in references],
                                [" ".join(hypotheses.get(name, [])) for name in ids])
        if any(reference is None for reference in references):
            logger.warning("%s: the corpus has no translations: the recognised signs are translated (%s) but not "
                           "scored", split, self.work_dir / translations_file(split))
            return None
        return score_translations([" ".join(r.split()) for r in references], sentences).to_dict()

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
        self.record.write(self.work_dir)
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
                                      geometry=geometry, args=args, out_dir=out_dir, precision=self.eval_precision,
                                      translate=self._translate_one if self.translator is not None else None,
                                      translate_output=self.translate_clip)
        self.record.write(out_dir)
        return results

    def verification_clips(self, geometry: InputGeometry) -> tuple[list[np.ndarray], str]:
        """Clips of every length prediction runs (export_args.verify_frames, the live window and the window), cut
        from the training split's first clips read as the test phase reads them, or seeded random frames when the
        training frames are not there; and which of the two they are."""
        config = self.config
        lengths = sorted({*config.export_args.verify_frames, config.predict_args.live_window,
                          config.predict_args.window})
        frames: list[np.ndarray] = []
        source = "training"
        try:
            dataset = split_dataset(config, self.paths, "train", False, self.gloss_dict)
            for index in range(len(dataset)):
                frames.extend(dataset[index].video.numpy())
                if len(frames) >= max(lengths):
                    break
        except (DataError, ConfigError, OSError):
            frames = []
        if len(frames) < max(lengths):
            source = "seeded random"
            side = geometry.input_size
            frames = list(np.random.default_rng(0).integers(0, 256, (max(lengths), side, side, 3), dtype=np.uint8))
        return [np.stack(frames[:length]) for length in lengths], source

    def exported_translator(self) -> tuple[Any, TranslatorSpec, int] | None:
        """The translation model an export carries, its spec and its feature width (0: it reads glosses)."""
        if self.translator is None:
            return None
        return self.translator.model, self.translator.spec, 0

    def translation_sources(self, geometry: InputGeometry) -> list[np.ndarray]:
        """What the exported translator is verified on: the first dev sentences' ground-truth glosses as ids."""
        split = "dev" if self.paths.info_file("dev").is_file() else self.config.dataset_info.eval_splits[0]
        spec = self.translator.spec
        records = self.paths.info(split).records[:EXPORT_CHECK_SENTENCES]
        return [np.asarray(spec.encode_source(str(record["label"]).split()), dtype=np.int64) for record in records]

    def _translator_exporter(self, folder: Path, geometry: InputGeometry) -> Callable[[], dict] | None:
        exported = self.exported_translator()
        if exported is None:
            return None
        from deploy.translator_export import export_translator

        model, spec, features = exported
        return lambda: export_translator(model, spec, folder, features=features,
                                         sources=self.translation_sources(geometry),
                                         max_output_length=self.config.translation_args.max_output_length,
                                         opset=self.config.export_args.opset)

    def export(self) -> dict:
        """The checkpoint as a folder that can be published as it is (deploy/model_folder.py): model.onnx
        (deploy/export.py) with model.json beside it (what prediction through ONNX Runtime needs: gloss dictionary,
        input geometry, padding, decoding settings, the public configuration and record, the results as measured),
        the weights in safetensors, the translator's graphs, and a model card. The export run's own record goes to
        the work directory, not into the folder."""
        from deploy.export import export_onnx
        from deploy.model_card import measured_results, write_model_card

        config = self.config
        if not config.load_weights:
            raise ConfigError("--phase export needs the checkpoint to export: --load-weights CHECKPOINT")
        args = config.export_args
        folder, out_path = export_location(args.output, self.work_dir)
        geometry = prediction_geometry(config, self.recorded_geometry)
        source = resolve_path(config.load_weights)
        source_file = source / WEIGHTS if source.is_dir() else source
        description = {
            "gloss_dict": self.gloss_dict, "num_classes": self.num_classes, "input_geometry": geometry.to_dict(),
            "decoding": {"mode": config.decode_mode, **to_dict(config.decode_args)},
            "source": {"checkpoint": source_file.name, "sha256": file_sha256(source_file)},
            "exported": {"torch": torch.__version__, "date": time.strftime("%Y-%m-%d")},
            "config": public_config(to_dict(config)), "results": measured_results(self.loaded_history),
            "provenance": self.record.for_checkpoint(),
        }
        exported = self.exported_translator()
        if self.context.is_main:
            clips, clip_source = self.verification_clips(geometry)
            verification = export_onnx(unwrap(self.model), out_path, description, clips=clips,
                                       clip_source=clip_source, left_pad=self.collate.left_pad,
                                       stride=self.collate.stride, tolerance=args.tolerance, opset=args.opset,
                                       features=exported is not None and exported[2] > 0,
                                       translator=self._translator_exporter(folder, geometry))
            write_weights(folder / WEIGHTS, unwrap(self.model).state_dict())
            if exported is not None and exported[2] == 0:
                write_weights(folder / TRANSLATOR_WEIGHTS, exported[0].state_dict())
            written = json.loads(sidecar_path(out_path).read_text(encoding="utf-8"))
            write_model_card(folder, source_file.stem if source_file.stem != "best_model" else
                             f"slowfastsign-{config.dataset}", written)
            self.record.write(self.work_dir)
            print(f"exported {folder}: {out_path.name}, {sidecar_path(out_path).name}, {WEIGHTS}, {MODEL_CARD}; "
                  f"ONNX Runtime vs PyTorch on {clip_source} clips of {', '.join(map(str, verification.frames))} "
                  f"frames: the same best class at every step, largest logit difference {verification.worst:.2e} of "
                  f"the largest logit (tolerance {args.tolerance:g})")
        barrier(self.context)
        return {"path": str(out_path)}
