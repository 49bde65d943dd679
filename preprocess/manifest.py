"""A corpus of one's own, described by a manifest: a UTF-8 CSV with the header `id,split,path,glosses` and
an optional `signer` column, one row per video.

`path` is a video file (anything OpenCV reads), a folder of frames or a glob of frames, relative to the
manifest's folder unless absolute; `glosses` is space-separated, in any script. The rows become the same
records the known corpora get (preprocess/corpora.py), so metadata and frame resizing run unchanged:
videos are decoded into PNG frames, frame folders are resized keeping their file names.
"""
from __future__ import annotations

import csv
import glob
from pathlib import Path

from dataset.frames import IMAGE_SUFFIXES, is_glob, is_video_file
from preprocess.corpora import AnnotationError, VideoEntry, count_frames

MANIFEST_COLUMNS = ("id", "split", "path", "glosses")
MANIFEST_SPLITS = ("train", "dev", "test")
UNKNOWN_SIGNER = "unknown"  # the STM speaker when the manifest has no signer column
VIDEO_FRAME_SUFFIX = ".png"  # frames decoded from a video are stored losslessly, as PHOENIX's


def _frame_suffix(source: Path) -> str | None:
    """The suffix of the first frame a folder or glob holds, None when it holds none."""
    pattern = str(source) if is_glob(source) else str(source / "*")
    frames = sorted(p for p in glob.glob(pattern) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
    return Path(frames[0]).suffix if frames else None


def _entry(row: dict[str, str], split: str, base: Path, where: str, index: int) -> VideoEntry:
    """The record and frame source of one manifest row; a path that holds nothing is an error."""
    fileid, path_text = row["id"].strip(), row["path"].strip()
    path = Path(path_text) if Path(path_text).is_absolute() else base / path_text
    output_dir = Path(split) / fileid
    record = {"fileid": fileid, "signer": (row.get("signer") or "").strip() or UNKNOWN_SIGNER,
              "label": " ".join(row["glosses"].split()), "original_info": ",".join(row[c] or "" for c in row),
              "index": index}
    if is_video_file(path) and not is_glob(path):
        if not path.is_file():
            raise AnnotationError(f"{where}: video {path} not found")
        record.update(folder=f"{output_dir.as_posix()}/*{VIDEO_FRAME_SUFFIX}", num_frames=0)  # counted when decoded
        # a frame glob under the file itself matches nothing, so the video is decoded into that suffix
        return VideoEntry(record, path / f"*{VIDEO_FRAME_SUFFIX}", output_dir, video_file=path)
    suffix = _frame_suffix(path)
    if suffix is None:
        raise AnnotationError(f"{where}: {path} is neither a video file nor a folder or glob of frames "
                              f"({', '.join(IMAGE_SUFFIXES)})")
    source = path if is_glob(path) else path / f"*{suffix}"
    record.update(folder=f"{output_dir.as_posix()}/*{suffix}", num_frames=count_frames(source))
    return VideoEntry(record, source, output_dir)


def read_manifest(path: Path) -> dict[str, list[VideoEntry]]:
    """The manifest's videos per split (train, dev, test, in row order); a bad row stops with its line."""
    if not path.is_file():
        raise AnnotationError(f"{path}: manifest not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise AnnotationError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    reader = csv.DictReader(text.splitlines())
    columns = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in MANIFEST_COLUMNS if name not in columns]
    if missing:
        raise AnnotationError(f"{path}:1: the header lacks the column(s) {', '.join(missing)}; expected "
                              f"{','.join(MANIFEST_COLUMNS)}[,signer], found {','.join(columns) or 'nothing'}")
    reader.fieldnames = columns
    splits: dict[str, list[VideoEntry]] = {split: [] for split in MANIFEST_SPLITS}
    seen: dict[str, int] = {}
    for line_number, row in enumerate(reader, start=2):
        where = f"{path}:{line_number}"
        if None in row or any(row[name] is None for name in MANIFEST_COLUMNS):
            raise AnnotationError(f"{where}: expected {len(columns)} comma-separated fields")
        fileid, split = row["id"].strip(), row["split"].strip()
        if not fileid:
            raise AnnotationError(f"{where}: empty id")
        if fileid in seen:
            raise AnnotationError(f"{where}: id {fileid!r} already used on line {seen[fileid]}")
        seen[fileid] = line_number
        if split not in splits:
            raise AnnotationError(f"{where}: split {split!r} is not one of {', '.join(MANIFEST_SPLITS)}")
        if not row["glosses"].split():
            raise AnnotationError(f"{where}: video {fileid!r} has no glosses")
        if "/" in fileid or "\\" in fileid or fileid in (".", ".."):
            raise AnnotationError(f"{where}: id {fileid!r} must not contain a path separator")
        splits[split].append(_entry(row, split, path.parent, where, len(splits[split])))
    if not splits["train"]:
        raise AnnotationError(f"{path}: no row of the train split")
    return {split: entries for split, entries in splits.items() if entries}
