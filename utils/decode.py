"""CTC decoding of gloss sequences: greedy, or beam search through flashlight-text (ctcdecode when asked for).

The official code decodes with ctcdecode's beam search (width 10, blank 0, its
default top-40 tokens per step), which cannot be installed here; flashlight-text's
lexicon-free decoder performs the same prefix search. Its `ZeroLM` gives every
prefix its own state, so hypotheses merge (log-add) only when their whole gloss
prefix agrees, exactly as in a CTC prefix beam search.
"""
from __future__ import annotations

import importlib.util
import itertools
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from flashlight.lib.text.decoder import (
    LM,
    CriterionType,
    LexiconFreeDecoder,
    LexiconFreeDecoderOptions,
    ZeroLM,
)

CTCDECODE_TOP_N = 40


@dataclass
class DecodedSequence:
    """One decoded sentence: glosses, their class ids and the [start, end) input steps each gloss covers."""

    glosses: list[str]
    ids: list[int]
    spans: list[tuple[int, int]]


def vocabulary_from_gloss_dict(gloss_dict: Mapping[str, int | Sequence[int]], num_classes: int,
                               blank_id: int = 0) -> list[str]:
    """Class index -> gloss (blank gets "<blank>"); accepts `{gloss: idx}` and the shipped `{gloss: [idx, count]}`."""
    vocabulary = [""] * num_classes
    for gloss, value in gloss_dict.items():
        index = int(value[0] if isinstance(value, (list, tuple)) else value)
        if not 0 <= index < num_classes or index == blank_id:
            raise ValueError(f"gloss {gloss!r} has class {index}, outside 0..{num_classes - 1} or the blank {blank_id}")
        if vocabulary[index]:
            raise ValueError(f"glosses {vocabulary[index]!r} and {gloss!r} share class {index}")
        vocabulary[index] = gloss
    vocabulary[blank_id] = "<blank>"
    return vocabulary


def collapse_path(path: Sequence[int], blank_id: int = 0) -> tuple[list[int], list[tuple[int, int]]]:
    """Merge repeated labels and drop blanks; return the labels and the [start, end) run of each."""
    ids: list[int] = []
    spans: list[tuple[int, int]] = []
    step = 0
    for label, run in itertools.groupby(path):
        length = sum(1 for _ in run)
        if label != blank_id:
            ids.append(int(label))
            spans.append((step, step + length))
        step += length
    return ids, spans


class _WordScoredLM(LM):
    """Adds `lm_weight * inner score + word_score` per emitted gloss; flashlight's lexicon-free options have no word score."""

    def __init__(self, inner: LM, lm_weight: float, word_score: float) -> None:
        LM.__init__(self)
        self._inner, self._weight, self._word_score = inner, lm_weight, word_score

    def start(self, start_with_nothing: bool):
        return self._inner.start(start_with_nothing)

    def score(self, state, token_index: int):
        next_state, lm_score = self._inner.score(state, token_index)
        return next_state, self._weight * lm_score + self._word_score

    def finish(self, state):
        next_state, lm_score = self._inner.finish(state)
        return next_state, self._weight * lm_score


