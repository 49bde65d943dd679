"""The per-pathway stem: a large spatial convolution followed by spatial max-pooling."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from modules.conv3d import Conv3d


class ResNetBasicStem(nn.Module):
    """Conv(T x 7 x 7, spatial stride 2) + BN + ReLU + max-pool(1 x 3 x 3, stride 2)."""

    def __init__(self, dim_in: int, dim_out: int, temporal_kernel: int, bn_eps: float = 1e-5, bn_momentum: float = 0.1) -> None:
        super().__init__()
        self.conv = Conv3d(
            dim_in, dim_out, kernel_size=(temporal_kernel, 7, 7), stride=(1, 2, 2),
            padding=(temporal_kernel // 2, 3, 3), bias=False,
        )
        self.bn = nn.BatchNorm3d(dim_out, eps=bn_eps, momentum=bn_momentum)
        self.relu = nn.ReLU(inplace=True)
        self.pool_layer = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool_layer(self.relu(self.bn(self.conv(x))))


class VideoModelStem(nn.Module):
    """One stem per pathway, named `pathway{i}_stem` as in PySlowFast checkpoints."""

    def __init__(
        self, dim_in: Sequence[int], dim_out: Sequence[int], temporal_kernels: Sequence[int],
        bn_eps: float = 1e-5, bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_pathways = len(dim_out)
        for pathway in range(self.num_pathways):
            stem = ResNetBasicStem(dim_in[pathway], dim_out[pathway], temporal_kernels[pathway], bn_eps, bn_momentum)
            self.add_module(f"pathway{pathway}_stem", stem)

    def forward(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [getattr(self, f"pathway{p}_stem")(x) for p, x in enumerate(inputs)]
