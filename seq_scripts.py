"""Recognition's loops: a forward pass, decoding and scoring a split, feature extraction, prediction (the
training step is the trainer's, training/trainer.py).

They take plain objects (model, loaders, decoder, paths) from the recognition task (tasks/recognition.py) and
never read the command line or the configuration themselves.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from dataset.collate import Batch, PadCollate
from dataset.frames import InputGeometry
from decoding.ctc_decoder import CTCDecoder, DecodedSequence
from deploy.prediction import PredictionWriter, Runtime, Translate, pad_clip, predict_inputs
from evaluation import SCORING_TOOLS, ScoreReport, score, write_ctm
from slr_network import SLROutput
from training.preemption import TrainingStopped
from utils.checkpoint import unwrap
from utils.config.schema import PredictArgs
from utils.distributed import DistContext, all_reduce_sums, any_process, gather_objects, gather_values
from utils.io import atomic_open
from utils.precision import Precision
from utils.progress import progress
from utils.work_dir import hypothesis_ctm

logger = logging.getLogger("slowfastsign")


def forward(model: nn.Module, batch: Batch, context: DistContext, precision: Precision) -> tuple[Batch, SLROutput]:
    """The batch on the model's device and the model's output for it, under `precision`'s autocast."""
    batch = batch.to(context.device, non_blocking=True)
    with precision.autocast(context.device):
        return batch, model(batch.network_input(precision.memory_format), batch.video_length)


SentenceHook = Callable[[str, np.ndarray, np.ndarray, DecodedSequence], None]
OutputHook = Callable[[list[str], SLROutput], None]


@dataclass
class DecodedSplit:
    """A split's hypotheses from the BiLSTM and the temporal-conv logits, and how many of the BiLSTM's output
    steps were most probably blank (a model that emits only blanks has not started to recognise)."""

    lstm: dict[str, list[str]]
    conv: dict[str, list[str]]
    blank_steps: int
    steps: int

    @property
    def blank_share(self) -> float:
        return self.blank_steps / max(self.steps, 1)


def _stoppable(loader: Sequence[Batch], context: DistContext, should_stop: Callable[[], bool] | None) -> Iterator[Batch]:
    """The loader's batches; with `should_stop`, the processes ask it together before each batch (as often on
    each: their shares of a split differ by one batch at most) and raise TrainingStopped together."""
    if should_stop is None:
        yield from loader
        return
    rounds = int(max(row[0] for row in gather_values(context, [len(loader)])))
    batches = iter(loader)
    for _ in range(rounds):
        if any_process(context, should_stop()):
            batches = None  # the loader's workers (which ignore stop signals) shut down now
            raise TrainingStopped("during evaluation")
        batch = next(batches, None)
        if batch is not None:
            yield batch


@torch.no_grad()
def decode_split(
    model: nn.Module, loader: Sequence[Batch], decoder: CTCDecoder, context: DistContext, precision: Precision,
    desc: str = "decode", on_sentence: SentenceHook | None = None, left_pad: int = 0,
    should_stop: Callable[[], bool] | None = None, on_output: OutputHook | None = None,
) -> DecodedSplit:
    """Hypotheses of the BiLSTM and of the temporal-conv logits, gathered from every process.

    `on_sentence(name, frames, posteriors, decoded)`, when given, sees each clip's uint8 frames (without the
    padding, `left_pad` copies before them), its per-step BiLSTM posteriors and what was decoded.
    `should_stop`: asked before each batch (training's evaluations: a stop signal ends them at once).
    `on_output(names, output)`: sees each batch's model output (joint training translates its features)."""
    model = unwrap(model).eval()
    lstm: dict[str, list[str]] = {}
    conv: dict[str, list[str]] = {}
    blank_steps = steps = 0
    for batch in progress(_stoppable(loader, context, should_stop), total=len(loader), desc=desc,
                          disable=not context.is_main, leave=False):
        if batch.is_empty:
            continue
        _, output = forward(model, batch, context, precision)
        names = [str(info["fileid"]) for info in batch.info]
        if on_output is not None:
            on_output(names, output)
        logits = output.sequence_logits[0]
        valid = torch.arange(logits.shape[0], device=logits.device)[:, None] < output.feat_len.to(logits.device)
        blank_steps += int(((logits.argmax(-1) == decoder.blank_id) & valid).sum())
        steps += int(output.feat_len.sum())
        decoded = decoder.decode(output.sequence_logits[0], output.feat_len)
        if on_sentence is not None:  # one softmax and one copy per batch; the frames are still on the CPU here
            posteriors = output.sequence_logits[0].float().softmax(-1).cpu().numpy()
            for row, (name, hyp) in enumerate(zip(names, decoded)):
                frames = batch.video[row, left_pad:left_pad + batch.num_frames[row]].numpy()
                on_sentence(name, frames, posteriors[:int(output.feat_len[row]), row], hyp)
        for name, hyp in zip(names, decoded):
            lstm[name] = hyp.glosses
        for name, hyp in zip(names, decoder.decode(output.conv_logits[0], output.feat_len)):
            conv[name] = hyp.glosses
    for part_lstm, part_conv in gather_objects(context, (lstm, conv)):
        lstm.update(part_lstm)
        conv.update(part_conv)
    blank_steps, steps = map(int, all_reduce_sums(context, [blank_steps, steps]))
    # ordered by id, so the CTM files are the same whatever the number of processes
    return DecodedSplit(dict(sorted(lstm.items())), dict(sorted(conv.items())), blank_steps, steps)


