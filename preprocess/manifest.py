"""A corpus of one's own, described by a manifest: a UTF-8 CSV with the header `id,split,path,glosses` and
an optional `signer` column and an optional `translation` column (the spoken-language sentence, its tokens separated
by spaces, for translation), one row per video.

`path` is a video file (anything OpenCV reads), a folder of frames or a glob of frames, relative to the
manifest's folder unless absolute; `glosses` is space-separated, in any script. The rows become the same
records the known corpora get (preprocess/corpora.py), so metadata and frame resizing run unchanged:
videos are decoded into PNG frames, frame folders are resized keeping their file names.

Ids and folders may hold glob characters (`clip[2]`): a video or folder is taken as named, and the info files'
frame globs escape them. Ids, signers and glosses that the STM/CTM files or the scorers would break on or
misread (evaluation/scorable.py) stop preprocessing with one line naming the row.
"""
from __future__ import annotations

import csv
import glob
from pathlib import Path

from dataset.frames import IMAGE_SUFFIXES, frame_glob, is_glob, is_video_file
from evaluation.scorable import id_clash, video_problem
from preprocess.corpora import AnnotationError, VideoEntry, count_frames

MANIFEST_COLUMNS = ("id", "split", "path", "glosses")
MANIFEST_SPLITS = ("train", "dev", "test")
UNKNOWN_SIGNER = "unknown"  # the STM speaker when the manifest has no signer column
VIDEO_FRAME_SUFFIX = ".png"  # frames decoded from a video are stored losslessly, as PHOENIX's


def _frames(path: Path, pattern: Path) -> tuple[Path, str] | None:
    """(glob, suffix) of the frames of the folder `path` (its name taken literally, glob characters and all) or of
    the glob `pattern`, None when it holds none."""
    folder = path.is_dir()
    matches = glob.glob(str(frame_glob(path, "*") if folder else pattern))
    frames = sorted(match for match in matches if Path(match).suffix.lower() in IMAGE_SUFFIXES)
    if not frames:
        return None
    suffix = Path(frames[0]).suffix
    return (frame_glob(path, f"*{suffix}") if folder else pattern), suffix


def _entry(row: dict[str, str], split: str, base: Path, where: str, index: int) -> VideoEntry:
    """The record and frame source of one manifest row; a path that holds nothing is an error. `path` names a video
    or a folder literally (glob characters and all), or is a glob; relative, it is under the manifest's folder `base`,
    taken literally. The record's frame folder is a glob whose split and id are escaped."""
    fileid, path_text = row["id"].strip(), row["path"].strip()
    absolute = Path(path_text).is_absolute()
    path = Path(path_text) if absolute else base / path_text
    pattern = Path(path_text) if absolute else frame_glob(base, path_text)
    output_dir = Path(split) / fileid
    record = {"fileid": fileid, "signer": _signer(row), "label": " ".join(row["glosses"].split()),
              "original_info": ",".join(row[c] or "" for c in row), "index": index}
    if (row.get("translation") or "").strip():  # the optional column: the sentence, for translation (tokens by spaces)
        record["translation"] = " ".join(row["translation"].split())
    if is_video_file(path) and (path.is_file() or not is_glob(path_text)):
        if not path.is_file():
            raise AnnotationError(f"{where}: video {path} not found")
        record.update(folder=frame_glob(output_dir, f"*{VIDEO_FRAME_SUFFIX}").as_posix(), num_frames=0)
        # a frame glob under the file itself matches nothing, so the video is decoded into that suffix; its frames
        # are counted when decoded
        return VideoEntry(record, frame_glob(path, f"*{VIDEO_FRAME_SUFFIX}"), output_dir, video_file=path)
    frames = _frames(path, pattern)
    if frames is None:
        hint = "; a glob matches a literal '[' written as '[[]'" if "[" in path_text and not path.exists() else ""
        raise AnnotationError(f"{where}: {path} is neither a video file nor a folder or glob of frames "
                              f"({', '.join(IMAGE_SUFFIXES)}){hint}")
    source, suffix = frames
    record.update(folder=frame_glob(output_dir, f"*{suffix}").as_posix(), num_frames=count_frames(source))
    return VideoEntry(record, source, output_dir)


def _signer(row: dict[str, str]) -> str:
    """The row's signer, UNKNOWN_SIGNER when the column is absent or empty."""
    return (row.get("signer") or "").strip() or UNKNOWN_SIGNER


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
    seen: dict[str, tuple[str, int]] = {}
    for line_number, row in enumerate(reader, start=2):
        where = f"{path}:{line_number}"
        if None in row or any(row[name] is None for name in MANIFEST_COLUMNS):
            raise AnnotationError(f"{where}: expected {len(columns)} comma-separated fields")
        fileid, split = row["id"].strip(), row["split"].strip()
        if not fileid:
            raise AnnotationError(f"{where}: empty id")
        clash = id_clash(fileid, line_number, seen)
        if clash is not None:
            raise AnnotationError(f"{where}: {clash}")
        if split not in splits:
            raise AnnotationError(f"{where}: split {split!r} is not one of {', '.join(MANIFEST_SPLITS)}")
        if not row["glosses"].split():
            raise AnnotationError(f"{where}: video {fileid!r} has no glosses")
        if "/" in fileid or "\\" in fileid or fileid in (".", ".."):
            raise AnnotationError(f"{where}: id {fileid!r} must not contain a path separator")
        problem = video_problem(fileid, _signer(row), row["glosses"].split())
        if problem is not None:
            raise AnnotationError(f"{where}: {problem}")
        splits[split].append(_entry(row, split, path.parent, where, len(splits[split])))
    if not splits["train"]:
        raise AnnotationError(f"{path}: no row of the train split")
    return {split: entries for split, entries in splits.items() if entries}
