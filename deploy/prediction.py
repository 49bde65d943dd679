"""What prediction reads and writes, whichever runtime runs the network (PyTorch in seq_scripts.predict, ONNX
Runtime in deploy/onnx_predict.py): the inputs a user names, the clip padded as the collate pads one clip, and
per input <name>.json (glosses with frame spans and seconds), <name>.alignment.png and one predictions.ctm.
Imports no torch."""
from __future__ import annotations

import glob
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from dataset.frames import (frame_glob, glob_root, is_glob, is_video_file, list_frame_files, read_frames,
                            read_video_file)
from decoding.ctc_decoder import DecodedSequence
from evaluation.alignment_figure import save_alignment_picture
from evaluation.ctm import ctm_line
from utils.io import write_json_atomic, write_text_atomic
from utils.kernel_spec import pad_to_stride
from utils.work_dir import PREDICTIONS_CTM

logger = logging.getLogger("slowfastsign")


def expand_inputs(inputs: Sequence[str]) -> list[Path]:
    """Videos, frame folders, frame globs, or text files listing them (one per line). A frame glob whose
    files lie in several folders (`clips/*/*.png`) is one input per folder, each folder a video."""
    expanded: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.suffix == ".txt" and path.is_file():
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
            expanded += expand_inputs([line for line in lines if line and not line.startswith("#")])
        elif is_glob(path.parent):
            folders = sorted({Path(match).parent for match in glob.glob(item) if Path(match).is_file()}, key=str)
            expanded += [frame_glob(folder, path.name) for folder in folders] or [path]
        else:
            expanded.append(path)
    return expanded


def load_input_frames(path: Path) -> np.ndarray:
    """T x H x W x 3 RGB frames of a video file, a frame folder or a frame glob."""
    if is_video_file(path):
        return read_video_file(path)
    return read_frames(list_frame_files(path), str(path))


def prediction_name(path: Path, taken: set[str]) -> str:
    """The output name of one input: a video's stem, a frame folder's (or glob's) folder name, and for
    PHOENIX's numbered camera folder (`<id>/1/*.png`) the video id above it; made unique among `taken`
    (`_2`, `_3`, ...) so that no prediction overwrites another. The name is added to `taken`."""
    if is_video_file(path):
        name = path.stem
    else:
        folder = glob_root(path)
        name = folder.parent.name if folder.name.isdigit() and folder.parent.name else folder.name
    unique, count = name, 1
    while unique in taken:
        count += 1
        unique = f"{name}_{count}"
    taken.add(unique)
    return unique


def pad_clip(clip: np.ndarray, left_pad: int, stride: int) -> np.ndarray:
    """One clip (T x H x W x 3) padded as dataset.collate.PadCollate pads a batch of it alone: `left_pad` copies
    of its first frame before it, copies of its last frame after it up to ceil(T / stride) * stride + 2 * left_pad."""
    total = pad_to_stride(len(clip), left_pad, stride)
    return np.concatenate([np.repeat(clip[:1], left_pad, axis=0), clip,
                           np.repeat(clip[-1:], total - left_pad - len(clip), axis=0)])


class PredictionWriter:
    """Writes each recognised input's files into `out_dir` as it comes, and predictions.ctm at the end."""

    def __init__(self, out_dir: Path, vocabulary: Sequence[str], fps: float, pictures: bool) -> None:
        self.out_dir, self.vocabulary, self.fps, self.pictures = out_dir, vocabulary, fps, pictures
        self.ctm_lines: list[str] = []
        self.results: list[dict] = []

    def add(self, path: Path, name: str, frames: np.ndarray, decoded: DecodedSequence, stride: int,
            posteriors: np.ndarray | None) -> dict:
        """One input: `stride` input frames per output step; `posteriors` (T' x C) for its picture."""
        segments = []
        for gloss, (start, end) in zip(decoded.glosses, decoded.spans):
            first, last = start * stride, min(end * stride, len(frames)) - 1
            segments.append({
                "gloss": gloss, "start_frame": first, "end_frame": max(first, last),
                "start_s": round(first / self.fps, 3), "end_s": round((max(first, last) + 1) / self.fps, 3),
            })
            self.ctm_lines.append(ctm_line(name, first / self.fps, (max(first, last) + 1 - first) / self.fps, gloss,
                                           decimals=3))
        result = {"input": str(path), "num_frames": int(len(frames)), "glosses": decoded.glosses,
                  "sentence": " ".join(decoded.glosses), "segments": segments}
        write_json_atomic(self.out_dir / f"{name}.json", result)
        if self.pictures and posteriors is not None:
            save_alignment_picture(self.out_dir, name, frames, posteriors, decoded, self.vocabulary, stride)
        self.results.append(result)
        logger.info("%s: %s", path, result["sentence"] or "(nothing recognised)")
        return result

    def finish(self) -> list[dict]:
        write_text_atomic(self.out_dir / PREDICTIONS_CTM, "".join(self.ctm_lines))
        return self.results
