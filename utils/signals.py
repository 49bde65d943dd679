"""Signal handlers for the length of a block, where Python can install them."""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence


@contextmanager
def signals_handled(handler: Any, numbers: Sequence[int]) -> Iterator[None]:
    """`handler` (a function or signal.SIG_IGN) for the signals `numbers` while the block runs, the previous
    handlers after it. Python delivers signals to the main thread only: elsewhere nothing is installed and the
    signals keep their effect."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, handler) for number in numbers}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
