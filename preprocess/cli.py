"""Command line: one preprocessing command for PHOENIX-2014, PHOENIX-2014-T, CSL-Daily, CSL and a corpus of
one's own described by a manifest (preprocess/manifest.py).

    python -m preprocess --dataset phoenix2014 --dataset-root <raw corpus> \\
        --frames-output <resized frame root> [--output preprocess/phoenix2014] [--workers N]
    python -m preprocess --dataset custom --manifest corpus.csv --output preprocess/<name> \\
        --frames-output <resized frame root> [--workers N]

Writes <output>/gloss_dict.json, <output>/<split>_info.jsonl and
<output>/<dataset>-groundtruth-<split>.stm, and the resized frames under
<frames-output> so that `<frames-output>/<record folder>` finds them.
"""
from __future__ import annotations

import os
from pathlib import Path

from utils.cli import ArgumentParser, run_command
from utils.config.schema import DATASETS


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m preprocess",
        description="Build the gloss dictionary, per-split info files and ground-truth STMs of a corpus "
        "from its released annotation files, and resize its frames. The gloss dictionary is always "
        "rebuilt from the annotations and compared with the shipped reference (preprocess/meta/<dataset>); "
        "on the full released corpora they are identical. PHOENIX-2014 STMs are the corpus's own "
        "evaluation STMs (its evaluation/ folder, else the shipped copy when the videos match); any other "
        "corpus laid out like PHOENIX-2014 (e.g. the synthetic one), and a custom corpus described by a "
        "--manifest, get STMs generated from their labels.",
    )
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--dataset-root", type=Path, default=None,
                        help="raw corpus directory, e.g. .../phoenix-2014-multisigner or .../PHOENIX-2014-T "
                        "(required for the known corpora)")
    parser.add_argument("--manifest", type=Path, default=None,
                        help="--dataset custom: UTF-8 CSV with the header id,split,path,glosses[,signer]; split is "
                        "train/dev/test, path a video, a frame folder or a frame glob (relative to the manifest), "
                        "glosses space-separated in any script")
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
    if not args.skip_frames and args.frames_output is None:
        parser.error("--frames-output is required unless --skip-frames is given")
    if args.dataset == "custom":
        if args.manifest is None:
            parser.error("--dataset custom needs --manifest corpus.csv")
        if args.skip_frames:
            parser.error("--dataset custom writes the frames the info files name: give --frames-output, not --skip-frames")
        args.annotation_file, args.dataset_root = args.manifest, args.manifest.parent
    elif args.dataset_root is None:
        parser.error(f"--dataset {args.dataset} needs --dataset-root (the raw corpus directory)")
    from preprocess.pipeline import PROBLEMS_FILE, preprocess_corpus  # after parsing: --help answers at once

    summary = preprocess_corpus(
        args.dataset, args.dataset_root, args.output, None if args.skip_frames else args.frames_output,
        args.output_size, args.workers, args.annotation_file, args.split_file, args.use_shipped_gloss_dict)
    if not args.skip_frames:
        print(f"frames: {summary.resized} videos resized, {summary.already_done} already done")
    for note in summary.notes:
        print(note)
    if summary.problems:
        print(f"{len(summary.problems)} frame problems (missing or unreadable), listed in "
              f"{summary.output / PROBLEMS_FILE}:")
        for problem in summary.problems[:20]:
            print(f"  {problem}")
    print(f"metadata written to {summary.output}")
    return 0
