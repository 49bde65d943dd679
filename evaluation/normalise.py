"""PHOENIX hypothesis normalisation (docs/METHOD.md), in Python instead of the official sed/perl pipeline.

The official `preprocess.sh` runs its rules over the CTM file, where every line
holds one gloss. Rules that look at one gloss (prefix and substring deletions,
`ZEIGEN` at the end of a line, `XXRAUM`, `-PLUSPLUS`, dropping `__EPENTHESIS__`)
therefore fire, while rules that span two glosses (`WIE AUSSEHEN`, joining
spelled letters with `+`, collapsing repetitions) never match anything. The
published numbers come from that behaviour, so `scope="ctm-line"` (the default)
reproduces it; `scope="sentence"` applies every rule to the whole sentence, as
docs/METHOD.md lists them.

The official code runs the same script for every dataset (one evaluation
directory); on Chinese glosses it changes nothing. `DATASET_NORMALISATION` keeps
that per-dataset choice in one table.
"""
from __future__ import annotations

import re
from typing import Sequence

from utils.config.schema import DATASETS

EMPTY_HYPOTHESIS = "[EMPTY]"

# The official evaluation runs the same normalisation script for every corpus; "none" scores words as written.
DATASET_NORMALISATION: dict[str, str] = {**{name: "phoenix" for name in DATASETS}, "custom": "none", "none": "none"}

_SUBSTRING_DELETIONS = ("loc-", "cl-", "qu-", "poss-", "lh-")
_SUBSTRING_REPLACEMENTS = (("S0NNE", "SONNE"), ("HABEN2", "HABEN"))
_MARKERS_DELETED = ("__EMOTION__", "__PU__", "__LEFTHAND__")
_LINES_DROPPED = ("__LEFTHAND__", "__EPENTHESIS__", "__EMOTION__")
_ROOM_SUFFIX = re.compile(r"([A-Z][A-Z])RAUM")

_LETTER_JOIN_ONCE = (
    (re.compile(r"^([A-Z]) ([A-Z][+ ])"), r"\1+\2"),
    (re.compile(r"[ +]([A-Z]) ([A-Z]) "), r" \1+\2 "),
)
_LETTER_JOIN_REPEATED = (re.compile(r"([ +][A-Z]) ([A-Z][ +])"), r"\1+\2")
_SPELLING_JOINS = (
    (re.compile(r"([ +]SCH) ([A-Z][ +])"), r"\1+\2"),
    (re.compile(r"([ +]NN) ([A-Z][ +])"), r"\1+\2"),
    (re.compile(r"([ +][A-Z]) (NN[ +])"), r"\1+\2"),
    (re.compile(r"([ +][A-Z]) ([A-Z])$"), r"\1+\2"),
)
_REPETITION = re.compile(r"(?<![\w-])(\b[A-Z]+(?![\w-])) \1(?![\w-])")


def _single_gloss_rules(text: str) -> str:
    """Substring rules up to and including the marker deletions (first three sed stages)."""
    for prefix in _SUBSTRING_DELETIONS:
        text = text.replace(prefix, "")
    for old, new in _SUBSTRING_REPLACEMENTS:
        text = text.replace(old, new)
    for marker in _MARKERS_DELETED:
        text = text.replace(marker, "")
    return text


def _late_gloss_rules(text: str) -> str:
    """`XXRAUM` -> `XX` and `-PLUSPLUS` deletion (the stages after letter joining)."""
    return _ROOM_SUFFIX.sub(r"\1", text).replace("-PLUSPLUS", "")


def normalise_gloss(gloss: str) -> str:
    """One CTM line's gloss after the official pipeline; "" means the line is dropped."""
    text = _single_gloss_rules(gloss)
    if text.endswith("ZEIGEN"):
        text += "-BILDSCHIRM"
    text = _late_gloss_rules(text)
    return "" if any(marker in text for marker in _LINES_DROPPED) else text


def normalise_sentence(glosses: Sequence[str]) -> list[str]:
    """Every docs/METHOD.md rule over the whole sentence, including those spanning two glosses."""
    text = _single_gloss_rules(" ".join(glosses))
    text = text.replace("WIE AUSSEHEN", "WIE-AUSSEHEN").replace("ZEIGEN ", "ZEIGEN-BILDSCHIRM ")
    text = re.sub(r"ZEIGEN$", "ZEIGEN-BILDSCHIRM", text)
    for pattern, replacement in _LETTER_JOIN_ONCE:
        text = pattern.sub(replacement, text)
    for _ in range(3):
        text = _LETTER_JOIN_REPEATED[0].sub(_LETTER_JOIN_REPEATED[1], text)
    for pattern, replacement in _SPELLING_JOINS:
        text = pattern.sub(replacement, text)
    text = _late_gloss_rules(text)
    for _ in range(4):
        text = _REPETITION.sub(r"\1", text)
    return [word for word in text.split() if not any(marker in word for marker in _LINES_DROPPED)]


def normalise_hypothesis(glosses: Sequence[str], dataset: str = "phoenix2014", scope: str = "ctm-line") -> list[str]:
    """A sentence's glosses after the dataset's normalisation, `[EMPTY]` if nothing is left."""
    if dataset not in DATASET_NORMALISATION:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(DATASET_NORMALISATION)}")
    if scope not in ("ctm-line", "sentence"):
        raise ValueError(f"unknown normalisation scope {scope!r}; expected 'ctm-line' or 'sentence'")
    if DATASET_NORMALISATION[dataset] == "none":
        kept = list(glosses)
    elif scope == "sentence":
        kept = normalise_sentence(glosses)
    else:
        kept = [g for g in (normalise_gloss(gloss) for gloss in glosses) if g]
    return kept or [EMPTY_HYPOTHESIS]
