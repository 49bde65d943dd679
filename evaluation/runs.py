"""Seed studies: `python -m evaluation.runs DIR [DIR ...]` reads the runs' own records and prints, per corpus
and task, and per split, each run's figure of the metric its best checkpoint was chosen by (WER for recognition,
BLEU-4 for translation and joint runs: the best dev epoch's, and that epoch's test figure), its training minutes,
the mean ± standard deviation and the range over the runs; it flags runs that differ in more than the seed.

    python -m evaluation.runs work_dir/seed0 work_dir/seed1 work_dir/seed2 [--paper] [--latex | --csv]
        [--interval work_dir/seed0]

`--paper` adds the published figure and the 95% prediction interval of one more run (mean ± t(n-1) · s ·
sqrt(1 + 1/n): where a rerun of the same recipe lands 95% of the times), and whether the published figure lies in
it; the figures are each run's best dev epoch's, an epoch chosen on dev, so dev figures are optimistic; `--interval RUN`
adds a 95% bootstrap interval over the sentences of that run's evaluation of its best checkpoint (the WER
reports `--phase test` or `test_after_train` write). Launching the seeds stays a shell loop or an sbatch array (README,
"Reproducing the paper's table").
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from evaluation.error_analysis import wer_interval
from evaluation.report import ScoreReport
from utils.cli import ArgumentParser, run_command
from utils.errors import UserError
from utils.work_dir import TEST_RESULTS, TRAINING_HISTORY, config_record, provenance_record, score_report

# The paper's Table (WER %, dev / test); docs/METHOD.md and README's "Results of the paper" quote it
PAPER_WER = {"phoenix2014": {"dev": 18.01, "test": 18.28}, "phoenix2014-T": {"dev": 17.66, "test": 18.71},
             "CSL-Daily": {"dev": 25.49, "test": 24.85}}
# Published BLEU-4 on PHOENIX-2014-T (dev / test) the translation tasks are compared with: gloss-to-text, the best
# cited single model (Camgöz et al. 2020's transformer); joint Sign2(Gloss+Text) (Camgöz et al. 2020)
PAPER_BLEU = {"translation": {"phoenix2014-T": {"dev": 25.35, "test": 24.54}},
              "joint": {"phoenix2014-T": {"dev": 22.38, "test": 21.32}}}
METRICS = {"wer": "WER", "bleu4": "BLEU-4"}
PUBLISHED_SOURCE = {"translation": "Camgöz et al. 2020, gloss-to-text transformer (the best cited single model)",
                    "joint": "Camgöz et al. 2020, Sign2(Gloss+Text)"}
DEMO = "demo (synthetic)"
# Keys that say where things are or how a run is watched, not what it computes: never a difference
NOT_RESULT_KEYS = ("phase", "work_dir", "random_seed", "device", "num_worker", "log_interval", "save_interval",
                   "checkpoint_minutes", "checkpoint_steps", "sclite_path", "load_checkpoints", "resume",
                   "test_after_train", "analysis", "alignment_pictures", "stuck_warning_steps", "predict_args",
                   "export_args", "dataset_info.dataset_root", "dataset_info.info_dir", "dataset_info.gloss_dict",
                   "dataset_info.evaluation_dir", "dataset_info.evaluation_prefix", "synthetic.root")
SPLITS = ("dev", "test")


@dataclass
class Run:
    """One run's figures and records, as its work directory holds them."""

    directory: Path
    corpus: str
    seed: int | None
    config: dict[str, Any]
    provenance: dict[str, Any] | None
    best_epoch: int | None
    scores: dict[str, float] = field(default_factory=dict)  # split -> the metric's figure (WER: the configured scorer's)
    tool: str = "python"
    metric: str = "wer"  # "wer" or "bleu4": the figure the run's best checkpoint was chosen by
    minutes: float | None = None  # training time (evaluations excluded), from the history

    @property
    def task(self) -> str:
        return str(self.config.get("task", "recognition"))

    @property
    def name(self) -> str:
        return self.directory.name or str(self.directory)

    @property
    def key(self) -> str:
        return str(self.directory.resolve())


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: cannot be read as JSON ({error}); is the run still writing it?") from None


