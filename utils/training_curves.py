"""Per-epoch training history: best dev WER, TensorBoard scalars and a loss/WER plot."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.io import atomic_open


@dataclass
class TrainingHistory:
    """One record per epoch; the best epoch is the one with the lowest dev WER."""

    epochs: list[dict[str, Any]] = field(default_factory=list)
    best_wer: float | None = None
    best_epoch: int | None = None

    def add(self, epoch: int, *, lr: float, loss: float, parts: dict[str, float], wer: dict[str, dict[str, float]],
            skipped: int = 0, seconds: float = 0.0) -> None:
        """Record an epoch; `seconds` is its training time (evaluation excluded)."""
        self.epochs.append({"epoch": epoch, "lr": lr, "loss": loss, "parts": parts, "wer": wer, "skipped": skipped,
                            "train_seconds": seconds})
        dev = wer.get("dev", {}).get("wer")
        if dev is not None and (self.best_wer is None or dev < self.best_wer):
            self.best_wer, self.best_epoch = dev, epoch

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "best_wer": self.best_wer, "best_epoch": self.best_epoch}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainingHistory":
        return cls(list(values.get("epochs", [])), values.get("best_wer"), values.get("best_epoch"))

    def write_tensorboard(self, writer: Any, epoch: int) -> None:
        """Scalars of the latest epoch: loss parts, learning rate, WER per split."""
        record = self.epochs[-1]
        writer.add_scalar("train/loss", record["loss"], epoch)
        writer.add_scalar("train/lr", record["lr"], epoch)
        for key, value in record["parts"].items():
            writer.add_scalar(f"train/{key}", value, epoch)
        for split, scores in record["wer"].items():
            writer.add_scalar(f"{split}/wer", scores["wer"], epoch)
            writer.add_scalar(f"{split}/conv_wer", scores["conv_wer"], epoch)
        writer.flush()

    def plot(self, path: str | Path) -> None:
        """Loss and WER against epochs, side by side, as a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, (loss_axis, wer_axis) = plt.subplots(1, 2, figsize=(10, 4))
        epochs = [r["epoch"] for r in self.epochs]
        loss_axis.plot(epochs, [r["loss"] for r in self.epochs], marker="o", label="total")
        for key in sorted({k for r in self.epochs for k in r["parts"]}):
            loss_axis.plot(epochs, [r["parts"].get(key, float("nan")) for r in self.epochs], label=key, alpha=0.7)
        loss_axis.set(xlabel="epoch", ylabel="training loss", title="Loss")
        loss_axis.set_yscale("log")
        loss_axis.legend(fontsize=7)
        for split in sorted({s for r in self.epochs for s in r["wer"]}):
            points = [(r["epoch"], r["wer"][split]["wer"]) for r in self.epochs if split in r["wer"]]
            wer_axis.plot(*zip(*points), marker="o", label=f"{split} WER")
        wer_axis.set(xlabel="epoch", ylabel="WER (%)", title="Word error rate")
        if any(r["wer"] for r in self.epochs):
            wer_axis.legend(fontsize=7)
        figure.tight_layout()
        with atomic_open(path, "wb") as handle:
            figure.savefig(handle, format="png", dpi=100)
        plt.close(figure)
