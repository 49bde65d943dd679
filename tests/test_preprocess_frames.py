"""Frame resizing: values, layout the loader finds, resuming, problems summary, video extraction, npy converter."""
import json

import cv2
import numpy as np

from dataset.gloss_dict import load_gloss_dict
from dataset.synthetic import generate_synthetic_corpus
from dataset.video_dataset import SignVideoDataset
from preprocess.cli import main
from preprocess.convert_npy import convert
from preprocess.convert_npy import main as convert_main


def preprocess(root, out, frames, *extra):
    return main(["--dataset", "phoenix2014", "--dataset-root", str(root), "--output", str(out),
                 "--frames-output", str(frames), "--output-size", "32", "--workers", "1", *extra])


def test_synthetic_corpus_through_phoenix_path_loads(tmp_path):
    corpus = generate_synthetic_corpus(tmp_path / "raw", train=2, dev=1, test=1, frame_size=(40, 48))
    assert preprocess(corpus, tmp_path / "meta", tmp_path / "frames") == 0
    source = sorted((corpus / "features/fullFrame-210x260px/dev").glob("*/1/*.png"))
    resized = sorted((tmp_path / "frames" / "dev").glob("*/1/*.png"))
    assert [p.name for p in resized] == [p.name for p in source]
    expected = cv2.resize(cv2.imread(str(source[3])), (32, 32), interpolation=cv2.INTER_LANCZOS4)
    np.testing.assert_array_equal(cv2.imread(str(resized[3])), expected)
    glosses = load_gloss_dict(tmp_path / "meta" / "gloss_dict.json")
    csv_glosses = {g for line in (corpus / "annotations/manual/train.corpus.csv").read_text().splitlines()[1:]
                   for g in line.split("|")[3].split()}
    assert csv_glosses <= set(glosses)
    dataset = SignVideoDataset(tmp_path / "meta" / "dev_info.jsonl", glosses, tmp_path / "frames", mode="test",
                               input_size=28)
    sample = dataset[0]
    assert tuple(sample.video.shape) == (len(source), 28, 28, 3)
    assert dataset.records[0]["num_frames"] == len(source)


def test_resume_redoes_only_incomplete_videos(tmp_path):
    corpus = generate_synthetic_corpus(tmp_path / "raw", train=2, dev=1, test=1, frame_size=(40, 48))
    preprocess(corpus, tmp_path / "meta", tmp_path / "frames")
    frames = sorted((tmp_path / "frames").glob("*/*/1/*.png"))
    stamps = {p: p.stat().st_mtime_ns for p in frames}
    victim = sorted((tmp_path / "frames" / "train").glob("*/1/*.png"))[0]
    victim.unlink()
    preprocess(corpus, tmp_path / "meta", tmp_path / "frames")
    assert victim.is_file()
    same_video = victim.parent
    for path, stamp in stamps.items():
        if path.parent != same_video:
            assert path.stat().st_mtime_ns == stamp
    assert not list((tmp_path / "frames").rglob("*.tmp"))


def test_missing_and_unreadable_frames_are_summarised_not_fatal(tmp_path, capsys):
    corpus = generate_synthetic_corpus(tmp_path / "raw", train=2, dev=1, test=1, frame_size=(40, 48))
    dev = sorted((corpus / "features/fullFrame-210x260px/dev").glob("*/1/*.png"))
    dev[2].write_bytes(b"broken")
    for path in (corpus / "features/fullFrame-210x260px/test").glob("*/1/*.png"):
        path.unlink()
    assert preprocess(corpus, tmp_path / "meta", tmp_path / "frames") == 0
    report = (tmp_path / "meta" / "preprocess_problems.txt").read_text().splitlines()
    assert len(report) == 2
    assert any("unreadable frame" in line and dev[2].name in line for line in report)
    assert any("synthetic_test_00000" in line and "no frames" in line for line in report)
    assert "2 frame problems" in capsys.readouterr().out
    assert len(list((tmp_path / "frames" / "train").glob("*/1/*.png"))) > 0


