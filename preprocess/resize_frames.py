"""Resizing every video's frames to size x size (Lanczos) in parallel, resumably and atomically.

A video whose output folder already holds as many frames as its source is
skipped, so an interrupted run continues where it stopped. Every frame is
written to a temporary file and renamed, so no half-written image survives a
kill. Problems (missing folders, unreadable frames, undecodable videos) are
collected and reported at the end instead of stopping the run.
"""
from __future__ import annotations

import glob
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np

from dataset.errors import DataError
from dataset.frames import read_video_file, resize_frame
from preprocess.corpora import VideoEntry
from utils.io import atomic_open
from utils.progress import progress

VIDEO_MARKER = ".extracted"


@dataclass
class VideoResult:
    """Outcome of one video: the frames its output folder holds (written now, or by an earlier run when skipped as
    already done), and problems."""

    fileid: str
    frames: int = 0
    skipped: bool = False
    problems: list[str] = field(default_factory=list)


def write_image(path: Path, image: np.ndarray) -> None:
    """Encode by the file's suffix and write atomically (BGR image, as cv2 uses)."""
    ok, encoded = cv2.imencode(path.suffix, image)
    if not ok:
        raise DataError(f"cannot encode {path}")
    with atomic_open(path, "wb", encoding=None) as handle:
        handle.write(encoded.tobytes())


def source_files(entry: VideoEntry) -> list[Path]:
    """The raw frame files of a video, sorted; empty when its folder is missing."""
    return sorted(Path(p) for p in glob.glob(str(entry.source)))


def resize_folder(entry: VideoEntry, target: Path, size: int) -> VideoResult:
    """Resize one video's frame folder into `target`, keeping file names."""
    result = VideoResult(str(entry.record["fileid"]))
    files = source_files(entry)
    if not files:
        result.problems.append(f"{result.fileid}: no frames at {entry.source}")
        return result
    if target.is_dir() and len([p for p in target.iterdir() if p.suffix == files[0].suffix]) == len(files):
        result.skipped, result.frames = True, len(files)
        return result
    for path in files:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            result.problems.append(f"{result.fileid}: unreadable frame {path}")
            continue
        write_image(target / path.name, resize_frame(image, size))
        result.frames += 1
    return result


def extract_video(entry: VideoEntry, target: Path, size: int, suffix: str) -> VideoResult:
    """Decode a video file into resized numbered frames; a marker written last makes it resumable."""
    result = VideoResult(str(entry.record["fileid"]))
    if (target / VIDEO_MARKER).is_file():
        result.skipped, result.frames = True, sum(1 for p in target.iterdir() if p.suffix == suffix)
        return result
    try:
        frames = read_video_file(entry.video_file)
    except DataError as error:
        result.problems.append(f"{result.fileid}: {error}")
        return result
    for index, frame in enumerate(frames):
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        write_image(target / f"{index:06d}{suffix}", resize_frame(bgr, size))
    result.frames = len(frames)
    with atomic_open(target / VIDEO_MARKER, "w") as handle:
        handle.write(f"{len(frames)}\n")
    return result


def process_video(task: tuple[VideoEntry, Path, int]) -> VideoResult:
    """Frames from the frame folder when it has any, else from the corpus's video file."""
    entry, frames_output, size = task
    target = frames_output / entry.output_dir
    if entry.video_file is not None and not source_files(entry):
        return extract_video(entry, target, size, Path(str(entry.source)).suffix or ".jpg")
    return resize_folder(entry, target, size)


def resize_all(entries: list[VideoEntry], frames_output: Path, size: int, workers: int) -> list[VideoResult]:
    """Process every video with `workers` processes (inline when 1), with a progress bar."""
    tasks = [(entry, frames_output, size) for entry in entries]
    if workers <= 1:
        return [process_video(task) for task in progress(tasks, desc="frames", unit="video")]
    with Pool(workers) as pool:
        return list(progress(pool.imap_unordered(process_video, tasks, chunksize=4), total=len(tasks),
                             desc="frames", unit="video"))
