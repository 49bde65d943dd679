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
    """Loss and WER against epochs, side by side, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (loss_axis, wer_axis) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = [r["epoch"] for r in history.epochs]
    loss_axis.plot(epochs, [r["loss"] for r in history.epochs], marker="o", label="total")
    for key in sorted({k for r in history.epochs for k in r["parts"]}):
        loss_axis.plot(epochs, [r["parts"].get(key, float("nan")) for r in history.epochs], label=key, alpha=0.7)
    loss_axis.set(xlabel="epoch", ylabel="training loss", title="Loss")
    loss_axis.set_yscale("log")
    loss_axis.legend(fontsize=7)
    for split in sorted({s for r in history.epochs for s in r["wer"]}):
        points = [(r["epoch"], r["wer"][split]["wer"]) for r in history.epochs if split in r["wer"]]
        wer_axis.plot(*zip(*points), marker="o", label=f"{split} WER")
    wer_axis.set(xlabel="epoch", ylabel="WER (%)", title="Word error rate")
    if any(r["wer"] for r in history.epochs):
        wer_axis.legend(fontsize=7)
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    plt.close(figure)
