"""Beam search with a length penalty, in NumPy: the one search both runtimes use (the PyTorch model and the
ONNX Runtime graph each only supply a step function), so they give the same sentences.

Hypotheses of a sentence advance in lockstep. Each step every live hypothesis is extended by each word; of a
sentence's candidates the best 2 x beam are looked at in order of their summed log-probabilities (fairseq's
rule): one ending with </s> (or reaching the sentence's length limit) is finished if it is among the best `beam`,
the others stay live until the beam is full. A sentence is done when `beam` hypotheses have finished; the best is the finished one with the highest
log-probability divided by GNMT's length penalty ((5 + length) / 6) ** alpha, length counting </s> (as signjoey
applies it at every step); alpha 0 compares raw log-probabilities. With beam 1 this is greedy decoding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from translation.vocabulary import BOS_ID, EOS_ID

# (previous tokens N, step, source row of each hypothesis N, cache) -> (log-probabilities N x V, cache)
StepFunction = Callable[[np.ndarray, int, np.ndarray, list[np.ndarray]], tuple[np.ndarray, list[np.ndarray]]]


@dataclass(frozen=True)
class BeamSettings:
    beam_size: int = 1
    alpha: float = 0.0

    def describe(self) -> str:
        return "greedy" if self.beam_size == 1 else f"beam {self.beam_size}, length penalty alpha {self.alpha:g}"


def length_penalty(length: int, alpha: float) -> float:
    return ((5.0 + length) / 6.0) ** alpha


def beam_search(step: StepFunction, max_lengths: Sequence[int], settings: BeamSettings) -> list[list[int]]:
    """The best token sequence (without <s> and </s>) for each source sentence; `max_lengths[i]` caps sentence
    i's output (tokens, </s> included)."""
    beam = settings.beam_size
    count = len(max_lengths)
    limits = np.asarray(max_lengths, dtype=np.int64)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(count)]
    sources = np.arange(count, dtype=np.int64)
    scores = np.zeros(count, dtype=np.float64)
    tokens = np.zeros((count, 0), dtype=np.int64)
    last = np.full(count, BOS_ID, dtype=np.int64)
    cache: list[np.ndarray] = []
    position = 0
    while len(sources):
        log_probs, cache = step(last, position, sources, cache)
        candidates = scores[:, None] + log_probs.astype(np.float64)
        vocabulary = candidates.shape[1]
        keep_rows, keep_tokens, keep_scores = [], [], []
        for source in dict.fromkeys(sources.tolist()):  # sources in order of first appearance
            rows = np.flatnonzero(sources == source)
            flat = candidates[rows].ravel()
            best = min(2 * beam, flat.size)
            top = np.argpartition(-flat, best - 1)[:best]
            top = top[np.lexsort((top, -flat[top]))]  # by score, ties by position: deterministic
            alive = 0
            for rank, index in enumerate(top):
                row, token, score = rows[index // vocabulary], int(index % vocabulary), float(flat[index])
                if token == EOS_ID or position + 1 >= limits[source]:
                    if rank >= beam:
                        continue
                    words = tokens[row].tolist() + ([] if token == EOS_ID else [token])
                    finished[source].append((score / length_penalty(position + 1, settings.alpha), words))
                    if len(finished[source]) >= beam:
                        break
                elif alive < beam:
                    keep_rows.append(row)
                    keep_tokens.append(token)
                    keep_scores.append(score)
                    alive += 1
            if len(finished[source]) >= beam:  # done: its live hypotheses of this step are dropped
                while keep_rows and sources[keep_rows[-1]] == source:
                    keep_rows.pop(), keep_tokens.pop(), keep_scores.pop()
        index = np.asarray(keep_rows, dtype=np.int64)
        sources, scores = sources[index], np.asarray(keep_scores, dtype=np.float64)
        tokens = np.concatenate([tokens[index], np.asarray(keep_tokens, dtype=np.int64)[:, None]], axis=1)
        last = tokens[:, -1] if len(index) else last[:0]
        cache = [array[index] for array in cache]
        position += 1
    return [max(hypotheses, key=lambda item: item[0])[1] for hypotheses in finished]
