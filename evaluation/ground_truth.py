"""Where the shipped ground-truth STM of each dataset and split lives."""
from __future__ import annotations

from pathlib import Path

from dataset.paths import stm_file_name, stm_prefix

META_ROOT = Path(__file__).resolve().parent.parent / "preprocess" / "meta"


def ground_truth_stm(dataset: str, split: str, meta_root: str | Path | None = None) -> Path:
    """`<meta_root>/<dataset>/<dataset>-groundtruth-<split>.stm`, checked to exist (default: preprocess/meta)."""
    path = Path(meta_root or META_ROOT) / dataset / stm_file_name(stm_prefix(dataset), split)
    if not path.is_file():
        raise FileNotFoundError(f"no ground-truth STM for dataset {dataset!r} split {split!r}: {path} does not exist")
    return path
