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


def test_a_stream_urls_credentials_are_written_nowhere(tmp_path):
    """rtsp://user:pass@host/...?token=...: the output name, the result file, the log and the run's record carry
    the address with the user information and the token masked."""
    import json as _json

    import numpy as np

    from decoding.ctc_decoder import DecodedSequence
    from deploy.prediction import PredictionWriter
    from utils.provenance import run_record
    from utils.redact import mask_credentials

    url = "rtsp://admin:hunter2@10.1.2.3:554/live/cam1?token=s3cr3t&fps=25"
    assert mask_credentials(url) == "rtsp://***@10.1.2.3:554/live/cam1?token=***&fps=25"
    name = prediction_name(url, set())
    assert name == "cam1"
    writer = PredictionWriter(tmp_path, ["<blank>", "A"], 25.0, pictures=False)
    writer.add(url, name, np.zeros((4, 2, 2, 3), dtype=np.uint8), DecodedSequence(["A"], [1], [(0, 1)]), 4, None)
    written = (tmp_path / "cam1.json").read_text()
    assert "hunter2" not in written and "s3cr3t" not in written and "admin" not in written
    assert _json.loads(written)["input"] == mask_credentials(url)
    import sys as _sys

    argv = _sys.argv
    _sys.argv = ["main.py", "--phase", "predict", "--input", url]
    try:
        record = run_record("predict", config={"predict_args": {"inputs": [url]}})
    finally:
        _sys.argv = argv
    shown = _json.dumps([record["command"], record["config"]])
    assert "hunter2" not in shown and "s3cr3t" not in shown and mask_credentials(url) in shown