def csl_daily_corpus(root, frames=3, size=512):
    """A CSL-Daily layout: one video as 512x512 JPEG frames (S1, dev), one as a video file (S2, test)."""
    rng = np.random.default_rng(0)
    (root / "sentence/frames_512x512/S1").mkdir(parents=True)
    for i in range(frames):
        image = cv2.GaussianBlur(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), (9, 9), 3)
        cv2.imwrite(str(root / f"sentence/frames_512x512/S1/{i:06d}.jpg"), image)
    (root / "sentence/video").mkdir(parents=True)
    writer = cv2.VideoWriter(str(root / "sentence/video/S2.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (48, 64))
    for _ in range(4):
        writer.write(rng.integers(0, 256, (64, 48, 3), dtype=np.uint8))
    writer.release()
    (root / "sentence_label").mkdir()
    (root / "sentence_label/video_map.txt").write_text(
        f"index|name|length|gloss|char|word|postag\n0|S1|{frames}|A B|x|x|x\n1|S2|4|B|x|x|x\n", encoding="utf-8")
    (root / "sentence_label/split_1.txt").write_text("name|split\nS1|dev\nS2|test\n", encoding="utf-8")
    return root


def official_csl_daily_frame(source_jpg, input_size=224):
    """The official steps, restated: preprocessing resizes the whole 512x512 frame to 256x256 (Lanczos) and
    cv2.imwrite's it under the same .jpg name; the reader drops rows [40:], resizes back to 256x256 with
    cv2.resize's default (bilinear), converts to RGB; the test transform takes the centre 224x224."""
    resized = cv2.resize(cv2.imread(str(source_jpg)), (256, 256), interpolation=cv2.INTER_LANCZOS4)
    stored = cv2.imdecode(cv2.imencode(".jpg", resized)[1], cv2.IMREAD_COLOR)
    frame = cv2.cvtColor(cv2.resize(stored[40:, ...], (256, 256)), cv2.COLOR_BGR2RGB)
    offset = int(round((256 - input_size) / 2.0))
    return frame[offset:offset + input_size, offset:offset + input_size]


def test_csl_daily_frames_reach_the_network_as_officially(tmp_path):
    from dataset.frames import read_geometry

    root = csl_daily_corpus(tmp_path / "CSL-Daily")
    assert main(["--dataset", "CSL-Daily", "--dataset-root", str(root), "--output", str(tmp_path / "meta"),
                 "--frames-output", str(tmp_path / "frames"), "--workers", "1"]) == 0
    assert cv2.imread(str(tmp_path / "frames/S1/000000.jpg")).shape == (256, 256, 3)  # the whole frame kept
    dataset = SignVideoDataset(tmp_path / "meta/dev_info.jsonl", load_gloss_dict(tmp_path / "meta/gloss_dict.json"),
                               tmp_path / "frames", mode="test", geometry=read_geometry("CSL-Daily"))
    clip = dataset[0].video.numpy()
    for index in range(3):
        expected = official_csl_daily_frame(root / f"sentence/frames_512x512/S1/{index:06d}.jpg")
        np.testing.assert_array_equal(clip[index], expected)
    assert len(list((tmp_path / "frames/S2").glob("*.jpg"))) == 4
    test_info = [json.loads(line) for line in (tmp_path / "meta/test_info.jsonl").read_text().splitlines()]
    assert test_info[-1]["fileid"] == "S2" and test_info[-1]["folder"] == "S2/*.jpg"


def test_csl_daily_frames_of_the_old_layout_are_refused(tmp_path, capsys):
    import pytest

    from dataset.errors import DataError
    from dataset.frame_layout import check_preprocessed_csl_daily

    root = csl_daily_corpus(tmp_path / "CSL-Daily", frames=2, size=64)
    old = tmp_path / "old_frames"
    (old / "S1").mkdir(parents=True)  # what an earlier version left: frames, no layout marker
    cv2.imwrite(str(old / "S1/000000.jpg"), np.zeros((16, 16, 3), np.uint8))
    before = (old / "S1/000000.jpg").read_bytes()
    code = main(["--dataset", "CSL-Daily", "--dataset-root", str(root), "--output", str(tmp_path / "meta"),
                 "--frames-output", str(old), "--workers", "1"])
    assert code == 1
    err = capsys.readouterr().err
    assert "old layout" in err and str(old) in err
    assert (old / "S1/000000.jpg").read_bytes() == before  # nothing overwritten
    with pytest.raises(DataError, match="old layout.*python -m preprocess --dataset CSL-Daily"):
        check_preprocessed_csl_daily(old)
    assert main(["--dataset", "CSL-Daily", "--dataset-root", str(root), "--output", str(tmp_path / "meta"),
                 "--frames-output", str(tmp_path / "new"), "--workers", "1"]) == 0
    check_preprocessed_csl_daily(tmp_path / "new")


def test_convert_npy_info_and_gloss_dict(tmp_path):
    info = {"prefix": "/data", 0: {"fileid": "a", "folder": "dev/a/1/*.png", "label": "X", "num_frames": np.int64(5)},
            1: {"fileid": "b", "folder": "dev/b/1/*.png", "label": "Y", "num_frames": 7}}
    np.save(tmp_path / "dev_info.npy", np.array(info, dtype=object), allow_pickle=True)
    assert convert(tmp_path / "dev_info.npy", tmp_path / "dev_info.jsonl") == "info"
    lines = [json.loads(l) for l in (tmp_path / "dev_info.jsonl").read_text().splitlines()]
    assert lines[0] == {"prefix": "/data"}
    assert lines[1] == {"fileid": "a", "folder": "dev/a/1/*.png", "label": "X", "num_frames": 5, "index": 0}
    assert lines[2]["index"] == 1
    np.save(tmp_path / "gloss_dict.npy", np.array({"X": [1, 3], "Y": [2, 1]}, dtype=object), allow_pickle=True)
    assert convert(tmp_path / "gloss_dict.npy", tmp_path / "gloss_dict.json") == "gloss_dict"
    assert load_gloss_dict(tmp_path / "gloss_dict.json") == {"X": 1, "Y": 2}


class _RunsCode:
    """A pickle payload that would call a function when loaded."""

    def __reduce__(self):
        return (print, ("this must not run",))


def test_convert_npy_refuses_pickles_that_name_code(tmp_path, capsys):
    np.save(tmp_path / "evil.npy", np.array({0: {"fileid": _RunsCode()}}, dtype=object), allow_pickle=True)
    assert convert_main([str(tmp_path / "evil.npy"), str(tmp_path / "evil.jsonl")]) == 1
    captured = capsys.readouterr()
    assert "this must not run" not in captured.out
    assert captured.err.strip() == f"error: {tmp_path / 'evil.npy'}: refuses to load builtins.print: only numpy " \
                                   f"arrays and plain data"
    assert not (tmp_path / "evil.jsonl").exists()
