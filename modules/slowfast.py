"""The SlowFast backbone, assembled from stems, residual stages, BFF fusions and the per-frame head."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
import yaml
from torch import nn

from modules.fusion_helper import BiFusion
from modules.head_helper import FramewiseHead
from modules.resnet_helper import TRANSFORMS, ResStage, run_checkpointed
from modules.stem_helper import VideoModelStem
from modules.weight_init_helper import init_backbone_weights

STAGE_DEPTH = {18: (2, 2, 2, 2), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
STAGE_NAMES = ("s1", "s2", "s3", "s4", "s5")


@dataclass
class SlowFastConfig:
    """Every number that shapes the backbone; defaults are SLOWFAST_64x2_R101_50_50."""

    depth: int = 101  # 18, 50 or 101: blocks per stage from STAGE_DEPTH
    width: int = 64  # slow-pathway stem width (WIDTH_PER_GROUP x NUM_GROUPS)
    alpha: int = 4  # frame-rate ratio fast/slow: the slow pathway sees every alpha-th frame
    beta_inv: int = 8  # channel ratio slow/fast
    num_groups: int = 1  # groups of the 3x3 convolution
    trans_func: str = "bottleneck"  # residual transform: bottleneck or basic
    # temporal kernel (slow, fast) of the stem, res2, res3, res4, res5
    temporal_kernel_basis: list = field(default_factory=lambda: [[1, 5], [1, 3], [1, 3], [3, 3], [3, 3]])
    # per stage (slow, fast): how many leading blocks use the stage's temporal kernel (the rest use 1)
    num_block_temp_kernel: list = field(default_factory=lambda: [[3, 3], [4, 4], [6, 6], [3, 3]])
    spatial_strides: list = field(default_factory=lambda: [1, 2, 2, 2])  # res2..res5
    spatial_dilations: list = field(default_factory=lambda: [1, 1, 1, 1])  # res2..res5
    fusion_kernel: int = 5  # temporal kernel of the fast->slow fusion convolution
    dropout: float = 0.5  # dropout on the per-frame features
    zero_init_final_bn: bool = True  # start every residual block as the identity
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "backbone config") -> "SlowFastConfig":
        """Build from a mapping, rejecting unknown keys with the list of valid ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{source}: unknown backbone key(s) {unknown}; valid keys: {sorted(known)}")
        config = cls(**dict(values))
        config.validate(source)
        return config

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SlowFastConfig":
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(yaml.safe_load(handle) or {}, source=str(path))

    def validate(self, source: str = "backbone config") -> None:
        """Fail early on shapes that cannot be built."""
        if self.depth not in STAGE_DEPTH:
            raise ValueError(f"{source}: depth must be one of {sorted(STAGE_DEPTH)}, got {self.depth}")
        if self.trans_func not in TRANSFORMS:
            raise ValueError(f"{source}: trans_func must be one of {sorted(TRANSFORMS)}, got {self.trans_func!r}")
        if self.width % self.beta_inv:
            raise ValueError(f"{source}: width {self.width} must be divisible by beta_inv {self.beta_inv}")
        lengths = {
            "temporal_kernel_basis": (self.temporal_kernel_basis, 5),
            "num_block_temp_kernel": (self.num_block_temp_kernel, 4),
            "spatial_strides": (self.spatial_strides, 4),
            "spatial_dilations": (self.spatial_dilations, 4),
        }
        for name, (value, expected) in lengths.items():
            if len(value) != expected:
                raise ValueError(f"{source}: {name} needs {expected} entries, got {len(value)}")

    @property
    def output_dims(self) -> tuple[int, int]:
        """Channels per frame of the (slow, fast) outputs of res5."""
        slow = self.width * 32
        return slow, slow // self.beta_inv


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
        for stage, num_blocks in enumerate(STAGE_DEPTH[config.depth]):
            expansion = 2**stage
            dim_out = width * 4 * expansion
            stage_module = ResStage(
                dim_in=[dim_in, dim_in // beta_inv],
                dim_out=[dim_out, dim_out // beta_inv],
                dim_inner=[width * expansion, width * expansion // beta_inv],
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
            if stage < 3:
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
        for name in STAGE_NAMES[1:]:
            getattr(self, name).activation_checkpointing = name in selected

    def _stage(self, name: str, pathways: list[torch.Tensor]) -> list[torch.Tensor]:
        enabled = name in self.checkpointed
        stage = getattr(self, name)
        pathways = list(run_checkpointed(stage, pathways, enabled and name == "s1")) if name == "s1" else stage(pathways)
        fuse = getattr(self, f"{name}_fuse", None)
        return list(run_checkpointed(fuse, pathways, enabled)) if fuse is not None else pathways

    @property
    def output_dims(self) -> tuple[int, int]:
        return self.config.output_dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: B x 3 x T x H x W (T a multiple of alpha) -> B x (C_slow + C_fast) x T."""
        pathways = [x[:, :, :: self.config.alpha], x]
        for name in STAGE_NAMES:
            pathways = self._stage(name, pathways)
        return self.head(pathways)
