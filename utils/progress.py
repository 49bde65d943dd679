"""Progress of long loops: tqdm's bar on a terminal; off a terminal (output sent to a file or a pipe), a plain
line on stdout, with the log, every tenth of the work, since a bar redrawn in place becomes one very long line
in a log (and stderr keeps only errors)."""
from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Iterator, TextIO

from tqdm import tqdm

PLAIN_LINES = 10  # lines per loop off a terminal, the last one at the end


class PlainProgress:
    """tqdm's interface (iteration, update, set_postfix, close) printing `desc: done/total (percent), seconds`
    lines to `stream` at every tenth of `total`."""

    def __init__(self, iterable: Iterable | None = None, total: int | None = None, desc: str = "",
                 stream: TextIO | None = None, initial: int = 0) -> None:
        self.iterable = iterable
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.desc = desc
        self.stream = stream or sys.stdout
        self.done = initial  # work done before (a resumed epoch's steps)
        self.postfix = ""
        self.start = time.perf_counter()
        self.next_line = initial + self._step()

    def _step(self) -> int:
        return max(1, -(-(self.total or 0) // PLAIN_LINES))

    def __iter__(self) -> Iterator:
        for item in self.iterable or ():
            yield item
            self.update(1)

    def __len__(self) -> int:
        return self.total or 0

    def update(self, count: int = 1) -> None:
        self.done += count
        if self.done >= self.next_line or (self.total and self.done >= self.total):
            self.next_line = self.done + self._step()
            self._print()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = " ".join(f"{key}={value}" for key, value in values.items())

    def close(self) -> None:
        pass

    def _print(self) -> None:
        total = f"/{self.total} ({100 * self.done / self.total:.0f}%)" if self.total else ""
        postfix = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {self.done}{total}, {time.perf_counter() - self.start:.0f} s{postfix}", file=self.stream,
              flush=True)


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", disable: bool = False,
             **tqdm_options: Any) -> Any:
    """A tqdm bar on a terminal, PlainProgress elsewhere; nothing at all when `disable`."""
    if disable:
        return tqdm(iterable, total=total, desc=desc, disable=True)
    if sys.stderr.isatty():
        return tqdm(iterable, total=total, desc=desc, dynamic_ncols=True, **tqdm_options)
    return PlainProgress(iterable, total, desc, initial=tqdm_options.get("initial", 0))
