"""Per-epoch training history and the rule that picks the best epoch (the lowest dev WER), which
best_model.pt is saved by; how a history is drawn lives in evaluation/training_curves.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A run looks stuck when, at its second evaluation, the first split's hypotheses of both evaluations were
# under a tenth of the reference length: CTC models start by emitting only blanks, but not for that long.
STUCK_AT_EVALUATION = 2
STUCK_LENGTH_RATIO = 0.1


@dataclass
class TrainingHistory:
    """One record per epoch; the best epoch is the one with the lowest dev WER."""

    epochs: list[dict[str, Any]] = field(default_factory=list)
    best_wer: float | None = None
    best_epoch: int | None = None

    def add(self, epoch: int, *, lr: float, loss: float, parts: dict[str, float], wer: dict[str, dict[str, float]],
            skipped: int = 0, seconds: float = 0.0, ctc_infeasible: int = 0) -> None:
        """Record an epoch; `seconds` is its training time (evaluation excluded), `ctc_infeasible` the samples
        left out because CTC could not align them."""
        self.epochs.append({"epoch": epoch, "lr": lr, "loss": loss, "parts": parts, "wer": wer, "skipped": skipped,
                            "train_seconds": seconds, "ctc_infeasible": ctc_infeasible})
        dev = wer.get("dev", {}).get("wer")
        if dev is not None and (self.best_wer is None or dev < self.best_wer):
            self.best_wer, self.best_epoch = dev, epoch

    def looks_stuck(self) -> bool:
        """True exactly at the STUCK_AT_EVALUATION-th evaluation when every evaluation so far decoded the first
        evaluated split to (nearly) nothing; evaluations without the length figure never count as stuck."""
        evaluated = [record["wer"] for record in self.epochs if record["wer"]]
        if len(evaluated) != STUCK_AT_EVALUATION:
            return False
        ratios = [next(iter(scores.values())).get("length_ratio") for scores in evaluated]
        return all(ratio is not None and ratio < STUCK_LENGTH_RATIO for ratio in ratios)

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "best_wer": self.best_wer, "best_epoch": self.best_epoch}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainingHistory":
        return cls(list(values.get("epochs", [])), values.get("best_wer"), values.get("best_epoch"))