def _read_config(directory: Path, provenance: dict | None) -> dict[str, Any]:
    if provenance and isinstance(provenance.get("config"), dict):
        return provenance["config"]
    for phase in ("train", "test"):
        path = directory / config_record(phase)
        if path.is_file():
            try:
                return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as error:
                raise UserError(f"{path}: not valid YAML ({error})") from None
    raise UserError(f"{directory}: no record of a run (neither {provenance_record('train')} nor "
                    f"{config_record('train')} nor {config_record('test')}); give a run's work directory")


def corpus_of(config: dict[str, Any]) -> str:
    """The corpus a configuration trains on: its dataset, or the bundled demo's synthetic corpus."""
    return DEMO if (config.get("synthetic") or {}).get("enabled") else str(config.get("dataset", "?"))


def load_run(directory: Path) -> Run:
    """A run from its records: a training run's best dev epoch and that epoch's WER on every split
    (training_history.json); a run of `--phase test` its test_results.json. A translating run's figures are its
    test's when it has one: the epochs are evaluated greedily, the test with the beam and length penalty it chose on
    dev, which is what such a run reports."""
    if not directory.is_dir():
        raise UserError(f"{directory}: no such run directory")
    provenance = None
    for phase in ("train", "test"):
        if (directory / provenance_record(phase)).is_file():
            provenance = _read_json(directory / provenance_record(phase))
            break
    config = _read_config(directory, provenance)
    run = Run(directory, corpus_of(config), config.get("random_seed"), config, provenance, None,
              tool=str(config.get("evaluate_tool", "python")))
    run.metric = "wer" if run.task == "recognition" else "bleu4"
    family = "wer" if run.metric == "wer" else "translation"
    history_path, results_path = directory / TRAINING_HISTORY, directory / TEST_RESULTS
    if history_path.is_file():
        history = _read_json(history_path)
        best = history.get("best_epoch")
        record = next((epoch for epoch in history.get("epochs", []) if epoch.get("epoch") == best), None)
        if record is not None:
            run.best_epoch = best
            run.scores = {split: figures[run.metric] for split, figures in record.get(family, {}).items()}
        run.minutes = sum(epoch.get("train_seconds", 0.0) for epoch in history.get("epochs", [])) / 60
    if (not run.scores or run.metric != "wer") and results_path.is_file():
        results = _read_json(results_path)
        for split, figures in results.items():
            if not isinstance(figures, dict):
                continue
            figures = figures.get("translation") if run.task == "joint" else figures
            if isinstance(figures, dict) and run.metric in figures:
                run.scores[split] = figures[run.metric]
    if not run.scores:
        raise UserError(f"{directory}: no {METRICS[run.metric]} recorded yet (no evaluated epoch in "
                        f"{TRAINING_HISTORY}, no {TEST_RESULTS}); let the run evaluate, or run --phase test into it")
    return run


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested configuration keys as dotted names."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _is_result_key(name: str) -> bool:
    return not any(name == key or name.startswith(f"{key}.") for key in NOT_RESULT_KEYS)


def config_differences(runs: Sequence[Run]) -> tuple[dict[str, list[Any]], list[str]]:
    """The keys (other than the seed and NOT_RESULT_KEYS) whose values differ among the runs that record them,
    with each run's value in order; and the keys only some runs record (configurations of older versions)."""
    flat = [flatten(run.config) for run in runs]
    names = sorted({name for config in flat for name in config if _is_result_key(name)})
    differing = {name: [config.get(name) for config in flat] for name in names
                 if len({json.dumps(config[name], sort_keys=True) for config in flat if name in config}) > 1}
    partial = [name for name in names if name not in differing and any(name not in config for config in flat)]
    return differing, partial


