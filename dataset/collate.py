"""Batching: sort by length and pad in time as the official collate does; normalise on the device.

The padding is derived from the temporal kernel spec (utils/kernel_spec.py,
docs/METHOD.md "Collate"): `left_pad` copies of the first frame before each
clip, copies of the last frame after it up to ceil(maxT / stride) * stride +
2 * left_pad frames.

Batches leave the loader as uint8 frames (a quarter of float32's bytes to copy
between processes and to the GPU); `Batch.network_input` turns them into the
normalised float32 B x C x T x H x W input where the model runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import torch
from torch.utils.data import get_worker_info

from dataset.video_dataset import Sample
from modules.export_mode import exporting
from utils.config.schema import ModelArgs
from utils.kernel_spec import KernelLayer, pad_to_stride, parse_kernel_spec, temporal_padding

MEAN = 0.45
STD = 0.225


def normalised_video(frames: torch.Tensor, memory_format: torch.memory_format = torch.contiguous_format
                     ) -> torch.Tensor:
    """uint8 B x T x H x W x 3 frames as the network's float32 B x 3 x T x H x W input: ((x / 255) - 0.45) / 0.225
    with the official code's float32 operations (Batch.network_input; the exported graph computes the same)."""
    frames = frames.permute(0, 4, 1, 2, 3)
    scale, std = (torch.full((), value, dtype=torch.float32, device=frames.device) for value in (255.0, STD))
    if exporting():  # the same operations, out of place, as an ONNX graph can hold them
        return (frames.to(torch.float32) / scale - MEAN) / std
    video = torch.empty(frames.shape, dtype=torch.float32, device=frames.device, memory_format=memory_format)
    video.copy_(frames)
    return video.div_(scale).sub_(MEAN).div_(std)


@dataclass
class Batch:
    """What the model and the loss need from one batch."""

    video: torch.Tensor  # uint8, B x T x H x W x 3 (RGB), padded; see network_input
    video_length: torch.Tensor  # int64 (B,): ceil(T / stride) * stride + 2 * left_pad
    label: torch.Tensor  # int64, all labels concatenated
    label_length: torch.Tensor  # int64 (B,)
    info: list[dict] = field(default_factory=list)
    skipped: int = 0  # samples of this batch dropped as bad (skip_bad), for the driver's count
    num_frames: list[int] = field(default_factory=list)  # clip lengths before padding

    @classmethod
    def without_clips(cls, skipped: int) -> "Batch":
        """The batch of a step whose every sample was unreadable (skip_bad): no clip, only the count."""
        return cls(torch.empty((0, 0, 0, 0, 3), dtype=torch.uint8), torch.empty(0, dtype=torch.int64),
                   torch.empty(0, dtype=torch.int64), torch.empty(0, dtype=torch.int64), skipped=skipped)

    @property
    def is_empty(self) -> bool:
        return self.video.shape[0] == 0

    def padded_to(self, length: int) -> "Batch":
        """The batch padded in time to `length` frames as if a longer clip had been collated with it: more
        copies of each clip's last frame (the last column already is one). Several processes, or several
        micro-batches of one optimiser step, pad alike so that each clip sees what one batch would show it."""
        extra = length - self.video.shape[1]
        if extra < 0:
            raise ValueError(f"cannot pad a batch of {self.video.shape[1]} frames to {length}")
        if extra == 0:
            return self
        tail = self.video[:, -1:].expand(-1, extra, -1, -1, -1)
        return replace(self, video=torch.cat([self.video, tail], dim=1))

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

    def network_input(self, memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
        """float32 B x 3 x T x H x W, ((x / 255) - 0.45) / 0.225 with the official code's float32 operations
        (so the same bits), computed in place on the video's device, in `memory_format`.

        The divisors are 0-dim tensors on that device: CUDA turns a division by a Python number into a
        multiplication by its reciprocal (up to 1 ulp off), a division by a tensor it computes exactly as the
        official code's CPU division does."""
        return normalised_video(self.video, memory_format)

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

    def __init__(self, kernel_spec: str | Sequence[KernelLayer] = ModelArgs().conv_type) -> None:
        self.left_pad, self.stride = temporal_padding(parse_kernel_spec(kernel_spec))

    def padded_length(self, num_frames: int) -> int:
        """Length of a clip of `num_frames` after padding (utils/kernel_spec.py padded_length)."""
        return pad_to_stride(num_frames, self.left_pad, self.stride)

    def __call__(self, samples: list[Sample | None]) -> Batch:
        kept = [sample for sample in samples if sample is not None]
        skipped = len(samples) - len(kept)
        if not kept:
            return Batch.without_clips(skipped)
        kept.sort(key=lambda sample: len(sample.video), reverse=True)
        total = self.padded_length(len(kept[0].video))
        frame_shape = tuple(kept[0].video.shape[1:])
        video = torch.empty((len(kept), total) + frame_shape, dtype=torch.uint8)
        if get_worker_info() is not None:
            video.share_memory_()  # sent to the main process without another copy
        for row, sample in enumerate(kept):
            if tuple(sample.video.shape[1:]) != frame_shape:
                raise ValueError(
                    f"video {sample.info.get('fileid', '?')!r} is {tuple(sample.video.shape[1:])}, "
                    f"the batch's first clip is {frame_shape}"
                )
            frames, end = sample.video, self.left_pad + len(sample.video)
            video[row, :self.left_pad] = frames[0]
            video[row, self.left_pad:end] = frames
            video[row, end:] = frames[-1]
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
