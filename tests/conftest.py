import pytest
import torch

from utils.config.merge import backbone_from_dict
from utils.config.schema import SlowFastConfig
from utils.kernel_spec import padded_length, parse_kernel_spec


def tiny_backbone(**overrides) -> SlowFastConfig:
    """Same code path as R101; only depth and width shrink so a test runs in seconds."""
    values = dict(depth=18, width=16, num_block_temp_kernel=[[2, 2], [2, 2], [1, 1], [1, 1]], dropout=0.0)
    values.update(overrides)
    return backbone_from_dict(values)


def padded_frames(num_frames: int) -> int:
    """Padded length under the released K5 P2 K5 P2 head (tests/test_kernel_spec.py checks the rule)."""
    return padded_length(num_frames, parse_kernel_spec("K5 P2 K5 P2"))


@pytest.fixture(autouse=True)
def _deterministic_seed():
    torch.manual_seed(0)
