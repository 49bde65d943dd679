"""An input's frames one at a time, so that a recording of any length, or a live stream, never has to fit in
memory: a video file, a frame folder or glob, or a live source (a camera index such as `0`, or a stream URL:
anything OpenCV's VideoCapture opens). Imports no torch."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from dataset.errors import DataError
from dataset.frames import is_video_file, iter_frame_files, iter_video_frames, list_frame_files
from utils.redact import mask_credentials


def is_live_source(text: str) -> bool:
    """A camera index (`0`) or a stream URL (`rtsp://...`, `http://...`), which is read as it comes."""
    return text.isdigit() or "://" in text


def input_frames(path: Path) -> Iterator[np.ndarray]:
    """RGB frames of a video file, a frame folder or a frame glob."""
    if is_video_file(path):
        return iter_video_frames(path)
    return iter_frame_files(list_frame_files(path), str(path))


@dataclass
class LiveFrame:
    """A frame of a live source and when it was captured (time.monotonic's clock): by the stream's own
    timestamps, mapped onto the clock at its first frame, where the source gives them; else when it was read."""

    image: np.ndarray
    captured: float


def live_frames(source: str) -> Iterator[LiveFrame]:
    """Frames of a camera or a stream as they arrive; one clear line when it cannot be opened. The iteration
    ends when the stream ends (the caller says so)."""
    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    try:
        if not capture.isOpened():
            kind = "camera" if source.isdigit() else "stream"
            raise DataError(f"the {kind} {mask_credentials(source)} cannot be opened (no such device, unreachable address or "
                            f"unsupported format)")
        origin: tuple[float, float] | None = None  # (clock, stream milliseconds) at the first timestamped frame
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            read, stamp = time.monotonic(), capture.get(cv2.CAP_PROP_POS_MSEC)
            if stamp > 0 and origin is None:
                origin = (read, stamp)
            captured = origin[0] + (stamp - origin[1]) / 1000 if stamp > 0 and origin is not None else read
            yield LiveFrame(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), min(captured, read))
    finally:
        capture.release()


def paced(frames: Iterator[np.ndarray], fps: float) -> Iterator[LiveFrame]:
    """A recording's frames delivered at its frame rate, as a camera would capture them: frame i is captured at
    the start plus i / fps, and never delivered before (a reader that falls behind gets them late, as from a
    camera's buffer): the live path tried on a file."""
    start = time.monotonic()
    for index, frame in enumerate(frames):
        due = start + index / fps
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        yield LiveFrame(frame, due)
