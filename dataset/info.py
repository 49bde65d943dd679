"""Per-split info files: JSON lines, an optional `{"prefix": ...}` header, then one record per video."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from dataset.errors import DataError
from utils.io import atomic_open

REQUIRED_KEYS = ("fileid", "folder", "label")


def read_info(path: str | Path) -> tuple[str | None, list[dict]]:
    """Return (prefix or None, records) from a `<split>_info.jsonl` file, validating each record: an id, signer or
    gloss the scoring files cannot carry (evaluation/scorable.py; an info file written before that check) stops
    here rather than at the first evaluation."""
    # evaluation imports dataset.paths, which imports this module: the rules are imported when a file is read
    from evaluation.scorable import id_clash, video_problem

    path = Path(path)
    if not path.is_file():
        raise DataError(f"info file not found: {path}; run `python -m preprocess --dataset <name> ...` or set "
                        f"dataset_info.info_dir")
    prefix, records = None, []
    ids: dict[str, tuple[str, int]] = {}  # folded id -> (id, line)
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}:{line_number}: not valid JSON ({error}); regenerate it with the preprocessing") from None
            if set(entry) == {"prefix"}:
                prefix = entry["prefix"]
                continue
            missing = [key for key in REQUIRED_KEYS if key not in entry]
            if missing:
                raise DataError(f"{path}:{line_number}: record lacks {', '.join(missing)}")
            fileid, signer = str(entry["fileid"]), entry.get("signer")
            problem = (video_problem(fileid, None if signer is None else str(signer), str(entry["label"]).split(),
                                     ("fileid", "signer", "label"))
                       or id_clash(fileid, line_number, ids))
            if problem is not None:
                raise DataError(f"{path}:{line_number}: {problem} (in the corpus's manifest or annotations), then "
                                f"preprocess again")
            records.append(entry)
    return prefix, records


@dataclass(frozen=True)
class InfoFile:
    """One split's info file, read once: where it is, its frame-root prefix (or None) and its records."""

    path: Path
    prefix: str | None
    records: list[dict]

    @classmethod
    def read(cls, path: str | Path) -> "InfoFile":
        prefix, records = read_info(path)
        return cls(Path(path), prefix, records)


def write_info(path: str | Path, records: Iterable[dict], prefix: str | None = None) -> None:
    """Write records as JSON lines atomically, with the prefix header first when given."""
    with atomic_open(path, "w") as handle:
        if prefix is not None:
            handle.write(json.dumps({"prefix": prefix}, ensure_ascii=False) + "\n")
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
