"""Batching: sort by length, normalise, and pad in time so the temporal head sees whole windows.

The padding is derived from the temporal kernel spec (METHOD.md, Collate):
`left_pad` copies of the first frame before each clip, copies of the last
frame after it up to ceil(maxT / stride) * stride + 2 * left_pad frames.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch

from dataset.video_dataset import Sample
from utils.kernel_spec import KernelLayer, parse_kernel_spec, temporal_padding

MEAN = 0.45
STD = 0.225


@dataclass
class Batch:
    """What the model and the loss need from one batch."""

    video: torch.Tensor  # float32, B x C x T x H x W, normalised, padded
    video_length: torch.Tensor  # int64 (B,): ceil(T / stride) * stride + 2 * left_pad
    label: torch.Tensor  # int64, all labels concatenated
    label_length: torch.Tensor  # int64 (B,)
    info: list[dict] = field(default_factory=list)
    skipped: int = 0  # samples of this batch dropped as bad (skip_bad), for the driver's count
    num_frames: list[int] = field(default_factory=list)  # clip lengths before padding

    def pin_memory(self) -> "Batch":
        """Page-lock the tensors (called by DataLoader(pin_memory=True))."""
        return Batch(
            self.video.pin_memory(),
            self.video_length.pin_memory(),
            self.label.pin_memory(),
            self.label_length.pin_memory(),
            self.info,
            self.skipped,
            self.num_frames,
        )

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Batch":
        """Move the tensors to `device`; lengths stay int64 for CTC and packing."""
        return Batch(
            self.video.to(device, non_blocking=non_blocking),
            self.video_length.to(device, non_blocking=non_blocking),
            self.label.to(device, non_blocking=non_blocking),
            self.label_length.to(device, non_blocking=non_blocking),
            self.info,
            self.skipped,
            self.num_frames,
        )


class PadCollate:
    """collate_fn for SignVideoDataset; its padding follows the temporal kernel spec it is given."""

    def __init__(self, kernel_spec: str | Sequence[KernelLayer] = "K5 P2 K5 P2") -> None:
        self.left_pad, self.stride = temporal_padding(parse_kernel_spec(kernel_spec))

    def padded_length(self, num_frames: int) -> int:
        """Length of a clip of `num_frames` after padding."""
        return math.ceil(num_frames / self.stride) * self.stride + 2 * self.left_pad

    def __call__(self, samples: list[Sample | None]) -> Batch | None:
        kept = [sample for sample in samples if sample is not None]
        skipped = len(samples) - len(kept)
        if not kept:
            return None
        kept.sort(key=lambda sample: len(sample.video), reverse=True)
        total = self.padded_length(len(kept[0].video))
        _, height, width, channels = kept[0].video.shape
        video = torch.empty((len(kept), channels, total, height, width), dtype=torch.float32)
        for row, sample in enumerate(kept):
            if tuple(sample.video.shape[1:]) != (height, width, channels):
                raise ValueError(
                    f"video {sample.info.get('fileid', '?')!r} is {tuple(sample.video.shape[1:])}, "
                    f"the batch's first clip is {(height, width, channels)}"
                )
            source = torch.clamp(torch.arange(total) - self.left_pad, 0, len(sample.video) - 1)
            video[row].copy_(sample.video[source].permute(3, 0, 1, 2))
        # ((x / 255) - 0.45) / 0.225 in two in-place passes over the batch: several times
        # faster than converting clip by clip, and data loading must keep up with decoding.
        video.mul_(1.0 / (255.0 * STD)).sub_(MEAN / STD)
        labels = [torch.as_tensor(sample.label, dtype=torch.int64) for sample in kept]
        return Batch(
            video=video,
            video_length=torch.tensor([self.padded_length(len(s.video)) for s in kept], dtype=torch.int64),
            label=torch.cat(labels) if labels else torch.empty(0, dtype=torch.int64),
            label_length=torch.tensor([len(s.label) for s in kept], dtype=torch.int64),
            info=[s.info for s in kept],
            skipped=skipped,
            num_frames=[len(s.video) for s in kept],
        )
