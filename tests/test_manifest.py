"""A corpus of one's own through `python -m preprocess --dataset custom --manifest corpus.csv`."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from data_fixtures import write_clip
from dataset.video_dataset import SignVideoDataset
from evaluation import normalise_hypothesis, read_stm
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


def refusal(root: Path, capsys, text: str) -> tuple[Path, str]:
    """(manifest, error line) of preprocessing a manifest of `text`, which must stop with one line, writing nothing."""
    manifest = root / "bad.csv"
    manifest.write_text(text, encoding="utf-8")
    assert preprocess(root, manifest) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error, error
    assert not (root / "meta").exists()
    return manifest, error


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
    manifest, error = refusal(corpus, capsys, "id,split,path,glosses\na,train,videos/a.mp4,ДОМ\n" + row + "\n")
    assert message.replace("corpus.csv", str(manifest)) in error, error


def test_a_header_without_a_required_column_is_named(corpus, capsys):
    manifest, error = refusal(corpus, capsys, "id,split,file,glosses\na,train,videos/a.mp4,ДОМ\n")
    assert f"{manifest}:1: the header lacks the column(s) path" in error


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


@pytest.mark.parametrize("row, message", [
    pytest.param("my clip 01,dev,videos/b.mp4,ДОМ,s1", "id 'my clip 01' contains whitespace, which splits STM/CTM "
                 "lines", id="space-in-id"),
    pytest.param("f,dev,videos/b.mp4,ДОМ,Signer One", "signer 'Signer One' contains whitespace, which splits STM/CTM "
                 "lines", id="space-in-signer"),
    pytest.param("f\x07g,dev,videos/b.mp4,ДОМ,s1", "id 'f\\x07g' contains the control character '\\x07'",
                 id="control-character"),
    pytest.param(";;f,dev,videos/b.mp4,ДОМ,s1", "id ';;f' starts with ';;', which makes its STM and CTM lines comments",
                 id="comment-id"),
    pytest.param("A,dev,videos/b.mp4,ДОМ,s1", "id 'A' differs from 'a' (line 2) only in letter case, which sclite "
                 "ignores", id="ids-differing-in-case"),
    pytest.param("f,dev,videos/b.mp4,ДОМ (laugh),s1", "gloss '(laugh)' in glosses is in parentheses, which sclite "
                 "reads as an optionally deletable word", id="parenthesised-gloss"),
    pytest.param("f,dev,videos/b.mp4,ДОМ {x},s1", "gloss '{x}' in glosses contains a brace", id="braced-gloss"),
    pytest.param("f,dev,videos/b.mp4,ДОМ x{y,s1", "gloss 'x{y' in glosses contains a brace", id="brace-in-gloss"),
    pytest.param("f,dev,videos/b.mp4,ДОМ / МАМА,s1", "gloss '/' in glosses is a bare '/', which separates sclite's "
                 "alternatives", id="bare-slash"),
    pytest.param("f,dev,videos/b.mp4,ДОМ @,s1", "gloss '@' in glosses is '@', sclite's null word", id="null-word"),
    pytest.param("f,dev,videos/b.mp4,<PAUSE> ДОМ,s1", "gloss '<PAUSE>' in glosses is in angle brackets, which sclite "
                 "reads as the video's label at the start of a reference", id="sentence-starting-with-<PAUSE>"),
    pytest.param("f,dev,videos/b.mp4,ДОМ*,s1", "gloss 'ДОМ*' in glosses contains '*', the official Python scorer's "
                 "gap marker", id="asterisk"),
    pytest.param("f,dev,videos/b.mp4,[EMPTY],s1", "gloss '[EMPTY]' in glosses is what the scorers put for a video "
                 "without output", id="empty-hypothesis-marker"),
    pytest.param("f,dev,videos/b.mp4,IGNORE_TIME_SEGMENT_IN_SCORING,s1", "gloss 'IGNORE_TIME_SEGMENT_IN_SCORING' in "
                 "glosses makes sclite leave the whole video out of scoring", id="ignored-segment"),
])
def test_a_value_the_scoring_files_cannot_carry_is_one_line_naming_it(corpus, capsys, row, message):
    """Each value would break the STM/CTM files or be scored wrongly at the first evaluation, after an epoch."""
    manifest, error = refusal(corpus, capsys, f"id,split,path,glosses,signer\na,train,videos/a.mp4,ДОМ,s1\n{row}\n")
    assert error.startswith(f"error: {manifest}:3: {message}") and ": rename" in error, error  # what, where, what to do


def test_glob_characters_in_ids_and_folders_work(tmp_path):
    """`[`, `*` and `?` in ids, in the manifest's folder, in frame folders and in the output folders: the frames are
    found where they were written (an info file of an earlier version, whose folders are not escaped, too)."""
    root = tmp_path / "set[1]"
    (root / "videos").mkdir(parents=True)
    write_video(root / "videos" / "take[1].mp4", 5, seed=1)
    write_clip(root / "frames" / "clip[2]", np.zeros((6, 20, 30, 3), np.uint8))
    write_clip(root / "frames" / "g[3]", np.zeros((4, 20, 30, 3), np.uint8))
    (root / "corpus.csv").write_text("id,split,path,glosses\n"
                                     "v[1],train,videos/take[1].mp4,ДОМ МАМА\n"
                                     "what?,train,frames/clip[2],ДОМ\n"
                                     "a*,dev,frames/g[[]3]/*.png,МАМА\n", encoding="utf-8")
    out, meta = tmp_path / "out[1]", tmp_path / "meta[1]"
    assert preprocess_main(["--dataset", "custom", "--manifest", str(root / "corpus.csv"), "--output", str(meta),
                            "--frames-output", str(out), "--output-size", str(SIZE), "--workers", "1"]) == 0
    gloss_dict = {"ДОМ": 1, "МАМА": 2}
    for split, expected in (("train", [("v[1]", 5), ("what?", 6)]), ("dev", [("a*", 4)])):
        info = meta / f"{split}_info.jsonl"
        records = [json.loads(line) for line in info.read_text(encoding="utf-8").splitlines()[1:]]
        assert [(r["fileid"], r["num_frames"]) for r in records] == expected
        assert list(read_stm(meta / f"custom-groundtruth-{split}.stm")) == [fileid for fileid, _ in expected]
        unescaped = info.with_name(f"old_{split}_info.jsonl")
        text = info.read_text(encoding="utf-8")
        unescaped.write_text(text.replace("[[]", "[").replace("[*]", "*").replace("[?]", "?"), encoding="utf-8")
        for path in (info, unescaped):
            dataset = SignVideoDataset(path, gloss_dict, out, mode="test", input_size=SIZE)
            assert [len(dataset.load(i).video) for i in range(len(dataset))] == [frames for _, frames in expected]


def test_a_rerun_writes_the_same_metadata(corpus):
    """Resuming finds every video done and writes the info files (frame counts included) byte for byte again."""
    assert preprocess(corpus, corpus / "corpus.csv") == 0
    first = {path.name: path.read_bytes() for path in (corpus / "meta").iterdir()}
    assert preprocess(corpus, corpus / "corpus.csv") == 0
    assert {path.name: path.read_bytes() for path in (corpus / "meta").iterdir()} == first


def test_a_translation_column_gives_the_records_their_sentences(corpus):
    """The optional `translation` column (quoted when it holds commas) becomes each record's `translation`, which
    translation reads as the sentence (tokens separated by single spaces); rows without one have none."""
    from dataset.info import InfoFile
    from translation.corpus import translation_of

    rows = (corpus / "corpus.csv").read_text(encoding="utf-8").splitlines()
    sentences = ['"das haus, die mama"', "hallo  haus", "mama", "", "hallo"]
    (corpus / "corpus.csv").write_text("\n".join([rows[0] + ",translation"] + [
        f"{row},{sentence}" for row, sentence in zip(rows[1:], sentences)]) + "\n", encoding="utf-8")
    assert preprocess(corpus, corpus / "corpus.csv") == 0
    train = InfoFile.read(corpus / "meta" / "train_info.jsonl").records
    dev = InfoFile.read(corpus / "meta" / "dev_info.jsonl").records
    assert [translation_of(record, "custom") for record in train] == ["das haus, die mama", "hallo haus"]
    assert [translation_of(record, "custom") for record in dev] == ["mama", None]
