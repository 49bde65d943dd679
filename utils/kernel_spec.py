"""The temporal kernel spec of the PFE head ("K5 P2 K5 P2"), parsed once.

The model builds its temporal convolutions from the spec and the collate
function derives its padding from the same spec, so both always agree.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

_TOKEN = re.compile(r"^([KP])(\d+)$")


@dataclass(frozen=True)
class KernelLayer:
    """One temporal layer: a convolution ("K") or a max-pooling ("P") of `size`."""

    kind: str
    size: int


def parse_kernel_spec(spec: str | Sequence[str | KernelLayer]) -> tuple[KernelLayer, ...]:
    """Parse "K5 P2 K5 P2" (or ["K5", "P2", ...], or layers already parsed); reject anything else."""
    tokens = spec.split() if isinstance(spec, str) else list(spec)
    if tokens and all(isinstance(token, KernelLayer) for token in tokens):
        return tuple(tokens)
    if not tokens:
        raise ValueError("temporal kernel spec is empty; expected e.g. 'K5 P2 K5 P2'")
    layers = []
    for token in tokens:
        match = _TOKEN.match(token.strip().upper())
        if match is None or int(match.group(2)) < 1:
            raise ValueError(f"bad temporal kernel token {token!r} in {spec!r}; expected K<odd int> or P<int>")
        kind, size = match.group(1), int(match.group(2))
        if kind == "K" and size % 2 == 0:
            raise ValueError(f"temporal conv kernel must be odd, got {token!r} in {spec!r}")
        layers.append(KernelLayer(kind, size))
    return tuple(layers)


def temporal_padding(layers: Sequence[KernelLayer]) -> tuple[int, int]:
    """Return (left_pad, total_stride) as the official collate computes them.

    At each convolution of kernel k the official recurrence sets
    left_pad = left_pad * last_pool + (k - 1) // 2, where last_pool is the size of
    the most recent pooling (1 before any); total_stride is the product of the
    pooling sizes. For the released "K5 P2 K5 P2" this is (6, 4).
    """
    left_pad, last_pool, stride = 0, 1, 1
    for layer in layers:
        if layer.kind == "K":
            left_pad = left_pad * last_pool + (layer.size - 1) // 2
        else:
            last_pool = layer.size
            stride *= layer.size
    return left_pad, stride


def feature_length(num_frames: int, layers: Sequence[KernelLayer]) -> int:
    """Length after the temporal head: valid convolutions, floor pooling."""
    length = num_frames
    for layer in layers:
        length = length - layer.size + 1 if layer.kind == "K" else length // layer.size
    return length


def padded_length(num_frames: int, layers: Sequence[KernelLayer]) -> int:
    """Length a clip of `num_frames` gets from the collate: rounded up to the stride, plus `left_pad` copies
    of its first frame before it and as many of its last frame after it."""
    return pad_to_stride(num_frames, *temporal_padding(layers))


def pad_to_stride(num_frames: int, left_pad: int, stride: int) -> int:
    """padded_length with the spec's (left_pad, stride) already worked out (the collate's per-clip call)."""
    return math.ceil(num_frames / stride) * stride + 2 * left_pad
