"""Multiply-adds of the backbone per clip, counted by fvcore on the traced graph.

fvcore's default handles know `aten::_convolution`; modules/conv3d.py calls oneDNN's
convolution operator directly on the CPU, so it gets the same convolution rule here.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any

import torch
from fvcore.nn import FlopCountAnalysis
from fvcore.nn.jit_handles import conv_flop_count, get_shape
from torch import nn


def _mkldnn_convolution(inputs: list[Any], outputs: list[Any]) -> int:
    return conv_flop_count(get_shape(inputs[0]), get_shape(inputs[1]), get_shape(outputs[0]), False)


class _Features(nn.Module):
    """The model's per-frame backbone features, as a plain module fvcore can trace."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.backbone_features(x)


def count_multiply_adds(module: nn.Module, *inputs: torch.Tensor) -> dict[str, int]:
    """Multiply-adds of `module(*inputs)` per operator (fvcore counts one multiply-add as one "flop")."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("fvcore").setLevel(logging.ERROR)
        analysis = FlopCountAnalysis(module.eval(), inputs).set_op_handle("aten::mkldnn_convolution",
                                                                           _mkldnn_convolution)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return dict(analysis.by_operator())


def backbone_multiply_adds(model: nn.Module, frames: int, size: int = 224) -> int:
    """Multiply-adds of the SlowFast backbone for one clip of `frames` frames of size x size."""
    with torch.no_grad():
        return sum(count_multiply_adds(_Features(model), torch.zeros(1, 3, frames, size, size)).values())
