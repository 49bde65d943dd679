"""Spatial and temporal augmentation of a clip (T x H x W x 3 uint8), driven by an explicit RNG.

Same operations and order as the official SlowFastSign pipeline: train =
random crop -> horizontal flip (p 0.5) -> resize by image_scale -> temporal
rescale +-20%; test = centre crop -> resize by image_scale. The temporal
rescale only chooses frames, so it is decided first and each chosen frame is
decoded once. Every random draw comes from the `numpy.random.Generator`
passed in, so a sample is a pure function of its seed, whatever process
computes it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


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


@dataclass(frozen=True)
class Window:
    """Where every frame of a clip is cut: rows [top, top + height), columns [left, left + width),
    mirrored left-right when `flip`; `pad_to` > 0 zero-pads frames up to that size first."""

    top: int
    left: int
    height: int
    width: int
    flip: bool = False
    pad_to: int = 0


def random_window(height: int, width: int, size: int, rng: np.random.Generator, flip_probability: float = 0.5) -> Window:
    """Training: one random size x size crop (zero padding where the frame is smaller), then a coin flip."""
    top, left = crop_offsets(height, width, size, rng)
    flip = bool(rng.random() < flip_probability)
    padding = size if height < size or width < size else 0
    return Window(top, left, size, size, flip, padding)


def center_window(height: int, width: int, size: int) -> Window:
    """Test: the central window, rounded as the official CenterCrop (no padding: a short axis stays whole)."""
    new_h, new_w = min(size, height), min(size, width)
    return Window(int(round((height - new_h) / 2.0)), int(round((width - new_w) / 2.0)), new_h, new_w)


def cut_frames(frames: np.ndarray, order: np.ndarray, window: Window) -> np.ndarray:
    """A new contiguous clip: frame `order[t]` of `frames`, cut (and mirrored) by `window`, at step t.

    One copy per output frame, straight into the result: the loader's work beyond
    decoding is mostly such copies.
    """
    if window.pad_to:
        frames = pad_to(frames, window.pad_to)
    cut = frames[:, window.top:window.top + window.height, window.left:window.left + window.width]
    out = np.empty((len(order),) + cut.shape[1:], dtype=frames.dtype)
    for t, source in enumerate(order):
        if window.flip:
            cv2.flip(cut[source], 1, dst=out[t])
        else:
            out[t] = cut[source]
    return out


def center_crop(clip: np.ndarray, size: int) -> np.ndarray:
    """Central window of every frame (a view)."""
    window = center_window(clip.shape[1], clip.shape[2], size)
    return clip[:, window.top:window.top + window.height, window.left:window.left + window.width]


def rescale(clip: np.ndarray, image_scale: float) -> np.ndarray:
    """The official `Resize(image_scale)`: each frame through PIL's `Image.resize` with its default filter
    (bicubic, antialiased), to int(side * image_scale) for a factor in (0, 1], or to an absolute side when > 1."""
    if image_scale == 1.0:
        return clip
    if image_scale <= 0:
        raise ValueError(f"image_scale must be > 0, got {image_scale}")
    height, width = clip.shape[1], clip.shape[2]
    if image_scale <= 1:
        size = (int(width * image_scale), int(height * image_scale))
    else:
        size = (int(image_scale), int(image_scale))
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(frame)).resize(size)) for frame in clip])


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
