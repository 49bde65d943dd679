"""CTC decoding of gloss sequences exactly as the official `utils/decode.py` (Decode) does.

Official behaviour, reproduced here:
- beam search: softmax, then ctcdecode's prefix beam search (width 10, blank 0,
  the 40 most probable classes per step); its best prefix is the output. The
  default `builtin` backend is this project's own implementation of that search
  (decoding/prefix_beam_search.py), equal to ctcdecode but for exact floating-point
  ties; `ctcdecode` uses the package when it is installed; `flashlight` is
  flashlight-text's lexicon-free decoder, which adds KenLM fusion but keeps paths
  ending in blank and in a gloss apart, so it is NOT ctcdecode-equivalent.
- greedy ("max"): argmax per step, merge runs, drop blanks.
- then consecutive identical glosses are merged once more, so a decoded "A A"
  (from the path "A _ A") becomes "A"; a merged gloss spans all its parts.
"""
from __future__ import annotations

import importlib.util
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence, get_args

import numpy as np
from flashlight.lib.text.decoder import (LM, CriterionType, LexiconFreeDecoder, LexiconFreeDecoderOptions,
                                         ZeroLM)

from decoding.prefix_beam_search import prefix_beam_search
from utils.config.schema import DecodeArgs, DecodeBackend

if TYPE_CHECKING:
    import torch

DEFAULTS = DecodeArgs()
BACKENDS: tuple[str, ...] = get_args(DecodeBackend)


@dataclass
class DecodedSequence:
    """One decoded sentence: glosses, their class ids and the [start, end) output steps each gloss covers."""

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


def merge_repeats(ids: Sequence[int], spans: Sequence[tuple[int, int]]) -> tuple[list[int], list[tuple[int, int]]]:
    """The official final `groupby`: consecutive identical ids become one, spanning from the first to the last."""
    merged_ids: list[int] = []
    merged_spans: list[tuple[int, int]] = []
    for label, group in itertools.groupby(zip(ids, spans), key=lambda item: item[0]):
        parts = [span for _, span in group]
        merged_ids.append(int(label))
        merged_spans.append((parts[0][0], parts[-1][1]))
    return merged_ids, merged_spans


