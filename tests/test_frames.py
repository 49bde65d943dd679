import cv2
import numpy as np
import pytest

from dataset.errors import DataError
from dataset.frames import InputGeometry, list_frame_files, read_frames, read_video_file
from tests.data_fixtures import coded_clip, write_clip


def test_list_frame_files_sorts_glob_and_directory_forms(tmp_path):
    clip = coded_clip(3, 8, 8)
    paths = write_clip(tmp_path / "v" / "1", clip[::-1])
    (tmp_path / "v" / "1" / "notes.txt").write_text("x")
    assert list_frame_files(tmp_path / "v" / "1" / "*.png") == sorted(paths)
    assert list_frame_files(tmp_path / "v" / "1") == sorted(paths)


def test_missing_folder_error_names_the_folder(tmp_path):
    with pytest.raises(DataError, match=r"does not exist.*") as info:
        list_frame_files(tmp_path / "nope" / "1" / "*.png")
    assert "nope" in str(info.value)


def test_empty_folder_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="contains no frames"):
        list_frame_files(tmp_path / "empty" / "*.png")


def test_read_frames_returns_rgb_in_order(tmp_path):
    clip = coded_clip(4, 6, 5)
    clip[..., 1] = 200  # distinct G so a BGR/RGB swap would show
    paths = write_clip(tmp_path, clip)
    frames = read_frames(paths, "vid")
    assert frames.dtype == np.uint8 and frames.shape == (4, 6, 5, 3)
    np.testing.assert_array_equal(frames, clip)


def test_unreadable_image_error_names_video_and_file(tmp_path):
    paths = write_clip(tmp_path, coded_clip(2, 4, 4))
    paths[1].write_bytes(b"not a png")
    with pytest.raises(DataError) as info:
        read_frames(paths, "myvideo")
    message = str(info.value)
    assert "myvideo" in message and paths[1].name in message and "\n" not in message


def test_frames_of_different_sizes_are_rejected(tmp_path):
    paths = write_clip(tmp_path, coded_clip(1, 4, 4))
    other = tmp_path / "frame0001.png"
    cv2.imwrite(str(other), np.zeros((5, 4, 3), np.uint8))
    with pytest.raises(DataError, match="frame0001.png"):
        read_frames(paths + [other], "v")


def test_read_video_file_round_trip(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 24))
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0)]  # BGR: red, green, blue
    for colour in colours:
        writer.write(np.full((24, 32, 3), colour, np.uint8))
    writer.release()
    frames = read_video_file(path)
    assert frames.shape == (3, 24, 32, 3)
    dominant = frames.reshape(3, -1, 3).mean(axis=1).argmax(axis=1)
    assert dominant.tolist() == [0, 1, 2]  # RGB order: red, green, blue


def test_read_video_file_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_video_file(tmp_path / "none.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"garbage" * 10)
    with pytest.raises(DataError, match="bad.mp4"):
        read_video_file(bad)


def test_prediction_reads_a_clip_as_preprocessing_and_the_test_phase_did():
    """Lanczos resize to the stored size, every 2nd frame, centre crop: the pixels the test phase reads."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(5, 30, 40, 3), dtype=np.uint8)
    geometry = InputGeometry(frame_size=(20, 20), frame_suffix=".png", input_size=16, frame_interval=2)
    clip = geometry.prepare(frames)
    expected = np.stack([cv2.resize(f, (20, 20), interpolation=cv2.INTER_LANCZOS4)[2:18, 2:18] for f in frames[::2]])
    assert clip.dtype == np.uint8 and tuple(clip.shape) == (3, 16, 16, 3)
    np.testing.assert_array_equal(clip, expected)
    assert InputGeometry.from_dict(geometry.to_dict()) == geometry


def test_prediction_keeps_jpeg_storage_and_csl_daily_rows():
    """CSL-Daily's training frames were 256x256 JPEG files read with rows [40:] stretched back to 256."""
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(2, 300, 300, 3), dtype=np.uint8)
    clip = InputGeometry((256, 256), ".jpg", "CSL-Daily", input_size=224).prepare(frames)
    expected = []
    for frame in frames:
        bgr = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), (256, 256), interpolation=cv2.INTER_LANCZOS4)
        stored = cv2.imdecode(cv2.imencode(".jpg", bgr)[1], cv2.IMREAD_COLOR)
        read = cv2.cvtColor(cv2.resize(stored[40:], (256, 256)), cv2.COLOR_BGR2RGB)
        expected.append(read[16:240, 16:240])
    np.testing.assert_array_equal(clip, np.stack(expected))
