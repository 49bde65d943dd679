"""What produced a run: the records every phase writes (utils/provenance.py), checked against git, the
machine and the files themselves; and reruns with one seed ending bit-identical."""
import csv
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import main as entry
from conftest import child_env, run_args
from evaluation.runs import main as runs_main
from utils.checkpoint import read_checkpoint
from utils.provenance import code_state, run_record, write_record

REPO = Path(__file__).resolve().parents[1]


def git(root: Path, *arguments: str) -> str:
    return subprocess.run(["git", "-C", str(root), *arguments], capture_output=True, text=True, check=True).stdout


def test_the_code_state_of_this_checkout_is_gits():
    state = code_state()
    assert state["commit"] == git(REPO, "rev-parse", "HEAD").strip()
    assert state["dirty"] == bool(git(REPO, "status", "--porcelain", "--untracked-files=no").strip())


def test_a_modified_tree_is_flagged_and_its_diff_saved_beside_the_record(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    clean = code_state(clone)
    assert clean["commit"] == git(REPO, "rev-parse", "HEAD").strip() and clean["dirty"] is False
    assert clean["diff"] == "" and clean["untracked"] == []
    with open(clone / "README.md", "a", encoding="utf-8") as readme:
        readme.write("a line the commit does not have\n")
    (clone / "scratch.py").write_text("x = 1\n")
    changed = code_state(clone)
    assert changed["dirty"] is True and changed["untracked"] == ["scratch.py"]
    assert "+a line the commit does not have" in changed["diff"]
    write_record(tmp_path / "provenance.json", {"phase": "train", "code": changed})
    written = json.loads((tmp_path / "provenance.json").read_text())
    diff = (tmp_path / "provenance.diff").read_text()
    assert diff == changed["diff"] and "diff" not in written["code"] and written["code"]["diff_file"] == "provenance.diff"
    assert written["code"]["diff_sha256"] == hashlib.sha256(diff.encode()).hexdigest()
    assert subprocess.run(["git", "-C", str(clone), "apply", "--check", "-R", str(tmp_path / "provenance.diff")]).returncode == 0
    # a later run from a clean tree into the same place leaves no diff that would pass for its own
    write_record(tmp_path / "provenance.json", {"phase": "train", "code": clean})
    assert not (tmp_path / "provenance.diff").exists()
    assert "diff_file" not in json.loads((tmp_path / "provenance.json").read_text())["code"]


def test_a_diff_that_is_not_utf8_is_recorded_not_fatal(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    with open(clone / "README.md", "ab") as readme:
        readme.write(b"caf\xe9 in Latin-1\n")
    state = code_state(clone)
    assert state["dirty"] is True and "+caf\ufffd in Latin-1" in state["diff"]


def test_an_unpacked_archive_says_its_version_is_unknown(tmp_path):
    archive = tmp_path / "archive.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), "HEAD", "utils"], check=True)
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(unpacked)], check=True)
    state = code_state(unpacked)
    assert state["commit"] is None and state["dirty"] is None
    assert "is not a git checkout (an unpacked archive?)" in state["note"]


