"""Frame resizing: values, layout the loader finds, resuming, problems summary, video extraction, npy converter."""
import json

import cv2
import numpy as np

from dataset.gloss_dict import load_gloss_dict
from dataset.synthetic import generate_synthetic_corpus
from dataset.video_dataset import SignVideoDataset
from preprocess.cli import main
from preprocess.convert_npy import convert


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


def test_csl_daily_crops_rows_then_resizes_and_extracts_videos(tmp_path):
    root = tmp_path / "CSL-Daily"
    image = np.random.default_rng(0).integers(0, 256, (64, 48, 3), dtype=np.uint8)
    (root / "sentence/frames_512x512/S1").mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(str(root / f"sentence/frames_512x512/S1/{i:06d}.jpg"), image)
    (root / "sentence/video").mkdir(parents=True)
    writer = cv2.VideoWriter(str(root / "sentence/video/S2.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (48, 64))
    for _ in range(4):
        writer.write(image)
    writer.release()
    (root / "sentence_label").mkdir()
    (root / "sentence_label/video_map.txt").write_text(
        "index|name|length|gloss|char|word|postag\n0|S1|3|A B|x|x|x\n1|S2|4|B|x|x|x\n", encoding="utf-8")
    (root / "sentence_label/split_1.txt").write_text("name|split\nS1|dev\nS2|test\n", encoding="utf-8")
    assert main(["--dataset", "CSL-Daily", "--dataset-root", str(root), "--output", str(tmp_path / "meta"),
                 "--frames-output", str(tmp_path / "frames"), "--output-size", "16", "--workers", "1"]) == 0
    stored = cv2.imread(str(root / "sentence/frames_512x512/S1/000000.jpg"))
    expected = cv2.resize(stored[40:], (16, 16), interpolation=cv2.INTER_LANCZOS4)
    ok, encoded = cv2.imencode(".jpg", expected)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "frames/S1/000000.jpg")), cv2.imdecode(encoded, 1))
    assert len(list((tmp_path / "frames/S2").glob("*.jpg"))) == 4
    test_info = [json.loads(l) for l in (tmp_path / "meta/test_info.jsonl").read_text().splitlines()]
    assert test_info[-1]["fileid"] == "S2" and test_info[-1]["folder"] == "S2/*.jpg"


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
