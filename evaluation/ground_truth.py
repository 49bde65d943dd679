"""Where the shipped ground-truth STM of each dataset and split lives."""
from __future__ import annotations

from pathlib import Path

META_ROOT = Path(__file__).resolve().parent.parent / "preprocess" / "meta"


def ground_truth_stm(dataset: str, split: str, meta_root: str | Path | None = None) -> Path:
    """`<meta_root>/<dataset>/<dataset>-groundtruth-<split>.stm`, checked to exist (default: preprocess/meta)."""
    path = Path(meta_root or META_ROOT) / dataset / f"{dataset}-groundtruth-{split}.stm"
    if not path.is_file():
        raise FileNotFoundError(f"no ground-truth STM for dataset {dataset!r} split {split!r}: {path} does not exist")
    return path
