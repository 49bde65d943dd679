"""How a training history is shown: TensorBoard scalars per epoch and training_curves.png."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluation.training_history import TrainingHistory
from utils.io import atomic_open


# per family, the figures drawn and written to TensorBoard: (key, label, line style)
FAMILY_FIGURES = {
    "wer": ("Word error rate (evaluated epochs)", "WER (%)", [("wer", "WER", "-"), ("conv_wer", "conv WER", "--")],
            ("blank_share", "length_ratio")),
    "translation": ("Translation (evaluated epochs)", "score", [("bleu4", "BLEU-4", "-"), ("rouge", "ROUGE-L", "--")],
                    ("chrf",)),
}


def write_tensorboard(history: TrainingHistory, writer: Any, epoch: int) -> None:
    """Scalars of the latest epoch: loss parts, learning rate, samples the loss left out; per evaluated split its
    figures (WERs, the share of blank output steps and the hypothesis length over the reference length;
    BLEU-4, ROUGE-L, chrF)."""
    record = history.epochs[-1]
    writer.add_scalar("train/loss", record["loss"], epoch)
    writer.add_scalar("train/lr", record["lr"], epoch)
    writer.add_scalar("train/ctc_infeasible", record.get("ctc_infeasible", 0), epoch)
    for key, value in record["parts"].items():
        writer.add_scalar(f"train/{key}", value, epoch)
    for family in history.families:
        _, _, drawn, others = FAMILY_FIGURES[family]
        for split, scores in record.get(family, {}).items():
            for key in [key for key, _, _ in drawn] + list(others):
                if key in scores:
                    writer.add_scalar(f"{split}/{key}", scores[key], epoch)
    writer.flush()


def plot_training_curves(history: TrainingHistory, path: str | Path) -> None:
    """training_curves_figure as a PNG."""
    import matplotlib.pyplot as plt

    figure = training_curves_figure(history)
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)


def training_curves_figure(history: TrainingHistory) -> Any:
    """Loss (the weighted total the optimiser sees, and each term before its weight) and, per evaluated family,
    its figures per split (WER: BiLSTM output solid, temporal-conv output dashed; translation: BLEU-4 solid,
    ROUGE-L dashed) against the same epoch axis, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(1, 1 + len(history.families), figsize=(6 * (1 + len(history.families)), 4.5))
    loss_axis, family_axes = axes[0], axes[1:]
    epochs = [r["epoch"] for r in history.epochs]
    loss_axis.plot(epochs, [r["loss"] for r in history.epochs], marker="o", color="black",
                   label="total (weighted sum)")
    for key in sorted({k for r in history.epochs for k in r["parts"]}):
        loss_axis.plot(epochs, [r["parts"].get(key, float("nan")) for r in history.epochs], alpha=0.8,
                       label=f"{key} (before its weight)")
    loss_axis.set(xlabel="epoch", ylabel="training loss (log scale)", title="Training loss")
    loss_axis.set_yscale("log")
    loss_axis.legend(fontsize=9)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for family, axis in zip(history.families, family_axes):
        title, ylabel, drawn, _ = FAMILY_FIGURES[family]
        for colour, split in zip(colours, sorted({s for r in history.epochs for s in r.get(family, {})})):
            records = [r for r in history.epochs if split in r.get(family, {})]
            x = [r["epoch"] for r in records]
            for key, label, style in drawn:
                axis.plot(x, [r[family][split].get(key, float("nan")) for r in records], linestyle=style,
                          marker="o" if style == "-" else ".", color=colour, alpha=1.0 if style == "-" else 0.8,
                          label=f"{split} {label}")
        axis.set(xlabel="epoch", ylabel=ylabel, title=title)
        axis.set_ylim(bottom=0)
        if any(r.get(family) for r in history.epochs):
            axis.legend(fontsize=9)
    for axis in axes:
        if epochs:
            axis.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)  # every panel spans the whole run
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure
