"""CTC prefix beam search with the arithmetic and bookkeeping of ctcdecode's `CTCBeamDecoder` (no language model).

The official code decodes with ctcdecode (PaddlePaddle's prefix beam search),
which does not install offline; this is the same algorithm, compiled with numba,
so that the best sequence equals ctcdecode's on any input but exact floating-point
ties. What "the same" takes, from ctcdecode's sources:

- per step, only the `cutoff_top_n` most probable classes are extended (sorted by
  probability, descending); their log-probability is `float(log(double(p) + FLT_MIN))`;
- every prefix is a node of a path trie holding float32 log P(ends in blank) and
  log P(ends in non-blank), for the previous and the current step; the prefix score
  is their log-sum-exp, computed in float32 with `expf`/`logf` exactly as
  ctcdecode's `log_sum_exp<float>` (-FLT_MAX stands for log 0);
- extending a prefix with its own last class continues the prefix ("A" + "A" = "A")
  and only a path through a blank creates "A A"; a prefix that was pruned and comes
  back starts again from log 0, but keeps the time step of its best emission;
- after each step the `beam_width` best prefixes (score descending, then last class
  ascending) survive; the others are removed from the trie, with their childless
  ancestors;
- the output is the surviving prefixes in the same order, each with its classes, the
  step at which each class had its highest probability, and its score.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from utils.config.schema import DecodeArgs

DEFAULTS = DecodeArgs()  # the official beam width and cutoff_top_n, owned by the schema

FLT_MAX = np.float32(np.finfo(np.float32).max)
LOG_ZERO = np.float32(-FLT_MAX)
FLT_MIN = float(np.finfo(np.float32).tiny)
ROOT_CLASS = -1


@dataclass(frozen=True)
class Beam:
    """One output prefix: class ids, the step of each class's peak probability, and ctcdecode's score (-log P)."""

    ids: list[int]
    timesteps: list[int]
    score: float


@njit(cache=True, nogil=True)
def _log_sum_exp(x, y):
    if x <= LOG_ZERO:
        return y
    if y <= LOG_ZERO:
        return x
    peak = max(x, y)
    return math.log(math.exp(x - peak) + math.exp(y - peak)) + peak


@njit(cache=True, nogil=True)
def _top_classes(row, top_n, order, log_probs):
    """The `top_n` most probable classes (probability descending, lower index first on ties) and their logs."""
    classes = row.shape[0]
    if top_n >= classes:
        count = classes
        for c in range(classes):
            order[c] = c
    else:
        count = 0
        for c in range(classes):
            value = row[c]
            if count == top_n and value <= row[order[count - 1]]:
                continue
            position = count if count < top_n else top_n - 1
            while position > 0 and row[order[position - 1]] < value:
                order[position] = order[position - 1]
                position -= 1
            order[position] = c
            if count < top_n:
                count += 1
    for k in range(count):
        log_probs[k] = np.float32(math.log(np.float64(row[order[k]]) + FLT_MIN))
    return count


@njit(cache=True, nogil=True)
def _ranks_before(score, label, a, b):
    """ctcdecode's prefix_compare: higher score first, then the smaller last class."""
    if score[a] == score[b]:
        return label[a] < label[b]
    return score[a] > score[b]


@njit(cache=True, nogil=True)
def _select_best(prefixes, count, beam_width, score, label, best):
    """The best `beam_width` of `prefixes[:count]` in rank order into `best`; returns how many."""
    kept = 0
    for i in range(count):
        node = prefixes[i]
        if kept == beam_width and not _ranks_before(score, label, node, best[kept - 1]):
            continue
        position = kept if kept < beam_width else beam_width - 1
        while position > 0 and _ranks_before(score, label, node, best[position - 1]):
            best[position] = best[position - 1]
            position -= 1
        best[position] = node
        if kept < beam_width:
            kept += 1
    return kept


