"""An exponential moving average of the weights (`ema_decay`): what the trainer evaluates, keeps as the best
checkpoint and tests, while the optimiser goes on stepping the raw weights. Polyak averaging smooths the last
steps' noise; on small corpora (PHOENIX-2014-T's 7096 sentences of gloss-to-text) it is worth about as much as
several more epochs (benchmarks/RESULTS.md, bench_translation)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch
from torch import nn

from utils.checkpoint import unwrap


class WeightAverage:
    """The average of every trainable parameter after each optimiser step; the decay grows from 0.1 to `decay`
    over the first steps ((1 + n) / (10 + n)), so that the initial weights are soon forgotten."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay, self.updates = decay, 0
        self.shadow = {name: parameter.detach().clone() for name, parameter in self._parameters(model)}

    @staticmethod
    def _parameters(model: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
        return ((name, parameter) for name, parameter in unwrap(model).named_parameters() if parameter.requires_grad)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for name, parameter in self._parameters(model):
            self.shadow[name].mul_(decay).add_(parameter.detach(), alpha=1 - decay)

    @contextmanager
    @torch.no_grad()
    def applied(self, model: nn.Module) -> Iterator[None]:
        """The model holds the averaged weights inside the block, its own ones again after it."""
        raw = {name: parameter.detach().clone() for name, parameter in self._parameters(model)}
        for name, parameter in self._parameters(model):
            parameter.copy_(self.shadow[name])
        try:
            yield
        finally:
            for name, parameter in self._parameters(model):
                parameter.copy_(raw[name])

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decay, self.updates = float(state["decay"]), int(state["updates"])
        for name, tensor in state["shadow"].items():
            self.shadow[name].copy_(tensor)
