"""Readers of each corpus's own annotation files, in their released layouts.

Each reader returns, per split, the info records (the same fields as the
official preprocessing) and where every video's raw frames are, so that the
metadata and the frame resizing are driven by one list.
"""
from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from dataset.frames import VIDEO_SUFFIXES, frame_glob, is_glob
from dataset.paths import SHIPPED_METADATA_DIR
from utils.config.schema import DATASETS
from utils.errors import UserError

SPLITS = {"phoenix2014": ("dev", "test", "train"), "phoenix2014-T": ("dev", "test", "train"),
          "CSL-Daily": ("train", "dev", "test"), "CSL": ("train", "dev")}
PHOENIX_FEATURES = "features/fullFrame-210x260px"
# The released PHOENIX-2014 train CSV has 5672 rows; the official preprocessing drops
# data row 2390 (0-based, after the header) as broken. Only a file of exactly that
# size is the released one, so other files (e.g. the synthetic corpus) keep every row.
PHOENIX14_TRAIN_ROWS = 5672
PHOENIX14_BROKEN_TRAIN_ROWS = (2390,)


class AnnotationError(UserError, ValueError):
    """An annotation file is missing or malformed; the message names the file and line."""


@dataclass
class VideoEntry:
    """One video: its info record, where its raw frames are, and where the resized ones go."""

    record: dict
    source: Path  # a glob of frame files (literal folders in it escaped: dataset.frames.frame_glob), or a directory
    output_dir: Path  # relative to the frames output root
    video_file: Path | None = None  # decoded when there are no frames


def count_frames(source: Path) -> int:
    """Number of files the frame glob (or directory) matches; 0 when missing."""
    if is_glob(source):
        return len(glob.glob(str(source)))
    return len([p for p in source.iterdir() if p.is_file()]) if source.is_dir() else 0


def read_lines(path: Path) -> list[str]:
    """Lines of a text annotation file, line endings kept (the official `original_info` keeps them)."""
    if not path.is_file():
        raise AnnotationError(f"{path}: annotation file not found")
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.readlines()


def split_fields(line: str, count: int, path: Path, line_number: int) -> list[str]:
    """Split one `|`-separated row, requiring exactly `count` fields."""
    fields = line.rstrip("\r\n").split("|")
    if len(fields) != count:
        raise AnnotationError(f"{path}:{line_number}: expected {count} '|'-separated fields, found {len(fields)}")
    return fields


def first_existing(candidates: list[Path], what: str) -> Path:
    """The first path that exists, or an error listing where it was looked for."""
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise AnnotationError(f"{what} not found; looked for {', '.join(str(c) for c in candidates)}")


def read_phoenix_csv(path: Path, header: str, count: int) -> list[tuple[str, list[str]]]:
    """(raw row, fields) of a PHOENIX corpus CSV after checking its header; blank lines skipped."""
    lines = read_lines(path)
    if not lines or lines[0].strip() != header:
        raise AnnotationError(f"{path}: first line must be the header {header!r}")
    rows = []
    for line_number, line in enumerate(lines[1:], start=2):
        if line.strip():
            rows.append((line.rstrip("\r\n"), split_fields(line, count, path, line_number)))
    return rows


def phoenix2014(root: Path, split: str) -> list[VideoEntry]:
    """PHOENIX-2014: `annotations/manual/{split}.corpus.csv`, header `id|folder|signer|annotation`."""
    path = root / "annotations" / "manual" / f"{split}.corpus.csv"
    rows = read_phoenix_csv(path, "id|folder|signer|annotation", 4)
    if split == "train" and len(rows) == PHOENIX14_TRAIN_ROWS:
        rows = [row for i, row in enumerate(rows) if i not in PHOENIX14_BROKEN_TRAIN_ROWS]
    entries = []
    for index, (raw, (fileid, folder, signer, label)) in enumerate(rows):
        source = frame_glob(root / PHOENIX_FEATURES / split, folder)
        record = {"fileid": fileid, "folder": f"{split}/{folder}", "signer": signer, "label": label,
                  "num_frames": count_frames(source), "original_info": raw, "index": index}
        entries.append(VideoEntry(record, source, Path(split) / Path(folder).parent))
    return entries


def phoenix2014_t(root: Path, split: str) -> list[VideoEntry]:
    """PHOENIX-2014-T: `annotations/manual/PHOENIX-2014-T.{split}.corpus.csv`, 7 fields."""
    path = root / "annotations" / "manual" / f"PHOENIX-2014-T.{split}.corpus.csv"
    rows = read_phoenix_csv(path, "name|video|start|end|speaker|orth|translation", 7)
    entries = []
    for index, (raw, (name, video, _start, _end, speaker, orth, _translation)) in enumerate(rows):
        source = frame_glob(root / PHOENIX_FEATURES / split, video)
        record = {"fileid": name, "folder": f"{split}/{video}", "signer": speaker, "label": orth,
                  "num_frames": count_frames(source), "original_info": raw, "index": index}
        entries.append(VideoEntry(record, source, Path(split) / Path(video).parent))
    return entries


