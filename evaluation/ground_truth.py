"""Where the shipped ground-truth STM of each dataset and split lives."""
from __future__ import annotations

from pathlib import Path

from dataset.paths import SHIPPED_METADATA_DIR, stm_file_name, stm_prefix


def ground_truth_stm(dataset: str, split: str, meta_root: str | Path | None = None) -> Path:
    """`<meta_root>/<dataset>/<dataset>-groundtruth-<split>.stm`, checked to exist (default: preprocess/meta)."""
    path = Path(meta_root or SHIPPED_METADATA_DIR) / dataset / stm_file_name(stm_prefix(dataset), split)
    if not path.is_file():
        raise FileNotFoundError(f"no ground-truth STM for dataset {dataset!r} split {split!r}: {path} does not exist")
    return path
