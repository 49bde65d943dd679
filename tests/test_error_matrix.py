"""Bad input and faults through the real entry points, each in its own process.

Every failing case must exit non-zero with exactly one `error:` line on stderr
that names the offending file or key, no traceback, and must leave what an
earlier run wrote in the work directory as it was (checkpoints, CTMs, reports,
config.yaml byte for byte; log.txt only appended to). Two cases are designed to
succeed with a count instead: a corrupt frame with skip_bad, and a clip too
short for its label under CTC.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from checkpoint_files import CreatesAFile
from conftest import child_env, edited_meta, run_args, torchrun
import main as entry
from utils.checkpoint import read_checkpoint

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def meta(corpus, tmp_path_factory) -> Path:
    """The shared corpus's metadata with its first 6 training clips only, so that a whole epoch (the cases
    that must see one edited clip) takes seconds; the frames stay where they are."""
    meta = tmp_path_factory.mktemp("matrix") / "meta"
    shutil.copytree(corpus["info_dir"], meta)
    lines = (meta / "train_info.jsonl").read_text().splitlines()
    (meta / "train_info.jsonl").write_text("\n".join(lines[:7]) + "\n")
    return meta


def base_args(meta: Path, work_dir: Path, *extra: str) -> list[str]:
    """Two epochs of two steps on the trimmed metadata (resuming the earlier run's work directory)."""
    return run_args({"info_dir": meta}, work_dir, "--num-epoch", "2", "--max-steps-per-epoch", "2", *extra)


def snapshot(work_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(work_dir)): p.read_bytes() for p in sorted(work_dir.rglob("*")) if p.is_file()}


def run(command: list[str]) -> subprocess.CompletedProcess:
    env = child_env(SLOWFASTSIGN_JEMALLOC="0")
    return subprocess.run([sys.executable, *command], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def assert_one_error_line(done: subprocess.CompletedProcess, *names: str) -> str:
    assert done.returncode != 0, done.stdout[-2000:]
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and done.stderr.strip() == errors[0], done.stderr
    for name in names:
        assert name in errors[0], (name, errors[0])
    return errors[0]


def assert_untouched(before: dict[str, bytes], work_dir: Path) -> None:
    after = snapshot(work_dir)
    for name, content in before.items():
        if name == "log.txt":
            assert after[name].startswith(content), "log.txt was rewritten, not appended to"
        else:
            assert after.get(name) == content, f"{name} changed"


@pytest.fixture
def earlier_run(briefly_trained) -> Path:
    """A finished run (two evaluated epochs): the outputs every failing case must leave alone."""
    return briefly_trained


@pytest.fixture
def work_dir(earlier_run, tmp_path):
    """A copy of the earlier run's work directory for a case to fail in."""
    target = tmp_path / "work"
    shutil.copytree(earlier_run, target)
    return target


def first_train_record(meta: Path) -> dict:
    return json.loads((meta / "train_info.jsonl").read_text().splitlines()[1])


# --- configuration -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra, names", [
    (["--no-such-flag", "3"], ["--no-such-flag"]),
    (["model_args.hiden_size=3"], ["'model_args.hiden_size'; did you mean 'model_args.hidden_size'?"]),
    (["--loss-weights", "Slw=0.25"], ["did you mean 'loss_weights.Slow'"]),
    (["--phase", "tran"], ["'phase' must be one of train, test, features, predict, export, got 'tran'"]),
    (["optimizer_args.optimizer=Adamw"], ["one of Adam, SGD, got 'Adamw'; did you mean 'Adam'?"]),
    (["num_epoch=abc"], ["num_epoch", "integer"]),
    (["--batch-size", "0"], ["batch_size"]),
    (["decode_args.beam_width=0"], ["decode_args.beam_width"]),
    (["dataset=phoenix2015"], ["dataset", "phoenix2014"]),
    (['amp="yes"'], ["amp", "true or false"]),
])
def test_configuration_errors(meta, work_dir, extra, names):
    before = snapshot(work_dir)
    done = run(["main.py", *base_args(meta, work_dir), *extra])
    assert_one_error_line(done, *names)
    assert done.returncode == 2
    assert_untouched(before, work_dir)


