from pathlib import Path

import torch

from conftest import tiny_backbone, tiny_recognition_batch
from deploy.prediction import expand_inputs, prediction_name
from slr_network import SLRModel
from utils.distributed import DistContext
from utils.precision import Precision


def _batch(frames=(24, 20)):
    return tiny_recognition_batch(frames)


def test_prediction_names_follow_the_input_and_never_collide():
    taken = set()
    names = [prediction_name(Path(p), taken) for p in (
        "videos/clip.mp4", "dev/01April_2010_Thursday_heute-6694/1/*.png", "dev/01April_2010_Thursday_heute-6694/1",
        "own/frames_of_me", "other/frames_of_me/*.jpg", "more/clip.MOV")]
    assert names == ["clip", "01April_2010_Thursday_heute-6694", "01April_2010_Thursday_heute-6694_2",
                     "frames_of_me", "frames_of_me_2", "clip_2"]


def test_a_glob_over_several_folders_is_one_input_per_folder(tmp_path):
    """The README's `"clips/*/*.png"`: each folder a video, not one video of every frame."""
    for name in ("b_clip", "a_clip"):
        (tmp_path / "clips" / name).mkdir(parents=True)
        for index in range(3):
            (tmp_path / "clips" / name / f"{index}.png").write_bytes(b"")
    (tmp_path / "clips" / "empty").mkdir()
    single = str(tmp_path / "clips" / "a_clip" / "*.png")
    assert expand_inputs([str(tmp_path / "clips" / "*" / "*.png"), single]) == [
        tmp_path / "clips" / "a_clip" / "*.png", tmp_path / "clips" / "b_clip" / "*.png", Path(single)]


def test_decoding_counts_blank_steps_without_building_graphs():
    """decode_split runs under no_grad (no autograd graph kept for a whole split) and counts, over each clip's
    own output steps only, those whose most probable class is the blank."""
    from decoding.ctc_decoder import CTCDecoder
    from seq_scripts import decode_split

    model, context = SLRModel(5, tiny_backbone(), hidden_size=16, lstm_dropout=0.0), DistContext(torch.device("cpu"))
    seen = []
    model.register_forward_hook(lambda module, args, output: seen.append((torch.is_grad_enabled(), output)))
    batch = _batch()
    decoded = decode_split(model, [batch], CTCDecoder({"a": 1, "b": 2, "c": 3, "d": 4}, 5), context, Precision())
    [(grad_enabled, output)] = seen
    assert not grad_enabled
    logits = output.sequence_logits[0]
    expected = sum(int((logits[:n, b].argmax(-1) == 0).sum()) for b, n in enumerate(output.feat_len.tolist()))
    assert (decoded.blank_steps, decoded.steps) == (expected, int(output.feat_len.sum()))
    assert set(decoded.lstm) == set(decoded.conv) == {"v0", "v1"}
