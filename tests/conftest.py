import math

import pytest
import torch

from modules.slowfast import SlowFastConfig


def tiny_backbone(**overrides) -> SlowFastConfig:
    """Same code path as R101; only depth and width shrink so a test runs in seconds."""
    values = dict(depth=18, width=16, num_block_temp_kernel=[[2, 2], [2, 2], [1, 1], [1, 1]], dropout=0.0)
    values.update(overrides)
    return SlowFastConfig.from_dict(values)


def padded_frames(num_frames: int) -> int:
    """Padded length under the default K5 P2 K5 P2 head (METHOD.md)."""
    return math.ceil(num_frames / 4) * 4 + 12


@pytest.fixture(autouse=True)
def _deterministic_seed():
    torch.manual_seed(0)
