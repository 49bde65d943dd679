"""Command line: error analysis of a CTM, e.g.

    python -m evaluation.analyse --hyp out.ctm --ref dev.stm --dataset phoenix2014 --out-dir analysis/ \\
        [--tool python|sclite] [--compare other.ctm]

Writes analysis.json (totals equal to the WER report's S/D/I/N), analysis.md and
four charts (WER per signer, WER by sentence length, the most error-prone glosses,
the confusions among the most confused glosses); with --compare, the sentences
each system alone gets right and a paired bootstrap test of the WER difference.
"""
from __future__ import annotations

from pathlib import Path

from evaluation.analysis_charts import write_outputs
from evaluation.error_analysis import Comparison, ErrorAnalysis, analyse, compare
from evaluation.normalise import DATASET_NORMALISATION
from evaluation.report import ScoreReport
from evaluation.scoring import SCORING_TOOLS, score
from utils.cli import ArgumentParser, run_command
from utils.io import write_json_atomic


def write_analysis(report: ScoreReport, out_dir: Path, comparison: Comparison | None = None) -> ErrorAnalysis:
    """analysis.json, analysis.md and the charts of `report` in `out_dir`."""
    analysis = analyse(report)
    content = analysis.to_json()
    if comparison is not None:
        content["comparison"] = comparison.to_json()
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / "analysis.json", content)
    write_outputs(analysis, out_dir, comparison)
    return analysis


def main(argv: list[str] | None = None) -> int:
    return run_command(_analyse, argv)


def _analyse(argv: list[str]) -> int:
    parser = ArgumentParser(prog="python -m evaluation.analyse", description=__doc__.split("\n")[0])
    parser.add_argument("--hyp", required=True, help="hypothesis CTM")
    parser.add_argument("--ref", required=True, help="reference STM (its speaker field gives the signer)")
    parser.add_argument("--dataset", default="phoenix2014", choices=sorted(DATASET_NORMALISATION))
    parser.add_argument("--tool", default="python", choices=sorted(SCORING_TOOLS), help="whose alignment to analyse")
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--compare", default=None, help="a second CTM over the same references")
    parser.add_argument("--resamples", type=int, default=1000, help="paired bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    args = parser.parse_args(argv)
    report = score(args.hyp, args.ref, tool=args.tool, dataset=args.dataset, use_sclite=False)
    comparison = None
    if args.compare:
        other = score(args.compare, args.ref, tool=args.tool, dataset=args.dataset, use_sclite=False)
        comparison = compare(report, other, args.resamples, args.seed, names=(args.hyp, args.compare))
    analysis = write_analysis(report, args.out_dir, comparison)
    print(f"{report.summary_line()}\nanalysis of {len(analysis.glosses)} glosses and {len(analysis.signers)} "
          f"signer(s) written to {args.out_dir} (analysis.json, analysis.md, 4 charts)")
    if comparison is not None:
        print(f"versus {args.compare}: {comparison.difference:+.2f} WER points, 95% interval "
              f"[{comparison.interval[0]:+.2f}, {comparison.interval[1]:+.2f}], p = {comparison.p_value:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