@njit(cache=True, nogil=True)
def _search(probs, beam_width, top_n, blank):
    """Decode one utterance (T x C float32 probabilities); returns the beams' classes, steps, lengths and scores.

    Trie nodes live in parallel arrays; children form a doubly linked list in
    creation order (ctcdecode's vector of children), and the slots of removed
    nodes are reused.
    """
    steps, classes = probs.shape
    extensions = beam_width * min(top_n, classes)
    # Live nodes: the beam's prefixes with their ancestors, plus one step's new children.
    capacity = 1 + beam_width * (steps + 1) + extensions
    label = np.empty(capacity, np.int32)
    parent = np.empty(capacity, np.int32)
    first_child = np.empty(capacity, np.int32)
    last_child = np.empty(capacity, np.int32)
    next_sibling = np.empty(capacity, np.int32)
    previous_sibling = np.empty(capacity, np.int32)
    exists = np.empty(capacity, np.bool_)
    peak_step = np.empty(capacity, np.int32)
    peak_log_prob = np.empty(capacity, np.float32)
    blank_prev = np.empty(capacity, np.float32)
    label_prev = np.empty(capacity, np.float32)
    blank_cur = np.empty(capacity, np.float32)
    label_cur = np.empty(capacity, np.float32)
    score = np.empty(capacity, np.float32)
    free = np.empty(capacity, np.int32)
    num_free = 0
    used = 1
    label[0] = ROOT_CLASS
    parent[0] = -1
    first_child[0] = -1
    last_child[0] = -1
    exists[0] = True
    score[0] = np.float32(0.0)
    blank_prev[0] = np.float32(0.0)
    label_prev[0] = LOG_ZERO
    blank_cur[0] = LOG_ZERO
    label_cur[0] = LOG_ZERO
    prefixes = np.empty(capacity, np.int32)
    num_prefixes = 1
    prefixes[0] = 0
    old_children = np.empty(beam_width, np.int32)
    best = np.empty(beam_width, np.int32)
    stack = np.empty(capacity, np.int32)
    order = np.empty(classes, np.int32)
    log_probs = np.empty(classes, np.float32)

    for t in range(steps):
        count = _top_classes(probs[t], top_n, order, log_probs)
        active = min(num_prefixes, beam_width)
        # A child created during this step is never looked up again in it: search only the older ones.
        for i in range(active):
            n = 0
            child = first_child[prefixes[i]]
            while child != -1:
                n += 1
                child = next_sibling[child]
            old_children[i] = n
        for k in range(count):
            c = order[k]
            log_prob_c = log_probs[k]
            for i in range(active):
                prefix = prefixes[i]
                if c == blank:
                    blank_cur[prefix] = _log_sum_exp(blank_cur[prefix], log_prob_c + score[prefix])
                    continue
                if c == label[prefix]:
                    label_cur[prefix] = _log_sum_exp(label_cur[prefix], log_prob_c + label_prev[prefix])
                child = first_child[prefix]
                for _ in range(old_children[i]):
                    if label[child] == c:
                        break
                    child = next_sibling[child]
                else:
                    child = -1
                if child == -1:
                    if num_free > 0:
                        num_free -= 1
                        child = free[num_free]
                    else:
                        child = used
                        used += 1
                    label[child] = c
                    parent[child] = prefix
                    first_child[child] = -1
                    last_child[child] = -1
                    next_sibling[child] = -1
                    previous_sibling[child] = last_child[prefix]
                    if last_child[prefix] == -1:
                        first_child[prefix] = child
                    else:
                        next_sibling[last_child[prefix]] = child
                    last_child[prefix] = child
                    peak_step[child] = t
                    peak_log_prob[child] = log_prob_c
                    exists[child] = True
                    blank_prev[child] = LOG_ZERO
                    label_prev[child] = LOG_ZERO
                    blank_cur[child] = LOG_ZERO
                    label_cur[child] = LOG_ZERO
                else:
                    if peak_log_prob[child] < log_prob_c:
                        peak_log_prob[child] = log_prob_c
                        peak_step[child] = t
                    if not exists[child]:
                        exists[child] = True
                        blank_prev[child] = LOG_ZERO
                        label_prev[child] = LOG_ZERO
                        blank_cur[child] = LOG_ZERO
                        label_cur[child] = LOG_ZERO
                log_p = LOG_ZERO
                if c == label[prefix]:
                    if blank_prev[prefix] > LOG_ZERO:
                        log_p = log_prob_c + blank_prev[prefix]
                else:
                    log_p = log_prob_c + score[prefix]
                label_cur[child] = _log_sum_exp(label_cur[child], log_p)

        # Collect the living prefixes in the trie's depth-first order, moving "current" to "previous".
        num_prefixes = 0
        depth = 1
        stack[0] = 0
        while depth > 0:
            depth -= 1
            node = stack[depth]
            if exists[node]:
                blank_prev[node] = blank_cur[node]
                label_prev[node] = label_cur[node]
                blank_cur[node] = LOG_ZERO
                label_cur[node] = LOG_ZERO
                score[node] = _log_sum_exp(blank_prev[node], label_prev[node])
                prefixes[num_prefixes] = node
                num_prefixes += 1
            child = last_child[node]
            while child != -1:  # pushed last to first, so the first child is visited first
                stack[depth] = child
                depth += 1
                child = previous_sibling[child]

        if num_prefixes >= beam_width:
            # Move the best `beam_width` prefixes to the front, then remove the others from the trie
            # together with ancestors left without a prefix or a child.
            _select_best(prefixes, num_prefixes, beam_width, score, label, best)
            for i in range(num_prefixes):
                exists[prefixes[i]] = False
            for i in range(beam_width):
                exists[best[i]] = True
            for i in range(num_prefixes):
                node = prefixes[i]
                while node > 0 and parent[node] != -1 and not exists[node] and first_child[node] == -1:
                    owner = parent[node]
                    before, after = previous_sibling[node], next_sibling[node]
                    if before == -1:
                        first_child[owner] = after
                    else:
                        next_sibling[before] = after
                    if after == -1:
                        last_child[owner] = before
                    else:
                        previous_sibling[after] = before
                    parent[node] = -1
                    free[num_free] = node
                    num_free += 1
                    node = owner
            prefixes[:beam_width] = best
            num_prefixes = beam_width

    # Output: the surviving prefixes sorted best first.
    kept = _select_best(prefixes, num_prefixes, beam_width, score, label, best)
    prefixes[:kept] = best[:kept]
    out_ids = np.zeros((kept, steps), np.int32)
    out_steps = np.zeros((kept, steps), np.int32)
    out_lengths = np.zeros(kept, np.int32)
    out_scores = np.zeros(kept, np.float32)
    for i in range(kept):
        node = prefixes[i]
        length = 0
        walker = node
        while walker > 0:
            length += 1
            walker = parent[walker]
        walker = node
        for k in range(length - 1, -1, -1):
            out_ids[i, k] = label[walker]
            out_steps[i, k] = peak_step[walker]
            walker = parent[walker]
        out_lengths[i] = length
        out_scores[i] = -score[node]
    return out_ids, out_steps, out_lengths, out_scores


def prefix_beam_search(probs: np.ndarray, beam_width: int = DEFAULTS.beam_width, cutoff_top_n: int = DEFAULTS.cutoff_top_n,
                       blank_id: int = 0) -> list[Beam]:
    """The beams of one utterance (T x C probabilities, softmax already applied), best first, as ctcdecode returns them."""
    if probs.ndim != 2:
        raise ValueError(f"expected a T x C probability matrix, got shape {probs.shape}")
    if beam_width < 1 or cutoff_top_n < 1:
        raise ValueError(f"beam_width ({beam_width}) and cutoff_top_n ({cutoff_top_n}) must be at least 1")
    if not 0 <= blank_id < probs.shape[1]:
        raise ValueError(f"blank_id {blank_id} is not a class of {probs.shape[1]}")
    ids, timesteps, lengths, scores = _search(np.ascontiguousarray(probs, dtype=np.float32), beam_width,
                                              cutoff_top_n, blank_id)
    return [Beam(ids[i, :n].tolist(), timesteps[i, :n].tolist(), float(scores[i])) for i, n in enumerate(lengths)]
