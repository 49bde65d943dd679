import math

import pytest

from utils.kernel_spec import feature_length, padded_length, parse_kernel_spec, temporal_padding


def test_default_spec_padding_matches_method():
    layers = parse_kernel_spec("K5 P2 K5 P2")
    assert temporal_padding(layers) == (6, 4)


@pytest.mark.parametrize("num_frames", [16, 17, 40, 101, 203])
def test_feature_length_matches_published_formula(num_frames):
    layers = parse_kernel_spec("K5 P2 K5 P2")
    assert feature_length(num_frames, layers) == ((num_frames - 4) // 2 - 4) // 2


@pytest.mark.parametrize("num_frames", [1, 16, 37, 140])
def test_padded_length_is_ceil_to_stride_plus_twelve(num_frames):
    layers = parse_kernel_spec("K5 P2 K5 P2")
    assert padded_length(num_frames, layers) == math.ceil(num_frames / 4) * 4 + 12


def test_other_specs_follow_the_general_rule():
    # K3: 1 frame of context; then P2 doubles the stride; K5 adds 2*2; K3 adds 1*2.
    assert temporal_padding(parse_kernel_spec("K3 P2 K5 K3")) == (1 + 4 + 2, 2)
    assert temporal_padding(parse_kernel_spec(["K5", "K5"])) == (4, 1)


@pytest.mark.parametrize("spec", ["", "K4 P2", "X5", "K5 P0", "K5P2"])
def test_bad_specs_are_rejected(spec):
    with pytest.raises(ValueError):
        parse_kernel_spec(spec)
