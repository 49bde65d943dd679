"""Per-epoch training history and the rule that picks the best epoch (the lowest dev WER), which
best_model.pt is saved by; how a history is drawn lives in evaluation/training_curves.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A run looks stuck when every evaluation so far decoded the first evaluated split to under a tenth of the
# reference length, judged once: at the first evaluation that is at least the second and comes after the
# configured number of optimiser steps (CTC models start by emitting only blanks, but not for that long).
STUCK_AFTER_EVALUATIONS = 2
STUCK_LENGTH_RATIO = 0.1


@dataclass
class TrainingHistory:
    """One record per epoch; the best epoch is the one with the lowest dev WER."""

    epochs: list[dict[str, Any]] = field(default_factory=list)
    best_wer: float | None = None
    best_epoch: int | None = None

    def add(self, epoch: int, *, lr: float, loss: float, parts: dict[str, float],
            wer: dict[str, dict[str, float]] | None = None, skipped: int = 0, seconds: float = 0.0,
            ctc_infeasible: int = 0, steps: int = 0) -> None:
        """Record an epoch's training; `seconds` is its training time (evaluation excluded), `ctc_infeasible`
        the samples left out because CTC could not align them, `steps` the optimiser steps taken; `wer` its
        evaluation, when it is known already (record_evaluation adds it later)."""
        self.epochs.append({"epoch": epoch, "lr": lr, "loss": loss, "parts": parts, "wer": {}, "skipped": skipped,
                            "train_seconds": seconds, "ctc_infeasible": ctc_infeasible, "steps": steps})
        if wer:
            self.record_evaluation(epoch, wer)

    def record_evaluation(self, epoch: int, wer: dict[str, dict[str, float]]) -> None:
        """The evaluation of the latest recorded epoch, `epoch`; a lower dev WER makes it the best."""
        if not self.epochs or self.epochs[-1]["epoch"] != epoch:
            raise ValueError(f"epoch {epoch} is not the latest recorded epoch")
        self.epochs[-1]["wer"] = wer
        dev = wer.get("dev", {}).get("wer")
        if dev is not None and (self.best_wer is None or dev < self.best_wer):
            self.best_wer, self.best_epoch = dev, epoch

    def looks_stuck(self, after_steps: int) -> bool:
        """True at the one evaluation where the run is judged (the first that is at least the
        STUCK_AFTER_EVALUATIONS-th and comes after `after_steps` optimiser steps; 0 never judges) when every
        evaluation so far decoded the first evaluated split to (nearly) nothing; evaluations without the length
        figure never count as stuck."""
        if after_steps <= 0 or not self.epochs or not self.epochs[-1]["wer"]:
            return False
        steps, evaluated, judged_at = 0, [], None
        for index, record in enumerate(self.epochs):
            steps += record.get("steps", 0)
            if record["wer"]:
                evaluated.append(record["wer"])
                if judged_at is None and len(evaluated) >= STUCK_AFTER_EVALUATIONS and steps >= after_steps:
                    judged_at = index
        if judged_at != len(self.epochs) - 1:
            return False
        ratios = [next(iter(scores.values())).get("length_ratio") for scores in evaluated]
        return all(ratio is not None and ratio < STUCK_LENGTH_RATIO for ratio in ratios)

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "best_wer": self.best_wer, "best_epoch": self.best_epoch}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainingHistory":
        return cls(list(values.get("epochs", [])), values.get("best_wer"), values.get("best_epoch"))
