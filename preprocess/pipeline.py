"""Preprocessing as a function: metadata (gloss dictionary, info files, STMs) and resized frames of a corpus.

`python -m preprocess` is a thin command line over `preprocess_corpus`; the demo's
synthetic corpus calls it directly.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dataset.frame_layout import check_output_root, write_layout
from preprocess.corpora import raw_frame_root, read_corpus
from preprocess.metadata import write_metadata
from preprocess.resize_frames import resize_all
from utils.io import write_text_atomic

PROBLEMS_FILE = "preprocess_problems.txt"
PREPROCESS_DIR = Path(__file__).resolve().parent


@dataclass
class PreprocessSummary:
    """What a preprocessing run did; `problems` are missing or unreadable frames (also in PROBLEMS_FILE)."""

    output: Path
    resized: int = 0
    already_done: int = 0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def preprocess_corpus(dataset: str, dataset_root: Path, output: Path | None = None, frames_output: Path | None = None,
                      output_size: int = 256, workers: int = os.cpu_count() or 1,
                      annotation_file: Path | None = None, split_file: Path | None = None,
                      use_shipped_gloss_dict: bool = False) -> PreprocessSummary:
    """Write <output>/gloss_dict.json, <split>_info.jsonl and the ground-truth STMs, and (unless
    `frames_output` is None) the resized frames, resumably: finished videos are skipped. Missing or
    unreadable frames do not stop the run; they are returned and listed in <output>/PROBLEMS_FILE."""
    output = output or PREPROCESS_DIR / dataset
    splits = read_corpus(dataset, dataset_root, annotation_file, split_file)
    summary = PreprocessSummary(output)
    if frames_output is not None:
        check_output_root(frames_output, dataset)
        frames_output.mkdir(parents=True, exist_ok=True)
        write_layout(frames_output, dataset, output_size)
        entries = [entry for split_entries in splits.values() for entry in split_entries]
        results = resize_all(entries, frames_output, output_size, workers)
        summary.problems = [problem for result in results for problem in result.problems]
        frames = {result.fileid: result.frames for result in results}
        for entry in entries:  # a video decoded now or by an earlier run: as many frames as it has in the output
            if entry.video_file is not None and entry.record["num_frames"] == 0:
                entry.record["num_frames"] = frames.get(str(entry.record["fileid"]), 0)
        summary.already_done = sum(result.skipped for result in results)
        summary.resized = len(results) - summary.already_done
    prefix = str(frames_output if frames_output is not None else raw_frame_root(dataset, dataset_root))
    summary.notes = write_metadata(dataset, splits, output, dataset_root, prefix, use_shipped_gloss_dict)
    if summary.problems:
        write_text_atomic(output / PROBLEMS_FILE, "\n".join(summary.problems) + "\n")
    return summary
