"""Reading CTM/STM text line by line, so every input error can name its file and line."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from utils.errors import UserError


class EvaluationInputError(UserError, ValueError):
    """A CTM/STM file that cannot be scored; the message names the file and line."""

    def __init__(self, path: str | Path, line_number: int, reason: str) -> None:
        super().__init__(f"{path}:{line_number}: {reason}")
        self.path = str(path)
        self.line_number = line_number


def iter_content_lines(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """Yield (1-based line number, whitespace-split fields) of lines that are not blank or `;;` comments.

    Each line is decoded as UTF-8 on its own, so a file with mixed encodings fails
    at the first line that is not UTF-8 rather than somewhere downstream.
    """
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise EvaluationInputError(path, number, f"not valid UTF-8 ({error.reason} at byte {error.start})") from None
            if number == 1:
                text = text.removeprefix("\ufeff")
            fields = text.split()
            if not fields or fields[0].startswith(";;"):
                continue
            yield number, fields


def parse_time(path: str | Path, line_number: int, text: str, what: str) -> float:
    """A time field as float, or an error naming the line."""
    try:
        return float(text)
    except ValueError:
        raise EvaluationInputError(path, line_number, f"{what} {text!r} is not a number") from None
