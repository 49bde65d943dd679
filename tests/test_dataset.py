import numpy as np
import pytest
import torch

from dataset.collate import PadCollate
from dataset.errors import DataError
from dataset.gloss_dict import build_gloss_dict, load_gloss_dict
from dataset.transforms import temporal_rescale_length
from dataset.video_dataset import SignVideoDataset
from tests.data_fixtures import coded_clip, write_corpus

T, H, W = 40, 40, 44


@pytest.fixture
def corpus(tmp_path):
    videos = {"vidA": (coded_clip(T, H, W), "SONNE  REGEN"), "vidB": (coded_clip(30, H, W), "WIND")}
    return write_corpus(tmp_path, videos)


def decode(sample):
    """Frame indices, rows and columns that each output pixel came from (see coded_clip)."""
    video = sample.video.numpy().astype(int)
    return video[..., 0], video[..., 1], video[..., 2]


def test_test_mode_is_centre_crop_of_all_frames(corpus):
    info, root, glosses = corpus
    sample = SignVideoDataset(info, glosses, root, mode="test", input_size=32)[0]
    frames, rows, cols = decode(sample)
    assert sample.video.dtype == torch.uint8 and tuple(sample.video.shape) == (T, 32, 32, 3)
    assert frames[:, 0, 0].tolist() == list(range(T))
    assert rows[0, :, 0].tolist() == list(range(4, 36))  # round((40 - 32) / 2) = 4
    assert cols[0, 0, :].tolist() == list(range(6, 38))  # round((44 - 32) / 2) = 6
    assert sample.label == [glosses["SONNE"], glosses["REGEN"]]
    assert sample.info["fileid"] == "vidA"


def test_train_mode_crop_flip_and_temporal_rescale(corpus):
    info, root, glosses = corpus
    dataset = SignVideoDataset(info, glosses, root, mode="train", input_size=32, temporal_min_len=8)
    tops, lefts, flips = set(), set(), []
    for epoch in range(40):
        dataset.set_epoch(epoch)
        frames, rows, cols = decode(dataset[0])
        top, first_col, last_col = rows[0, 0, 0], cols[0, 0, 0], cols[0, 0, -1]
        assert rows[0, :, 0].tolist() == list(range(top, top + 32))
        flipped = first_col > last_col
        left = last_col if flipped else first_col
        step = -1 if flipped else 1
        assert cols[0, 0, :].tolist() == list(range(first_col, first_col + 32 * step, step))
        assert (rows == rows[:1]).all() and (cols == cols[:1]).all()  # one crop for the whole clip
        tops.add(int(top)), lefts.add(int(left)), flips.append(flipped)
        indices = frames[:, 0, 0]
        length = len(indices)
        assert length % 4 == 0 and int(0.8 * T) <= length <= int(1.2 * T) + 3
        assert (np.diff(indices) >= 0).all() and indices.min() >= 0 and indices.max() < T
        if length <= T:
            assert len(set(indices.tolist())) == length  # shrinking never repeats a frame
    assert 0.2 < np.mean(flips) < 0.8
    assert min(tops) >= 0 and max(tops) <= H - 32 and len(tops) > 3
    assert min(lefts) >= 0 and max(lefts) <= W - 32 and len(lefts) > 3


@pytest.mark.parametrize(
    "num_frames, scale, expected",
    [(100, 1.0, 100), (100, 0.83, 84), (101, 1.0, 104), (20, 1.2, 32), (300, 1.0, 230 + 2)],
)
def test_temporal_rescale_length_rule(num_frames, scale, expected):
    # int(T * s) -> clamp [32, 230] -> round up so that (len - 4) % 4 == 0
    assert temporal_rescale_length(num_frames, scale) == expected


def test_same_seed_epoch_index_gives_same_sample_and_epochs_differ(corpus):
    info, root, glosses = corpus
    first = SignVideoDataset(info, glosses, root, seed=3, input_size=32)
    second = SignVideoDataset(info, glosses, root, seed=3, input_size=32)
    assert torch.equal(first[0].video, second[0].video)
    second.set_epoch(1)
    assert not torch.equal(first[0].video, second[0].video)


def test_worker_count_does_not_change_samples(corpus):
    info, root, glosses = corpus
    dataset = SignVideoDataset(info, glosses, root, seed=1, input_size=32)
    dataset.set_epoch(2)

    def videos(workers):
        loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=workers, collate_fn=PadCollate())
        return [batch.video for batch in loader]

    for single, parallel in zip(videos(0), videos(2)):
        assert torch.equal(single, parallel)