def greedy_path(path: Sequence[int], blank_id: int = 0) -> tuple[list[int], list[tuple[int, int]]]:
    """Official MaxDecode on a frame-level argmax path: merge runs, drop blanks, merge again; with the runs' spans."""
    ids: list[int] = []
    spans: list[tuple[int, int]] = []
    step = 0
    for label, run in itertools.groupby(path):
        length = sum(1 for _ in run)
        if label != blank_id:
            ids.append(int(label))
            spans.append((step, step + length))
        step += length
    return merge_repeats(ids, spans)


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


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis in NumPy's float32 (shifted by the maximum): the posteriors every NumPy path
    decodes and draws."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class CTCDecoder:
    """Decodes padded batches of CTC logits into gloss sequences, as the official Decode does.

    `cutoff_top_n` is how many of the most probable classes each step may extend
    a prefix with (the official setting, ctcdecode's default: decode_args.cutoff_top_n).
    """

    def __init__(self, gloss_dict: Mapping[str, int | Sequence[int]], num_classes: int, *, search_mode: str = "beam",
                 beam_width: int = DEFAULTS.beam_width, blank_id: int = 0, backend: str = DEFAULTS.backend,
                 cutoff_top_n: int = DEFAULTS.cutoff_top_n,
                 lm_path: str | None = None, lm_weight: float = 0.0, word_score: float = 0.0) -> None:
        if search_mode not in ("beam", "greedy"):
            raise ValueError(f"search_mode must be 'beam' or 'greedy', not {search_mode!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        if beam_width < 1 or cutoff_top_n < 1:
            raise ValueError(f"beam_width ({beam_width}) and cutoff_top_n ({cutoff_top_n}) must be at least 1")
        if (lm_path is not None or word_score != 0.0) and backend != "flashlight" and search_mode == "beam":
            raise ValueError("a gloss language model or word score needs decode_args.backend=flashlight "
                             "(ctcdecode's scorer is character-based; the builtin search has no LM)")
        if backend == "ctcdecode" and importlib.util.find_spec("ctcdecode") is None:
            raise ImportError("decode_args.backend=ctcdecode, but the ctcdecode package is not installed "
                              "(the default 'builtin' backend gives the same results)")
        self.vocabulary = vocabulary_from_gloss_dict(gloss_dict, num_classes, blank_id)
        self.num_classes, self.blank_id = num_classes, blank_id
        self.search_mode, self.backend = search_mode, backend
        self.beam_width, self.cutoff_top_n = beam_width, cutoff_top_n
        self.lm_path, self.lm_weight, self.word_score = lm_path, lm_weight, word_score
        self._ctcdecode = self._build_ctcdecode() if search_mode == "beam" and backend == "ctcdecode" else None
        self._flashlight = self._build_flashlight() if search_mode == "beam" and backend == "flashlight" else None

    @classmethod
    def from_settings(cls, gloss_dict: Mapping[str, int | Sequence[int]], num_classes: int, mode: str,
                      args: DecodeArgs) -> "CTCDecoder":
        """The decoder of the configuration's `decode_mode` ("beam" or "max") and `decode_args` (the one builder of
        every runtime's decoder)."""
        return cls(gloss_dict, num_classes, search_mode="beam" if mode == "beam" else "greedy",
                   beam_width=args.beam_width, cutoff_top_n=args.cutoff_top_n, backend=args.backend,
                   lm_path=args.lm_path or None, lm_weight=args.lm_weight, word_score=args.word_score)

    def _build_ctcdecode(self):
        import ctcdecode

        labels = [chr(20000 + i) for i in range(self.num_classes)]  # one character per class, as officially
        return ctcdecode.CTCBeamDecoder(labels, beam_width=self.beam_width, blank_id=self.blank_id,
                                        cutoff_top_n=self.cutoff_top_n, num_processes=10)

    def _build_flashlight(self) -> LexiconFreeDecoder:
        options = LexiconFreeDecoderOptions(
            beam_size=self.beam_width, beam_size_token=min(self.cutoff_top_n, self.num_classes), beam_threshold=1e30,
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

    def decode(self, logits: torch.Tensor, lengths: torch.Tensor, *, batch_first: bool = False,
               probs: bool = False) -> list[DecodedSequence]:
        """Decode `logits` (T x B x C, or B x T x C with batch_first) up to each sequence's length.

        The beam search takes the softmax of the scores (computed where the scores
        are, as officially); `probs=True` says the input is already probabilities.
        """
        if logits.dim() != 3 or logits.shape[2] != self.num_classes:
            raise ValueError(f"expected 3-D scores with {self.num_classes} classes, got shape {tuple(logits.shape)}")
        scores = logits.detach()
        if not batch_first:
            scores = scores.transpose(0, 1)
        lengths = lengths.detach().cpu().long().tolist()
        if len(lengths) != scores.shape[0] or max(lengths, default=0) > scores.shape[1] or min(lengths, default=0) < 0:
            raise ValueError(f"lengths {lengths} do not fit scores of {scores.shape[0]} x {scores.shape[1]} steps")
        if self.search_mode == "greedy":
            paths = scores.argmax(-1).cpu()
            return [self._to_sequence(*greedy_path(paths[b, :n].tolist(), self.blank_id))
                    for b, n in enumerate(lengths)]
        if self._flashlight is not None:
            log_probs = (scores.clamp_min(1e-30).log() if probs else scores.log_softmax(-1)).cpu().float().numpy()
            return [self._decode_flashlight(log_probs[b, :n]) for b, n in enumerate(lengths)]
        probabilities = (scores if probs else scores.softmax(-1)).cpu().float()
        if self._ctcdecode is not None:
            return self._decode_ctcdecode(probabilities, lengths)
        array = probabilities.numpy()
        decoded = []
        for b, n in enumerate(lengths):
            best = prefix_beam_search(array[b, :n], self.beam_width, self.cutoff_top_n, self.blank_id)[0]
            decoded.append(self._from_peaks(best.ids, best.timesteps))
        return decoded

    def decode_array(self, scores: np.ndarray) -> DecodedSequence:
        """Decode one sequence's scores (T x C float32 logits, e.g. from ONNX Runtime) without torch: the softmax in
        NumPy (float32, shifted by the step's maximum), then the same searches as `decode`."""
        if scores.ndim != 2 or scores.shape[1] != self.num_classes:
            raise ValueError(f"expected T x {self.num_classes} scores, got shape {scores.shape}")
        scores = np.asarray(scores, dtype=np.float32)
        if self.search_mode == "greedy":
            return self._to_sequence(*greedy_path(scores.argmax(-1).tolist(), self.blank_id))
        if self._flashlight is not None:
            shifted = scores - scores.max(axis=-1, keepdims=True)
            return self._decode_flashlight(shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True)))
        probabilities = softmax(scores)
        if self._ctcdecode is not None:
            import torch

            return self._decode_ctcdecode(torch.from_numpy(probabilities)[None], [len(scores)])[0]
        best = prefix_beam_search(probabilities, self.beam_width, self.cutoff_top_n, self.blank_id)[0]
        return self._from_peaks(best.ids, best.timesteps)

    def _decode_ctcdecode(self, probabilities: torch.Tensor, lengths: list[int]) -> list[DecodedSequence]:
        import torch

        beams, _, timesteps, out_lengths = self._ctcdecode.decode(probabilities, torch.tensor(lengths, dtype=torch.int32))
        decoded = []
        for b in range(len(lengths)):
            n = int(out_lengths[b][0])
            decoded.append(self._from_peaks(beams[b][0][:n].tolist(), timesteps[b][0][:n].tolist()))
        return decoded

    def _decode_flashlight(self, log_probs: np.ndarray) -> DecodedSequence:
        """flashlight returns the best frame-level path (padded with one step at each end)."""
        steps = log_probs.shape[0]
        if steps == 0:
            return self._to_sequence([], [])
        emissions = np.ascontiguousarray(log_probs, dtype=np.float32)
        path = list(self._flashlight.decode(emissions.ctypes.data, steps, self.num_classes)[0].tokens)[1:steps + 1]
        return self._to_sequence(*greedy_path(path, self.blank_id))

    def _from_peaks(self, ids: Sequence[int], peaks: Sequence[int]) -> DecodedSequence:
        """A prefix-search result (ids with the step of each one's peak) after the official repeat merge."""
        return self._to_sequence(*merge_repeats(ids, [(int(t), int(t) + 1) for t in peaks]))

    def _to_sequence(self, ids: list[int], spans: list[tuple[int, int]]) -> DecodedSequence:
        return DecodedSequence([self.vocabulary[i] for i in ids], ids, spans)
