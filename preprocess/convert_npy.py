"""Converter of the official pickled `.npy` metadata (info dicts, gloss dictionaries) to JSON.

The only place in the project that unpickles anything: run it once on files
you trust, then use the JSON everywhere.

    python -m preprocess.convert_npy train_info.npy train_info.jsonl
    python -m preprocess.convert_npy gloss_dict.npy gloss_dict.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from dataset.info import write_info
from utils.io import write_json_atomic


def plain(value: object) -> object:
    """numpy scalars and arrays -> Python values JSON can hold."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def convert(source: Path, target: Path) -> str:
    """Convert one file; returns "info" or "gloss_dict" for what it found."""
    loaded = np.load(source, allow_pickle=True)
    content = loaded.item() if loaded.dtype == object and loaded.shape == () else None
    if not isinstance(content, dict):
        raise ValueError(f"{source}: expected a pickled dict, found {type(content or loaded).__name__}")
    integer_keys = [key for key in content if isinstance(key, (int, np.integer))]
    if integer_keys:
        records = []
        for key in sorted(integer_keys):
            record = plain(content[key])
            record["index"] = int(key)
            records.append(record)
        write_info(target, records, prefix=content.get("prefix"))
        return "info"
    write_json_atomic(target, plain(content))
    return "gloss_dict"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preprocess.convert_npy", description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="official .npy file (a pickle: only convert files you trust)")
    parser.add_argument("target", type=Path, help="output .jsonl (info) or .json (gloss dictionary)")
    args = parser.parse_args(argv)
    try:
        kind = convert(args.source, args.target)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.source} -> {args.target} ({kind})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
