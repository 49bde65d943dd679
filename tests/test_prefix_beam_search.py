"""The builtin CTC prefix beam search against independent computations.

- Exhaustive: on tiny problems with pruning off, the best prefix is the label
  sequence with the largest total probability over every frame path, and each
  beam's score is -log of that total.
- A plain float64 re-statement of ctcdecode's rules (dicts instead of a path trie)
  on problems small enough for heavy pruning: per step the `cutoff_top_n` best
  classes, prefixes ranked by score then last class, pruned prefixes that come
  back starting from zero probability, and a gloss's time step kept while its trie
  node survives. Cases with a near tie at any pruning are skipped (float32 vs
  float64 may order them differently).
"""
import itertools
import math
from collections import defaultdict

import numpy as np
import pytest
import torch

from benchmarks.model_like_logits import model_like_logits
from decoding.prefix_beam_search import prefix_beam_search

FLT_MIN = float(np.finfo(np.float32).tiny)


def exhaustive_totals(probs: np.ndarray, blank: int = 0) -> dict[tuple[int, ...], float]:
    """P(labels) for every label sequence, summed over all T^C frame paths."""
    steps, classes = probs.shape
    totals: dict[tuple[int, ...], float] = defaultdict(float)
    for path in itertools.product(range(classes), repeat=steps):
        labels = tuple(c for i, c in enumerate(path) if c != blank and (i == 0 or path[i - 1] != c))
        totals[labels] += math.prod(float(probs[t, c]) for t, c in enumerate(path))
    return totals


def _lse(x: float, y: float) -> float:
    if x == -math.inf:
        return y
    if y == -math.inf:
        return x
    peak = max(x, y)
    return math.log(math.exp(x - peak) + math.exp(y - peak)) + peak


def reference_search(probs: np.ndarray, beam: int, top_n: int, blank: int = 0):
    """ctcdecode's rules in float64 with dicts; returns (beams best first, smallest ranking gap, revivals).

    The gap is -inf when prefixes of zero probability tie for a place in the beam."""
    steps, classes = probs.shape
    living = {(): (0.0, -math.inf)}  # prefix -> (log P ends in blank, log P ends in a label) at the last step
    peaks: dict[tuple[int, ...], tuple[float, int]] = {}  # trie nodes' best (log prob, step) of their last label
    removed: set[tuple[int, ...]] = set()
    gap, revivals = math.inf, 0
    for t in range(steps):
        row = probs[t].astype(np.float64)
        candidates = sorted(range(classes), key=lambda c: (-row[c], c))[:top_n] if top_n < classes else range(classes)
        current = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix in living:
            current[prefix]  # a living prefix stays a candidate even if nothing reaches it
        for c in candidates:
            log_p_c = math.log(row[c] + FLT_MIN)
            for prefix, (blank_lp, label_lp) in living.items():
                total = _lse(blank_lp, label_lp)
                if c == blank:
                    current[prefix][0] = _lse(current[prefix][0], log_p_c + total)
                    continue
                last = prefix[-1] if prefix else -1
                if c == last:
                    current[prefix][1] = _lse(current[prefix][1], log_p_c + label_lp)
                child = prefix + (c,)
                if child in removed and child not in living:
                    revivals += 1
                if child not in peaks or peaks[child][0] < log_p_c:
                    peaks[child] = (log_p_c, t)
                extension = log_p_c + (blank_lp if c == last else total)
                current[child][1] = _lse(current[child][1], extension)
        ranked = sorted(current, key=lambda p: (-_lse(*current[p]), p[-1] if p else -1))
        if len(ranked) > beam:
            # Prefixes of probability zero that survive are an exact tie; they can still move a time step.
            upper, lower = _lse(*current[ranked[beam - 1]]), _lse(*current[ranked[beam]])
            gap = min(gap, upper - lower) if upper > -math.inf else -math.inf
        kept = ranked[:beam] if len(ranked) >= beam else ranked
        living = {p: tuple(current[p]) for p in kept}
        removed |= set(ranked[beam:])
        in_trie = {p[:k] for p in living for k in range(len(p) + 1)}
        peaks = {p: v for p, v in peaks.items() if p in in_trie}
    final = sorted(living, key=lambda p: (-_lse(*living[p]), p[-1] if p else -1))
    scores = [_lse(*living[p]) for p in final]
    gap = min([gap] + [a - b for a, b in zip(scores, scores[1:]) if b > -math.inf])
    beams = [(list(p), [peaks[p[:k]][1] for k in range(1, len(p) + 1)], -s) for p, s in zip(final, scores)]
    return beams, gap, revivals