@dataclass
class SplitScores:
    """A split's reports under both official scorers, for the BiLSTM output and the temporal-conv output."""

    lstm: dict[str, ScoreReport]
    conv: dict[str, ScoreReport]
    blank_share: float = 0.0  # of the BiLSTM's output steps
    hypothesis_glosses: int = 0  # glosses the BiLSTM output decoded to, before any normalisation
    hypotheses: dict[str, list[str]] = field(default_factory=dict)  # the BiLSTM output's glosses by id


def evaluate_split(
    model: nn.Module, loader: Sequence[Batch], decoder: CTCDecoder, context: DistContext, *, split: str,
    stm: Path, dataset: str, work_dir: Path, precision: Precision, use_sclite: bool, sclite: str | None = None,
    on_sentence: SentenceHook | None = None, left_pad: int = 0, note: str = "",
    should_stop: Callable[[], bool] | None = None, on_output: OutputHook | None = None,
) -> SplitScores | None:
    """Decode a split, write the official CTM files and score each with both tools (main process only);
    `note` goes into every report; `should_stop` and `on_output` as decode_split's."""
    decoded = decode_split(model, loader, decoder, context, precision, desc=f"decode {split}",
                           on_sentence=on_sentence, left_pad=left_pad, should_stop=should_stop, on_output=on_output)
    if not context.is_main:
        return None
    scores = SplitScores({}, {}, decoded.blank_share, sum(map(len, decoded.lstm.values())), decoded.lstm)
    for suffix, hypotheses, reports in (("", decoded.lstm, scores.lstm), ("-conv", decoded.conv, scores.conv)):
        ctm = work_dir / hypothesis_ctm(split, suffix)
        write_ctm(ctm, hypotheses)
        for tool in SCORING_TOOLS:
            reports[tool] = score(ctm, stm, tool=tool, dataset=dataset, out_dir=work_dir, sclite=sclite or None,
                                  name=f"{split}{suffix}", use_sclite=use_sclite, note=note)
    return scores


@torch.no_grad()
def extract_features(
    model: nn.Module, loader: Iterable[Batch], out_dir: Path, left_pad: int, context: DistContext,
    precision: Precision,
) -> int:
    """Save each video's framewise backbone features (T x C, float32 .npy) for downstream work."""
    model = unwrap(model).eval()
    written = 0
    for batch in progress(loader, desc=f"features {out_dir.name}", disable=not context.is_main):
        if batch.is_empty:
            continue
        batch = batch.to(context.device, non_blocking=True)
        with precision.autocast(context.device):
            features = model.backbone(batch.network_input(precision.memory_format)).float().cpu()
        for row, (info, frames) in enumerate(zip(batch.info, batch.num_frames)):
            clip = features[row, :, left_pad: left_pad + frames].transpose(0, 1).contiguous().numpy()
            with atomic_open(out_dir / f"{info['fileid']}.npy", "wb") as handle:
                np.save(handle, clip)
            written += 1
    return written


@torch.no_grad()
def predict(
    model: nn.Module, inputs: Sequence[str], decoder: CTCDecoder, collate: PadCollate, context: DistContext, *,
    geometry: InputGeometry, args: PredictArgs, out_dir: Path, precision: Precision,
    translate: Translate | None = None, translate_output: Callable[[SLROutput], str] | None = None,
) -> list[dict]:
    """Recognise each input with the model (deploy/prediction.py: a clip whole, read as `geometry` says the
    model's training data was; a long recording or a live source in windows); write <name>.json (glosses with
    frame spans; with `translate`, the sentence of the recognised glosses; with `translate_output`, a joint model's
    sentence of a clip's features), <name>.alignment.png (unless switched off) and predictions.ctm."""
    model = unwrap(model).eval()
    translated: dict[str, str] = {}

    def run(clip: np.ndarray) -> np.ndarray:
        padded = torch.from_numpy(pad_clip(clip, collate.left_pad, collate.stride))[None]
        batch = Batch(padded, torch.tensor([padded.shape[1]]), torch.empty(0, dtype=torch.long),
                      torch.zeros(1, dtype=torch.long), [{}])
        _, output = forward(model, batch, context, precision)
        if translate_output is not None:
            translated["last"] = translate_output(output)
        return output.sequence_logits[0][:, 0].float().cpu().numpy()

    if translate_output is not None:  # the sentence of the clip just run (long recordings are not translated)
        translate = lambda glosses: translated.get("last", "")  # noqa: E731
    writer = PredictionWriter(out_dir, decoder.vocabulary, args.fps, args.alignment_pictures, translate, args.pause,
                              translate_long=translate_output is None)
    return predict_inputs(Runtime(run=run, stride=collate.stride), decoder, inputs, geometry, args, writer)
