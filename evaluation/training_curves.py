"""How a training history is shown: TensorBoard scalars per epoch and training_curves.png."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluation.training_history import TrainingHistory
from utils.io import atomic_open


def write_tensorboard(history: TrainingHistory, writer: Any, epoch: int) -> None:
    """Scalars of the latest epoch: loss parts, learning rate, CTC-infeasible samples; per split the WERs, the
    share of blank output steps and the hypothesis length over the reference length."""
    record = history.epochs[-1]
    writer.add_scalar("train/loss", record["loss"], epoch)
    writer.add_scalar("train/lr", record["lr"], epoch)
    writer.add_scalar("train/ctc_infeasible", record.get("ctc_infeasible", 0), epoch)
    for key, value in record["parts"].items():
        writer.add_scalar(f"train/{key}", value, epoch)
    for split, scores in record["wer"].items():
        for key in ("wer", "conv_wer", "blank_share", "length_ratio"):
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
    """Loss (the weighted total the optimiser sees, and each term before its weight) and WER (BiLSTM output
    solid, temporal-conv output dashed, per split) against the same epoch axis, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, (loss_axis, wer_axis) = plt.subplots(1, 2, figsize=(12, 4.5))
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
    for colour, split in zip(colours, sorted({s for r in history.epochs for s in r["wer"]})):
        records = [r for r in history.epochs if split in r["wer"]]
        x = [r["epoch"] for r in records]
        wer_axis.plot(x, [r["wer"][split]["wer"] for r in records], marker="o", color=colour, label=f"{split} WER")
        wer_axis.plot(x, [r["wer"][split]["conv_wer"] for r in records], marker=".", linestyle="--", color=colour,
                      alpha=0.8, label=f"{split} conv WER")
    wer_axis.set(xlabel="epoch", ylabel="WER (%)", title="Word error rate (evaluated epochs)")
    wer_axis.set_ylim(bottom=0)
    for axis in (loss_axis, wer_axis):
        if epochs:
            axis.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)  # both panels span the whole run
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
    if any(r["wer"] for r in history.epochs):
        wer_axis.legend(fontsize=9)
    figure.tight_layout()
    return figure
