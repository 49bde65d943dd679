"""Per-epoch training history and the rule that picks the best epoch (the lowest dev WER), which
best_model.pt is saved by; how a history is drawn lives in evaluation/training_curves.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
