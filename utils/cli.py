"""One error path for every command (main.py, python -m preprocess, python -m evaluation, the benchmarks).

Expected errors (utils.errors.UserError and the operating system's OSError: a
missing file, a full disk, a read-only directory) end the command with one line,
`error: <what>, <where>, <what to do>`, and exit code 1; the traceback goes to the
log file when one is open, and to the terminal only with `--debug`. An error
raised inside a DataLoader worker is unwrapped to its own message. Anything else
is a bug: its traceback is shown, followed by a one-line hint.
"""
from __future__ import annotations

import argparse
import logging
import re
import sys
import traceback
from typing import Callable, NoReturn, Sequence

from utils.errors import UserError

EXPECTED = (UserError, OSError)
_WORKER_PREFIX = re.compile(r"^Caught \w+ in DataLoader worker process \d+\.")
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Za-z_]\w*(?:Error|Exception): (.*)$")


def one_line(error: BaseException) -> str:
    """The error's own message on one line; a DataLoader worker's wrapper and traceback are removed."""
    text = str(error)
    if _WORKER_PREFIX.match(text):
        lines = [line for line in text.splitlines() if line.strip()]
        match = _EXCEPTION_LINE.match(lines[-1].strip()) if lines else None
        text = match.group(1) if match else lines[-1]
    if isinstance(error, OSError) and error.filename is not None and str(error.filename) not in text:
        text = f"{text}: {error.filename}"
    return " ".join(text.split()) or type(error).__name__


def run_command(body: Callable[[list[str]], int], argv: Sequence[str] | None = None,
                logger: logging.Logger | None = None) -> int:
    """Run a command's `body(argv)`; `--debug` anywhere in argv shows tracebacks of expected errors too."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    arguments = [item for item in arguments if item != "--debug"]
    log = logger or logging.getLogger("slowfastsign")
    try:
        return body(arguments)
    except SystemExit as exit_request:  # argparse: --help, or a usage error already printed as one line
        return exit_request.code if isinstance(exit_request.code, int) else 1
    except EXPECTED as error:
        log.debug("traceback of the error below", exc_info=True)
        if debug:
            traceback.print_exc()
        message = one_line(error)
        log.debug("error: %s", message)
        print(f"error: {message}", file=sys.stderr)
        return getattr(error, "exit_code", 1)
    except KeyboardInterrupt:
        print("error: interrupted; a training run resumes from its last checkpoint when started again",
              file=sys.stderr)
        return 130
    except Exception:  # a bug: keep everything a report needs
        log.exception("unexpected error")
        traceback.print_exc()
        print("error: unexpected failure (a bug: please report it with the traceback above); "
              "`--debug` shows the traceback of every error", file=sys.stderr)
        return 1


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one `error:` line pointing at --help (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message}; see `{self.prog} --help`", file=sys.stderr)
        raise SystemExit(2)
