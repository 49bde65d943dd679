"""Conv3d that always takes oneDNN's kernels for float32 on the CPU.

PyTorch's CPU heuristic sends small clips of batch 1 (the fast pathway's thin
layers, single-video prediction) to a slow im2col path; oneDNN, which it already
uses for larger batches, is faster there. Weights, names and gradients are
unchanged (tests/test_backbone.py compares it with nn.Conv3d). Only the public
`forward` is overridden; `torch.mkldnn_convolution` is the operator nn.Conv3d
itself reaches on this path. An ONNX export traces the plain convolution (ONNX has no oneDNN operator).
"""
from __future__ import annotations

import torch
from torch import nn

from modules.export_mode import exporting


class Conv3d(nn.Conv3d):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if (
            input.device.type == "cpu" and input.dtype == torch.float32 and self.weight.dtype == torch.float32
            and self.padding_mode == "zeros" and isinstance(self.padding, tuple) and torch.backends.mkldnn.is_available()
            and not exporting()
        ):
            return torch.mkldnn_convolution(input, self.weight, self.bias, self.padding, self.stride, self.dilation,
                                            self.groups)
        return super().forward(input)
