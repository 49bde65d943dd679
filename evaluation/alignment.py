"""Word alignment with NIST sclite's default costs and tie-breaking, so Python and sclite agree exactly.

sclite (`-h ctm -r stm`, no time mediation) aligns reference and hypothesis by
minimum edit cost with substitution 4, insertion 3, deletion 3 and a correct word
0. Several alignments can share the minimum cost, and they need not have the same
substitution/deletion/insertion counts, so the tie-breaking matters: tracing back
from the end, sclite prefers the diagonal step (correct or substitution), then an
insertion, then a deletion. This was established (and is kept honest by
`tests/test_sclite_differential.py`) by comparing against the sclite binary on
thousands of random sentence pairs.

Words compare case-insensitively for ASCII letters, as sclite does by default.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SUBSTITUTION_COST = 4
INSERTION_COST = 3
DELETION_COST = 3

CORRECT, SUBSTITUTION, DELETION, INSERTION = "C", "S", "D", "I"

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold_case(word: str) -> str:
    """Lower-case ASCII letters only: sclite's case-insensitive comparison leaves other letters alone."""
    return word.translate(_ASCII_LOWER)


@dataclass(frozen=True)
class AlignedPair:
    """One step of an alignment: `ref` is None for an insertion, `hyp` is None for a deletion."""

    op: str
    ref: str | None
    hyp: str | None


@dataclass
class ErrorCounts:
    """Substitutions, deletions and insertions; their sum is what a WER counts."""

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions


@dataclass
class Alignment(ErrorCounts):
    """A sentence's alignment with its error counts and the number of reference words it is scored over."""

    pairs: list[AlignedPair] = field(default_factory=list)
    num_ref_words: int = 0
    correct: int = 0


def align(ref: list[str], hyp: list[str]) -> Alignment:
    """Align `hyp` to `ref` exactly as sclite does and count correct words and S/D/I errors."""
    ref_keys = [fold_case(w) for w in ref]
    hyp_keys = [fold_case(w) for w in hyp]
    n, m = len(ref), len(hyp)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for j in range(1, m + 1):
        cost[0][j] = j * INSERTION_COST
    for i in range(1, n + 1):
        previous, row = cost[i - 1], cost[i]
        row[0] = i * DELETION_COST
        key = ref_keys[i - 1]
        for j in range(1, m + 1):
            diagonal = previous[j - 1] + (0 if key == hyp_keys[j - 1] else SUBSTITUTION_COST)
            deletion = previous[j] + DELETION_COST
            insertion = row[j - 1] + INSERTION_COST
            row[j] = min(diagonal, deletion, insertion)
    return _trace_back(ref, hyp, ref_keys, hyp_keys, cost)


def _trace_back(ref: list[str], hyp: list[str], ref_keys: list[str], hyp_keys: list[str],
                cost: list[list[int]]) -> Alignment:
    """Walk back from the end preferring diagonal, then insertion, then deletion (sclite's order)."""
    result = Alignment(num_ref_words=len(ref))
    pairs: list[AlignedPair] = []
    i, j = len(ref), len(hyp)
    while i > 0 or j > 0:
        here = cost[i][j]
        if i > 0 and j > 0:
            same = ref_keys[i - 1] == hyp_keys[j - 1]
            if here == cost[i - 1][j - 1] + (0 if same else SUBSTITUTION_COST):
                if same:
                    result.correct += 1
                    pairs.append(AlignedPair(CORRECT, ref[i - 1], hyp[j - 1]))
                else:
                    result.substitutions += 1
                    pairs.append(AlignedPair(SUBSTITUTION, ref[i - 1], hyp[j - 1]))
                i, j = i - 1, j - 1
                continue
        if j > 0 and here == cost[i][j - 1] + INSERTION_COST:
            result.insertions += 1
            pairs.append(AlignedPair(INSERTION, None, hyp[j - 1]))
            j -= 1
            continue
        result.deletions += 1
        pairs.append(AlignedPair(DELETION, ref[i - 1], None))
        i -= 1
    pairs.reverse()
    result.pairs = pairs
    return result
