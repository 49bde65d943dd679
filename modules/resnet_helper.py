"""Residual blocks and stages of the SlowFast backbone (PySlowFast naming and layout)."""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Any, Iterator, Sequence

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from modules.conv3d import Conv3d


class BottleneckTransform(nn.Module):
    """a = Conv(T x 1 x 1), b = Conv(1 x 3 x 3, spatial stride), c = Conv(1 x 1 x 1); BN after each.

    The temporal kernel lives in `a` only, so 2-D ImageNet-style weights map onto
    `b` and `c` unchanged; `c_bn` is the block's final BN (zero-initialised).
    """

    def __init__(
        self, dim_in: int, dim_out: int, temporal_kernel: int, stride: int, dim_inner: int,
        num_groups: int = 1, dilation: int = 1, bn_eps: float = 1e-5, bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        self.a = Conv3d(dim_in, dim_inner, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0), bias=False)
        self.a_bn = nn.BatchNorm3d(dim_inner, eps=bn_eps, momentum=bn_momentum)
        self.a_relu = nn.ReLU(inplace=True)
        self.b = Conv3d(
            dim_inner, dim_inner, (1, 3, 3), stride=(1, stride, stride), padding=(0, dilation, dilation),
            groups=num_groups, dilation=(1, dilation, dilation), bias=False,
        )
        self.b_bn = nn.BatchNorm3d(dim_inner, eps=bn_eps, momentum=bn_momentum)
        self.b_relu = nn.ReLU(inplace=True)
        self.c = Conv3d(dim_inner, dim_out, 1, bias=False)
        self.c_bn = nn.BatchNorm3d(dim_out, eps=bn_eps, momentum=bn_momentum)
        self.c_bn.transform_final_bn = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.a_relu(self.a_bn(self.a(x)))
        x = self.b_relu(self.b_bn(self.b(x)))
        return self.c_bn(self.c(x))


