"""Per-epoch training history and the rule that picks the best epoch, which best_model.pt is saved by: the
first epoch with the best dev figure of the task's metric (the lowest WER for recognition, the highest BLEU-4 for
translation). How a history is drawn lives in evaluation/training_curves.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A run looks stuck when every evaluation so far decoded the first evaluated split to under a tenth of the
# reference length, judged once: at the first evaluation that is at least the second and comes after the
# configured number of optimiser steps (CTC models start by emitting only blanks, but not for that long).
STUCK_AFTER_EVALUATIONS = 2
STUCK_LENGTH_RATIO = 0.1


@dataclass(frozen=True)
class SelectionMetric:
    """The dev figure that picks the best checkpoint: in each epoch's record, `figure` of the dev split's
    figures under `family`; `label` as printed."""

    family: str
    figure: str
    lower_is_better: bool
    label: str

    def better(self, value: float, best: float | None) -> bool:
        return best is None or (value < best if self.lower_is_better else value > best)


WER = SelectionMetric("wer", "wer", True, "WER")
BLEU = SelectionMetric("translation", "bleu4", False, "BLEU-4")


@dataclass
class TrainingHistory:
    """One record per epoch; each evaluated epoch's figures per split under every family the task evaluates
    (`families`, e.g. "wer" and "translation"); the best epoch by `metric` on the dev split."""

    epochs: list[dict[str, Any]] = field(default_factory=list)
    best_value: float | None = None
    best_epoch: int | None = None
    metric: SelectionMetric = WER
    families: tuple[str, ...] = ("wer",)

    @property
    def best_wer(self) -> float | None:
        """The best dev WER of a history selected by WER."""
        return self.best_value if self.metric.figure == "wer" else None

    def add(self, epoch: int, *, lr: float, loss: float, parts: dict[str, float],
            wer: dict[str, dict[str, float]] | None = None, skipped: int = 0, seconds: float = 0.0,
            ctc_infeasible: int = 0, steps: int = 0, excluded_key: str = "ctc_infeasible") -> None:
        """Record an epoch's training; `seconds` is its training time (evaluation excluded), `ctc_infeasible` the
        samples the loss left out (under `excluded_key`), `steps` the optimiser steps taken; `wer` its
        recognition figures, when known already (record_evaluation adds an evaluation later)."""
        record: dict[str, Any] = {"epoch": epoch, "lr": lr, "loss": loss, "parts": parts}
        record.update({family: {} for family in self.families})
        record.update({"skipped": skipped, "train_seconds": seconds, excluded_key: ctc_infeasible, "steps": steps})
        self.epochs.append(record)
        if wer:
            self.record_evaluation(epoch, {"wer": wer})

    def record_evaluation(self, epoch: int, evaluation: dict[str, dict[str, dict[str, Any]]]) -> None:
        """The evaluation of the latest recorded epoch, `epoch`, by family; a better dev figure of the metric
        makes it the best."""
        if not self.epochs or self.epochs[-1]["epoch"] != epoch:
            raise ValueError(f"epoch {epoch} is not the latest recorded epoch")
        self.epochs[-1].update(evaluation)
        value = evaluation.get(self.metric.family, {}).get("dev", {}).get(self.metric.figure)
        if value is not None and self.metric.better(value, self.best_value):
            self.best_value, self.best_epoch = value, epoch

    def evaluated(self, record: dict[str, Any]) -> bool:
        return any(record.get(family) for family in self.families)

    def looks_stuck(self, after_steps: int) -> bool:
        """True at the one evaluation where a recognition run is judged (the first that is at least the
        STUCK_AFTER_EVALUATIONS-th and comes after `after_steps` optimiser steps; 0 never judges) when every
        evaluation so far decoded the first evaluated split to (nearly) nothing; evaluations without the length
        figure never count as stuck."""
        if after_steps <= 0 or not self.epochs or not self.epochs[-1].get("wer"):
            return False
        steps, evaluated, judged_at = 0, [], None
        for index, record in enumerate(self.epochs):
            steps += record.get("steps", 0)
            if record.get("wer"):
                evaluated.append(record["wer"])
                if judged_at is None and len(evaluated) >= STUCK_AFTER_EVALUATIONS and steps >= after_steps:
                    judged_at = index
        if judged_at != len(self.epochs) - 1:
            return False
        ratios = [next(iter(scores.values())).get("length_ratio") for scores in evaluated]
        return all(ratio is not None and ratio < STUCK_LENGTH_RATIO for ratio in ratios)

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, f"best_{self.metric.figure}": self.best_value, "best_epoch": self.best_epoch}

    @classmethod
    def from_dict(cls, values: dict[str, Any], metric: SelectionMetric = WER,
                  families: tuple[str, ...] = ("wer",)) -> "TrainingHistory":
        return cls(list(values.get("epochs", [])), values.get(f"best_{metric.figure}"), values.get("best_epoch"),
                   metric, families)