def find_video_file(stem: str, directories: list[Path]) -> Path | None:
    """A video called `stem` with a known suffix in one of `directories`, if any."""
    for directory in directories:
        for suffix in VIDEO_SUFFIXES:
            if (directory / f"{stem}{suffix}").is_file():
                return directory / f"{stem}{suffix}"
    return None


def csl_daily_splits(root: Path, annotation_file: Path | None, split_file: Path | None) -> dict[str, list[VideoEntry]]:
    """CSL-Daily: the label file `video_map.txt` (header, `index|name|length|gloss|char|word|postag`)
    and `split_1.txt` (header, `name|split`). Videos listed in no split go to train, as officially."""
    labels = annotation_file or first_existing(
        [root / "sentence_label" / "video_map.txt", root / "video_map.txt"], "CSL-Daily label file video_map.txt")
    splits_path = split_file or first_existing(
        [root / "sentence_label" / "split_1.txt", root / "split_1.txt", SHIPPED_METADATA_DIR / "CSL-Daily" / "split_1.txt"],
        "CSL-Daily split file split_1.txt")
    membership = {}
    for line_number, line in enumerate(read_lines(splits_path)[1:], start=2):
        if line.strip():
            name, split = split_fields(line.strip(), 2, splits_path, line_number)
            membership[name] = split
    frame_dirs = [root / "sentence" / "frames_512x512", root / "frames_512x512", root]
    video_dirs = [root / "sentence" / "video", root / "videos", root]
    entries: dict[str, list[VideoEntry]] = {split: [] for split in SPLITS["CSL-Daily"]}
    for line_number, line in enumerate(read_lines(labels)[1:], start=2):
        if not line.strip():
            continue
        _, name, length, gloss, _char, _word, _postag = split_fields(line.strip(), 7, labels, line_number)
        split = membership.get(name, "train")
        frames_dir = next((d / name for d in frame_dirs if (d / name).is_dir()), frame_dirs[0] / name)
        record = {"fileid": name, "folder": f"{name}/*.jpg", "signer": "unknown", "label": gloss,
                  "num_frames": int(length), "original_info": "|".join(line.split("|")[1:]),
                  "index": len(entries[split])}
        entries[split].append(VideoEntry(record, frame_glob(frames_dir, "*.jpg"), Path(name),
                                         find_video_file(name, video_dirs)))
    return entries


def csl(root: Path, split: str) -> list[VideoEntry]:
    """CSL: `{split}.txt`, lines `<video path>|<gloss sentence>`; the video path is the file id."""
    path = root / f"{split}.txt"
    if not path.is_file():
        path = SHIPPED_METADATA_DIR / "CSL" / f"{split}.txt"
    entries = []
    for line_number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        name, label = split_fields(line.strip(), 2, path, line_number)
        basename = name.rstrip("/").split("/")[-1]
        frames_dir = Path(name) if Path(name).is_dir() else root / basename
        record = {"fileid": name, "folder": f"{basename}/*.jpg", "signer": "unknown", "label": label,
                  "num_frames": count_frames(frame_glob(frames_dir, "*.jpg")), "original_info": line,
                  "index": len(entries)}
        entries.append(VideoEntry(record, frame_glob(frames_dir, "*.jpg"), Path(basename),
                                  find_video_file(basename, [root, root / "videos"])))
    return entries


def read_corpus(dataset: str, root: Path, annotation_file: Path | None = None,
                split_file: Path | None = None) -> dict[str, list[VideoEntry]]:
    """All splits of one corpus, in the official split order; `annotation_file` is CSL-Daily's label file or
    a custom corpus's manifest."""
    if dataset == "phoenix2014":
        return {split: phoenix2014(root, split) for split in SPLITS[dataset]}
    if dataset == "phoenix2014-T":
        return {split: phoenix2014_t(root, split) for split in SPLITS[dataset]}
    if dataset == "CSL-Daily":
        return csl_daily_splits(root, annotation_file, split_file)
    if dataset == "CSL":
        return {split: csl(root, split) for split in SPLITS[dataset]}
    if dataset == "custom":
        from preprocess.manifest import read_manifest

        if annotation_file is None:
            raise AnnotationError("--dataset custom needs --manifest corpus.csv (columns id,split,path,glosses[,signer])")
        return read_manifest(annotation_file)
    raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")


def raw_frame_root(dataset: str, root: Path) -> Path:
    """Where the raw frames live, so that `record['folder']` globbed under it finds them."""
    if dataset.startswith("phoenix"):
        return root / PHOENIX_FEATURES
    if dataset == "CSL-Daily":
        return next((d for d in (root / "sentence" / "frames_512x512", root / "frames_512x512") if d.is_dir()), root)
    return root
