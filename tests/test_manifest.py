"""A corpus of one's own through `python -m preprocess --dataset custom --manifest corpus.csv`."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_fixtures import write_clip
from evaluation import normalise_hypothesis
from preprocess.cli import main as preprocess_main

SIZE = 32


def write_video(path: Path, frames: int, seed: int) -> None:
    """An mp4 of `frames` random 48x40 frames."""
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (48, 40))
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    writer.release()


@pytest.fixture
def corpus(tmp_path) -> Path:
    """Three videos, a frame folder and a frame glob, Cyrillic and Greek glosses, a signer column."""
    root = tmp_path / "corpus"
    (root / "videos").mkdir(parents=True)
    for name, frames in (("a", 9), ("b", 7), ("c", 5)):
        write_video(root / "videos" / f"{name}.mp4", frames, seed=len(name) + frames)
    write_clip(root / "frames" / "d", np.zeros((6, 20, 30, 3), np.uint8))
    write_clip(root / "frames" / "e", np.full((4, 20, 30, 3), 200, np.uint8), prefix="img")
    (root / "corpus.csv").write_text(
        "id,split,path,glosses,signer\n"
        "a,train,videos/a.mp4,ДОМ  МАМА,s1\n"
        "b,train,videos/b.mp4,ΓΕΙΑ ДОМ,s2\n"
        "c,dev,videos/c.mp4,МАМА,s1\n"
        f"d,dev,{root / 'frames' / 'd'},ДОМ ΓΕΙΑ,\n"
        "e,test,frames/e/img*.png,ΓΕΙΑ,s2\n", encoding="utf-8")
    return root


def preprocess(root: Path, manifest: Path, *extra: str) -> int:
    return preprocess_main(["--dataset", "custom", "--manifest", str(manifest), "--output", str(root / "meta"),
                            "--frames-output", str(root / "out"), "--output-size", str(SIZE), "--workers", "1",
                            *extra])


def test_a_manifest_becomes_a_preprocessed_corpus(corpus, capsys):
    assert preprocess(corpus, corpus / "corpus.csv") == 0
    meta = corpus / "meta"
    # the official rule: every gloss of every split, sorted, numbered from 1
    glosses = sorted({"ДОМ", "МАМА", "ΓΕΙΑ"})
    assert {g: v[0] for g, v in json.loads((meta / "gloss_dict.json").read_text(encoding="utf-8")).items()} == \
        {g: i for i, g in enumerate(glosses, start=1)}
    expected = {"train": [("a", 9, "ДОМ МАМА", "s1"), ("b", 7, "ΓΕΙΑ ДОМ", "s2")],
                "dev": [("c", 5, "МАМА", "s1"), ("d", 6, "ДОМ ΓΕΙΑ", "unknown")],
                "test": [("e", 4, "ΓΕΙΑ", "s2")]}
    for split, videos in expected.items():
        lines = (meta / f"{split}_info.jsonl").read_text(encoding="utf-8").splitlines()
        assert json.loads(lines[0]) == {"prefix": str(corpus / "out")}
        records = [json.loads(line) for line in lines[1:]]
        assert [(r["fileid"], r["num_frames"], r["label"], r["signer"]) for r in records] == videos
        for record in records:
            frames = sorted((corpus / "out").glob(record["folder"]))
            assert len(frames) == record["num_frames"]
            assert cv2.imread(str(frames[0])).shape == (SIZE, SIZE, 3)
        stm = (meta / f"custom-groundtruth-{split}.stm").read_text(encoding="utf-8")
        assert stm == "".join(f"{i} 1 {s} 0.0 1.79769e+308 {g}\n" for i, _, g, s in videos)
    assert [p.name for p in sorted((corpus / "out" / "test" / "e").iterdir())] == [f"img{i:04d}.png" for i in range(4)]
    capsys.readouterr()
    assert preprocess(corpus, corpus / "corpus.csv") == 0  # resumable: everything is there already
    assert "frames: 0 videos resized, 5 already done" in capsys.readouterr().out


@pytest.mark.parametrize("row, message", [
    ("f,valid,videos/a.mp4,ДОМ", "corpus.csv:3: split 'valid' is not one of train, dev, test"),
    ("a,dev,videos/b.mp4,ДОМ", "corpus.csv:3: id 'a' already used on line 2"),
    ("f,dev,videos/b.mp4,  ", "corpus.csv:3: video 'f' has no glosses"),
    ("f,dev,videos/absent.mp4,ДОМ", "corpus.csv:3: video"),
    ("f,dev,frames/none,ДОМ", "corpus.csv:3:"),
    ("f,dev,videos/b.mp4", "corpus.csv:3: expected 4 comma-separated fields"),
])
def test_a_bad_row_is_one_line_naming_it(corpus, capsys, row, message):
    manifest = corpus / "bad.csv"
    manifest.write_text("id,split,path,glosses\na,train,videos/a.mp4,ДОМ\n" + row + "\n", encoding="utf-8")
    assert preprocess(corpus, manifest) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error
    assert message.replace("corpus.csv", str(manifest)) in error, error
    assert not (corpus / "meta").exists()  # nothing written


def test_a_header_without_a_required_column_is_named(corpus, capsys):
    manifest = corpus / "bad.csv"
    manifest.write_text("id,split,file,glosses\na,train,videos/a.mp4,ДОМ\n", encoding="utf-8")
    assert preprocess(corpus, manifest) == 1
    error = capsys.readouterr().err.strip()
    assert f"{manifest}:1: the header lacks the column(s) path" in error and "\n" not in error


def test_a_broken_video_is_listed_not_fatal(corpus, capsys):
    (corpus / "videos" / "b.mp4").write_bytes(b"not a video")
    assert preprocess(corpus, corpus / "corpus.csv") == 0
    out = capsys.readouterr().out
    assert "1 frame problems" in out and "b:" in out
    problems = (corpus / "meta" / "preprocess_problems.txt").read_text(encoding="utf-8").splitlines()
    assert len(problems) == 1 and problems[0].startswith("b: ")


def test_custom_hypotheses_are_scored_as_written():
    """No PHOENIX rules on a corpus of one's own: a 'loc-' prefix or a '__LEFTHAND__' line stays."""
    glosses = ["loc-ДОМ", "__LEFTHAND__", "ΓΕΙΑ"]
    assert normalise_hypothesis(glosses, "custom") == glosses
    assert normalise_hypothesis(glosses, "phoenix2014") != glosses
