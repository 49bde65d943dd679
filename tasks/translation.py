"""Gloss-to-text translation as a task of the trainer: parallel sentences from the corpus's info files, the
translation transformer, label-smoothed cross-entropy over the global batch's target words, dev BLEU-4 to choose
the best checkpoint; its test chooses the beam width and length penalty on dev (as signjoey) and scores every
evaluated split with sacreBLEU (docs/METHOD.md, "Translation").
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from dataset.errors import DataError
from dataset.paths import DataPaths
from dataset.sampler import ResumableSampler
from evaluation.training_history import BLEU
from tasks.base import AgreedStep, LocalStep, StepLoss, StepRecipe, Task
from training.preemption import TrainingStopped
from translation.beam_search import BeamSettings
from translation.corpus import ParallelSentence, parallel_sentences
from translation.metrics import score_translations
from translation.noise import GlossNoise
from translation.report import score_line, signature_line, write_translation_table
from translation.spec import CHECKPOINT_KEY, TranslatorSpec
from translation.translator import Translator, pad_ids
from translation.vocabulary import BOS_ID, EOS_ID, PAD_ID
from utils.checkpoint import apply_model_weights, read_checkpoint, unwrap
from utils.config.merge import resolve_path
from utils.config.schema import Config, ConfigError
from utils.distributed import DistContext, any_process, gather_objects
from utils.io import write_json_atomic, write_text_atomic
from utils.precision import Precision
from utils.progress import progress
from utils.provenance import RunRecord
from utils.work_dir import (PREDICTIONS_DIR, PREDICTIONS_TRANSLATIONS, PREDICTIONS_TRANSLATIONS_JSON, TEST_RESULTS,
                            translations_file)

logger = logging.getLogger("slowfastsign")


@dataclass
class TranslationBatch:
    """Padded source ids (N x S) with their lengths, target ids from <s> to </s> (N x T), and the sentences' ids."""

    source: torch.Tensor
    source_lengths: torch.Tensor
    target: torch.Tensor
    ids: list[str]

    def to(self, device: torch.device) -> "TranslationBatch":
        return replace(self, source=self.source.to(device), source_lengths=self.source_lengths.to(device),
                       target=self.target.to(device))

    @property
    def target_words(self) -> int:
        """The words (and </s>) the loss predicts: every target position after <s> that is not padding."""
        return int((self.target[:, 1:] != PAD_ID).sum())


class ParallelDataset(Dataset):
    """A split's sentences as id sequences; with `noise`, each epoch's source glosses are corrupted anew (a draw
    seeded by the run's seed, the epoch and the sentence, so a resumed run reads what the uninterrupted one read)."""

    def __init__(self, sentences: Sequence[ParallelSentence], spec: TranslatorSpec, noise: GlossNoise | None = None,
                 seed: int = 0) -> None:
        self.sentences, self.spec, self.noise, self.seed = list(sentences), spec, noise, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, index: int) -> tuple[list[int], list[int], str]:
        sentence = self.sentences[index]
        glosses = list(sentence.glosses)
        if self.noise is not None:
            glosses = self.noise.corrupt(glosses, np.random.default_rng((self.seed, self.epoch, index)))
        target = [BOS_ID, *self.spec.target.encode(list(sentence.text)), EOS_ID]
        return self.spec.encode_source(glosses), target, sentence.id


def collate_parallel(items: Sequence[tuple[list[int], list[int], str]]) -> TranslationBatch:
    source, lengths = pad_ids([item[0] for item in items])
    target, _ = pad_ids([item[1] for item in items])
    return TranslationBatch(source, lengths, target, [item[2] for item in items])


class TranslationSteps(StepRecipe):
    """A translation step: label-smoothed cross-entropy summed over the target words of every micro-batch and
    divided by the global batch's number of target words (the token mean one batch of all the sentences gives)."""

    def __init__(self, label_smoothing: float) -> None:
        self.label_smoothing = label_smoothing

    def local_step(self, micro_batches: Sequence[TranslationBatch | None]) -> LocalStep:
        present = [batch for batch in micro_batches if batch is not None]
        words = sum(batch.target_words for batch in present)
        return LocalStep(batches=present, missing=len(present) < len(micro_batches), learnable=words, sums=(words,))

    def plan(self, local: LocalStep, agreed: AgreedStep) -> list[tuple[TranslationBatch, Any]]:
        return [(batch, agreed.sums[0]) for batch in local.batches]

    def loss(self, model: torch.nn.Module, batch: TranslationBatch, plan: Any, context: DistContext,
             precision: Precision) -> StepLoss:
        batch = batch.to(context.device)
        with precision.autocast(context.device):
            logits = model(batch.source, batch.source_lengths, batch.target[:, :-1])
        loss = translation_loss(logits, batch.target[:, 1:], self.label_smoothing) / plan
        return StepLoss(loss, {"Translation": loss.detach()}, names=batch.ids)


