"""Readable outputs of an error analysis: Markdown tables and matplotlib charts (PNG)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from evaluation.error_analysis import Comparison, ErrorAnalysis, Rate  # noqa: E402
from utils.io import atomic_open, write_text_atomic  # noqa: E402

TOP = 20
CONFUSED = 30


def _rate_row(label: str, rate: Rate) -> str:
    return (f"| {label} | {rate.sentences} | {rate.words} | {rate.wer:.2f} | {rate.substitutions} | {rate.deletions} "
            f"| {rate.insertions} |")


def markdown(analysis: ErrorAnalysis, comparison: Comparison | None = None) -> str:
    """The analysis as Markdown tables (the top 20 of each list)."""
    rate_header = "| {} | sentences | ref. words | WER % | sub | del | ins |\n|---|---|---|---|---|---|---|"
    lines = [f"# Error analysis: {analysis.name} ({analysis.tool} scorer)", "",
             rate_header.format("set"), _rate_row("all", analysis.total), "",
             "## Most error-prone glosses", "",
             "| gloss | in references | correct | substituted | deleted | inserted | most often replaced by |",
             "|---|---|---|---|---|---|---|"]
    for gloss, stats in analysis.most_error_prone(TOP):
        replaced = ", ".join(f"{hyp} ({n})" for hyp, n in stats.substituted_by.most_common(3))
        lines.append(f"| {gloss} | {stats.references} | {stats.correct} | {stats.substituted} | {stats.deleted} "
                     f"| {stats.inserted} | {replaced} |")
    lines += ["", "## Most frequent substitutions", "", "| reference | recognised as | count |", "|---|---|---|"]
    lines += [f"| {ref} | {hyp} | {n} |" for (ref, hyp), n in analysis.substitution_pairs.most_common(TOP)]
    lines += ["", "## WER per signer", "", rate_header.format("signer")]
    lines += [_rate_row(signer, rate) for signer, rate in analysis.signers.items()]
    lines += ["", "## WER by reference length (glosses)", "", rate_header.format("length")]
    lines += [_rate_row(bucket, rate) for bucket, rate in analysis.lengths.items()]
    if comparison is not None:
        lines += ["", "## Compared with the other system", "",
                  f"WER {comparison.wer_a:.2f}% here against {comparison.wer_b:.2f}%: difference "
                  f"{comparison.difference:+.2f} points, 95% interval [{comparison.interval[0]:+.2f}, "
                  f"{comparison.interval[1]:+.2f}], p = {comparison.p_value:.3f} (paired bootstrap, "
                  f"{comparison.resamples} resamples, seed {comparison.seed}).", "",
                  f"Sentences only this system gets right: {len(comparison.only_a_correct)}; only the other: "
                  f"{len(comparison.only_b_correct)}."]
    return "\n".join(lines) + "\n"


def _rates_figure(rates: dict[str, Rate], title: str, xlabel: str) -> Figure:
    figure, axes = plt.subplots(figsize=(max(5.0, 0.6 * len(rates) + 2), 3.6))
    labels = list(rates)
    values = [rates[label].wer for label in labels]
    bars = axes.bar(range(len(labels)), values, color="#4C72B0")
    axes.bar_label(bars, labels=[f"{v:.1f}" for v in values], fontsize=8)
    axes.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 6 else 0, ha="right" if len(labels) > 6 else "center")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("WER (%)")
    figure.tight_layout()
    return figure


def signer_figure(analysis: ErrorAnalysis) -> Figure:
    return _rates_figure(analysis.signers, f"WER per signer ({analysis.name})", "signer")


def length_figure(analysis: ErrorAnalysis) -> Figure:
    return _rates_figure(analysis.lengths, f"WER by sentence length ({analysis.name})",
                         "reference length (glosses)")


def gloss_figure(analysis: ErrorAnalysis, count: int = TOP) -> Figure:
    """Stacked substitution / deletion / insertion counts of the most error-prone glosses (those with errors)."""
    top = [(gloss, stats) for gloss, stats in analysis.most_error_prone(count) if stats.errors]
    names = [gloss for gloss, _ in top]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.45 * len(names) + 2), 4.2))
    bottom = np.zeros(len(names))
    for label, values, color in (("substituted", [s.substituted for _, s in top], "#DD8452"),
                                 ("deleted", [s.deleted for _, s in top], "#C44E52"),
                                 ("inserted", [s.inserted for _, s in top], "#8172B3")):
        axes.bar(range(len(names)), values, bottom=bottom, label=label, color=color)
        bottom += np.asarray(values, dtype=float)
    axes.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(f"Most error-prone glosses ({analysis.name})")
    axes.set_xlabel("gloss")
    axes.set_ylabel("errors (count)")
    axes.legend()
    figure.tight_layout()
    return figure


def confusion_figure(analysis: ErrorAnalysis, count: int = CONFUSED) -> Figure:
    """Substitution counts among the `count` glosses most involved in substitutions (reference x recognised)."""
    involvement: dict[str, int] = {}
    for (ref, hyp), n in analysis.substitution_pairs.items():
        involvement[ref] = involvement.get(ref, 0) + n
        involvement[hyp] = involvement.get(hyp, 0) + n
    names = sorted(involvement, key=lambda g: (-involvement[g], g))[:count]
    index = {gloss: k for k, gloss in enumerate(names)}
    matrix = np.zeros((len(names), len(names)))
    for (ref, hyp), n in analysis.substitution_pairs.items():
        if ref in index and hyp in index:
            matrix[index[ref], index[hyp]] += n
    size = max(4.0, 0.28 * len(names) + 2.5)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    if not names:
        axes.text(0.5, 0.5, "no substitutions", ha="center", va="center", transform=axes.transAxes)
        matrix = np.zeros((1, 1))
    image = axes.imshow(matrix, cmap="viridis", aspect="auto")
    axes.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    axes.set_yticks(range(len(names)), names, fontsize=7)
    axes.set_title(f"Confusions among the {len(names)} most confused glosses ({analysis.name})")
    axes.set_xlabel("recognised as")
    axes.set_ylabel("reference gloss")
    figure.colorbar(image, ax=axes, label="substitutions (count)")
    figure.tight_layout()
    return figure


FIGURES = {"wer_per_signer": signer_figure, "wer_by_length": length_figure, "error_prone_glosses": gloss_figure,
           "confusions": confusion_figure}


def save_figure(figure: Figure, path: Path) -> None:
    """Write a PNG atomically and free the figure."""
    with atomic_open(path, "wb", encoding=None) as handle:
        figure.savefig(handle, format="png", dpi=110)
    plt.close(figure)


def write_outputs(analysis: ErrorAnalysis, out_dir: Path, comparison: Comparison | None = None) -> list[Path]:
    """analysis.json is written by the caller; this writes analysis.md and the four charts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "analysis.md", markdown(analysis, comparison))
    written = [out_dir / "analysis.md"]
    for name, build in FIGURES.items():
        save_figure(build(analysis), out_dir / f"{name}.png")
        written.append(out_dir / f"{name}.png")
    return written
