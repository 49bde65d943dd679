import pytest
import torch

from utils.config.merge import REPO_ROOT, backbone_from_dict, load_yaml
from utils.config.schema import SlowFastConfig
from utils.kernel_spec import padded_length, parse_kernel_spec

TINY_BACKBONE = REPO_ROOT / "configs" / "backbone" / "slowfast_tiny.yaml"


def tiny_backbone(**overrides) -> SlowFastConfig:
    """The demo's backbone (configs/backbone/slowfast_tiny.yaml: the R101 code path, only depth and width
    shrink) without dropout, so that runs compare exactly; `overrides` change any key."""
    values = {**load_yaml(TINY_BACKBONE), "dropout": 0.0, **overrides}
    return backbone_from_dict(values, source=str(TINY_BACKBONE))


def padded_frames(num_frames: int) -> int:
    """Padded length under the released K5 P2 K5 P2 head (tests/test_kernel_spec.py checks the rule)."""
    return padded_length(num_frames, parse_kernel_spec("K5 P2 K5 P2"))


@pytest.fixture(autouse=True)
def _deterministic_seed():
    torch.manual_seed(0)