def translation_loss(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """Label-smoothed cross-entropy summed over the non-padding target positions."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD_ID,
                           label_smoothing=label_smoothing, reduction="sum")


class TranslationTask(TranslationSteps, Task):
    """One gloss-to-text run: the corpus's parallel sentences, the transformer and its vocabularies."""

    name = "translation"
    metric = BLEU
    families = ("translation",)
    sample_name = "sentences"

    def __init__(self, config: Config, context: DistContext, paths: DataPaths, record: RunRecord) -> None:
        self.config, self.context, self.paths, self.record = config, context, paths, record
        self.work_dir = Path(config.work_dir)
        self.args = config.translation_args
        self.eval_precision = Precision(None)
        checkpoint = read_checkpoint(resolve_path(config.load_weights)) if config.load_weights else None
        if checkpoint is not None:
            record.note_weights(resolve_path(config.load_weights), checkpoint)
            if not isinstance(checkpoint.get(CHECKPOINT_KEY), dict):
                raise ConfigError(f"{config.load_weights} is not a translation checkpoint (task=translation needs "
                                  f"one trained with task=translation)")
        self.sentences = {split: self._split(split) for split in ("train", *config.dataset_info.eval_splits)
                          if self.paths.info_file(split).is_file()}
        if checkpoint is not None:
            self.spec = TranslatorSpec.from_dict(checkpoint[CHECKPOINT_KEY])
        elif "train" in self.sentences:
            train = self.sentences["train"]
            self.spec = TranslatorSpec.build([s.glosses for s in train], [s.text for s in train], self.args)
        else:
            raise DataError(f"{self.paths.info_file('train')} not found: a new translation model builds its "
                            f"vocabularies from the training split")
        model = self.spec.build_model().to(context.device)
        if checkpoint is not None:
            apply_model_weights(model, checkpoint, config.ignore_weights, source=config.load_weights)
        logger.info("Translation transformer: %d parameters, %d source and %d target tokens", sum(
            p.numel() for p in model.parameters()), len(self.spec.source), len(self.spec.target))
        self.model = torch.nn.parallel.DistributedDataParallel(model) if context.distributed else model
        super().__init__(self.args.label_smoothing)

    def _split(self, split: str) -> list[ParallelSentence]:
        return parallel_sentences(self.paths.info(split), self.config.dataset, self.args.level)

    @property
    def translator(self) -> Translator:
        return Translator(self.spec, unwrap(self.model), self.context.device, self.args.max_output_length)

    # ---- what the trainer asks ----
    def training_data(self) -> int:
        config = self.config
        train = self.sentences.get("train")
        if not train:
            raise DataError(f"{self.paths.info_file('train')} not found: nothing to train on")
        noise = (GlossNoise([s.glosses for s in train], self.args.noise_wer, self.args.noise_mix)
                 if self.args.noise_wer > 0 else None)
        self.train_set = ParallelDataset(train, self.spec, noise, config.random_seed)
        sampler = ResumableSampler(self.train_set, num_replicas=self.context.world_size, rank=self.context.rank,
                                   shuffle=True, seed=config.random_seed, drop_last=True)
        self.train_loader = DataLoader(self.train_set, batch_size=config.batch_size, sampler=sampler, drop_last=True,
                                       collate_fn=collate_parallel, num_workers=0)
        return len(self.train_set)

    def evaluate(self, should_stop: Callable[[], bool]) -> dict[str, dict[str, dict[str, Any]]]:
        settings = BeamSettings(self.args.eval_beam_size, self.args.alpha)
        results = {}
        for split in self.config.dataset_info.eval_splits:
            if split not in self.sentences:
                continue
            hypotheses = self.translate_split(split, settings, should_stop)
            if self.context.is_main:
                scores = self.score(split, hypotheses)
                logger.info("%s (%s): %s", split, settings.describe(), scores.summary_line())
                results[split] = scores.to_dict()
        return {"translation": results}

    def checkpoint_extras(self) -> dict[str, Any]:
        return {CHECKPOINT_KEY: self.spec.to_dict()}

    # ---- translating and scoring ----
    def translate_split(self, split: str, settings: BeamSettings,
                        should_stop: Callable[[], bool] | None = None) -> dict[str, str]:
        """Every sentence of `split` translated (the processes share the work), by id, on every process.
        `should_stop`: asked by all processes together before each chunk (TrainingStopped)."""
        everything, world = self.sentences[split], self.context.world_size
        sentences = everything[self.context.rank::world]
        translator, mine, chunk = self.translator, {}, 64
        rounds = -(-(-(-len(everything) // world)) // chunk)  # the largest share's chunks, alike on every process
        for start in progress(range(0, rounds * chunk, chunk), desc=f"translate {split}",
                              disable=not self.context.is_main, leave=False):
            if should_stop is not None and any_process(self.context, should_stop()):
                raise TrainingStopped("during evaluation")
            part = sentences[start:start + chunk]
            mine.update(zip([s.id for s in part], translator.translate([s.glosses for s in part], settings)))
        merged: dict[str, str] = {}
        for part in gather_objects(self.context, mine):
            merged.update(part)
        return merged

    def score(self, split: str, hypotheses: dict[str, str]):
        sentences = self.sentences[split]
        references = [" ".join(s.text) for s in sentences]
        return score_translations(references, [hypotheses[s.id] for s in sentences])

    def choose_decoding(self) -> BeamSettings:
        """The beam width and length penalty with the best dev BLEU-4 among translation_args.beam_sizes x alphas
        (the first best, in that order; alpha does not matter to greedy search); the configured ones without dev."""
        if "dev" not in self.sentences:
            return BeamSettings(self.args.beam_size, self.args.alpha)
        best, best_bleu = None, None
        for beam in self.args.beam_sizes:
            for alpha in (self.args.alphas if beam > 1 else self.args.alphas[:1]):
                settings = BeamSettings(beam, alpha)
                bleu = self.score("dev", self.translate_split("dev", settings)).bleu4 if self.context.is_main \
                    else 0.0
                logger.info("dev BLEU-4 %.2f with %s", bleu, settings.describe())
                if best_bleu is None or bleu > best_bleu:
                    best, best_bleu = settings, bleu
        best = gather_objects(self.context, best)[0]  # the main process's choice
        logger.info("Chosen on dev: %s (BLEU-4 %.2f)", best.describe(), best_bleu)
        return best

    def test(self) -> dict:
        """Choose the decoding on dev, translate every evaluated split with it, write the translations (one per
        line, with their ids) and print every score with sacreBLEU's signatures."""
        if self.config.phase == "test" and not self.config.load_weights:
            logger.warning("--phase test without --load-weights evaluates an untrained model")
        settings = self.choose_decoding()
        self.spec.decoding = settings
        self.keep_chosen_decoding(self.spec)
        results: dict[str, Any] = {}
        for split in self.config.dataset_info.eval_splits:
            if split not in self.sentences:
                logger.warning("No %s split (%s missing): not evaluated", split, self.paths.info_file(split))
                continue
            hypotheses = self.translate_split(split, settings)
            if self.context.is_main:
                scores = self.score(split, hypotheses)
                self.write_translations(split, hypotheses)
                results[split] = {**scores.to_dict(), "decoding": {"beam_size": settings.beam_size,
                                                                   "alpha": settings.alpha}}
        record = self.record.write(self.work_dir)
        if self.context.is_main:
            write_json_atomic(self.work_dir / TEST_RESULTS, {**results, "provenance": record})
            for split, figures in results.items():
                print(score_line(split, figures, f"ground-truth glosses, {settings.describe()}") +
                      f"\n(translations: {self.work_dir / translations_file(split)})")
            if results:
                print(signature_line(next(iter(results.values()))))
        return results

    def write_translations(self, split: str, hypotheses: dict[str, str]) -> None:
        """`translations-<split>.tsv`: id, translation and reference per line, in the split's order."""
        sentences = self.sentences[split]
        write_translation_table(self.work_dir / translations_file(split), [s.id for s in sentences],
                                [hypotheses[s.id] for s in sentences], [" ".join(s.text) for s in sentences])

    def predict(self) -> list[dict]:
        """Gloss sequences to sentences: each input is a text file of one gloss sequence per line, or the glosses
        themselves (`--input "MORGEN REGEN NORD"`); predictions/translations.json and translations.txt (glosses, a
        tab, the sentence), with the decoding the model's test chose on dev."""
        args = self.config.predict_args
        if not args.inputs:
            raise ConfigError('--phase predict needs inputs: --input "GLOSS GLOSS ..." or a text file of gloss lines')
        sequences = []
        for item in args.inputs:
            path = Path(item)
            if path.suffix == ".txt" and path.is_file():
                sequences += [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            else:
                sequences.append(item.split())
        translations = [self.spec.readable(sentence) for sentence in self.translator.translate(sequences)]
        out_dir = Path(args.output_dir) if args.output_dir else self.work_dir / PREDICTIONS_DIR
        results = [{"glosses": glosses, "translation": sentence} for glosses, sentence in zip(sequences, translations)]
        if self.context.is_main:
            write_json_atomic(out_dir / PREDICTIONS_TRANSLATIONS_JSON, results)
            write_text_atomic(out_dir / PREDICTIONS_TRANSLATIONS, "".join(
                f"{' '.join(item['glosses'])}\t{item['translation']}\n" for item in results))
            for item in results:
                print(f"{' '.join(item['glosses'])}  ->  {item['translation']}")
            self.record.write(out_dir)
        return results

    def features(self) -> dict:
        raise ConfigError("task=translation has no features phase: it reads glosses, not videos")

    def export(self) -> dict:
        raise ConfigError("task=translation has no export phase of its own: export the recognition model with "
                          "translation_args.translator set")

