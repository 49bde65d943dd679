"""Spatial and temporal augmentation of a clip (T x H x W x 3 uint8), driven by an explicit RNG.

Same operations and order as the official SlowFastSign pipeline: train =
random crop -> horizontal flip (p 0.5) -> resize by image_scale -> temporal
rescale +-20%; test = centre crop -> resize by image_scale. Every random
draw comes from the `numpy.random.Generator` passed in, so a sample is a
pure function of its seed, whatever process computes it.
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def crop_offsets(height: int, width: int, size: int, rng: np.random.Generator) -> tuple[int, int]:
    """Uniform top-left corner of a size x size window; 0 on an axis shorter than the window."""
    top = int(rng.integers(0, height - size + 1)) if height >= size else 0
    left = int(rng.integers(0, width - size + 1)) if width >= size else 0
    return top, left


def pad_to(clip: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad H and W symmetrically up to `size` where smaller (the official RandomCrop rule)."""
    pad_h = max(0, size - clip.shape[1])
    pad_w = max(0, size - clip.shape[2])
    if not pad_h and not pad_w:
        return clip
    return np.pad(clip, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))


def random_crop(clip: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """One random size x size window, the same for every frame of the clip."""
    top, left = crop_offsets(clip.shape[1], clip.shape[2], size, rng)
    clip = pad_to(clip, size)
    return clip[:, top:top + size, left:left + size]


def center_crop(clip: np.ndarray, size: int) -> np.ndarray:
    """Central window, rounded as the official CenterCrop (no padding: a short axis stays whole)."""
    height, width = clip.shape[1], clip.shape[2]
    new_h, new_w = min(size, height), min(size, width)
    top = int(round((height - new_h) / 2.0))
    left = int(round((width - new_w) / 2.0))
    return clip[:, top:top + new_h, left:left + new_w]


def maybe_flip(clip: np.ndarray, rng: np.random.Generator, probability: float = 0.5) -> np.ndarray:
    """Mirror the whole clip left-right with the given probability."""
    if rng.random() < probability:
        return clip[:, :, ::-1]
    return clip


def rescale(clip: np.ndarray, image_scale: float) -> np.ndarray:
    """Resize frames by `image_scale`: a factor in (0, 1], or an absolute side length when > 1.

    Matches the official `Resize(image_scale)`; area interpolation when
    shrinking (anti-aliased, like PIL's default), cubic when enlarging.
    """
    if image_scale == 1.0:
        return clip
    if image_scale <= 0:
        raise ValueError(f"image_scale must be > 0, got {image_scale}")
    height, width = clip.shape[1], clip.shape[2]
    if image_scale <= 1:
        new_h, new_w = int(height * image_scale), int(width * image_scale)
    else:
        new_h = new_w = int(image_scale)
    interpolation = cv2.INTER_AREA if new_h < height else cv2.INTER_CUBIC
    return np.stack([cv2.resize(frame, (new_w, new_h), interpolation=interpolation) for frame in clip])


def temporal_rescale_length(num_frames: int, scale: float, min_len: int = 32, max_len: int = 230) -> int:
    """New clip length for a scale factor: truncate, clamp to [min_len, max_len], round up to a multiple of 4.

    The official rule: int(T * scale), then the clamps, then `(len - 4) % 4 == 0`.
    """
    length = int(num_frames * scale)
    length = max(length, min_len)
    length = min(length, max_len)
    if (length - 4) % 4:
        length += 4 - (length - 4) % 4
    return length


def temporal_rescale_indices(
    num_frames: int, rng: np.random.Generator, scaling: float = 0.2, min_len: int = 32, max_len: int = 230
) -> np.ndarray:
    """Frame indices after a random temporal rescale in [1 - scaling, 1 + scaling].

    Shrinking keeps a sorted random subset (no repeats); stretching draws
    sorted indices with replacement, as the official TemporalRescale does.
    """
    scale = (1.0 - scaling) + 2.0 * scaling * rng.random()
    length = temporal_rescale_length(num_frames, scale, min_len, max_len)
    if length <= num_frames:
        return np.sort(rng.choice(num_frames, size=length, replace=False))
    return np.sort(rng.integers(0, num_frames, size=length))


def subsample_indices(num_frames: int, interval: int, offset: int) -> np.ndarray:
    """Every `interval`-th frame starting at `offset` (frame-level downsampling)."""
    if interval < 1 or not 0 <= offset < interval:
        raise ValueError(f"need interval >= 1 and 0 <= offset < interval, got {interval}, {offset}")
    return np.arange(offset, num_frames, interval)


def max_rescaled_length(max_len: int, frame_interval: int) -> int:
    """Upper clamp of the temporal rescale under frame downsampling: ceil(max_len / interval)."""
    return int(math.ceil(max_len / frame_interval))
