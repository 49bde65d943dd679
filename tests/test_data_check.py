"""python -m dataset.check on the shared demo corpus: clean, then with each kind of damage it must catch."""
from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

import pytest

from conftest import edited_meta, run_args
from dataset.check import main as check_main


def check(corpus, tmp_path: Path, meta: Path, *extra: str) -> int:
    return check_main(run_args(corpus, tmp_path / "work", *extra, info_dir=meta))


def test_a_clean_corpus_passes_with_its_figures(corpus, tmp_path, capsys):
    assert check(corpus, tmp_path, corpus["info_dir"], "--all") == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("the data looks ready for training") and "problem:" not in out
    for split in ("train", "dev", "test"):
        records = [json.loads(line) for line in (corpus["info_dir"] / f"{split}_info.jsonl").read_text().splitlines()[1:]]
        frames = [r["num_frames"] for r in records]
        block = out.split(f"\n{split}:\n" if split != "train" else "train:\n", 1)[1]
        assert "videos  " in block and f"  {len(records)}\n" in block.split("\n", 1)[0] + "\n"
        assert f"{min(frames)} / {statistics.median(frames):g} / {max(frames)}" in block.split("\n")[1]
    assert (tmp_path / "work" / "data_check.png").stat().st_size > 10_000


def test_missing_frames_fail_the_check(corpus, tmp_path, capsys):
    meta = edited_meta(corpus["info_dir"], tmp_path, lambda records: records[3].update(folder="train/absent/1/*.png"))
    assert check(corpus, tmp_path, meta) == 1
    out = capsys.readouterr().out
    assert "problem: train: 1 videos with missing frames" in out and "absent" in out


def test_clips_too_short_for_their_labels_fail_the_check(corpus, tmp_path, capsys):
    """A 40-gloss label on a clip of a few dozen frames: at most a quarter as many output steps as frames."""
    def edit(records):
        records[0]["label"] = " ".join(records[0]["label"].split()[:1] * 40)  # 40 repeats: 79 steps needed

    assert check(corpus, tmp_path, edited_meta(corpus["info_dir"], tmp_path, edit)) == 1
    out = capsys.readouterr().out
    assert "problem: train: 1 of 48 clips are too short for their labels under CTC" in out
    assert "its 40 glosses need 79" in out
    assert check(corpus, tmp_path, edited_meta(corpus["info_dir"], tmp_path / "again", edit), "--max-infeasible", "0.05") == 0


def test_an_undecodable_frame_fails_the_full_check(corpus, tmp_path, capsys):
    frames = tmp_path / "frames"
    shutil.copytree(corpus["frames"], frames)
    record = json.loads((corpus["info_dir"] / "train_info.jsonl").read_text().splitlines()[1])
    broken = sorted(frames.glob(record["folder"]))[1]
    broken.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert check(corpus, tmp_path, corpus["info_dir"], "--all", f"dataset_info.dataset_root={frames}") == 1
    assert f"problem: train: 1 videos with undecodable frames, e.g. {record['fileid']}: 1 frame(s) do not " \
           f"decode, e.g. {broken}" in capsys.readouterr().out


@pytest.mark.parametrize("label, needed", [("A B C", 3), ("A A B", 4), ("A A A", 5), ("A", 1)])
def test_ctc_steps_needed(label, needed):
    from modules.losses import ctc_required_length
    assert ctc_required_length(label.split()) == needed


def _set(key: str, value: str):
    return lambda records: records[2].update({key: value})


@pytest.mark.parametrize("edit, message", [
    pytest.param(_set("fileid", "my clip 01"), "4: fileid 'my clip 01' contains whitespace", id="space-in-id"),
    pytest.param(_set("signer", "Signer One"), "4: signer 'Signer One' contains whitespace", id="space-in-signer"),
    pytest.param(_set("fileid", ";;x"), "4: fileid ';;x' starts with ';;'", id="comment-id"),
    pytest.param(lambda records: records[3].update(fileid=records[2]["fileid"].upper()),
                 "5: id 'SYNTHETIC_TRAIN_00002' differs from 'synthetic_train_00002' (line 4) only in letter case",
                 id="ids-differing-in-case"),
    pytest.param(_set("label", "(laugh)"), "4: gloss '(laugh)' in label is in parentheses", id="parenthesised-gloss"),
    pytest.param(_set("label", "{x}"), "4: gloss '{x}' in label contains a brace", id="braced-gloss"),
    pytest.param(_set("label", "A / B"), "4: gloss '/' in label is a bare '/'", id="bare-slash"),
    pytest.param(_set("label", "<PAUSE> A"), "4: gloss '<PAUSE>' in label is in angle brackets",
                 id="sentence-starting-with-<PAUSE>"),
])
def test_an_older_info_file_with_a_value_the_scorers_cannot_carry_is_refused_at_once(corpus, tmp_path, capsys, edit,
                                                                                   message):
    """An info file preprocessed before the manifest refused such values: one line naming it, before any frame is
    read (and main.py stops the same way, before training)."""
    meta = edited_meta(corpus["info_dir"], tmp_path, edit)
    assert check(corpus, tmp_path, meta) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: {meta / 'train_info.jsonl'}:{message}") and "\n" not in error, error
    assert error.endswith("then preprocess again")
