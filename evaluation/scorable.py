"""Which video ids, signers and glosses the scoring files carry unchanged.

Ids, signers and glosses become fields and words of the ground-truth STM and the
hypothesis CTM, read by NIST sclite and by the official Python scorer. Values those
formats or scorers give a meaning of their own (whitespace splitting a line, a `;;`
comment, sclite's `(optional)`, `{ alternation / ... }`, `@` and `<label>` words, the
Python scorer's `*` padding, the empty hypothesis `[EMPTY]`, ids that differ only in
letter case) would fail or be scored wrongly at the first evaluation, after a whole
epoch of training; preprocessing and every reader of info files refuse them at once.
"""
from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Iterable

from evaluation.alignment import fold_case
from evaluation.normalise import EMPTY_HYPOTHESIS

COMMENT_PREFIX = ";;"  # an STM/CTM line starting with it is a comment
IGNORED_SEGMENT = "IGNORE_TIME_SEGMENT_IN_SCORING"  # sclite: an STM transcript that takes the segment out of scoring
_NOT_IN_A_FIELD = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")  # whitespace (as str.split) and control characters (Cc)


def sclite_word_problem(word: str) -> str | None:
    """Why sclite would not score `word` of an STM transcript as a plain word, None when it would."""
    if word[0] == "(" or word[-1] == ")":
        return "is in parentheses, which sclite reads as an optionally deletable word"
    if "{" in word or "}" in word:
        return ("contains a brace, which sclite reads as part of an alternation ({ a / b }; a '{' inside a word "
                "crashes it)")
    if word == "/":
        return "is a bare '/', which separates sclite's alternatives"
    if word == "@":
        return "is '@', sclite's null word"
    if word == IGNORED_SEGMENT:
        return "makes sclite leave the whole video out of scoring"
    return None


@cache  # a corpus repeats a few thousand glosses over and over
def gloss_problem(gloss: str) -> str | None:
    """Why `gloss` would not be scored as written by both scorers, None when it would."""
    reason = _field_problem(gloss) or sclite_word_problem(gloss)
    if reason is None and len(gloss) > 1 and gloss[0] == "<" and gloss[-1] == ">":
        reason = ("is in angle brackets, which sclite reads as the video's label at the start of a reference (the "
                  "gloss vanishes) and as an alternation tag in a CTM")
    if reason is None and "*" in gloss:
        reason = "contains '*', the official Python scorer's gap marker (a reference word with '*' is not counted)"
    if reason is None and gloss == EMPTY_HYPOTHESIS:
        reason = "is what the scorers put for a video without output, which would then count as recognised"
    return reason


def video_problem(fileid: str, signer: str | None, glosses: Iterable[str],
                  columns: tuple[str, str, str] = ("id", "signer", "glosses")) -> str | None:
    """The first of a video's id, signer (None: not given) and glosses that the scoring files cannot carry, as
    '<column> <value> <why>: <what to do>' (`columns` names them), None when all can."""
    id_column, signer_column, gloss_column = columns
    reason = _field_problem(fileid)
    if reason is None and fileid.startswith(COMMENT_PREFIX):
        reason = "starts with ';;', which makes its STM and CTM lines comments that the scorers skip"
    if reason is not None:
        return f"{id_column} {fileid!r} {reason}: rename it{_example(fileid)}"
    if signer is not None and (reason := _field_problem(signer)) is not None:
        return f"{signer_column} {signer!r} {reason}: rename it{_example(signer)}"
    for gloss in glosses:
        if (reason := gloss_problem(gloss)) is not None:
            return f"gloss {gloss!r} in {gloss_column} {reason}: rename it everywhere"
    return None


def id_clash(fileid: str, line: int, earlier: dict[str, tuple[str, int]]) -> str | None:
    """How `fileid` (on `line`) clashes with an id of `earlier` (folded id -> (id, line)): the same id, or one that
    differs only in ASCII letter case, which sclite does not tell apart. Records it when it does not clash."""
    other, other_line = earlier.setdefault(fold_case(fileid), (fileid, line))
    if other_line == line:
        return None
    if other == fileid:
        return f"id {fileid!r} already used on line {other_line}"
    return (f"id {fileid!r} differs from {other!r} (line {other_line}) only in letter case, which sclite ignores when "
            f"it matches videos: rename one of them")


def _field_problem(value: str) -> str | None:
    """Why `value` cannot be one whitespace-separated field of an STM/CTM line, None when it can."""
    if not value:
        return "is empty"
    found = _NOT_IN_A_FIELD.search(value)
    if found is None:
        return None
    if any(character.isspace() for character in value):
        return "contains whitespace, which splits STM/CTM lines into other fields"
    return f"contains the control character {found.group()!r}"


def _example(value: str) -> str:
    """A suggested replacement for an id or signer: whitespace runs become '_', control characters go."""
    fixed = "".join(c for c in "_".join(value.split()) if unicodedata.category(c) != "Cc")
    return f", e.g. {fixed!r}" if fixed and fixed != value and not fixed.startswith(COMMENT_PREFIX) else ""