def test_frame_interval_starts_at_a_seeded_random_offset_in_every_mode(corpus):
    info, root, glosses = corpus
    for mode, extra in (("test", {}), ("train", {"temporal_scaling": 0})):
        offsets = set()
        for seed in range(12):
            dataset = SignVideoDataset(info, glosses, root, mode=mode, input_size=32, frame_interval=3, seed=seed, **extra)
            frames = decode(dataset[0])[0][:, 0, 0]
            assert (np.diff(frames) == 3).all() and frames[0] < 3
            assert torch.equal(dataset[0].video, dataset[0].video)  # reproducible for a seed
            offsets.add(int(frames[0]))
        assert offsets == {0, 1, 2}, mode


def test_image_scale_is_pil_default_resize_of_the_crop(corpus):
    from PIL import Image

    info, root, glosses = corpus
    half = SignVideoDataset(info, glosses, root, mode="test", input_size=32, image_scale=0.5)[0]
    full = SignVideoDataset(info, glosses, root, mode="test", input_size=32)[0]
    assert tuple(half.video.shape) == (T, 16, 16, 3)
    # the official Resize: PIL's Image.resize with its default filter, frame by frame
    expected = np.stack([np.array(Image.fromarray(frame).resize((16, 16))) for frame in full.video.numpy()])
    np.testing.assert_array_equal(half.video.numpy(), expected)
    expected_bicubic = np.array(Image.fromarray(full.video.numpy()[5]).resize((16, 16), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(half.video.numpy()[5], expected_bicubic)
    absolute = SignVideoDataset(info, glosses, root, mode="test", input_size=32, image_scale=24)[0]
    assert tuple(absolute.video.shape) == (T, 24, 24, 3)


def test_read_geometry_drops_rows_then_resizes_bilinear(corpus):
    import cv2

    from dataset.frames import ReadGeometry

    info, root, glosses = corpus
    cut = SignVideoDataset(info, glosses, root, mode="test", input_size=64, geometry=ReadGeometry(drop_rows=8))[0]
    assert decode(cut)[1][0, :, 0].tolist() == list(range(8, 40))  # 32 rows left, nothing to centre
    stretched = SignVideoDataset(info, glosses, root, mode="test", input_size=64,
                                 geometry=ReadGeometry(drop_rows=8, resize_to=44))[0]
    source = coded_clip(T, H, W)[3]
    np.testing.assert_array_equal(stretched.video.numpy()[3], cv2.resize(source[8:], (44, 44)))


def test_unknown_gloss_raises_naming_video_then_skips(corpus):
    info, root, glosses = corpus
    del glosses["WIND"]
    with pytest.raises(DataError, match=r"vidB.*'WIND'"):
        SignVideoDataset(info, glosses, root, mode="test", input_size=32)[1]
    dataset = SignVideoDataset(info, glosses, root, mode="test", input_size=32, skip_bad=True)
    batch = PadCollate()([dataset[0], dataset[1]])
    assert batch.skipped == 1 and [info["fileid"] for info in batch.info] == ["vidA"]


def test_missing_folder_and_bad_frame_errors(corpus):
    info, root, glosses = corpus
    frames = sorted((root / "dev" / "vidB" / "1").glob("*.png"))
    frames[5].write_bytes(b"")
    with pytest.raises(DataError) as error:
        SignVideoDataset(info, glosses, root, mode="test", input_size=32)[1]
    assert "vidB" in str(error.value) and frames[5].name in str(error.value)
    for path in frames:
        path.unlink()
    with pytest.raises(DataError, match=r"vidB.*no frames"):
        SignVideoDataset(info, glosses, root, mode="test", input_size=32)[1]
    (root / "dev" / "vidB" / "1").rmdir()
    with pytest.raises(DataError, match=r"vidB.*does not exist"):
        SignVideoDataset(info, glosses, root, mode="test", input_size=32)[1]


def test_gloss_dict_round_trip(tmp_path):
    built = build_gloss_dict(["B A  B", "C"])
    assert built == {"A": [1, 1], "B": [2, 2], "C": [3, 1]}
    path = tmp_path / "gloss_dict.json"
    path.write_text('{"A": [1, 1], "B": [2, 2], "C": [3, 1]}')
    assert load_gloss_dict(path) == {"A": 1, "B": 2, "C": 3}
    path.write_text('{"A": [0, 1]}')
    with pytest.raises(ValueError, match="gloss_dict.json"):
        load_gloss_dict(path)
