"""STM reference files as sclite reads them for `-r stm`: one scored segment per file id."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evaluation.input_lines import EvaluationInputError, iter_content_lines, parse_time
from evaluation.scorable import sclite_word_problem

# The end time of a whole-file segment in the official ground truth (the largest double, as printed there).
STM_INFINITY = "1.79769e+308"


def format_stm_line(fileid: str, speaker: str, text: str, channel: str = "1") -> str:
    """One whole-video reference segment, the official ground truth's line: `id 1 signer 0.0 <inf> words`."""
    return f"{fileid} {channel} {speaker} 0.0 {STM_INFINITY} {text}\n"


@dataclass(frozen=True)
class StmSegment:
    """One reference sentence."""

    fileid: str
    channel: str
    speaker: str
    words: tuple[str, ...]
    line_number: int


def read_stm(path: str | Path) -> dict[str, StmSegment]:
    """Read `fileid channel speaker begin end [<label>] words...` lines, keyed by file id in file order.

    Optionally-deletable `(word)`, alternation `{ a / b }` and null `@` words change how
    sclite aligns; no shipped ground truth uses them, so they are refused rather
    than scored differently from sclite.
    """
    segments: dict[str, StmSegment] = {}
    for number, fields in iter_content_lines(path):
        if len(fields) < 5:
            raise EvaluationInputError(
                path, number, f"expected 'fileid channel speaker begin end words...', got {len(fields)} fields")
        parse_time(path, number, fields[3], "begin time")
        parse_time(path, number, fields[4], "end time")
        words = fields[5:]
        if words and words[0].startswith("<") and words[0].endswith(">"):
            words = words[1:]
        for word in words:
            reason = sclite_word_problem(word)
            if reason is not None:
                raise EvaluationInputError(path, number, f"reference word {word!r} {reason}; it is not supported")
        fileid = fields[0]
        if fileid in segments:
            raise EvaluationInputError(
                path, number, f"file id {fileid} already has a segment on line {segments[fileid].line_number}")
        segments[fileid] = StmSegment(fileid, fields[1], fields[2], tuple(words), number)
    return segments
