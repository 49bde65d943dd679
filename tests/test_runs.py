"""Seed studies (python -m evaluation.runs) on run directories written here by hand, as runs write them."""
import csv
import io
import json
import math
from pathlib import Path

import pytest
import yaml

from evaluation.report import ScoreReport, SentenceScore
from evaluation.runs import main as runs_main

DEV = [20.0, 22.0, 27.0]
TEST = [21.0, 21.5, 25.5]


def write_run(directory: Path, seed: int, dev: float, test: float, best_epoch: int = 3, record: bool = True,
              **config_changes) -> Path:
    """A finished training run's records: provenance.json (or only config.yaml, as older versions wrote) and
    training_history.json whose best epoch scored `dev` and `test`."""
    config = {"phase": "train", "dataset": "phoenix2014", "work_dir": str(directory), "random_seed": seed,
              "num_worker": 10, "evaluate_tool": "python", "synthetic": {"enabled": False},
              "optimizer_args": {"base_lr": 1e-4, "step": [20, 35]}, "model_args": {"hidden_size": 1024}}
    for dotted, value in config_changes.items():
        section, _, key = dotted.partition("__")
        if key:
            config[section][key] = value
        else:
            config[section] = value
    directory.mkdir(parents=True)
    if record:
        provenance = {"format_version": 1, "phase": "train", "config": config, "processes": 1,
                      "code": {"commit": "a" * 40, "dirty": False}, "cpu": {"torch_kernels": "AVX512"},
                      "software": {"torch": "2.14.1"}}
        (directory / "provenance.json").write_text(json.dumps(provenance))
    else:
        (directory / "config.yaml").write_text(yaml.safe_dump(config))
    epochs = [{"epoch": epoch, "wer": {"dev": {"wer": dev + 10 - epoch}, "test": {"wer": test + 9 - epoch}}}
              for epoch in range(best_epoch)]
    epochs.append({"epoch": best_epoch, "wer": {"dev": {"wer": dev}, "test": {"wer": test}}})
    epochs.append({"epoch": best_epoch + 1, "wer": {"dev": {"wer": dev + 0.5}, "test": {"wer": test - 1}}})
    (directory / "training_history.json").write_text(json.dumps({"epochs": epochs, "best_epoch": best_epoch,
                                                                 "best_wer": dev}))
    return directory


@pytest.fixture
def three_seeds(tmp_path):
    return [write_run(tmp_path / f"seed{seed}", seed, dev, test) for seed, (dev, test) in enumerate(zip(DEV, TEST))]


def study_output(capsys, *arguments) -> str:
    assert runs_main([str(argument) for argument in arguments]) == 0
    return capsys.readouterr().out


def hand_mean_std(values):
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((value - mean) ** 2 for value in values) / (len(values) - 1))


def test_mean_and_standard_deviation_equal_a_hand_computation(three_seeds, capsys):
    rows = list(csv.reader(io.StringIO(study_output(capsys, *three_seeds, "--csv"))))
    figures = {(row[1], row[4]): float(row[6]) for row in rows[1:] if row[1] != "note"}
    assert {row[5] for row in rows[1:] if row[1] != "note"} == {"wer"}
    for split, values in (("dev", DEV), ("test", TEST)):
        mean, std = hand_mean_std(values)
        assert figures[("mean", split)] == pytest.approx(mean, abs=1e-12)
        assert figures[("std", split)] == pytest.approx(std, abs=1e-12)
        for seed, value in enumerate(values):
            assert figures[(f"seed{seed}", split)] == value  # the best dev epoch's, not the last epoch's
    table = study_output(capsys, *three_seeds)
    mean, std = hand_mean_std(DEV)
    assert f"| {mean:.2f} ± {std:.2f} |" in table and "| 20.00 - 27.00 |" in table
    assert "| seed1 | 1 | 3 | 22.00 | 21.50 | 0.0 |" in table  # the hand-written histories record no time
    assert "warning" not in table  # the seeds and the work directories differ, nothing else


