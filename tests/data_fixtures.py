"""Helpers that write tiny frame-folder corpora whose pixels encode where they came from."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np


def coded_clip(num_frames: int, height: int, width: int) -> np.ndarray:
    """RGB clip with R = frame index, G = row, B = column, so any crop/flip/resample is readable back."""
    t, y, x = np.meshgrid(np.arange(num_frames), np.arange(height), np.arange(width), indexing="ij")
    return np.stack([t, y, x], axis=-1).astype(np.uint8)


def write_clip(folder: Path, clip: np.ndarray, prefix: str = "frame") -> list[Path]:
    """Write RGB frames as PNGs named so that sorting keeps their order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, frame in enumerate(clip):
        path = folder / f"{prefix}{index:04d}.png"
        assert cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def write_corpus(root: Path, videos: dict[str, tuple[np.ndarray, str]], split: str = "dev") -> tuple[Path, Path, dict]:
    """Write frames under root/frames/<split>/<id>/1/ and an info file; return (info_path, frame_root, gloss_dict)."""
    frame_root = root / "frames"
    records = []
    for index, (video_id, (clip, label)) in enumerate(videos.items()):
        write_clip(frame_root / split / video_id / "1", clip)
        records.append({"fileid": video_id, "folder": f"{split}/{video_id}/1/*.png", "signer": "Signer01",
                        "label": label, "num_frames": len(clip), "original_info": "", "index": index})
    info_path = root / f"{split}_info.jsonl"
    lines = [json.dumps({"prefix": str(frame_root)})] + [json.dumps(r) for r in records]
    info_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    glosses = sorted({g for _, label in videos.values() for g in label.split()})
    return info_path, frame_root, {g: i for i, g in enumerate(glosses, start=1)}
