"""Whether the model is being traced for ONNX (torch.onnx.export) or torch.export: the traced graph then takes
portable operators (a plain convolution instead of oneDNN's, an unpacked BiLSTM for a single clip) where the
model otherwise takes CPU-specific or data-dependent ones. PyTorch's own runs never take those branches, so
their results are unchanged (deploy/export.py checks the exported graph against them)."""
from __future__ import annotations

import torch


def exporting() -> bool:
    return torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting()
