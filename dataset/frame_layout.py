"""A marker in the root of preprocessed frames saying how they were made, so that frames of an older layout
are never mixed with the current one.

Earlier versions of this project preprocessed CSL-Daily by dropping rows [0:40) of
the 512x512 frame before resizing it to 256x256; the official pipeline resizes the
whole frame and drops rows [40:] of the 256x256 frame when reading it (a different
field of view and aspect ratio). Those old folders have no marker.
"""
from __future__ import annotations

import json
from pathlib import Path

from dataset.errors import DataError
from utils.io import write_json_atomic

LAYOUT_FILE = "frames_layout.json"
LAYOUT_VERSION = 2  # 2: CSL-Daily frames are whole 512x512 frames resized to 256x256, as officially


def write_layout(frame_root: Path, dataset: str, size: int) -> None:
    """Record the dataset, the frame size and the layout version of a preprocessed frame root."""
    write_json_atomic(frame_root / LAYOUT_FILE, {"dataset": dataset, "size": size, "layout": LAYOUT_VERSION})


def layout_version(frame_root: Path) -> int:
    """The layout version recorded in `frame_root` (0 when there is no marker)."""
    marker = frame_root / LAYOUT_FILE
    if not marker.is_file():
        return 0
    try:
        return int(json.loads(marker.read_text(encoding="utf-8")).get("layout", 0))
    except (ValueError, AttributeError) as error:
        raise DataError(f"{marker}: not a readable layout marker ({error})") from None


def redo_command(frame_root: Path) -> str:
    return (f"python -m preprocess --dataset CSL-Daily --dataset-root <CSL-Daily root> "
            f"--frames-output <a new folder>  (the frames in {frame_root} were cut by an earlier version)")


def check_preprocessed_csl_daily(frame_root: Path) -> None:
    """Refuse CSL-Daily frames that this project preprocessed before the official layout was adopted."""
    if layout_version(frame_root) < LAYOUT_VERSION:
        raise DataError(f"CSL-Daily frames in {frame_root} have the old layout (rows 0-39 of the 512x512 frame "
                        f"dropped before resizing, not as the official pipeline); redo them: {redo_command(frame_root)}")


def check_output_root(frame_root: Path, dataset: str) -> None:
    """Before preprocessing into `frame_root`: CSL-Daily frames of the old layout must not be resumed into."""
    if dataset != "CSL-Daily" or not frame_root.is_dir():
        return
    holds_videos = any(path.is_dir() for path in frame_root.iterdir())
    if holds_videos and layout_version(frame_root) < LAYOUT_VERSION:
        raise DataError(f"{frame_root} holds CSL-Daily frames of the old layout; write the new frames to another "
                        f"--frames-output (or delete {frame_root})")
