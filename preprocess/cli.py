"""Command line: one preprocessing command for PHOENIX-2014, PHOENIX-2014-T, CSL-Daily and CSL.

    python -m preprocess --dataset phoenix2014 --dataset-root <raw corpus> \\
        --frames-output <resized frame root> [--output preprocess/phoenix2014] [--workers N]

Writes <output>/gloss_dict.json, <output>/<split>_info.jsonl and
<output>/<dataset>-groundtruth-<split>.stm, and the resized frames under
<frames-output> so that `<frames-output>/<record folder>` finds them.
"""
from __future__ import annotations

import os
from pathlib import Path

from dataset.frame_layout import check_output_root, write_layout
from preprocess.corpora import DATASETS, raw_frame_root, read_corpus
from preprocess.metadata import write_metadata
from preprocess.resize_frames import resize_all
from utils.cli import ArgumentParser, run_command
from utils.io import write_text_atomic

PROBLEMS_FILE = "preprocess_problems.txt"


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m preprocess",
        description="Build the gloss dictionary, per-split info files and ground-truth STMs of a corpus "
        "from its released annotation files, and resize its frames. The gloss dictionary is always "
        "rebuilt from the annotations and compared with the shipped reference (preprocess/meta/<dataset>); "
        "on the full released corpora they are identical. PHOENIX-2014 STMs are the corpus's own "
        "evaluation STMs (its evaluation/ folder, else the shipped copy when the videos match); any other "
        "corpus laid out like PHOENIX-2014 (e.g. the synthetic one) gets STMs generated from its labels.",
    )
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--dataset-root", required=True, type=Path,
                        help="raw corpus directory, e.g. .../phoenix-2014-multisigner or .../PHOENIX-2014-T")
    parser.add_argument("--output", type=Path, default=None, help="metadata directory (default preprocess/<dataset>)")
    parser.add_argument("--frames-output", type=Path, default=None,
                        help="root of the resized frames (required unless --skip-frames)")
    parser.add_argument("--output-size", type=int, default=256, help="side of the square output frames")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel resizing processes")
    parser.add_argument("--skip-frames", action="store_true", help="write the metadata only")
    parser.add_argument("--annotation-file", type=Path, default=None, help="CSL-Daily: the label file (video_map.txt)")
    parser.add_argument("--split-file", type=Path, default=None, help="CSL-Daily: the split file (split_1.txt)")
    parser.add_argument("--use-shipped-gloss-dict", action="store_true",
                        help="write the shipped reference dictionary (class indices of released checkpoints) "
                        "even when the annotations cover only part of the corpus")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the preprocessing (0 on success; one `error:` line and a non-zero code otherwise).

    Missing or unreadable frames do not stop the run: they are listed at the
    end and saved to <output>/preprocess_problems.txt.
    """
    return run_command(_preprocess, argv)


def _preprocess(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    output = args.output or Path(__file__).resolve().parent / args.dataset
    if not args.skip_frames and args.frames_output is None:
        parser.error("--frames-output is required unless --skip-frames is given")
    splits = read_corpus(args.dataset, args.dataset_root, args.annotation_file, args.split_file)
    problems: list[str] = []
    if not args.skip_frames:
        check_output_root(args.frames_output, args.dataset)
        args.frames_output.mkdir(parents=True, exist_ok=True)
        write_layout(args.frames_output, args.dataset, args.output_size)
        entries = [entry for split_entries in splits.values() for entry in split_entries]
        results = resize_all(entries, args.frames_output, args.output_size, args.workers)
        problems = [problem for result in results for problem in result.problems]
        written = {result.fileid: result.written for result in results}
        for entry in entries:
            if entry.video_file is not None and entry.record["num_frames"] == 0:
                entry.record["num_frames"] = written.get(str(entry.record["fileid"]), 0)
        done = sum(result.skipped for result in results)
        print(f"frames: {len(results) - done} videos resized, {done} already done")
    prefix = str(args.frames_output if not args.skip_frames else raw_frame_root(args.dataset, args.dataset_root))
    notes = write_metadata(args.dataset, splits, output, args.dataset_root, prefix, args.use_shipped_gloss_dict)
    for note in notes:
        print(note)
    if problems:
        write_text_atomic(output / PROBLEMS_FILE, "\n".join(problems) + "\n")
        print(f"{len(problems)} frame problems (missing or unreadable), listed in {output / PROBLEMS_FILE}:")
        for problem in problems[:20]:
            print(f"  {problem}")
    print(f"metadata written to {output}")
    return 0
