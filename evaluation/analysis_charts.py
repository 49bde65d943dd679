"""Readable outputs of an error analysis: Markdown tables and matplotlib charts (PNG)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file-only backend)
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

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
    lines += ["", "## Most frequent substitutions", ""]
    if analysis.substitution_pairs:
        lines += ["| reference | recognised as | count |", "|---|---|---|"]
        lines += [f"| {ref} | {hyp} | {n} |" for (ref, hyp), n in analysis.substitution_pairs.most_common(TOP)]
    else:
        lines.append("No substitutions.")
    lines += ["", "## WER per signer", "", rate_header.format("signer")]
    lines += [_rate_row(signer, rate) for signer, rate in analysis.signers.items()]
    lines += ["", "## WER by reference length (glosses)", "", rate_header.format("length")]
    lines += [_rate_row(bucket, rate) for bucket, rate in analysis.lengths.items()]
    if comparison is not None:
        lines += ["", f"## Compared with {comparison.system_b}", "",
                  f"WER {comparison.wer_a:.2f}% ({comparison.system_a}) against {comparison.wer_b:.2f}% "
                  f"({comparison.system_b}): difference "
                  f"{comparison.difference:+.2f} points, 95% interval [{comparison.interval[0]:+.2f}, "
                  f"{comparison.interval[1]:+.2f}], p = {comparison.p_value:.3f} (paired bootstrap, "
                  f"{comparison.resamples} resamples, seed {comparison.seed}).", "",
                  f"Sentences only {comparison.system_a} gets right: {len(comparison.only_a_correct)}; only "
                  f"{comparison.system_b}: {len(comparison.only_b_correct)}."]
    return "\n".join(lines) + "\n"


MIN_BAR_SLOTS = 6  # a chart of fewer bars keeps this many slots, so that one bar does not fill the plot


def _bar_axes(count: int, height: float) -> tuple[Figure, plt.Axes]:
    """A figure whose width grows with the number of bars, and axes with room for at least MIN_BAR_SLOTS."""
    figure, axes = plt.subplots(figsize=(max(6.0, 0.45 * count + 2.5), height))
    half = max(count, MIN_BAR_SLOTS) / 2
    axes.set_xlim((count - 1) / 2 - half, (count - 1) / 2 + half)  # few bars stand in the middle
    return figure, axes


def _headroom(axes: plt.Axes, top: float) -> None:
    """Space above the highest bar for its label (bars never touch the frame)."""
    axes.set_ylim(0, max(top, 1.0) * 1.18)


def _rates_figure(rates: dict[str, Rate], title: str, xlabel: str) -> Figure:
    labels = list(rates)
    figure, axes = _bar_axes(len(labels), 3.8)
    values = [rates[label].wer for label in labels]
    bars = axes.bar(range(len(labels)), values, width=0.6, color="#4C72B0")
    axes.bar_label(bars, labels=[f"{v:.1f}" for v in values], fontsize=9, padding=2)
    rotate = len(labels) > 6
    axes.set_xticks(range(len(labels)), labels, rotation=30 if rotate else 0, ha="right" if rotate else "center")
    _headroom(axes, max(values, default=0.0))
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
    figure, axes = _bar_axes(len(names), 4.4)
    bottom = np.zeros(len(names))
    for label, values, color in (("substituted", [s.substituted for _, s in top], "#DD8452"),
                                 ("deleted", [s.deleted for _, s in top], "#C44E52"),
                                 ("inserted", [s.inserted for _, s in top], "#8172B3")):
        axes.bar(range(len(names)), values, width=0.6, bottom=bottom, label=label, color=color)
        bottom += np.asarray(values, dtype=float)
    if not names:
        axes.text(0.5, 0.5, "no errors", ha="center", va="center", transform=axes.transAxes)
    axes.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=9)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    _headroom(axes, float(bottom.max(initial=0.0)))
    axes.set_title(f"Most error-prone glosses ({analysis.name})")
    axes.set_xlabel("gloss")
    axes.set_ylabel("errors (count)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)  # beside the bars, never over them
    figure.tight_layout()
    return figure


def confusion_figure(analysis: ErrorAnalysis, count: int = CONFUSED) -> Figure:
    """Substitution counts among the `count` glosses most involved in substitutions (reference x recognised),
    written in their cells."""
    involvement: dict[str, int] = {}
    for (ref, hyp), n in analysis.substitution_pairs.items():
        involvement[ref] = involvement.get(ref, 0) + n
        involvement[hyp] = involvement.get(hyp, 0) + n
    names = sorted(involvement, key=lambda g: (-involvement[g], g))[:count]
    if not names:
        figure, axes = plt.subplots(figsize=(6.0, 2.5))
        axes.text(0.5, 0.5, f"No substitutions in {analysis.name}", ha="center", va="center", fontsize=12,
                  transform=axes.transAxes)
        axes.set_axis_off()
        return figure
    index = {gloss: k for k, gloss in enumerate(names)}
    matrix = np.zeros((len(names), len(names)), dtype=int)
    for (ref, hyp), n in analysis.substitution_pairs.items():
        if ref in index and hyp in index:
            matrix[index[ref], index[hyp]] += n
    size = max(5.0, 0.32 * len(names) + 3.0)
    figure, axes = plt.subplots(figsize=(size + 1.2, size))
    image = axes.imshow(matrix, cmap="Blues", aspect="auto", vmin=0, vmax=max(int(matrix.max()), 1))
    threshold = matrix.max() / 2
    for (row, column), value in np.ndenumerate(matrix):
        if value:
            axes.text(column, row, str(value), ha="center", va="center", fontsize=7 if len(names) > 15 else 9,
                      color="white" if value > threshold else "black")
    axes.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    axes.set_yticks(range(len(names)), names, fontsize=8)
    axes.set_title(f"Confusions among the {len(names)} most confused glosses\n({analysis.name})", fontsize=11)
    axes.set_xlabel("recognised as")
    axes.set_ylabel("reference gloss")
    bar = figure.colorbar(image, ax=axes, label="substitutions (count)")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
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
