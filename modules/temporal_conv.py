"""Pathway Feature Enhancement (PFE): temporal convolutions over the main, slow and fast features."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from utils.kernel_spec import KernelLayer, feature_length


def build_temporal_conv(input_size: int, hidden_size: int, layers: Sequence[KernelLayer]) -> nn.Sequential:
    """Conv1d(k) + BN + ReLU per "K", MaxPool1d per "P"; valid convolutions (no padding)."""
    modules: list[nn.Module] = []
    channels = input_size
    for layer in layers:
        if layer.kind == "K":
            modules += [nn.Conv1d(channels, hidden_size, layer.size), nn.BatchNorm1d(hidden_size), nn.ReLU(inplace=True)]
            channels = hidden_size
        else:
            modules.append(nn.MaxPool1d(layer.size, ceil_mode=False))
    return nn.Sequential(*modules)


@dataclass
class TemporalConvOutput:
    """Per branch (main, then slow and fast in training), time-major T' x B x C."""

    visual_feat: list[torch.Tensor]
    conv_logits: list[torch.Tensor]
    feat_len: torch.Tensor


class TemporalConv(nn.Module):
    """Three temporal-conv branches; the slow and fast ones exist only to train (PFE).

    The conv logits come from `fc`, one classifier per branch, given by
    `use_classifiers` once the model has built them: the released models share
    them with the BiLSTM classifiers, which are created after this module so that
    initialisation draws its random numbers in the official order.
    """

    def __init__(
        self, slow_size: int, fast_size: int, hidden_size: int, kernel_layers: Sequence[KernelLayer],
    ) -> None:
        super().__init__()
        self.slow_size = slow_size
        self.layers = tuple(kernel_layers)  # the one parse of the spec: the collate pads by it too
        self.fast_temporal_conv = build_temporal_conv(fast_size, hidden_size, self.layers)
        self.slow_temporal_conv = build_temporal_conv(slow_size, hidden_size, self.layers)
        self.main_temporal_conv = build_temporal_conv(slow_size + fast_size, hidden_size, self.layers)
        self.fc: nn.ModuleList | None = None

    def use_classifiers(self, classifiers: nn.ModuleList) -> None:
        """The classifiers (main, slow, fast) that turn each branch's features into conv logits."""
        self.fc = classifiers

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return torch.tensor([feature_length(int(n), self.layers) for n in lengths], dtype=torch.long)

    def forward(self, frame_feat: torch.Tensor, lengths: torch.Tensor) -> TemporalConvOutput:
        """frame_feat: B x (C_slow + C_fast) x T; lengths: valid frames per clip."""
        branches = [self.main_temporal_conv(frame_feat)]
        if self.training:
            branches.append(self.slow_temporal_conv(frame_feat[:, : self.slow_size]))
            branches.append(self.fast_temporal_conv(frame_feat[:, self.slow_size :]))
        visual = [feat.permute(2, 0, 1) for feat in branches]
        if self.fc is None:
            raise RuntimeError("TemporalConv needs its classifiers: call use_classifiers() first")
        logits = [self.fc[i](feat) for i, feat in enumerate(visual)]
        return TemporalConvOutput(visual, logits, self.output_lengths(lengths))
