"""The SlowFast backbone, assembled from stems, residual stages, BFF fusions and the per-frame head."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from modules.fusion_helper import BiFusion
from modules.head_helper import FramewiseHead
from modules.resnet_helper import ResStage, run_checkpointed
from modules.stem_helper import VideoModelStem
from modules.weight_init_helper import init_backbone_weights
from utils.config.schema import STAGE_NAMES, SlowFastConfig

# residual blocks per stage (res2..res5) of each ResNet depth
STAGE_DEPTH = {18: (2, 2, 2, 2), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


def stage_channels(width: int, stage: int) -> tuple[int, int]:
    """(inner, output) channels of the slow pathway's residual stage `stage` (0 = res2): PySlowFast's
    width * 2**stage inside the bottleneck and four times that out; the fast pathway has 1/beta_inv of each."""
    inner = width * 2**stage
    return inner, 4 * inner


def output_channels(config: SlowFastConfig) -> tuple[int, int]:
    """Channels per frame of the (slow, fast) outputs of res5."""
    slow = stage_channels(config.width, len(STAGE_DEPTH[config.depth]) - 1)[1]
    return slow, slow // config.beta_inv


def _block_temporal_kernels(basis: Sequence[int], num_with_kernel: Sequence[int], num_blocks: int) -> list[list[int]]:
    """Per pathway: the first n blocks use the stage's kernel, the rest a kernel of 1."""
    return [
        [kernel if i < min(n, num_blocks) else 1 for i in range(num_blocks)]
        for kernel, n in zip(basis, num_with_kernel)
    ]


class SlowFast(nn.Module):
    """SlowFast ResNet with BFF after the stem, res2, res3 and res4; returns B x C x T features.

    Submodule names (s1, s1_fuse, ..., s5) follow the official checkpoints.
    """

    def __init__(self, config: SlowFastConfig, activation_checkpointing: Sequence[str] = ()) -> None:
        super().__init__()
        config.validate()
        self.config = config
        width, beta_inv = config.width, config.beta_inv
        norm = {"bn_eps": config.bn_eps, "bn_momentum": config.bn_momentum}
        self.s1 = VideoModelStem([3, 3], [width, width // beta_inv], config.temporal_kernel_basis[0], **norm)
        self.s1_fuse = BiFusion(width // beta_inv, beta_inv, config.fusion_kernel, config.alpha, **norm)
        dim_in = width
        depths = STAGE_DEPTH[config.depth]
        for stage, num_blocks in enumerate(depths):
            dim_inner, dim_out = stage_channels(width, stage)
            stage_module = ResStage(
                dim_in=[dim_in, dim_in // beta_inv],
                dim_out=[dim_out, dim_out // beta_inv],
                dim_inner=[dim_inner, dim_inner // beta_inv],
                temp_kernel_sizes=_block_temporal_kernels(
                    config.temporal_kernel_basis[stage + 1], config.num_block_temp_kernel[stage], num_blocks
                ),
                stride=config.spatial_strides[stage],
                num_blocks=num_blocks,
                num_groups=config.num_groups,
                dilation=config.spatial_dilations[stage],
                trans_func=config.trans_func,
                **norm,
            )
            self.add_module(f"s{stage + 2}", stage_module)
            if stage < len(depths) - 1:  # BFF after every stage but the last
                self.add_module(
                    f"s{stage + 2}_fuse",
                    BiFusion(dim_out // beta_inv, beta_inv, config.fusion_kernel, config.alpha, **norm),
                )
            dim_in = dim_out
        self.head = FramewiseHead(config.alpha, config.dropout)
        self.checkpointed: frozenset[str] = frozenset()
        init_backbone_weights(self, config.zero_init_final_bn)
        self.set_activation_checkpointing(activation_checkpointing)

    def set_activation_checkpointing(self, stages: Sequence[str] | bool) -> None:
        """Recompute the named stages ("s1" stem .. "s5"; True = all) in backward.

        A checkpointed stage keeps only the input of each residual block (of the
        stem, for s1) and recomputes the rest, together with the fusion that follows it.
        """
        selected = set(STAGE_NAMES) if stages is True else set(stages or ())
        unknown = selected - set(STAGE_NAMES)
        if unknown:
            raise ValueError(f"activation_checkpointing: unknown stage(s) {sorted(unknown)}; choose from {list(STAGE_NAMES)}")
        self.checkpointed = frozenset(selected)

    def _stage(self, name: str, pathways: list[torch.Tensor]) -> list[torch.Tensor]:
        enabled = name in self.checkpointed
        stage = getattr(self, name)
        pathways = list(run_checkpointed(stage, pathways, enabled)) if name == "s1" else stage(pathways, enabled)
        fuse = getattr(self, f"{name}_fuse", None)
        return list(run_checkpointed(fuse, pathways, enabled)) if fuse is not None else pathways

    @property
    def output_dims(self) -> tuple[int, int]:
        return output_channels(self.config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: B x 3 x T x H x W (T a multiple of alpha) -> B x (C_slow + C_fast) x T."""
        pathways = [x[:, :, :: self.config.alpha], x]
        for name in STAGE_NAMES:
            pathways = self._stage(name, pathways)
        return self.head(pathways)
