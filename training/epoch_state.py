"""Where a training epoch stands: its running figures (EpochStats) and, for a checkpoint written part-way
through it, the step it resumes at with this process's figures and random state (EpochProgress)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class EpochStats:
    """What one training epoch did; `loss` and `parts` are means over the steps taken. Every count but
    `excluded_samples` and `bad_samples` covers all processes (steps and skips are decided together); those
    two are this process's until the epoch ends, then summed over the processes."""

    loss_sum: float = 0.0
    part_sums: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    skipped_nonfinite: int = 0
    skipped_infeasible_batches: int = 0
    skipped_missing_batches: int = 0
    excluded_samples: int = 0
    bad_samples: int = 0
    seconds: float = 0.0

    @property
    def loss(self) -> float:
        return self.loss_sum / max(self.steps, 1)

    @property
    def parts(self) -> dict[str, float]:
        return {key: value / max(self.steps, 1) for key, value in sorted(self.part_sums.items())}

    def add_step(self, loss: float, parts: dict[str, float]) -> None:
        self.steps += 1
        self.loss_sum += loss
        for key, value in parts.items():
            self.part_sums[key] = self.part_sums.get(key, 0.0) + value

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "EpochStats":
        return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values})


@dataclass
class EpochProgress:
    """An epoch part-way: the next optimiser step to take, this process's figures so far and (when resuming)
    the random state to draw from after the epoch's data loader has started."""

    epoch: int
    step: int
    stats: EpochStats = field(default_factory=EpochStats)
    rng_state: dict[str, Any] | None = None


class StepControl(Protocol):
    """What the training loop asks between steps: whether a stop was requested, whether a checkpoint is due,
    and how to write one (the trainer's answers; the loop itself knows no files or signals)."""

    def stop_requested(self) -> bool: ...

    def save_due(self, step: int) -> bool: ...

    def save(self, progress: EpochProgress) -> None: ...
