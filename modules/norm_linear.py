"""Classifier with unit-norm class vectors (cosine-style logits scaled by the feature norm)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NormLinear(nn.Module):
    """logits = x @ normalize(W, dim=0); W is in_dim x num_classes, as in the released checkpoints."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_dim, out_dim))
        nn.init.xavier_uniform_(self.weight, gain=nn.init.calculate_gain("relu"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, F.normalize(self.weight, dim=0))