def test_paper_column_and_the_prediction_interval_of_a_new_run(three_seeds, capsys):
    """For n runs one more run lands within mean ± t(0.975, n-1) s sqrt(1 + 1/n) 95% of the times: for three
    runs t(2) = 4.303, so about ±4.97 standard deviations."""
    table = study_output(capsys, *three_seeds, "--paper")
    assert "| paper |  |  | 18.01 | 18.28 |  |" in table
    cells = []
    for values in (DEV, TEST):
        mean, std = hand_mean_std(values)
        half = 4.303 * std * math.sqrt(1 + 1 / 3)
        assert half / std == pytest.approx(4.97, abs=0.01)
        cells.append((mean - half, mean + half))
    assert "| 95% prediction interval of a new run |  |  | " + " | ".join(
        f"{low:.2f} - {high:.2f}" for low, high in cells) + " |  |" in table
    inside = ["yes" if low <= paper <= high else "no" for (low, high), paper in zip(cells, (18.01, 18.28))]
    assert f"| paper inside it |  |  | {inside[0]} | {inside[1]} |  |" in table
    assert "best dev epoch's (chosen on dev" in table


def test_student_t_quantiles():
    from evaluation.runs import student_t_975

    assert student_t_975(1) == 12.706 and student_t_975(30) == 2.042
    assert student_t_975(40) == pytest.approx(2.021, abs=1e-3) and student_t_975(10_000) == pytest.approx(1.960, abs=1e-3)


def test_runs_differing_in_more_than_the_seed_are_flagged(three_seeds, tmp_path, capsys):
    other = write_run(tmp_path / "other_lr", 3, 30.0, 31.0, optimizer_args__base_lr=5e-4, num_worker=2)
    table = study_output(capsys, *three_seeds, other)
    warning = next(line for line in table.splitlines() if line.startswith("warning"))
    assert "optimizer_args.base_lr = 0.0001, 0.0001, 0.0001, 0.0005" in warning
    assert "num_worker" not in warning and "random_seed" not in warning and "work_dir" not in warning


def test_the_warning_reaches_the_csv_too_and_a_split_some_runs_lack_says_over_how_many(three_seeds, tmp_path, capsys):
    other = write_run(tmp_path / "other_lr", 3, 30.0, 31.0, optimizer_args__base_lr=5e-4)
    rows = list(csv.reader(io.StringIO(study_output(capsys, *three_seeds, other, "--csv"))))
    assert any(row[1] == "note" and "optimizer_args.base_lr" in row[9] for row in rows)
    history = json.loads((other / "training_history.json").read_text())
    for epoch in history["epochs"]:
        del epoch["wer"]["test"]
    (other / "training_history.json").write_text(json.dumps(history))
    table = study_output(capsys, *three_seeds, other)
    mean, std = hand_mean_std(TEST)
    assert f"| {mean:.2f} ± {std:.2f} (of 3) |" in table


def test_runs_of_another_commit_or_without_a_record_are_noted(three_seeds, tmp_path, capsys):
    record = json.loads((three_seeds[2] / "provenance.json").read_text())
    record["code"] = {"commit": "b" * 40, "dirty": True}
    (three_seeds[2] / "provenance.json").write_text(json.dumps(record))
    old = write_run(tmp_path / "old", 4, 23.0, 24.0, record=False)
    table = study_output(capsys, *three_seeds, old)
    assert f"note: commits differ: seed0 {'a' * 12}, seed1 {'a' * 12}, seed2 {'b' * 12}+changes" in table
    assert "note: no record of what produced old" in table
    assert "| old | 4 | 3 | 23.00 | 24.00 | 0.0 |" in table  # read from its config.yaml


def test_corpora_are_studied_apart(three_seeds, tmp_path, capsys):
    daily = write_run(tmp_path / "daily", 0, 26.0, 25.0, dataset="CSL-Daily")
    table = study_output(capsys, *three_seeds, daily, "--paper")
    assert "### phoenix2014 (WER %, python scorer)" in table and "### CSL-Daily (WER %, python scorer)" in table
    daily_part = table.split("### CSL-Daily")[1]
    assert "| mean ± std (1 runs) |  |  | 26.00 ± - | 25.00 ± - | 0.0 |" in daily_part
    assert "| paper |  |  | 25.49 | 24.85 |  |" in daily_part


def test_latex_table(three_seeds, capsys):
    latex = study_output(capsys, *three_seeds, "--latex")
    mean, std = hand_mean_std(TEST)
    assert r"\begin{tabular}{lrrrrr}" in latex and r"\end{tabular}" in latex
    assert f"{mean:.2f} $\\pm$ {std:.2f}" in latex and "seed0 & 0 & 3 & 20.00 & 21.00" in latex


def report_json(directory: Path, split: str, errors: list[int], words: list[int]) -> float:
    sentences = [SentenceScore(f"s{index}", "signer", n, n - e, e, 0, 0, [], [], "") for index, (e, n) in
                 enumerate(zip(errors, words))]
    report = ScoreReport.from_sentences(split, sentences, num_hyp_words=sum(words), tool="python")
    (directory / f"{split}.python.report.json").write_text(json.dumps(report.to_json()))
    return report.wer