def environment_differences(runs: Sequence[Run]) -> list[str]:
    """What differs among the runs' records though not in the configuration: the code, the CPU kernels, the
    GPUs, the process count (each a source of differences beyond the seed's)."""
    facts = {
        "commits": lambda record: ((record.get("code") or {}).get("commit") or "?")[:12]
                                 + ("+changes" if (record.get("code") or {}).get("dirty") else ""),
        "CPU kernels": lambda record: (record.get("cpu") or {}).get("torch_kernels"),
        "GPUs": lambda record: ", ".join((record.get("software") or {}).get("gpus") or []) or None,
        "process counts": lambda record: record.get("processes"),
        "torch versions": lambda record: (record.get("software") or {}).get("torch"),
    }
    notes = []
    recorded = [run for run in runs if run.provenance]
    for label, read in facts.items():
        values = [read(run.provenance) for run in recorded]
        if len(set(map(str, values))) > 1:
            notes.append(f"{label} differ: " + ", ".join(f"{run.name} {value}" for run, value in zip(recorded, values)))
    unrecorded = [run.name for run in runs if not run.provenance]
    if unrecorded:
        notes.append(f"no record of what produced {', '.join(unrecorded)} (runs of an older version)")
    return notes


@dataclass
class Summary:
    """The runs' WER on one split: mean, sample standard deviation (n - 1; None for one run), range."""

    values: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    def prediction_interval(self) -> tuple[float, float] | None:
        """Where one more run of the same recipe lands with 95% probability (normal runs): mean ± t(0.975, n-1) ·
        s · sqrt(1 + 1/n); None for one run."""
        std = self.std
        if std is None:
            return None
        half = student_t_975(len(self.values) - 1) * std * math.sqrt(1 + 1 / len(self.values))
        return self.mean - half, self.mean + half


# Student's t 97.5% quantiles for 1..30 degrees of freedom
_T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
          2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def student_t_975(degrees: int) -> float:
    """Student's t 97.5% quantile: the table up to 30 degrees of freedom, then the Cornish-Fisher expansion around
    the normal quantile (within 0.001 beyond 30)."""
    if degrees < 1:
        raise ValueError("a t quantile needs at least one degree of freedom")
    if degrees <= len(_T_975):
        return _T_975[degrees - 1]
    z = statistics.NormalDist().inv_cdf(0.975)
    return z + (z ** 3 + z) / (4 * degrees) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * degrees ** 2)


@dataclass
class Study:
    """The runs of one corpus, summarised per split."""

    corpus: str
    runs: list[Run]
    splits: list[str]
    differences: dict[str, list[Any]]
    notes: list[str]
    intervals: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)  # run.key -> split -> interval

    @property
    def metric(self) -> str:
        return self.runs[0].metric

    @property
    def task(self) -> str:
        return self.runs[0].task

    def summary(self, split: str) -> Summary:
        return Summary([run.scores[split] for run in self.runs if split in run.scores])

    def published(self) -> dict[str, float] | None:
        if self.metric == "wer":
            return PAPER_WER.get(self.corpus)
        return PAPER_BLEU.get(self.task, {}).get(self.corpus)

    def title(self) -> str:
        if self.metric == "wer":
            return f"{self.corpus} (WER %, {self.runs[0].tool} scorer)"
        return f"{self.corpus}, {self.task} (BLEU-4, sacreBLEU without tokenisation)"


def study(runs: Sequence[Run]) -> list[Study]:
    """The runs grouped by corpus and task, in the order given."""
    corpora: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        corpora.setdefault((run.corpus, run.task), []).append(run)
    studies = []
    for (corpus, _task), members in corpora.items():
        present = {split for run in members for split in run.scores}
        splits = [split for split in SPLITS if split in present] + sorted(present - set(SPLITS))
        differing, partial = config_differences(members)
        notes = environment_differences(members)
        if partial:
            notes.append(f"keys only some runs record (older versions), not compared: {', '.join(partial)}")
        studies.append(Study(corpus, members, splits, differing, notes))
    return studies