class BasicTransform(nn.Module):
    """a = Conv(T x 3 x 3, spatial stride), b = Conv(1 x 3 x 3); the ResNet-18/34 block."""

    def __init__(
        self, dim_in: int, dim_out: int, temporal_kernel: int, stride: int, dim_inner: int = 0,
        num_groups: int = 1, dilation: int = 1, bn_eps: float = 1e-5, bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        self.a = Conv3d(
            dim_in, dim_out, (temporal_kernel, 3, 3), stride=(1, stride, stride),
            padding=(temporal_kernel // 2, 1, 1), bias=False,
        )
        self.a_bn = nn.BatchNorm3d(dim_out, eps=bn_eps, momentum=bn_momentum)
        self.a_relu = nn.ReLU(inplace=True)
        self.b = Conv3d(
            dim_out, dim_out, (1, 3, 3), padding=(0, dilation, dilation), dilation=(1, dilation, dilation), bias=False,
        )
        self.b_bn = nn.BatchNorm3d(dim_out, eps=bn_eps, momentum=bn_momentum)
        self.b_bn.transform_final_bn = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b_bn(self.b(self.a_relu(self.a_bn(self.a(x)))))


# one class per value of the config's ResidualTransform
TRANSFORMS = {"bottleneck": BottleneckTransform, "basic": BasicTransform}
# Blocks recomputed together under activation checkpointing: pairs keep half as many
# block inputs alive as single blocks, for the same amount of recomputation.
CHECKPOINT_SEGMENT = 2


class ResBlock(nn.Module):
    """Residual block: transform(x) + shortcut(x), then ReLU; projection shortcut when shapes change."""

    def __init__(
        self, dim_in: int, dim_out: int, temporal_kernel: int, stride: int, dim_inner: int,
        num_groups: int = 1, dilation: int = 1, trans_func: str = "bottleneck",
        bn_eps: float = 1e-5, bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        if dim_in != dim_out or stride != 1:
            self.branch1 = Conv3d(dim_in, dim_out, 1, stride=(1, stride, stride), bias=False)
            self.branch1_bn = nn.BatchNorm3d(dim_out, eps=bn_eps, momentum=bn_momentum)
        self.branch2 = TRANSFORMS[trans_func](
            dim_in, dim_out, temporal_kernel, stride, dim_inner, num_groups, dilation, bn_eps, bn_momentum,
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.branch1_bn(self.branch1(x)) if hasattr(self, "branch1") else x
        return self.relu(shortcut + self.branch2(x))


@contextmanager
def frozen_batchnorm_stats(module: nn.Module) -> Iterator[None]:
    """Stop BN layers from updating running statistics while a checkpoint recomputes.

    Recomputation replays the forward pass during backward; without this, every
    checkpointed BN would count each batch twice and drift from a plain run. A
    momentum of 0 leaves the running statistics bit-identical while the layer still
    saves exactly what it saved in the first pass.
    """
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [(layer.momentum, layer.num_batches_tracked.clone()) for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    try:
        yield
    finally:
        for layer, (momentum, count) in zip(layers, saved):
            layer.momentum = momentum
            layer.num_batches_tracked.copy_(count)


class ResStage(nn.Module):
    """One stage (res2 ... res5) for every pathway; blocks named `pathway{p}_res{i}`.

    `temp_kernel_sizes[p][i]` is the temporal kernel of block i in pathway p.
    Called with `checkpointed`, each pair of blocks keeps only its input during
    the forward pass and recomputes its activations in backward.
    """

    def __init__(
        self, dim_in: Sequence[int], dim_out: Sequence[int], dim_inner: Sequence[int],
        temp_kernel_sizes: Sequence[Sequence[int]], stride: int, num_blocks: int,
        num_groups: int = 1, dilation: int = 1, trans_func: str = "bottleneck",
        bn_eps: float = 1e-5, bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_pathways = len(dim_out)
        self.num_blocks = num_blocks
        for pathway in range(self.num_pathways):
            for i in range(num_blocks):
                block = ResBlock(
                    dim_in[pathway] if i == 0 else dim_out[pathway], dim_out[pathway],
                    temp_kernel_sizes[pathway][i], stride if i == 0 else 1, dim_inner[pathway],
                    num_groups, dilation, trans_func, bn_eps, bn_momentum,
                )
                self.add_module(f"pathway{pathway}_res{i}", block)

    def forward(self, inputs: list[torch.Tensor], checkpointed: bool = False) -> list[torch.Tensor]:
        outputs = []
        for pathway, x in enumerate(inputs):
            blocks = [getattr(self, f"pathway{pathway}_res{i}") for i in range(self.num_blocks)]
            if checkpointed:
                for start in range(0, len(blocks), CHECKPOINT_SEGMENT):
                    x = run_checkpointed(nn.Sequential(*blocks[start:start + CHECKPOINT_SEGMENT]), x, True)
            else:
                for block in blocks:
                    x = block(x)
            outputs.append(x)
        return outputs


def run_checkpointed(module: nn.Module, inputs: Any, enabled: bool) -> Any:
    """module(inputs), keeping only `inputs` for backward when `enabled` and something in it needs gradients:
    an input, or (for the stem, whose input is the video) the module's own parameters."""
    tensors = inputs if isinstance(inputs, list) else [inputs]
    needs_grad = any(t.requires_grad for t in tensors) or any(p.requires_grad for p in module.parameters())
    if not (enabled and torch.is_grad_enabled() and needs_grad):
        return module(inputs)
    if isinstance(inputs, list):
        return checkpoint(
            lambda *args: tuple(module(list(args))), *inputs, use_reentrant=False,
            context_fn=lambda: (nullcontext(), frozen_batchnorm_stats(module)),
        )
    return checkpoint(
        module, inputs, use_reentrant=False, context_fn=lambda: (nullcontext(), frozen_batchnorm_stats(module)),
    )
