"""Joint Sign2(Gloss+Text): the recognition network with a translation transformer on its main branch's BiLSTM
features (as signjoey's decoder sits on its encoder), trained with the recognition losses unchanged plus
translation_args.loss_weight x the label-smoothed cross-entropy of the translations; evaluated by WER and BLEU,
the best checkpoint chosen by dev BLEU-4 (signjoey's default). docs/METHOD.md, "Translation".
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Sequence

import numpy as np
import torch

import seq_scripts
from dataset.collate import Batch
from dataset.video_dataset import Sample
from evaluation.training_history import BLEU
from tasks.base import AgreedStep, LocalStep, StepLoss
from tasks.recognition import RecognitionTask, merged_across_processes
from tasks.translation import translation_loss
from translation.beam_search import BeamSettings
from translation.corpus import parallel_sentences
from translation.metrics import score_translations
from translation.model import TranslationTransformer
from translation.spec import CHECKPOINT_KEY, TranslatorSpec, output_limits
from translation.translator import pad_ids, search
from translation.vocabulary import BOS_ID, EOS_ID
from utils.checkpoint import unwrap
from utils.distributed import DistContext
from utils.precision import Precision

logger = logging.getLogger("slowfastsign")


class JointTask(RecognitionTask):
    """Recognition and translation from the same video features."""

    name = "joint"
    metric = BLEU
    families = ("wer", "translation")

    def _translation_module(self, checkpoint: dict | None) -> torch.nn.Module:
        """The decoder, its vocabulary from the checkpoint or the training split; a recognition checkpoint starts
        it afresh (its tensors are left out of the strict load)."""
        config = self.config
        stored = checkpoint.get(CHECKPOINT_KEY) if checkpoint is not None else None
        if isinstance(stored, dict):
            self.spec = TranslatorSpec.from_dict(stored)
        else:
            train = parallel_sentences(self.paths.info("train"), config.dataset, config.translation_args.level)
            self.spec = TranslatorSpec.build([s.glosses for s in train], [s.text for s in train],
                                             config.translation_args, features=True)
            if checkpoint is not None:
                self.config = dataclasses.replace(config, ignore_weights=[*config.ignore_weights, "translator."])
        self.targets = {split: {s.id: [BOS_ID, *self.spec.target.encode(list(s.text)), EOS_ID]
                                for s in parallel_sentences(self.paths.info(split), config.dataset, self.spec.level)}
                        for split in ("train",) if self.paths.info_file(split).is_file()}
        return self.spec.build_model(source_features=config.model_args.hidden_size)

    @property
    def decoder_model(self) -> TranslationTransformer:
        return unwrap(self.model).translator

    # ---- the step ----
    def local_step(self, micro_batches: Sequence[Batch | None]) -> LocalStep:
        local = super().local_step(micro_batches)
        words = sum(len(self.targets["train"][str(info["fileid"])]) - 1 for batch, _ in local.batches
                    for info in batch.info)
        return dataclasses.replace(local, sums=(*local.sums, words))

    def plan(self, local: LocalStep, agreed: AgreedStep) -> list[tuple[Batch, Any]]:
        return [(batch, (*plan, agreed.sums[1])) for batch, plan in super().plan(local, agreed)]

    def loss(self, model: torch.nn.Module, batch: Batch, plan: Any, context: DistContext,
             precision: Precision) -> StepLoss:
        recognition, output = self.recognition_loss(model, batch, plan, context, precision)
        target, _ = pad_ids([self.targets["train"][name] for name in recognition.names])
        target = target.to(context.device)
        with precision.autocast(context.device):
            logits = self.decoder_model(output.sequence_features[0].transpose(0, 1), output.feat_len,
                                        target[:, :-1])
        translation = translation_loss(logits, target[:, 1:], self.config.translation_args.label_smoothing) / plan[2]
        total = recognition.total + self.config.translation_args.loss_weight * translation
        return StepLoss(total, {**recognition.parts, "Translation": translation.detach()}, recognition.excluded,
                        recognition.names)

    # ---- evaluation ----
    def evaluate(self, should_stop: Callable[[], bool]) -> dict[str, dict[str, dict[str, Any]]]:
        translated: dict[str, dict[str, str]] = {}
        settings = BeamSettings(self.config.translation_args.eval_beam_size, self.config.translation_args.alpha)
        wer = self.evaluate_splits(self.loaders, should_stop=should_stop,
                                   on_output=self.translation_hook(translated, settings))
        results = {}
        for split in self.loaders:
            merged = merged_across_processes(self.context, translated.get(split, {}))
            if self.context.is_main:
                figures = self.score_split(split, merged)
                if figures is not None:
                    logger.info("%s (%s): BLEU-4 %.2f, ROUGE-L %.2f", split, settings.describe(), figures["bleu4"],
                                figures["rouge"])
                    results[split] = figures
        return {"wer": wer, "translation": results}

    def score_split(self, split: str, translations: dict[str, str]) -> dict | None:
        sentences = parallel_sentences(self.paths.info(split), self.config.dataset, self.spec.level)
        return score_translations([" ".join(s.text) for s in sentences],
                                  [translations.get(s.id, "") for s in sentences]).to_dict()

    def translation_hook(self, translated: dict[str, dict[str, str]], settings: BeamSettings
                         ) -> Callable[[str], seq_scripts.OutputHook]:
        """Translates each evaluated batch from its BiLSTM features, into `translated[split]` by id."""
        def for_split(split: str) -> seq_scripts.OutputHook:
            into = translated.setdefault(split, {})

            def on_output(names: list[str], output: Any) -> None:
                into.update(zip(names, self.translate_output(output, settings)))
            return on_output
        return for_split

    def translate_output(self, output: Any, settings: BeamSettings) -> list[str]:
        """The sentences of one batch's model output (its main-branch BiLSTM features)."""
        model = self.decoder_model
        lengths = output.feat_len.to(output.sequence_features[0].device)
        memory = model.encode(output.sequence_features[0].transpose(0, 1).float(), lengths)
        limits = output_limits(lengths.tolist(), self.config.translation_args.max_output_length)
        return [" ".join(self.spec.target.decode(ids)) for ids in search(model, memory, limits, settings)]

    def test_output_hook(self, kept: dict[str, dict[str, Any]]) -> Callable[[str], seq_scripts.OutputHook]:
        """The test keeps each clip's BiLSTM features (its own steps), to choose the decoding on dev from them."""
        def for_split(split: str) -> seq_scripts.OutputHook:
            into = kept.setdefault(split, {})

            def on_output(names: list[str], output: Any) -> None:
                features = output.sequence_features[0].float().cpu()
                for row, name in enumerate(names):
                    into[name] = features[:int(output.feat_len[row]), row].numpy()
            return on_output
        return for_split

    def prepare_translations(self, kept: dict[str, dict[str, Any]]) -> None:
        """The beam width and length penalty with the best dev BLEU-4 among translation_args.beam_sizes x alphas,
        from the dev clips' kept features (as signjoey's test chooses them); the configured ones without dev."""
        args = self.config.translation_args
        if "dev" not in kept:
            return
        best = None
        for beam in args.beam_sizes:
            for alpha in (args.alphas if beam > 1 else args.alphas[:1]):
                settings = BeamSettings(beam, alpha)
                figures = self.score_split("dev", self.translate_features(kept["dev"], settings))
                logger.info("dev BLEU-4 %.2f with %s", figures["bleu4"], settings.describe())
                if best is None or figures["bleu4"] > best[0]:
                    best = (figures["bleu4"], settings)
        self.spec.decoding = best[1]
        logger.info("Chosen on dev: %s (BLEU-4 %.2f)", best[1].describe(), best[0])
        self.keep_chosen_decoding(self.spec)

    @torch.no_grad()
    def translate_features(self, features: dict[str, np.ndarray], settings: BeamSettings, batch: int = 64
                           ) -> dict[str, str]:
        """Sentences of clips' kept BiLSTM features (each S x hidden), by id."""
        model, names, sentences = self.decoder_model, sorted(features), {}
        device = next(model.parameters()).device
        for start in range(0, len(names), batch):
            chunk = names[start:start + batch]
            lengths = torch.tensor([len(features[name]) for name in chunk])
            padded = torch.zeros(len(chunk), int(lengths.max()), features[chunk[0]].shape[1])
            for row, name in enumerate(chunk):
                padded[row, :len(features[name])] = torch.from_numpy(features[name])
            memory = model.encode(padded.to(device), lengths.to(device))
            limits = output_limits(lengths.tolist(), self.config.translation_args.max_output_length)
            for name, ids in zip(chunk, search(model, memory, limits, settings)):
                sentences[name] = " ".join(self.spec.target.decode(ids))
        return sentences

    def translations(self, split: str, hypotheses: dict[str, list[str]], kept: dict[str, Any]) -> dict[str, str]:
        return self.translate_features(kept, self.spec.decoding)

    def translation_spec(self) -> TranslatorSpec:
        return self.spec

    def translation_source(self) -> str:
        return f"joint decoder on the video features, {self.spec.decoding.describe()}"

    def exported_translator(self) -> tuple[Any, TranslatorSpec, int]:
        return self.decoder_model, self.spec, self.config.model_args.hidden_size

    @torch.no_grad()
    def translation_sources(self, geometry: Any) -> list[np.ndarray]:
        """The BiLSTM features of seeded random clips of the verified lengths (export_args.verify_frames)."""
        generator = np.random.default_rng(0)
        model = unwrap(self.model).eval()
        sources = []
        for count in self.config.export_args.verify_frames:
            clip = generator.integers(0, 256, (count, geometry.input_size, geometry.input_size, 3), dtype=np.uint8)
            _, output = seq_scripts.forward(model, self.collate([Sample(torch.from_numpy(clip), [], {})]),
                                            self.context, self.eval_precision)
            sources.append(output.sequence_features[0][:, 0].float().cpu().numpy())
        return sources

    def predict(self) -> list[dict]:
        """Prediction with each clip's sentence from its features (the joint decoder, spec.decoding)."""
        self.translate_clip = lambda output: self.spec.readable(self.translate_output(output, self.spec.decoding)[0])
        return super().predict()

    def checkpoint_extras(self) -> dict[str, Any]:
        return {**super().checkpoint_extras(), CHECKPOINT_KEY: self.spec.to_dict()}
