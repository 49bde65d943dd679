"""Command line: score any CTM against an STM, e.g. `python -m evaluation --hyp h.ctm --ref r.stm`.

A package entry point rather than `evaluation/score.py`, so that no module shadows
the `evaluation.score` function.
"""
from __future__ import annotations

import os
import sys

from evaluation.normalise import DATASET_NORMALISATION
from evaluation.scoring import score
from utils.cli import ArgumentParser, run_command


def main(argv: list[str] | None = None) -> int:
    """Print the summary line (and the note); one `error:` line and a non-zero exit on unreadable input."""
    return run_command(_evaluate, argv)


def _evaluate(argv: list[str]) -> int:
    parser = ArgumentParser(prog="python -m evaluation", description="Score a hypothesis CTM against a reference STM.")
    parser.add_argument("--hyp", required=True, help="hypothesis CTM (fileid channel start duration gloss)")
    parser.add_argument("--ref", required=True, help="reference STM")
    parser.add_argument("--tool", default="python", choices=["python", "sclite"],
                        help="python: the official Python scorer (the official configs' default); "
                             "sclite: NIST sclite's rules (the binary is run too when found)")
    parser.add_argument("--dataset", default="phoenix2014", choices=sorted(DATASET_NORMALISATION),
                        help="which hypothesis normalisation to apply ('none' for raw scoring)")
    parser.add_argument("--out-dir", default=None, help="where reports (and sclite's outputs) are written")
    parser.add_argument("--sclite", default=None, help="sclite binary (default: PATH, then /usr/lib/sctk/bin/sclite)")
    parser.add_argument("--name", default="", help="report name (default: the CTM's file name)")
    parser.add_argument("--scope", default="ctm-line", choices=["ctm-line", "sentence"],
                        help="normalise per CTM line as the official script does, or per sentence")
    args = parser.parse_args(argv)
    if args.sclite and not (os.path.isfile(args.sclite) and os.access(args.sclite, os.X_OK)):
        parser.error(f"--sclite {args.sclite} is not an executable file (omit it to search PATH and "
                     f"/usr/lib/sctk/bin/sclite, or install sctk)")
    report = score(args.hyp, args.ref, tool=args.tool, dataset=args.dataset, out_dir=args.out_dir, sclite=args.sclite,
                   name=args.name, scope=args.scope)
    print(report.summary_line())
    if report.note:
        print(f"note: {report.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
