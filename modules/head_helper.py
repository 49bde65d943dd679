"""Per-frame head: spatial average pooling, slow features repeated to the fast frame rate."""
from __future__ import annotations

import torch
from torch import nn


class FramewiseHead(nn.Module):
    """Turn the two pathways into one B x (C_slow + C_fast) x T feature sequence.

    Spatial pooling is a mean over H x W, which equals the published 1x7x7 average
    pool at 224 px input and keeps working at other input sizes. The slow pathway
    is repeated `alpha` times in time (nearest upsampling) to align with the fast one.
    """

    def __init__(self, alpha: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.alpha = alpha
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x_s, x_f = (x.mean(dim=(3, 4)) for x in inputs)
        x_s = x_s.repeat_interleave(self.alpha, dim=2)[:, :, : x_f.shape[2]]
        return self.dropout(torch.cat([x_s, x_f], dim=1))