def softmax(logits: np.ndarray) -> np.ndarray:
    return torch.from_numpy(logits.astype(np.float32)).softmax(-1).numpy()


def test_best_prefix_is_the_most_probable_sequence_and_scores_are_exact_sums():
    rng = np.random.default_rng(0)
    compared = 0
    for _ in range(120):
        steps, classes = int(rng.integers(1, 6)), int(rng.integers(2, 5))
        probs = softmax(rng.normal(size=(steps, classes)) * rng.uniform(0.5, 3.0))
        totals = exhaustive_totals(probs)
        ranked = sorted(totals.values(), reverse=True)
        if len(ranked) > 1 and ranked[0] - ranked[1] < 1e-5:
            continue
        beams = prefix_beam_search(probs, beam_width=1000, cutoff_top_n=classes)
        assert tuple(beams[0].ids) == max(totals, key=totals.get)
        for beam in beams:
            assert math.exp(-beam.score) == pytest.approx(totals.get(tuple(beam.ids), 0.0), abs=2e-6)
        assert [b.score for b in beams] == sorted(b.score for b in beams)
        compared += 1
    assert compared > 100


def test_other_blank_index_matches_exhaustive_search():
    rng = np.random.default_rng(1)
    for _ in range(30):
        probs = softmax(rng.normal(size=(4, 4)) * 2)
        totals = exhaustive_totals(probs, blank=3)
        best = prefix_beam_search(probs, beam_width=1000, cutoff_top_n=4, blank_id=3)[0]
        assert math.exp(-best.score) == pytest.approx(max(totals.values()), abs=2e-6)


def test_pruned_search_equals_the_rules_written_out():
    rng = np.random.default_rng(2)
    compared = revived = 0
    for case in range(300):
        steps, classes = int(rng.integers(1, 14)), int(rng.integers(2, 7))
        beam, top_n = int(rng.integers(1, 5)), int(rng.integers(1, classes + 1))
        probs = softmax(rng.normal(size=(steps, classes)) * rng.uniform(0.5, 3.0))
        expected, gap, revivals = reference_search(probs, beam, top_n)
        if gap < 1e-4:
            continue
        got = prefix_beam_search(probs, beam_width=beam, cutoff_top_n=top_n)
        finite = [b for b in expected if b[2] < math.inf]
        assert [(b.ids, b.timesteps) for b in got[:len(finite)]] == [(ids, times) for ids, times, _ in finite], case
        for beam_out, (_, _, score) in zip(got, finite):
            assert beam_out.score == pytest.approx(score, rel=1e-5, abs=1e-4)
        compared += 1
        revived += revivals > 0
    assert compared > 200
    assert revived > 20, "no case brought a pruned prefix back: the test would not see that rule"


def test_model_like_logits_follow_the_rules_written_out():
    rng = np.random.default_rng(3)
    compared = 0
    for ambiguous in (False, True):
        for _ in range(4):
            logits, glosses = model_like_logits(rng, 30, 60, ambiguous=ambiguous)
            probs = softmax(logits)
            expected, gap, _ = reference_search(probs, 10, 40)
            if gap < 1e-4:
                continue
            got = prefix_beam_search(probs)
            assert [(b.ids, b.timesteps) for b in got] == [(ids, times) for ids, times, _ in expected]
            compared += 1
    assert compared >= 4


def test_empty_input_gives_the_empty_prefix():
    [beam] = prefix_beam_search(np.zeros((0, 5), np.float32))
    assert (beam.ids, beam.timesteps, beam.score) == ([], [], 0.0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="T x C"):
        prefix_beam_search(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="at least 1"):
        prefix_beam_search(np.zeros((2, 3), np.float32), beam_width=0)
    with pytest.raises(ValueError, match="blank_id"):
        prefix_beam_search(np.zeros((2, 3), np.float32), blank_id=3)
