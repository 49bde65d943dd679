"""How the network runs on its device: the autocast dtype and the memory format of its input.

Training autocasts on CUDA (float16 with a GradScaler, as the official code, or
bfloat16, which needs none); evaluation runs in float32 as officially unless asked
otherwise. channels_last_3d stores 5-D tensors channels-innermost, which cuDNN's
3-D convolutions run faster under mixed precision; the batch's uint8 frames are
already laid out that way, so the normalised input is written straight into it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

AMP_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class Precision:
    """An autocast dtype (None: float32 throughout) and whether inputs use channels_last_3d."""

    dtype: torch.dtype | None = None
    channels_last: bool = False

    def autocast(self, device: torch.device) -> torch.autocast:
        """Mixed precision on CUDA only; the CPU always computes in float32."""
        enabled = self.dtype is not None and device.type == "cuda"
        return torch.autocast(device_type=device.type, dtype=self.dtype or torch.float32, enabled=enabled)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last_3d if self.channels_last else torch.contiguous_format

    def needs_grad_scaler(self, device: torch.device) -> bool:
        """float16 gradients underflow without loss scaling; bfloat16 has float32's range."""
        return self.dtype == torch.float16 and device.type == "cuda"