def test_the_cpu_its_kernels_and_the_variables_that_force_them_are_recorded(monkeypatch):
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    record = run_record("test", processes=3, device="cpu", config={"random_seed": 5})
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    cpu = record["cpu"]
    assert ("AVX-512" in cpu["instruction_sets"]) == ("avx512f" in flags)
    assert ("AVX2" in cpu["instruction_sets"]) == ("avx2" in flags)
    assert cpu["torch_kernels"] == torch.backends.cpu.get_cpu_capability()
    assert record["kernel_variables"]["ATEN_CPU_CAPABILITY"] == "avx2"
    assert record["kernel_variables"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert record["software"]["torch"] == torch.__version__ and record["software"]["numpy"]
    assert record["launcher"]["SLURM_ARRAY_TASK_ID"] == "2"
    assert record["processes"] == 3 and record["config"] == {"random_seed": 5}
    assert record["command"][1:] == sys.argv


def test_every_phase_records_what_produced_it(corpus, briefly_trained, tmp_path):
    """The training run's record beside its outputs and inside its checkpoints; a test run's inside
    test_results.json too, naming the checkpoint it read and carrying that checkpoint's record."""
    head = git(REPO, "rev-parse", "HEAD").strip()
    trained = json.loads((briefly_trained / "provenance.json").read_text())
    assert trained["phase"] == "train" and trained["outcome"] == "finished" and trained["processes"] == 1
    assert trained["code"]["commit"] == head
    assert trained["config"] == yaml.safe_load((briefly_trained / "config.yaml").read_text())
    assert trained["started"] <= trained["ended"]
    checkpoint = read_checkpoint(briefly_trained / "best_model.pt")["provenance"]
    assert "config" not in checkpoint and checkpoint["code"]["commit"] == head
    assert trained["started"] == checkpoint["started"] <= checkpoint["written"] <= trained["ended"]
    best = str(briefly_trained / "best_model.pt")
    assert entry.main(run_args(corpus, tmp_path, "--phase", "test", "--load-weights", best)) == 0
    results = json.loads((tmp_path / "test_results.json").read_text())
    record = results["provenance"]
    assert record == json.loads((tmp_path / "test_provenance.json").read_text())
    assert record["phase"] == "test" and record["weights"]["checkpoint"] == best
    assert record["weights"]["provenance"]["started"] == trained["started"]
    assert set(results) == {"dev", "test", "provenance"}


def final_weights(work_dir: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(work_dir / "last_checkpoint.pt")["model_state_dict"]


@pytest.mark.slow
def test_runs_with_one_seed_end_bit_identical_and_a_seed_study_reads_them(corpus, tmp_path):
    """Seeds 0, 0 (this one stopped after its first epoch and resumed) and 1, with deterministic=true: the two
    seed-0 runs end with the same weights and history, seed 1 elsewhere; evaluation.runs's mean and standard
    deviation equal a hand computation from the runs' histories."""
    def train(name: str, seed: int, epochs: int) -> Path:
        work_dir = tmp_path / name
        command = [sys.executable, "main.py", *run_args(corpus, work_dir, "--num-epoch", str(epochs),
                                                        "--max-steps-per-epoch", "3", "--eval-interval", "1",
                                                        "--random-seed", str(seed), "deterministic=true")]
        done = subprocess.run(command, cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        return work_dir

    first = train("seed0", 0, 3)
    train("seed0_again", 0, 1)
    again = train("seed0_again", 0, 3)  # resumes after its first epoch
    other = train("seed1", 1, 3)
    a, b, c = final_weights(first), final_weights(again), final_weights(other)
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert not all(torch.equal(a[key], c[key]) for key in a)
    histories = [json.loads((run / "training_history.json").read_text()) for run in (first, again, other)]
    strip = [[{key: value for key, value in epoch.items() if key != "train_seconds"} for epoch in history["epochs"]]
             for history in histories]
    assert strip[0] == strip[1]
    record = json.loads((again / "provenance.json").read_text())
    assert len(record["earlier_sessions"]) == 1 and record["earlier_sessions"][0]["commit"] == record["code"]["commit"]
    assert record["config"]["deterministic"] is True

    output = subprocess.run([sys.executable, "-m", "evaluation.runs", str(first), str(again), str(other), "--csv"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout
    rows = list(csv.reader(io.StringIO(output)))[1:]
    figures = {(row[1], row[4]): float(row[6]) for row in rows if row[1] != "note"}
    for split in ("dev", "test"):
        values = [history["epochs"][history["best_epoch"]]["wer"][split]["wer"] for history in histories]
        mean = sum(values) / 3
        std = (sum((value - mean) ** 2 for value in values) / 2) ** 0.5
        assert figures[("mean", split)] == pytest.approx(mean, abs=1e-9)
        assert figures[("std", split)] == pytest.approx(std, abs=1e-9)
    assert runs_main([str(first), str(again), str(other)]) == 0


def string_values(data) -> list[str]:
    """Every string value (not key) in nested dicts and lists."""
    if isinstance(data, dict):
        return [text for value in data.values() for text in string_values(value)]
    if isinstance(data, list):
        return [text for value in data for text in string_values(value)]
    return [data] if isinstance(data, str) else []


def test_what_is_shared_says_nothing_of_the_machine_and_the_run_folder_keeps_it(briefly_trained):
    """Checkpoints carry the public record (commit, the diff's hash, versions, hardware, the configuration without
    local paths, the data's fingerprint); the user, host, directories and command line stay in provenance.json."""
    import getpass
    import os
    import socket

    local = json.loads((briefly_trained / "provenance.json").read_text())
    assert local["host"] == socket.gethostname() and local["working_directory"] == os.getcwd()
    assert local["config"]["work_dir"] == str(briefly_trained) and "command" in local
    for name in ("best_model.pt", "last_checkpoint.pt"):
        checkpoint = read_checkpoint(briefly_trained / name)
        shared = {key: checkpoint[key] for key in ("provenance", "config", "history")}
        values = string_values(shared)
        assert socket.gethostname() not in values and getpass.getuser() not in values
        assert not [value for value in values if os.getcwd() in value or str(briefly_trained) in value
                    or str(Path.home()) in value]
        record = checkpoint["provenance"]
        assert not {"command", "working_directory", "host", "user", "launcher"} & set(record)
        assert not {"diff", "untracked"} & set(record["code"]) and record["code"]["commit"] == local["code"]["commit"]
        assert record["data"] == local["data"] and set(record["data"]) == {
            "gloss_dict.json", "train_info.jsonl", "dev_info.jsonl", "test_info.jsonl"}
        assert checkpoint["config"]["work_dir"] == briefly_trained.name  # a path's last part only
