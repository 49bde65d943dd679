"""Reading frames from frame folders and video files, and preparing a user's own clip.

Shared by training (frame folders) and by prediction on arbitrary videos, so
both see frames decoded, ordered and converted to RGB in the same way.
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from dataset.errors import DataError
from dataset.transforms import center_crop, rescale, subsample_indices

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
# Video files that preprocessing extracts and prediction reads directly (through OpenCV's FFmpeg), in the
# order preprocessing looks for a corpus's video next to its annotation.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
# An unreadable frame becomes one DataError naming the video and the file; OpenCV's own log line would be a
# second, less helpful report of the same problem.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own messages, read when a video is first opened
_GLOB_CHARS = set("*?[")
_ESCAPED_CHAR = re.compile(r"\[([*?[])\]")  # `[*]`, `[?]`, `[[]`: a glob character as glob.escape writes it


def is_glob(path: str | Path) -> bool:
    """Whether `path` is a glob pattern with a wildcard (as the info files' frame folders are) rather than one path;
    characters escaped as glob.escape escapes them (`clip[[]2]`) are no wildcards."""
    return bool(_GLOB_CHARS & set(_ESCAPED_CHAR.sub("", str(path))))


def frame_glob(folder: str | Path, pattern: str) -> Path:
    """`pattern` (a glob, e.g. `*.png` or an info file's `dev/<id>/1/*.png`) under `folder`, a path taken literally:
    its glob characters (`clip[2]`) are escaped, so the pattern finds the files under that very folder."""
    return Path(glob.escape(str(folder))) / pattern


def glob_root(path: str | Path) -> Path:
    """The deepest folder above every wildcard of a frame glob (`dev/<id>/1/*.png` -> `dev/<id>/1`,
    `dev/*/1/*.png` -> `dev`, `train/clip[[]2]/*.png` -> `train/clip[2]`); a plain path itself."""
    return _glob_base(path)[1]


def _glob_base(path: str | Path) -> tuple[Path, Path]:
    """(the deepest part of `path` above every wildcard, the folder it names): escaped characters are unescaped, and
    a folder that exists is taken as named, glob characters and all (`clips/clip[2]`, as info files written before
    the escaping name an id with glob characters)."""
    part = Path(path)
    while is_glob(part) and not _unescaped(part).is_dir():
        part = part.parent
    return part, _unescaped(part)


def _unescaped(path: Path) -> Path:
    return Path(_ESCAPED_CHAR.sub(r"\1", str(path)))


def is_video_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class ReadGeometry:
    """What the official reader does to a stored frame before augmentation: drop its first `drop_rows`
    rows, then resize to `resize_to` x `resize_to` with OpenCV's default (bilinear) interpolation."""

    drop_rows: int = 0
    resize_to: int = 0

    def apply(self, image: np.ndarray) -> np.ndarray:
        if not self.drop_rows and not self.resize_to:
            return image
        image = image[self.drop_rows:]
        return cv2.resize(image, (self.resize_to, self.resize_to)) if self.resize_to else image


# CSL-Daily's 256x256 frames are read as `cv2.resize(cv2.imread(path)[40:], (256, 256))` officially.
READ_GEOMETRY = {"CSL-Daily": ReadGeometry(drop_rows=40, resize_to=256)}


def read_geometry(dataset: str) -> ReadGeometry:
    """The official read-time geometry of a dataset's stored frames (none for most)."""
    return READ_GEOMETRY.get(dataset, ReadGeometry())


def list_frame_files(folder_glob: str | Path) -> list[Path]:
    """Frame files of one video, sorted by path as the official loader sorts them.

    `folder_glob` is either a glob (`dev/<id>/1/*.png`; a literal folder in it escaped, see `frame_glob`) or a
    folder, in which case every image file inside it is taken.
    """
    text = str(folder_glob)
    base, directory = _glob_base(text)
    pattern = base != Path(text)  # else `text` names the folder itself
    if not directory.is_dir():
        raise DataError(f"frame folder {directory} does not exist" + (f" (looking for {text})" if pattern else ""))
    if pattern:
        matches = glob.glob(str(frame_glob(directory, str(Path(text).relative_to(base)))))
        files = [Path(p) for p in matches if Path(p).is_file()]
    else:
        files = [p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not files:
        raise DataError(f"frame folder {text} contains no frames")
    return sorted(files, key=str)


def read_image_bgr(path: Path, video_id: str = "") -> np.ndarray:
    """One frame as cv2 decodes it (H x W x 3 BGR); a clear error instead of cv2's None."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        where = f"video {video_id!r}: " if video_id else ""
        state = "is missing" if not Path(path).exists() else "is empty or not a readable image"
        raise DataError(f"{where}frame {path} {state}")
    return image


def read_frames(paths: Sequence[Path], video_id: str = "", geometry: ReadGeometry = ReadGeometry()) -> np.ndarray:
    """Read frames into one T x H x W x 3 RGB uint8 array; all frames must share one size.

    Each frame is converted straight into its slot of the output, since
    decoding dominates the loader's time and extra copies show.
    """
    if len(paths) == 0:
        raise DataError(f"video {video_id!r}: no frame files to read")
    first = geometry.apply(read_image_bgr(paths[0], video_id))
    clip = np.empty((len(paths),) + first.shape, dtype=np.uint8)
    cv2.cvtColor(first, cv2.COLOR_BGR2RGB, dst=clip[0])
    for position, path in enumerate(paths[1:], start=1):
        image = geometry.apply(read_image_bgr(path, video_id))
        if image.shape != first.shape:
            raise DataError(
                f"video {video_id!r}: frame {path} is {image.shape[1]}x{image.shape[0]}, "
                f"the first frame is {first.shape[1]}x{first.shape[0]}"
            )
        cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=clip[position])
    return clip


def read_video_file(path: str | Path) -> np.ndarray:
    """Decode a video file (mp4, avi, ...) into T x H x W x 3 RGB uint8 with cv2."""
    return np.stack(list(iter_video_frames(path)))


def iter_video_frames(path: str | Path) -> Iterator[np.ndarray]:
    """The RGB frames of a video file one at a time, as cv2 decodes them (a recording of any length)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"video file {path} does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"video file {path} is empty (0 bytes); copy it again")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise DataError(f"video file {path} cannot be opened (unsupported codec or not a video)")
        decoded = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            decoded += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if not decoded:
        raise DataError(f"video file {path} has no decodable frames")


def iter_frame_files(paths: Sequence[Path], video_id: str = "") -> Iterator[np.ndarray]:
    """read_frames one frame at a time (RGB), all of the first frame's size."""
    if len(paths) == 0:
        raise DataError(f"video {video_id!r}: no frame files to read")
    shape = None
    for path in paths:
        image = read_image_bgr(path, video_id)
        if shape is not None and image.shape != shape:
            raise DataError(f"video {video_id!r}: frame {path} is {image.shape[1]}x{image.shape[0]}, "
                            f"the first frame is {shape[1]}x{shape[0]}")
        shape = image.shape
        yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def resize_frame(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """The whole frame resized to size x size (or (height, width)) with Lanczos, as every official
    preprocessing script does (CSL-Daily's rows are dropped later, when a clip is read: READ_GEOMETRY)."""
    height, width = (size, size) if isinstance(size, int) else size
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LANCZOS4)


# How the official preprocessing stores each corpus's frames: PHOENIX keeps its PNG frames, CSL-Daily and CSL
# are JPEG (whose compression the network saw in training).
STORED_FRAME_SUFFIX = {"CSL-Daily": ".jpg", "CSL": ".jpg"}
LOSSY_SUFFIXES = (".jpg", ".jpeg")


@dataclass(frozen=True)
class InputGeometry:
    """How a model's training data turned a video into network input: frames resized to `frame_size`
    (height, width; Lanczos, as preprocessing) and stored as `frame_suffix`, read with `dataset`'s read
    geometry, every `frame_interval`-th frame kept, the centre `input_size` crop taken and `image_scale`
    applied. Checkpoints record it, so that prediction reads any clip as the test phase read the corpus."""

    frame_size: tuple[int, int] = (256, 256)  # the official preprocessing's
    frame_suffix: str = ".png"
    dataset: str = "phoenix2014"
    input_size: int = 224
    image_scale: float = 1.0
    frame_interval: int = 1

    def to_dict(self) -> dict:
        return {"frame_size": list(self.frame_size), "frame_suffix": self.frame_suffix, "dataset": self.dataset,
                "input_size": self.input_size, "image_scale": self.image_scale, "frame_interval": self.frame_interval}

    @classmethod
    def from_dict(cls, values: dict) -> "InputGeometry":
        return cls(tuple(int(v) for v in values["frame_size"]), str(values["frame_suffix"]), str(values["dataset"]),
                   int(values["input_size"]), float(values["image_scale"]), int(values["frame_interval"]))

    def describe(self) -> str:
        height, width = self.frame_size
        rows = read_geometry(self.dataset)
        return (f"frames resized to {width}x{height} (Lanczos) as {self.frame_suffix} files"
                + (f", rows [{rows.drop_rows}:] kept and resized to {rows.resize_to}x{rows.resize_to}"
                   if rows.drop_rows else "")
                + (f", every {self.frame_interval}th frame from the first" if self.frame_interval > 1 else "")
                + f", centre {self.input_size} crop" + (f", image_scale {self.image_scale}" if self.image_scale != 1 else ""))

    def prepare(self, frames: np.ndarray) -> np.ndarray:
        """A user's RGB clip (T x H x W x 3) as the test phase reads a preprocessed one: the preprocessing's
        resize and storage (a JPEG round trip for lossy formats), the read geometry, the frame interval (from
        the first frame: a user's clip has no random offset), the centre crop and scale. uint8 T x H x W x 3."""
        if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
            raise DataError(f"expected frames shaped T x H x W x 3 with T > 0, got {tuple(frames.shape)}")
        geometry = read_geometry(self.dataset)
        kept = frames[subsample_indices(len(frames), self.frame_interval, 0)]
        stored = np.stack([geometry.apply(self._stored(frame)) for frame in kept])
        clip = rescale(center_crop(stored, self.input_size), self.image_scale)
        return np.ascontiguousarray(clip)

    def _stored(self, frame: np.ndarray) -> np.ndarray:
        """One RGB frame as preprocessing leaves it on disk and the loader decodes it."""
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        if bgr.shape[:2] != tuple(self.frame_size):
            bgr = resize_frame(bgr, self.frame_size)
        if self.frame_suffix.lower() in LOSSY_SUFFIXES:
            bgr = cv2.imdecode(cv2.imencode(self.frame_suffix, bgr)[1], cv2.IMREAD_COLOR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
