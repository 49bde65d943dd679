"""What a long recording's picture shows, gathered beside the recognition (deploy/long_recording.py) in bounded
memory whatever the recording's length: about THUMBNAILS frames spread over it, and per output step the blank
posterior and the most probable gloss's, pooled pairwise whenever the series fills (so a stream of hours keeps a
few thousand points). evaluation/alignment_figure.timeline_figure draws it. Imports no torch."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

THUMBNAILS = 24
STEP_POINTS = 4096  # at most 2 x this many points per series


class Thumbnails:
    """About THUMBNAILS frames spread over a recording of unknown length: every k-th frame, k doubling (and every
    other kept frame dropped) whenever twice as many have been kept."""

    def __init__(self, height: int = 64) -> None:
        self.height, self.every, self.kept = height, 1, []

    def offer(self, index: int, frame: np.ndarray) -> None:
        if index % self.every:
            return
        import cv2

        width = max(1, round(frame.shape[1] * self.height / frame.shape[0]))
        self.kept.append((index, cv2.resize(np.ascontiguousarray(frame), (width, self.height))))
        if len(self.kept) >= 2 * THUMBNAILS:
            self.every *= 2
            self.kept = [(i, image) for i, image in self.kept if i % self.every == 0]


@dataclass
class StepSeries:
    """Per output step: the blank posterior (pooled by the mean) and the most probable gloss with its posterior
    (pooled by the larger); each point stands for `steps_per_point` output steps."""

    limit: int = STEP_POINTS
    steps_per_point: int = 1
    blank: list[float] = field(default_factory=list)
    best: list[tuple[int, float]] = field(default_factory=list)
    _partial: list[tuple[float, tuple[int, float]]] = field(default_factory=list)

    def add(self, posteriors: np.ndarray, blank_id: int = 0) -> None:
        """The posteriors (T x C, rows summing to 1) of more output steps."""
        others = posteriors.copy()
        others[:, blank_id] = -1.0
        for blank, cls, probability in zip(posteriors[:, blank_id].tolist(), others.argmax(-1).tolist(),
                                           others.max(-1).tolist()):
            self._partial.append((blank, (int(cls), float(probability))))
            if len(self._partial) == self.steps_per_point:
                self.blank.append(sum(value for value, _ in self._partial) / len(self._partial))
                self.best.append(max((item for _, item in self._partial), key=lambda item: item[1]))
                self._partial = []
                if len(self.blank) >= 2 * self.limit:
                    self._halve()

    def _halve(self) -> None:
        self.blank = [(a + b) / 2 for a, b in zip(self.blank[0::2], self.blank[1::2])]
        self.best = [max(a, b, key=lambda item: item[1]) for a, b in zip(self.best[0::2], self.best[1::2])]
        self.steps_per_point *= 2


@dataclass
class Timeline:
    """A recording's picture data: its thumbnails and step series."""

    thumbnails: Thumbnails = field(default_factory=Thumbnails)
    steps: StepSeries = field(default_factory=StepSeries)
