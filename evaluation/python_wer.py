"""The official Python scorer (`evaluate_tool: python`, the default of the official configs).

Reproduces `python_wer_evaluation.wer_calculation` of the official release, which
differs from sclite in four ways that change the number:
- consecutive identical hypothesis glosses are merged before aligning (merge_same);
- glosses compare exactly (sclite ignores ASCII case);
- on a mismatch the first cheapest of substitution (4), deletion (3), insertion (3)
  is taken, in that order, and a match always takes the diagonal; the trace-back
  follows those choices until it reaches the first row or column, and what is left
  there becomes deletions (reference words) or insertions (hypothesis words);
- an aligned position is an error when its reference and hypothesis strings differ,
  the `*` padding included (a deleted word is its length in `*`), and a reference
  word counts towards N only when it contains no `*`;
- it reads the STM itself, dropping the last character of every line (`line[:-1]`,
  meant for the newline): when the file does not end with a newline, the last
  sentence's last word loses a letter. The released PHOENIX-2014 dev and test STMs
  end that way ("... REGION MOEGLICH" is scored against "MOEGLIC"), so the official
  numbers include one error there whatever the recogniser says; it is reproduced.
"""
from __future__ import annotations

import itertools
from pathlib import Path

from evaluation.alignment import (CORRECT, DELETION, DELETION_COST, INSERTION, INSERTION_COST, SUBSTITUTION,
                                  SUBSTITUTION_COST, AlignedPair, Alignment)


def official_reference_words(stm: str | Path) -> dict[str, list[str]]:
    """Reference glosses per file id exactly as the official `load_groundtruth` reads them."""
    words: dict[str, list[str]] = {}
    with open(stm, encoding="utf-8") as handle:
        for line in handle.readlines():
            words[line.split(" ")[0]] = [word for word in line[:-1].split(" ")[5:] if word]
    return words


def merge_same(hyp: list[str]) -> list[str]:
    """The official `merge_same`: consecutive identical glosses become one."""
    return [gloss for gloss, _ in itertools.groupby(hyp)]


def python_align(ref: list[str], hyp: list[str]) -> Alignment:
    """Align as the official Python scorer does; counts follow its string comparison (see the module doc)."""
    hyp = merge_same(hyp)
    n, m = len(ref), len(hyp)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    choice = [[""] * (m + 1) for _ in range(n + 1)]
    for j in range(m + 1):
        cost[0][j] = j * INSERTION_COST
    for i in range(1, n + 1):
        cost[i][0] = i * DELETION_COST
        for j in range(1, m + 1):
            if ref[i - 1] == hyp[j - 1]:
                cost[i][j], choice[i][j] = cost[i - 1][j - 1], CORRECT
                continue
            options = (cost[i - 1][j - 1] + SUBSTITUTION_COST, cost[i - 1][j] + DELETION_COST,
                       cost[i][j - 1] + INSERTION_COST)
            cost[i][j] = min(options)
            choice[i][j] = (SUBSTITUTION, DELETION, INSERTION)[options.index(cost[i][j])]
    pairs: list[AlignedPair] = []
    i, j = n, m
    while i > 0 and j > 0:
        op = choice[i][j]
        if op in (CORRECT, SUBSTITUTION):
            pairs.append(AlignedPair(op, ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif op == DELETION:
            pairs.append(AlignedPair(op, ref[i - 1], None))
            i -= 1
        else:
            pairs.append(AlignedPair(op, None, hyp[j - 1]))
            j -= 1
    pairs.reverse()
    leftover = [AlignedPair(DELETION, word, None) for word in ref[:i]] + [AlignedPair(INSERTION, None, word)
                                                                           for word in hyp[:j]]
    return _count(leftover + pairs)


def _count(pairs: list[AlignedPair]) -> Alignment:
    """Errors and N exactly as the official `calculate_stats` counts them on the `*`-padded strings."""
    result = Alignment(pairs=pairs)
    for pair in pairs:
        ref_text = pair.ref if pair.ref is not None else "*" * len(pair.hyp)
        hyp_text = pair.hyp if pair.hyp is not None else "*" * len(pair.ref)
        if "*" not in ref_text:
            result.num_ref_words += 1
        if pair.op == CORRECT:
            result.correct += 1
        elif ref_text != hyp_text:
            if pair.op == SUBSTITUTION:
                result.substitutions += 1
            elif pair.op == DELETION:
                result.deletions += 1
            else:
                result.insertions += 1
    return result
