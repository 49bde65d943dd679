"""Bi-directional Feature Fusion (BFF) between the Slow and Fast pathways."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from modules.conv3d import Conv3d


class BiFusion(nn.Module):
    """Exchange information both ways by gated addition.

    fast->slow: Conv(k x 1 x 1, temporal stride alpha) + BN + ReLU, added to the slow
    tensor times `weight_s`; slow->fast: Conv(1x1x1) + BN + ReLU, nearest-upsampled to
    the fast tensor's size, added times `weight_f`. Both gates start at 0, so the
    network begins as two independent pathways and learns how much to mix. Both
    directions read the un-fused inputs.
    """

    def __init__(
        self, fast_dim: int, beta_inv: int, fusion_kernel: int, alpha: int,
        bn_eps: float = 1e-5, bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        slow_dim = fast_dim * beta_inv
        self.weight_s = nn.Parameter(torch.zeros(1))
        self.weight_f = nn.Parameter(torch.zeros(1))
        self.conv_f2s = Conv3d(
            fast_dim, slow_dim, (fusion_kernel, 1, 1), stride=(alpha, 1, 1),
            padding=(fusion_kernel // 2, 0, 0), bias=False,
        )
        self.bn = nn.BatchNorm3d(slow_dim, eps=bn_eps, momentum=bn_momentum)
        self.relu = nn.ReLU(inplace=True)
        self.conv_s2f = Conv3d(slow_dim, fast_dim, 1, bias=False)
        self.bn2 = nn.BatchNorm3d(fast_dim, eps=bn_eps, momentum=bn_momentum)

    def forward(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        x_s, x_f = inputs
        to_slow = self.relu(self.bn(self.conv_f2s(x_f)))
        to_fast = self.relu(self.bn2(self.conv_s2f(x_s)))
        to_fast = F.interpolate(to_fast, size=x_f.shape[2:], mode="nearest")
        return [x_s + self.weight_s * to_slow, x_f + self.weight_f * to_fast]
