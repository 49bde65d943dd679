"""PySlowFast's initialisation: MSRA-fill convolutions, BN to (1, 0), zero final BN per block."""
from __future__ import annotations

from torch import nn


def init_backbone_weights(model: nn.Module, zero_init_final_bn: bool = True) -> None:
    """Initialise every conv and BN of the backbone the way PySlowFast does.

    Zeroing the last BN of each residual block makes every block start as the
    identity, which is what the published models were trained from.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm3d):
            final = getattr(module, "transform_final_bn", False) and zero_init_final_bn
            nn.init.constant_(module.weight, 0.0 if final else 1.0)
            nn.init.zeros_(module.bias)
