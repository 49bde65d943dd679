"""Stopping on a scheduler's signal: SIGTERM (sent by SLURM, Kubernetes or torchrun before a kill) or SIGUSR1
(SLURM's `--signal`) asks the run to finish its current step, write a resumable checkpoint and exit with
STOPPED_EXIT_CODE; running the same command again continues where it stopped."""
from __future__ import annotations

import atexit
import multiprocessing
import signal
import time
from contextlib import contextmanager
from typing import Iterator

from utils.signals import signals_handled

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
# EX_TEMPFAIL of sysexits.h: "temporary failure, the user is invited to retry"
STOPPED_EXIT_CODE = 75


class StopRequest:
    """Whether a stop signal has arrived. The handler only records it (a second signal, even one arriving
    while a checkpoint is being written, changes nothing); the training loop reads `requested` between steps
    and all processes agree on it before anyone stops."""

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self.received_at: float | None = None

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def _handle(self, number: int, _frame: object) -> None:
        if self.signal_name is None:
            self.signal_name, self.received_at = signal.Signals(number).name, time.monotonic()

    @contextmanager
    def installed(self) -> Iterator["StopRequest"]:
        """Handle the stop signals while the block runs; the previous handlers come back after it. Python
        delivers signals to the main thread only: elsewhere (training started from another thread) nothing is
        installed and the signals keep their effect."""
        with signals_handled(self._handle, STOP_SIGNALS):
            yield self


@contextmanager
def stopping_anywhere() -> Iterator[None]:
    """A stop signal outside the training loop (during imports and set-up, while testing after training) ends the
    run at once with TrainingStopped (exit code 75): every file is written atomically, so nothing is left half
    written, and the same command again starts or resumes the run. The training loop installs StopRequest over it,
    which finishes the step and checkpoints first."""
    def stop(number: int, _frame: object) -> None:
        raise TrainingStopped(f"stopped on {signal.Signals(number).name} outside the training loop (nothing was left "
                              f"half-written); run the same command again")

    with signals_handled(stop, STOP_SIGNALS):
        yield


def ignore_stop_signals() -> None:
    """For DataLoader worker processes: a scheduler signals every process of the job, and a worker killed by it
    would break the step its main process is finishing (the loader raises at once when a worker dies); the
    workers end when their main process shuts its loader down, or at its exit (end_workers_at_exit)."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


_workers_end_at_exit = False


def end_workers_at_exit() -> None:
    """In a process that starts loader workers: kill whatever workers are left when it exits. Python's own
    exit handler ends daemon children with SIGTERM, which the workers ignore, and then joins them: an error
    whose traceback still holds a loader (a corrupt frame raised from a worker) would wait for ever."""
    global _workers_end_at_exit
    if not _workers_end_at_exit:
        atexit.register(_kill_workers)  # registered after multiprocessing's handler, so it runs before it
        _workers_end_at_exit = True


def _kill_workers() -> None:
    for child in multiprocessing.active_children():
        child.kill()
        child.join()


class TrainingStopped(Exception):
    """The run stopped on a signal after writing a resumable checkpoint (not an error)."""

    exit_code = STOPPED_EXIT_CODE

    def __init__(self, message: str) -> None:
        super().__init__(message)