def bootstrap_intervals(run: Run, resamples: int, seed: int) -> dict[str, tuple[float, float]]:
    """95% intervals over sentences of the run's WER per split, from the score reports of its best checkpoint's
    evaluation; refused when the reports are of another evaluation (the last epoch's, say)."""
    if run.metric != "wer":
        raise UserError(f"--interval {run.directory}: bootstrap intervals are computed for WER runs only")
    intervals = {}
    for split, figure in run.scores.items():
        path = run.directory / score_report(split, run.tool, "json")
        if not path.is_file():
            raise UserError(f"{path} not found: --interval needs the score reports of the run's best checkpoint "
                            f"(--phase test --load-weights {run.directory / 'best_model.pt'} --work-dir {run.directory})")
        report = ScoreReport.from_json(_read_json(path))
        if not math.isclose(report.wer, figure, abs_tol=1e-9):
            raise UserError(f"{path} scores {report.wer:.2f}% where the run's best epoch scored {figure:.2f}%: the "
                            f"reports are of another evaluation; write the best checkpoint's with --phase test "
                            f"--load-weights {run.directory / 'best_model.pt'} --work-dir {run.directory}")
        intervals[split] = wer_interval(report, resamples, seed)
    return intervals


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table_rows(item: Study, paper: bool) -> list[list[str]]:
    """The table of one corpus: a row per run, then mean +- std, range, and the paper's figure."""
    label = METRICS[item.metric]
    header = ["run", "seed", "best epoch", *[f"{split} {label}" for split in item.splits], "minutes"]
    rows = [header]
    for run in item.runs:
        cells = []
        for split in item.splits:
            cell = _number(run.scores.get(split))
            interval = item.intervals.get(run.key, {}).get(split)
            if interval:
                cell += f" [{interval[0]:.2f}, {interval[1]:.2f}]"
            cells.append(cell)
        rows.append([run.name, str(run.seed), str(run.best_epoch if run.best_epoch is not None else "-"), *cells,
                     _number(run.minutes, 1)])
    summaries = [item.summary(split) for split in item.splits]
    minutes = Summary([run.minutes for run in item.runs if run.minutes is not None])
    rows.append([f"mean ± std ({len(item.runs)} runs)", "", "",
                 *[f"{summary.mean:.2f} ± {_number(summary.std)}"
                   + (f" (of {len(summary.values)})" if len(summary.values) != len(item.runs) else "")
                   for summary in summaries], f"{minutes.mean:.1f}" if minutes.values else "-"])
    rows.append(["min - max", "", "", *[f"{min(s.values):.2f} - {max(s.values):.2f}" for s in summaries], ""])
    published = item.published() if paper else None
    if published:
        rows.append(["paper", "", "", *[_number(published.get(split)) for split in item.splits], ""])
        intervals = [summary.prediction_interval() for summary in summaries]
        rows.append(["95% prediction interval of a new run", "", "",
                     *[f"{low:.2f} - {high:.2f}" if (low, high) != (None, None) else "-"
                       for low, high in (interval or (None, None) for interval in intervals)], ""])
        rows.append(["paper inside it", "", "",
                     *[("yes" if interval[0] <= published[split] <= interval[1] else "no")
                       if interval and split in published else "-" for split, interval in zip(item.splits, intervals)],
                     ""])
    return rows


def _footnotes(item: Study, paper: bool) -> list[str]:
    notes = []
    if item.differences:
        described = "; ".join(f"{name} = " + ", ".join("(not recorded)" if value is None else json.dumps(value)
                                                       for value in values)
                              for name, values in item.differences.items())
        notes.append(f"warning: these runs differ in more than the seed: {described}")
    notes += [f"note: {note}" for note in item.notes]
    if paper and item.published() is None:
        notes.append(f"note: no published figure for {item.corpus} ({item.task})")
    elif paper and item.metric != "wer":
        notes.append(f"note: published figure: {PUBLISHED_SOURCE[item.task]}")
    if paper and item.published() is not None:
        notes.append("note: each run's figures are its best dev epoch's (chosen on dev, so the dev figures are "
                     "optimistic); the prediction interval assumes normally distributed runs")
    if any(item.intervals.values()):
        notes.append("[a, b]: 95% bootstrap interval over the sentences of that run's evaluation")
    return notes