class CTCDecoder:
    """Decodes padded batches of CTC scores into gloss sequences.

    `token_beam` is how many top-scoring classes each step may extend a beam with
    (ctcdecode's `cutoff_top_n`, 40 in the official code). `num_processes` is
    passed to ctcdecode; flashlight decodes the batch sequentially.
    """

    def __init__(self, gloss_dict: Mapping[str, int | Sequence[int]], num_classes: int, *, search_mode: str = "beam",
                 beam_width: int = 10, blank_id: int = 0, backend: str = "auto", lm_path: str | None = None,
                 lm_weight: float = 0.0, word_score: float = 0.0, num_processes: int = 1,
                 token_beam: int = CTCDECODE_TOP_N) -> None:
        if search_mode not in ("beam", "greedy"):
            raise ValueError(f"search_mode must be 'beam' or 'greedy', not {search_mode!r}")
        if backend not in ("auto", "flashlight", "ctcdecode"):
            raise ValueError(f"backend must be 'auto', 'flashlight' or 'ctcdecode', not {backend!r}")
        if beam_width < 1 or token_beam < 1:
            raise ValueError(f"beam_width ({beam_width}) and token_beam ({token_beam}) must be at least 1")
        self.vocabulary = vocabulary_from_gloss_dict(gloss_dict, num_classes, blank_id)
        self.num_classes, self.blank_id = num_classes, blank_id
        self.search_mode, self.beam_width, self.token_beam = search_mode, beam_width, token_beam
        self.lm_path, self.lm_weight, self.word_score = lm_path, lm_weight, word_score
        self.num_processes = num_processes
        ctcdecode_present = importlib.util.find_spec("ctcdecode") is not None
        if backend == "ctcdecode" and not ctcdecode_present:
            raise ImportError("backend='ctcdecode' requested but the ctcdecode package is not importable")
        self.backend = "flashlight" if backend == "auto" else backend
        if self.backend == "ctcdecode" and lm_path is not None:
            raise ValueError("a gloss language model needs the flashlight backend: ctcdecode's scorer is character-based")
        self._flashlight: LexiconFreeDecoder | None = None
        self._ctcdecode = None
        if search_mode == "beam":
            if self.backend == "flashlight":
                self._flashlight = self._build_flashlight()
            else:
                self._ctcdecode = self._build_ctcdecode()

    def _build_flashlight(self) -> LexiconFreeDecoder:
        options = LexiconFreeDecoderOptions(
            beam_size=self.beam_width, beam_size_token=min(self.token_beam, self.num_classes), beam_threshold=1e30,
            lm_weight=1.0, sil_score=0.0, log_add=True, criterion_type=CriterionType.CTC)
        if self.lm_path is None and self.word_score == 0.0:
            language_model: LM = ZeroLM()
        else:
            inner = self._load_kenlm() if self.lm_path is not None else ZeroLM()
            language_model = _WordScoredLM(inner, self.lm_weight, self.word_score)
        # The decoder does not keep the Python side of a Python-defined LM alive.
        self._language_model = language_model
        # No silence token in sign language: the blank doubles as "silence" with score 0.
        return LexiconFreeDecoder(options, language_model, self.blank_id, self.blank_id, [])

    def _load_kenlm(self) -> LM:
        """flashlight's KenLM over the gloss vocabulary (glosses absent from the LM map to <unk>)."""
        from flashlight.lib.text.decoder.kenlm import KenLM
        from flashlight.lib.text.dictionary import Dictionary

        tokens = Dictionary()
        for gloss in self.vocabulary:
            tokens.add_entry(gloss)
        return KenLM(self.lm_path, tokens)

    def _build_ctcdecode(self):
        import ctcdecode

        labels = [chr(0x4E00 + i) for i in range(self.num_classes)]  # ctcdecode wants one character per class
        return ctcdecode.CTCBeamDecoder(
            labels, cutoff_top_n=self.token_beam,
            beam_width=self.beam_width, blank_id=self.blank_id, num_processes=self.num_processes, log_probs_input=True)

    def decode(self, logits: torch.Tensor, lengths: torch.Tensor, *, batch_first: bool = False,
               probs: bool = False) -> list[DecodedSequence]:
        """Decode `logits` (T x B x C, or B x T x C with batch_first) up to each sequence's length.

        Raw scores get a log-softmax here; with `probs=True` the input is already
        probabilities and only its log is taken.
        """
        if logits.dim() != 3 or logits.shape[2] != self.num_classes:
            raise ValueError(f"expected 3-D scores with {self.num_classes} classes, got shape {tuple(logits.shape)}")
        scores = logits.detach().float().cpu()
        if not batch_first:
            scores = scores.transpose(0, 1)
        log_probs = scores.clamp_min(1e-30).log() if probs else scores.log_softmax(-1)
        lengths = lengths.detach().cpu().long().tolist()
        if len(lengths) != log_probs.shape[0] or max(lengths, default=0) > log_probs.shape[1] or min(lengths, default=0) < 0:
            raise ValueError(f"lengths {lengths} do not fit scores of {log_probs.shape[0]} x {log_probs.shape[1]} steps")
        if self.search_mode == "greedy":
            paths = [row[:n].tolist() for row, n in zip(log_probs.argmax(-1), lengths)]
        elif self._ctcdecode is not None:
            return self._decode_ctcdecode(log_probs, lengths)
        else:
            paths = [self._best_path(log_probs[b, :n]) for b, n in enumerate(lengths)]
        return [self._to_sequence(*collapse_path(path, self.blank_id)) for path in paths]

    def _best_path(self, log_probs: torch.Tensor) -> list[int]:
        """The frame-level path of the best beam (flashlight pads it with one step at each end)."""
        steps = log_probs.shape[0]
        if steps == 0:
            return []
        emissions = np.ascontiguousarray(log_probs.numpy(), dtype=np.float32)
        results = self._flashlight.decode(emissions.ctypes.data, steps, self.num_classes)
        return list(results[0].tokens)[1:steps + 1]

    def _decode_ctcdecode(self, log_probs: torch.Tensor, lengths: list[int]) -> list[DecodedSequence]:
        beams, _, offsets, out_lengths = self._ctcdecode.decode(log_probs, torch.tensor(lengths, dtype=torch.int32))
        decoded = []
        for b in range(len(lengths)):
            n = int(out_lengths[b][0])
            ids = beams[b][0][:n].tolist()
            starts = offsets[b][0][:n].tolist()
            spans = [(int(s), int(s) + 1) for s in starts]
            decoded.append(self._to_sequence(ids, spans))
        return decoded

    def _to_sequence(self, ids: list[int], spans: list[tuple[int, int]]) -> DecodedSequence:
        return DecodedSequence([self.vocabulary[i] for i in ids], ids, spans)


def sequence_log_probability(log_probs: torch.Tensor, labels: Sequence[int], blank_id: int = 0) -> float:
    """log p(labels | scores) summed over every CTC path (forward algorithm), for checking decoders."""
    extended = [blank_id]
    for label in labels:
        extended += [label, blank_id]
    alpha = [-math.inf] * len(extended)
    rows = log_probs.tolist()
    for t, row in enumerate(rows):
        new = [-math.inf] * len(extended)
        for s, label in enumerate(extended):
            if t == 0:
                new[s] = row[label] if s < 2 else -math.inf
                continue
            terms = [alpha[s]]
            if s >= 1:
                terms.append(alpha[s - 1])
            if s >= 2 and label != blank_id and extended[s - 2] != label:
                terms.append(alpha[s - 2])
            peak = max(terms)
            new[s] = -math.inf if peak == -math.inf else peak + math.log(sum(math.exp(v - peak) for v in terms)) + row[label]
        alpha = new
    tail = alpha[-2:] if labels else alpha[-1:]
    if not rows:
        return 0.0 if not labels else -math.inf
    peak = max(tail)
    return -math.inf if peak == -math.inf else peak + math.log(sum(math.exp(v - peak) for v in tail))