def test_bootstrap_interval_over_sentences(tmp_path, capsys):
    run = tmp_path / "run"
    write_run(run, 0, 25.0, 50.0)
    assert report_json(run, "dev", [1] * 10, [4] * 10) == 25.0  # every sentence alike: no spread at all
    report_json(run, "test", [0, 4] * 10, [4] * 20)  # half right, half wrong: 50% and a wide interval
    rows = list(csv.reader(io.StringIO(study_output(capsys, run, "--interval", run, "--csv"))))
    interval = {row[4]: (float(row[7]), float(row[8])) for row in rows[1:] if row[1] == "run"}
    assert interval["dev"] == (25.0, 25.0)
    low, high = interval["test"]
    # 20 fair coin flips: the resampled share of wrong sentences has a standard deviation of 11.2 points, its
    # central 95% is 30-70% (binomial quantiles); the bootstrap's own draws move that by a step of 5
    assert 25.0 <= low <= 35.0 and 65.0 <= high <= 75.0


def test_bootstrap_refuses_reports_of_another_evaluation(tmp_path, capsys):
    run = tmp_path / "run"
    write_run(run, 0, 25.0, 50.0)
    report_json(run, "dev", [2] * 10, [4] * 10)  # 50%: the last epoch's evaluation, say
    report_json(run, "test", [0, 4] * 10, [4] * 20)
    assert runs_main([str(run), "--interval", str(run)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "dev.python.report.json scores 50.00% where the run's best epoch scored " \
                                           "25.00%" in error and "--phase test" in error and "\n" not in error


@pytest.mark.parametrize("make, expected", [
    (lambda root: root / "missing", "no such run directory"),
    (lambda root: root, "no record of a run"),
    (lambda root: (root / "provenance.json").write_text("{") and root, "cannot be read as JSON"),
])
def test_what_is_not_a_run_is_one_line(tmp_path, capsys, make, expected):
    directory = make(tmp_path)
    assert runs_main([str(directory)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and expected in error and "\n" not in error


def test_translation_runs_are_studied_by_bleu_with_their_minutes_apart_from_recognition(three_seeds, tmp_path,
                                                                                       capsys):
    """A gloss-to-text run's best epoch is its best dev BLEU-4; its minutes are its epochs' training time; its
    figures are its test's (beam and length penalty chosen on dev) where it has one, not the greedy epoch's."""
    runs = []
    for seed, (dev, test) in enumerate([(24.0, 23.0), (25.0, 24.5), (23.5, 22.0)]):
        directory = write_run(tmp_path / f"g2t{seed}", seed, 0.0, 0.0, task="translation", dataset="phoenix2014-T")
        greedy = 2.0 if seed == 2 else 0.0  # seed 2's test decoded with a beam, 2 BLEU above its greedy epoch
        epochs = [{"epoch": epoch, "train_seconds": 60.0, "translation": {
            "dev": {"bleu4": dev - greedy - 2 + 2 * (epoch == 1)},
            "test": {"bleu4": test - greedy - 1 + (epoch == 1)}}} for epoch in range(3)]
        (directory / "training_history.json").write_text(json.dumps({"epochs": epochs, "best_epoch": 1,
                                                                     "best_bleu4": dev}))
        if seed == 2:
            (directory / "test_results.json").write_text(json.dumps({
                split: {"bleu4": value, "decoding": {"beam_size": 5, "alpha": 2.0}}
                for split, value in (("dev", dev), ("test", test))}))
        runs.append(directory)
    table = study_output(capsys, *three_seeds, *runs, "--paper")
    part = table.split("### phoenix2014-T, translation (BLEU-4, sacreBLEU without tokenisation)")[1]
    assert "| run | seed | best epoch | dev BLEU-4 | test BLEU-4 | minutes |" in part
    assert "| g2t1 | 1 | 1 | 25.00 | 24.50 | 3.0 |" in part and "| g2t2 | 2 | 1 | 23.50 | 22.00 | 3.0 |" in part
    mean, std = hand_mean_std([23.0, 24.5, 22.0])
    assert f"| {mean:.2f} ± {std:.2f} | 3.0 |" in part and "| paper |  |  | 25.35 | 24.54 |  |" in part
    assert "### phoenix2014 (WER %, python scorer)" in table  # the recognition runs stay apart
