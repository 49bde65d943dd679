"""CTM hypothesis files: the official writer's timing convention and a strict reader."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from evaluation.input_lines import EvaluationInputError, iter_content_lines, parse_time
from utils.io import atomic_open


@dataclass(frozen=True)
class CtmWord:
    """One hypothesis word as read from a CTM line."""

    fileid: str
    start: float
    word: str
    line_number: int


def ctm_line(fileid: str, start: float, duration: float, word: str, decimals: int = 2) -> str:
    """One CTM line, `fileid 1 start duration word`, times in seconds."""
    return f"{fileid} 1 {start:.{decimals}f} {duration:.{decimals}f} {word}\n"


def format_ctm_line(fileid: str, index: int, gloss: str) -> str:
    """The official `write2file` line: word i gets start i/100 and, in the duration column, (i+1)/100."""
    return ctm_line(fileid, index / 100, (index + 1) / 100, gloss)


def write_ctm(path: str | Path, hypotheses: Mapping[str, Sequence[str]]) -> None:
    """Write `fileid -> glosses` as CTM, one line per gloss, atomically; empty hypotheses write no line."""
    with atomic_open(path, "w") as handle:
        for fileid, glosses in hypotheses.items():
            if not fileid or any(c.isspace() for c in fileid):
                raise ValueError(f"CTM file id {fileid!r} is empty or contains whitespace")
            for index, gloss in enumerate(glosses):
                if not gloss or any(c.isspace() for c in gloss):
                    raise ValueError(f"gloss {gloss!r} of {fileid} is empty or contains whitespace")
                handle.write(format_ctm_line(fileid, index, gloss))


def read_ctm(path: str | Path) -> list[CtmWord]:
    """Read `fileid channel start duration word [confidence]` lines in file order."""
    words: list[CtmWord] = []
    for number, fields in iter_content_lines(path):
        if len(fields) not in (5, 6):
            raise EvaluationInputError(
                path, number, f"expected 'fileid channel start duration word [confidence]', got {len(fields)} fields")
        start = parse_time(path, number, fields[2], "start time")
        parse_time(path, number, fields[3], "duration")
        words.append(CtmWord(fields[0], start, fields[4], number))
    return words


def group_by_file(words: Sequence[CtmWord]) -> dict[str, list[CtmWord]]:
    """Words of each file id in time order (stable for equal times), as sclite reads them."""
    grouped: dict[str, list[CtmWord]] = {}
    for word in words:
        grouped.setdefault(word.fileid, []).append(word)
    return {fileid: sorted(items, key=lambda w: w.start) for fileid, items in grouped.items()}
