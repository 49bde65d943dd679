"""Logging to stdout and to <work_dir>/log.txt; only the main process writes."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from utils.work_dir import LOG

FORMAT = "[%(asctime)s] %(message)s"


def setup_logging(work_dir: str | Path | None, is_main: bool = True, name: str = LOG) -> logging.Logger:
    """Configure the root logger once; other processes only show warnings. The file also gets debug records."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.INFO if is_main else logging.WARNING)
    logging.getLogger("slowfastsign").setLevel(logging.DEBUG if is_main else logging.WARNING)
    formatter = logging.Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S")
    stream = logging.StreamHandler(sys.stdout)
    stream.setLevel(logging.INFO)  # debug records (tracebacks of reported errors) go to the file only
    stream.setFormatter(formatter)
    root.addHandler(stream)
    if work_dir is not None and is_main:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(Path(work_dir) / name, encoding="utf-8")
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    return logging.getLogger("slowfastsign")
