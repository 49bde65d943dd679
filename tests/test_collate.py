import math

import numpy as np
import pytest
import torch

from dataset.collate import PadCollate
from dataset.video_dataset import Sample


def sample(num_frames, label, name, seed):
    video = torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (num_frames, 4, 5, 3), dtype=np.uint8))
    return Sample(video, label, {"fileid": name})


def reference_normalise(frame):
    """Independent computation in NumPy float32, the official operations in their order: HWC -> CHW."""
    x = frame.numpy().astype(np.float32)
    return (((x / np.float32(255.0)) - np.float32(0.45)) / np.float32(0.225)).transpose(2, 0, 1)


def test_sorted_padded_uint8_then_normalised_like_the_official_feeder():
    short, long = sample(7, [3, 4], "short", 0), sample(10, [5], "long", 1)
    batch = PadCollate("K5 P2 K5 P2")([short, long])
    assert [i["fileid"] for i in batch.info] == ["long", "short"]
    total = math.ceil(10 / 4) * 4 + 12
    assert batch.video.dtype == torch.uint8 and tuple(batch.video.shape) == (2, total, 4, 5, 3)
    assert batch.video_length.tolist() == [total, math.ceil(7 / 4) * 4 + 12]
    assert batch.video_length.dtype == torch.int64
    network = batch.network_input()
    assert network.dtype == torch.float32 and tuple(network.shape) == (2, 3, total, 4, 5)
    assert network.is_contiguous()
    for row, item in enumerate([long, short]):
        clip = network[row].numpy()
        n = len(item.video)
        expected = [item.video[0]] * 6 + list(item.video) + [item.video[-1]] * (total - 6 - n)
        for t, frame in enumerate(expected):
            assert torch.equal(batch.video[row, t], frame)
            np.testing.assert_array_equal(clip[:, t], reference_normalise(frame))
    assert batch.label.tolist() == [5, 3, 4] and batch.label.dtype == torch.int64
    assert batch.label_length.tolist() == [1, 2]


def test_every_uint8_value_normalises_to_the_official_bits():
    """All 256 inputs; a multiplication by the reciprocal (what CUDA makes of a division by a Python number)
    is off by an ulp for some of them, so only true divisions pass."""
    values = torch.arange(256, dtype=torch.uint8).reshape(1, 256, 1, 1, 1).expand(1, 256, 1, 1, 3)
    batch = PadCollate("K1")([Sample(values[0].contiguous(), [1], {"fileid": "all"})])
    ours = batch.network_input()[0, :, :, 0, 0].numpy()
    expected = reference_normalise(values[0, :, 0].contiguous())[:, :, 0]  # the 256 values as one H x W image: 3 x 256
    np.testing.assert_array_equal(ours, expected)
    x = np.arange(256, dtype=np.float32)
    by_reciprocal = ((x * np.float32(1 / 255.0)) - np.float32(0.45)) * np.float32(1 / 0.225)
    assert (by_reciprocal != expected[0]).sum() > 0


def test_padding_follows_the_kernel_spec():
    batch = PadCollate("K3")([sample(5, [1], "a", 0)])
    assert batch.video_length.tolist() == [5 + 2]
    assert torch.equal(batch.video[0, 0], sample(5, [1], "a", 0).video[0])
    batch = PadCollate("K5 P2 K5 P2 K3 P3")([sample(5, [1], "a", 0)])
    # the official recurrence: K5 -> 2, P2, K5 -> 2*2+2 = 6, P2, K3 -> 6*2+1 = 13; stride 2*2*3 = 12
    assert batch.video_length.tolist() == [math.ceil(5 / 12) * 12 + 2 * 13]


def test_bad_samples_dropped_and_counted():
    batch = PadCollate()([None, sample(4, [1], "a", 0), None])
    assert batch.video.shape[0] == 1 and batch.skipped == 2
    nothing = PadCollate()([None, None])
    assert nothing.is_empty and nothing.skipped == 2 and not batch.is_empty


def test_mismatched_frame_sizes_name_the_video():
    odd = Sample(torch.zeros((3, 6, 5, 3), dtype=torch.uint8), [1], {"fileid": "odd"})
    with pytest.raises(ValueError, match="odd"):
        PadCollate()([sample(4, [1], "a", 0), odd])


def test_batch_to_moves_every_tensor_and_keeps_the_rest():
    batch = PadCollate()([None, sample(4, [1, 2], "a", 0), sample(6, [3], "b", 1)])
    moved = batch.to("meta")
    for name in ("video", "video_length", "label", "label_length"):
        before, after = getattr(batch, name), getattr(moved, name)
        assert after.device.type == "meta" and after.dtype == before.dtype and after.shape == before.shape, name
    assert (moved.info, moved.skipped, moved.num_frames) == (batch.info, 1, [6, 4])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="pinning memory needs CUDA")
def test_pin_memory():
    batch = PadCollate()([sample(4, [1], "a", 0)]).pin_memory()
    assert batch.video.is_pinned() and batch.label.is_pinned()


def test_padding_a_batch_further_equals_collating_it_with_a_longer_clip():
    """What another process's (or micro-batch's) longer clip would have made of these clips' rows."""
    short, middle, longest = sample(7, [3, 4], "short", 0), sample(10, [5], "middle", 1), sample(23, [1], "long", 2)
    collate = PadCollate("K5 P2 K5 P2")
    together = collate([short, middle, longest])
    alone = collate([short, middle]).padded_to(together.video.shape[1])
    assert torch.equal(alone.video, together.video[1:])
    assert torch.equal(alone.video_length, together.video_length[1:])
    assert collate([short]).padded_to(collate([short]).video.shape[1]).video.shape == collate([short]).video.shape
    with pytest.raises(ValueError):
        together.padded_to(4)