@pytest.mark.slow
def test_missing_and_broken_yaml(meta, work_dir, tmp_path):
    before = snapshot(work_dir)
    assert_one_error_line(run(["main.py", "--config", str(tmp_path / "absent.yaml"), *base_args(meta, work_dir)]),
                          "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("num_epoch: [1, 2\n")
    assert_one_error_line(run(["main.py", "--config", str(broken), *base_args(meta, work_dir)]), "broken.yaml")
    assert_untouched(before, work_dir)


# --- checkpoints ---------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_bad_weights_files(meta, work_dir, earlier_run, tmp_path):
    before = snapshot(work_dir)
    test_args = base_args(meta, work_dir) + ["--phase", "test"]
    assert_one_error_line(run(["main.py", *test_args, "--load-weights", str(tmp_path / "absent.pt")]), "absent.pt")
    whole = (earlier_run / "last_checkpoint.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(whole[: len(whole) // 2])
    assert_one_error_line(run(["main.py", *test_args, "--load-weights", str(tmp_path / "truncated.pt")]),
                          "truncated.pt", "truncated")
    (tmp_path / "notes.pt").write_text("not a checkpoint at all\n")
    assert_one_error_line(run(["main.py", *test_args, "--load-weights", str(tmp_path / "notes.pt")]), "notes.pt",
                          "is no PyTorch checkpoint")
    assert_untouched(before, work_dir)


@pytest.mark.slow
def test_a_crafted_checkpoint_is_refused_with_nothing_run(meta, work_dir, earlier_run, tmp_path):
    """--load-weights (test) and --load-checkpoints (resume) read checkpoints as data: a pickle that would
    create a file is refused in one line, and the file never appears."""
    before = snapshot(work_dir)
    target = tmp_path / "created_by_the_checkpoint"
    crafted = read_checkpoint(earlier_run / "last_checkpoint.pt")
    crafted["history"] = CreatesAFile(target)
    torch.save(crafted, tmp_path / "crafted.pt")
    for flag, phase in (("--load-weights", "test"), ("--load-checkpoints", "train")):
        done = run(["main.py", *base_args(meta, work_dir), "--phase", phase, flag, str(tmp_path / "crafted.pt")])
        assert_one_error_line(done, "crafted.pt is not a plain-data checkpoint: it names io.open")
        assert not target.exists()
    assert_untouched(before, work_dir)


@pytest.mark.slow
def test_checkpoint_for_another_vocabulary_needs_ignore_weights(meta, work_dir, earlier_run, tmp_path):
    checkpoint = read_checkpoint(earlier_run / "last_checkpoint.pt")
    for key, value in list(checkpoint["model_state_dict"].items()):
        if key.startswith(("classifier", "conv1d.fc")):
            checkpoint["model_state_dict"][key] = torch.zeros(value.shape[0], value.shape[1] + 3)
    torch.save(checkpoint, tmp_path / "other_vocabulary.pt")
    before = snapshot(work_dir)
    args = base_args(meta, work_dir) + ["--phase", "test", "--load-weights", str(tmp_path / "other_vocabulary.pt")]
    assert_one_error_line(run(["main.py", *args]), "other_vocabulary.pt", "ignore_weights")
    assert_untouched(before, work_dir)
    done = run(["main.py", *args, "ignore_weights=[classifier,conv1d.fc]"])
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
def test_failed_checkpoint_write_keeps_the_previous_one_and_the_next_run_resumes(meta, work_dir, monkeypatch,
                                                                                capsys):
    import utils.checkpoint as checkpoint_module

    previous = (work_dir / "last_checkpoint.pt").read_bytes()
    real_save = torch.save

    def full_disk(obj, handle, *args, **kwargs):
        handle.write(b"partial bytes before the disk filled up")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", full_disk)
    assert entry.main(base_args(meta, work_dir, "--num-epoch", "3")) == 1  # resumes epoch 2, then cannot save it
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: writing checkpoint") and "No space left on device" in error and "\n" not in error
    assert (work_dir / "last_checkpoint.pt").read_bytes() == previous
    assert not list(work_dir.glob("*.tmp*")) and not list(work_dir.glob(".*.tmp*"))
    monkeypatch.setattr(checkpoint_module.torch, "save", real_save)
    done = run(["main.py", *base_args(meta, work_dir, "--num-epoch", "3")])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "continuing at epoch 2" in done.stdout
    assert read_checkpoint(work_dir / "last_checkpoint.pt")["epoch"] == 2


# --- data ----------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_missing_info_file_and_stm(meta, work_dir, tmp_path):
    before = snapshot(work_dir)
    edited = tmp_path / "meta"
    shutil.copytree(meta, edited)
    (edited / "train_info.jsonl").unlink()
    assert_one_error_line(run(["main.py", *base_args(edited, work_dir)]), "train_info.jsonl")
    shutil.copy(meta / "train_info.jsonl", edited / "train_info.jsonl")
    (edited / "phoenix2014-groundtruth-dev.stm").unlink()
    assert_one_error_line(run(["main.py", *base_args(edited, work_dir)]), "phoenix2014-groundtruth-dev.stm")
    (edited / "gloss_dict.json").unlink()
    done = run(["main.py", *base_args(edited, work_dir)])
    assert_one_error_line(done, "gloss dictionary not found", str(edited / "gloss_dict.json"))
    assert done.returncode == 1  # a data error, not a usage error
    assert_untouched(before, work_dir)


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["missing folder", "empty folder", "unknown gloss"])
def test_bad_training_records(corpus, meta, work_dir, tmp_path, problem):
    record = first_train_record(meta)
    frame_root = tmp_path / "frames"
    shutil.copytree(corpus["frames"], frame_root)
    folder = frame_root / Path(record["folder"]).parent

    def edit(records):
        if problem == "unknown gloss":
            records[0]["label"] += " NEUGLOSSE"

    if problem == "missing folder":
        shutil.rmtree(folder)
    elif problem == "empty folder":
        for frame in folder.iterdir():
            frame.unlink()
    edited = edited_meta(meta, tmp_path, edit)
    before = snapshot(work_dir)
    args = base_args(edited, work_dir) + [f"dataset_info.dataset_root={frame_root}", "--no-resume"]
    names = {"missing folder": [str(folder)], "empty folder": [str(folder), "no frames"],
             "unknown gloss": [record["fileid"], "NEUGLOSSE"]}[problem]
    assert_one_error_line(run(["main.py", *args]), *names)
    assert_untouched(before, work_dir)


def corrupt_first_frame(corpus: dict[str, Path], meta: Path, tmp_path: Path) -> tuple[Path, Path]:
    frame_root = tmp_path / "frames"
    shutil.copytree(corpus["frames"], frame_root)
    record = first_train_record(meta)
    frame = sorted((frame_root / Path(record["folder"]).parent).glob("*.png"))[0]
    frame.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return frame_root, frame


@pytest.mark.slow
def test_corrupt_frame_in_a_loader_worker_is_one_line(corpus, meta, work_dir, tmp_path):
    frame_root, frame = corrupt_first_frame(corpus, meta, tmp_path)
    before = snapshot(work_dir)
    args = base_args(meta, work_dir) + [f"dataset_info.dataset_root={frame_root}", "--no-resume",
                                          "--num-worker", "1", "feeder_args.skip_bad=false"]
    line = assert_one_error_line(run(["main.py", *args]), str(frame))
    assert "DataLoader worker" not in line
    assert_untouched(before, work_dir)


@pytest.mark.slow
def test_corrupt_frame_with_skip_bad_is_counted(corpus, meta, tmp_path):
    frame_root, _ = corrupt_first_frame(corpus, meta, tmp_path)
    args = base_args(meta, tmp_path / "work") + [f"dataset_info.dataset_root={frame_root}", "--num-epoch", "1",
                                                    "--max-steps-per-epoch", "0", "feeder_args.skip_bad=true"]
    done = run(["main.py", *args])
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 bad samples skipped" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_a_batch_with_no_readable_clip_skips_its_step_on_every_process(corpus, meta, tmp_path, processes):
    """Batches of one clip, one clip unreadable: the process holding it has nothing to forward. Every process
    skips that step (a process alone skipping would leave the others waiting in DDP's forward pass for ever)
    and the sample is counted."""
    frame_root, _ = corrupt_first_frame(corpus, meta, tmp_path)
    args = base_args(meta, tmp_path / "work") + [f"dataset_info.dataset_root={frame_root}", "--num-epoch", "1",
                                                    "--max-steps-per-epoch", "0", "--batch-size", "1",
                                                    "feeder_args.skip_bad=true"]
    command = torchrun(processes, *args) if processes > 1 else [sys.executable, "main.py", *args]
    done = subprocess.run(command, cwd=REPO, env=child_env(SLOWFASTSIGN_JEMALLOC="0"), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    log = (tmp_path / "work" / "log.txt").read_text()
    assert "1 bad samples skipped" in log
    history = json.loads((tmp_path / "work" / "training_history.json").read_text())
    assert history["epochs"][0]["steps"] == 6 // processes - 1  # the 6 clips' global batches but the one


@pytest.mark.slow
def test_clip_too_short_for_its_label_is_left_out_with_a_finite_loss(meta, tmp_path):
    def edit(records):
        records[0]["label"] = " ".join(["SONNE", "REGEN"] * 40)  # 80 glosses: far more than its output steps

    edited = edited_meta(meta, tmp_path, edit)
    glosses = json.loads((meta / "gloss_dict.json").read_text())
    if not {"SONNE", "REGEN"} <= set(glosses):
        words = list(glosses)[:2]
        edited = edited_meta(meta, tmp_path / "again", lambda records: records[0].update(label=" ".join(words * 40)))
    args = base_args(edited, tmp_path / "work") + ["--num-epoch", "1", "--max-steps-per-epoch", "0"]
    done = run(["main.py", *args])
    assert done.returncode == 0, done.stderr[-2000:]
    history = json.loads((tmp_path / "work" / "training_history.json").read_text())
    assert math.isfinite(history["epochs"][0]["loss"]) and history["epochs"][0]["skipped"] == 0
    assert "; 0 non-finite steps skipped, 1 CTC-infeasible samples left out" in done.stdout  # the one edited clip


# --- prediction, scoring, work directory -----------------------------------------------------------------------------

@pytest.mark.slow
def test_predict_on_a_missing_or_empty_video(meta, work_dir, earlier_run, tmp_path):
    before = snapshot(work_dir)
    args = base_args(meta, work_dir) + ["--phase", "predict", "--load-weights", str(earlier_run / "last_checkpoint.pt")]
    assert_one_error_line(run(["main.py", *args, "--input", str(tmp_path / "absent.mp4")]), "absent.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert_one_error_line(run(["main.py", *args, "--input", str(tmp_path / "empty.mp4")]), "empty.mp4")
    assert_untouched(before, work_dir)


@pytest.mark.slow
def test_scoring_cli_errors(tmp_path):
    (tmp_path / "ref.stm").write_text("v1 1 s 0.0 1.79769e+308 A B\n")
    (tmp_path / "bad.ctm").write_text("v1 1 0.00 0.01 A\nv1 1 oops 0.02 B\n")
    assert_one_error_line(run(["-m", "evaluation", "--hyp", str(tmp_path / "bad.ctm"), "--ref", str(tmp_path / "ref.stm")]),
                          "bad.ctm:2")
    (tmp_path / "good.ctm").write_text("v1 1 0.00 0.01 A\n")
    (tmp_path / "not_a_program").write_text("plain text\n")
    done = run(["-m", "evaluation", "--hyp", str(tmp_path / "good.ctm"), "--ref", str(tmp_path / "ref.stm"),
                "--tool", "sclite", "--sclite", str(tmp_path / "not_a_program")])
    assert_one_error_line(done, "not_a_program")
    assert_one_error_line(run(["-m", "evaluation", "--hyp", str(tmp_path / "good.ctm"), "--ref",
                               str(tmp_path / "absent.stm")]), "absent.stm")


@pytest.mark.slow
def test_preprocess_and_benchmark_errors(tmp_path):
    assert_one_error_line(run(["-m", "preprocess", "--dataset", "phoenix2014", "--dataset-root", str(tmp_path / "none"),
                               "--skip-frames"]), "none")
    assert_one_error_line(run(["-m", "benchmarks.run_all", "--only", "bench_nothing"]), "bench_nothing")


@pytest.mark.slow
def test_unwritable_work_directory(meta, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a directory should be\n")
    assert_one_error_line(run(["main.py", *base_args(meta, blocker / "work")]), str(blocker / "work"))
    if os.geteuid() != 0:  # root writes through permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert_one_error_line(run(["main.py", *base_args(meta, locked)]), str(locked))


@pytest.mark.slow
def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "ref.stm").write_text("v1 1 s 0.0 1.79769e+308 A\n")
    (tmp_path / "bad.ctm").write_text("v1 1 x 0.01 A\n")
    command = ["-m", "evaluation", "--hyp", str(tmp_path / "bad.ctm"), "--ref", str(tmp_path / "ref.stm")]
    plain = assert_one_error_line(run(command), "bad.ctm:1")
    done = run([*command, "--debug"])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == plain  # the traceback, then the same one line as without --debug
