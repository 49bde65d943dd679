import math

import pytest
import torch

from dataset.collate import PadCollate
from dataset.video_dataset import Sample
from utils.config.schema import OFFICIAL_CONV_TYPES
from utils.kernel_spec import feature_length, parse_kernel_spec, temporal_padding

# (left_pad, total_stride) of every official conv_type, worked out by hand from the official collate_fn
# (dataset/dataloader_video.py): at each K, left_pad = left_pad * last_stride + (k - 1) / 2; at each P,
# last_stride = p and total_stride *= p. E.g. type 7, P2 K5 P2 K5: 0*2+2 = 2, then 2*2+2 = 6; stride 4.
OFFICIAL_PADDING = {0: (1, 1), 1: (2, 2), 2: (6, 4), 3: (4, 2), 4: (4, 1), 5: (6, 2), 6: (6, 2), 7: (6, 4),
                    8: (6, 4), 9: (4, 2), 10: (4, 1)}


@pytest.mark.parametrize("conv_type", sorted(OFFICIAL_CONV_TYPES))
def test_padding_of_every_official_conv_type(conv_type):
    assert temporal_padding(parse_kernel_spec(OFFICIAL_CONV_TYPES[conv_type])) == OFFICIAL_PADDING[conv_type]


@pytest.mark.parametrize("conv_type", [2, 6, 7])
@pytest.mark.parametrize("num_frames", [1, 17, 40])
def test_collate_pads_as_the_official_collate(conv_type, num_frames):
    left_pad, stride = OFFICIAL_PADDING[conv_type]
    video = torch.arange(num_frames, dtype=torch.uint8)[:, None, None, None].expand(num_frames, 2, 2, 3)
    batch = PadCollate(OFFICIAL_CONV_TYPES[conv_type])([Sample(video, [1], {"fileid": "v"})])
    expected = math.ceil(num_frames / stride) * stride + 2 * left_pad
    assert int(batch.video_length[0]) == batch.video.shape[1] == expected
    frames = batch.video[0, :, 0, 0, 0].tolist()
    assert frames == [0] * left_pad + list(range(num_frames)) + [num_frames - 1] * (expected - left_pad - num_frames)


@pytest.mark.parametrize("num_frames", [16, 17, 40, 101, 203])
def test_feature_length_matches_published_formula(num_frames):
    layers = parse_kernel_spec("K5 P2 K5 P2")
    assert feature_length(num_frames, layers) == ((num_frames - 4) // 2 - 4) // 2


@pytest.mark.parametrize("spec", ["", "K4 P2", "X5", "K5 P0", "K5P2"])
def test_bad_specs_are_rejected(spec):
    with pytest.raises(ValueError):
        parse_kernel_spec(spec)
