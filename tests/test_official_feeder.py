"""Test-mode batches against the official feeder and collate, restated step by step, on clips of unequal length.

The official test path (dataset/dataloader_video.py, utils/video_augmentation.py):
cv2.imread + BGR->RGB for each sorted frame file, CenterCrop(input_size),
Resize(image_scale) through PIL's Image.resize default, ToTensor (T x C x H x W),
((x / 255) - 0.45) / 0.225 in float32, then collate_fn: longest first, 6 copies
of the first frame before, copies of the last frame after, up to
ceil(max_len / 4) * 4 + 12 frames, lengths ceil(len / 4) * 4 + 12.
"""
import math

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from dataset.collate import PadCollate
from dataset.video_dataset import SignVideoDataset
from tests.data_fixtures import write_corpus


def official_batch(folders, input_size, image_scale):
    videos = []
    for folder in folders:
        frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(folder.glob("*.png"))]
        height, width = frames[0].shape[:2]
        new_h, new_w = min(input_size, height), min(input_size, width)
        top, left = int(round((height - new_h) / 2.0)), int(round((width - new_w) / 2.0))
        frames = [f[top:top + new_h, left:left + new_w] for f in frames]
        if image_scale != 1.0:
            size = (int(new_w * image_scale), int(new_h * image_scale))
            frames = [np.array(Image.fromarray(f).resize(size)) for f in frames]
        video = torch.from_numpy(np.array(frames).transpose((0, 3, 1, 2))).float()
        videos.append(((video.float() / 255.0) - 0.45) / 0.225)
    videos.sort(key=len, reverse=True)
    left_pad, stride = 6, 4
    max_len = len(videos[0])
    right_pad = int(np.ceil(max_len / stride)) * stride - max_len + left_pad
    total = max_len + left_pad + right_pad
    padded = [torch.cat((v[0][None].expand(left_pad, -1, -1, -1), v,
                         v[-1][None].expand(total - len(v) - left_pad, -1, -1, -1))) for v in videos]
    lengths = [int(np.ceil(len(v) / stride) * stride + 2 * left_pad) for v in videos]
    return torch.stack(padded), lengths


@pytest.mark.parametrize("image_scale", [1.0, 0.5])
def test_test_mode_batch_equals_the_official_feeder(tmp_path, image_scale):
    rng = np.random.default_rng(0)
    videos = {}
    for name, length in (("short", 9), ("long", 14)):
        noise = rng.integers(0, 256, (length, 48, 52, 3), dtype=np.uint8)
        videos[name] = (np.stack([cv2.GaussianBlur(frame, (5, 5), 1.5) for frame in noise]), "A B")
    info, root, glosses = write_corpus(tmp_path, videos)
    dataset = SignVideoDataset(info, glosses, root, mode="test", input_size=40, image_scale=image_scale)
    batch = PadCollate("K5 P2 K5 P2")([dataset[0], dataset[1]])
    expected, lengths = official_batch([root / "dev" / name / "1" for name in videos], 40, image_scale)
    side = 40 if image_scale == 1.0 else 20
    assert tuple(expected.shape) == (2, math.ceil(14 / 4) * 4 + 12, 3, side, side)
    assert torch.equal(batch.network_input(), expected.permute(0, 2, 1, 3, 4))
    assert batch.video_length.tolist() == lengths
