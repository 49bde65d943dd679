"""Converter of the official pickled `.npy` metadata (info dicts, gloss dictionaries) to JSON.

The file is read with utils/safe_pickle.py, which rebuilds numpy arrays, numpy
scalars and plain Python data and refuses anything else, so a crafted file cannot
run code. Convert once, then use the JSON everywhere.

    python -m preprocess.convert_npy train_info.npy train_info.jsonl
    python -m preprocess.convert_npy gloss_dict.npy gloss_dict.json
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from dataset.info import write_info
from utils.cli import ArgumentParser, run_command
from utils.errors import UserError
from utils.io import write_json_atomic
from utils.safe_pickle import load_data_pickle

_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class MetadataError(UserError, ValueError):
    """A .npy file that is not the official metadata; the message names it."""


def load_metadata_npy(source: Path) -> object:
    """The object stored in an object-dtype .npy file, unpickled without running any code it names."""
    with open(source, "rb") as handle:
        try:
            version = np.lib.format.read_magic(handle)
            _, _, dtype = _HEADER_READERS[version](handle)
        except (ValueError, KeyError) as error:
            raise MetadataError(f"{source}: not a .npy file ({error})") from None
        if not dtype.hasobject:
            raise MetadataError(f"{source}: expected a pickled dict, found a {dtype} array")
        try:
            return load_data_pickle(handle)
        except (pickle.UnpicklingError, EOFError) as error:
            raise MetadataError(f"{source}: {error}") from None


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
    loaded = load_metadata_npy(source)
    content = loaded.item() if isinstance(loaded, np.ndarray) and loaded.shape == () else None
    if not isinstance(content, dict):
        raise MetadataError(f"{source}: expected a pickled dict, found {type(content or loaded).__name__}")
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
    """Convert one file: 0 on success, one `error:` line and a non-zero code otherwise."""
    return run_command(_convert, argv)


def _convert(argv: list[str]) -> int:
    parser = ArgumentParser(prog="python -m preprocess.convert_npy", description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="official .npy file")
    parser.add_argument("target", type=Path, help="output .jsonl (info) or .json (gloss dictionary)")
    args = parser.parse_args(argv)
    kind = convert(args.source, args.target)
    print(f"{args.source} -> {args.target} ({kind})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