def render_markdown(studies: Sequence[Study], paper: bool) -> str:
    parts = []
    for item in studies:
        rows = table_rows(item, paper)
        lines = [f"### {item.title()}", "",
                 "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
        notes = _footnotes(item, paper)
        parts.append("\n".join(lines + ([""] + notes if notes else [])))
    return "\n\n".join(parts) + "\n"


def _latex_escape(text: str) -> str:
    for plain, escaped in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        text = text.replace(plain, escaped)
    return text.replace("±", r"$\pm$")


def render_latex(studies: Sequence[Study], paper: bool) -> str:
    parts = []
    for item in studies:
        rows = table_rows(item, paper)
        lines = [f"% {item.title()}", r"\begin{tabular}{l" + "r" * (len(rows[0]) - 1) + "}",
                 r"\toprule", " & ".join(map(_latex_escape, rows[0])) + r" \\", r"\midrule"]
        for index, row in enumerate(rows[1:], start=1):
            if index == len(item.runs) + 1:
                lines.append(r"\midrule")
            lines.append(" & ".join(map(_latex_escape, row)) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        lines += [f"% {note}" for note in _footnotes(item, paper)]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def render_csv(studies: Sequence[Study], paper: bool) -> str:
    """One row per run and split, then the summaries: for spreadsheets and plotting scripts."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["corpus", "run", "seed", "best_epoch", "split", "metric", "value", "interval_low",
                     "interval_high", "note"])
    for item in studies:
        for run in item.runs:
            for split in item.splits:
                interval = item.intervals.get(run.key, {}).get(split) or ("", "")
                writer.writerow([item.corpus, run.name, run.seed, run.best_epoch, split, item.metric,
                                 run.scores.get(split, ""), *interval])
        for split in item.splits:
            summary = item.summary(split)
            published = (item.published() or {}).get(split) if paper else None
            writer.writerow([item.corpus, "mean", "", "", split, item.metric, summary.mean, "", ""])
            writer.writerow([item.corpus, "std", "", "", split, item.metric, "" if summary.std is None else summary.std,
                             "", ""])
            if published is not None:
                writer.writerow([item.corpus, "paper", "", "", split, item.metric, published, "", ""])
        for note in _footnotes(item, paper):
            writer.writerow([item.corpus, "note", "", "", "", "", "", "", "", note])
    return buffer.getvalue()


RENDERERS = {"markdown": render_markdown, "latex": render_latex, "csv": render_csv}


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    return run_command(_main, argv)


def _main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="python -m evaluation.runs", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="the runs' work directories")
    parser.add_argument("--paper", action="store_true", help="the published WER beside the runs'")
    parser.add_argument("--interval", type=Path, action="append", default=[],
                        help="a run (its directory) whose 95%% bootstrap interval over sentences to add; repeatable")
    parser.add_argument("--resamples", type=_positive, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    style = parser.add_mutually_exclusive_group()
    style.add_argument("--latex", dest="style", action="store_const", const="latex", help="a LaTeX tabular")
    style.add_argument("--csv", dest="style", action="store_const", const="csv", help="comma-separated values")
    args = parser.parse_args(argv)
    runs = [load_run(directory) for directory in args.runs]
    studies = study(runs)
    chosen = {str(directory.resolve()) for directory in args.interval}
    unknown = chosen - {run.key for run in runs}
    if unknown:
        raise UserError(f"--interval {sorted(unknown)[0]} is not among the runs given")
    for item in studies:
        for run in item.runs:
            if run.key in chosen:
                item.intervals[run.key] = bootstrap_intervals(run, args.resamples, args.seed)
    print(RENDERERS[args.style or "markdown"](studies, args.paper), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
