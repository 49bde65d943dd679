"""Scoring a hypothesis CTM against a reference STM the way the official evaluation does, without needing sclite.

Flow (official `evaluate`): normalise the hypotheses per dataset, give every
reference sentence without a hypothesis `[EMPTY]`, sort, then score with one of
the two official tools:
- `python` (the official default): python_wer_evaluation's alignment and counts
  (evaluation/python_wer.py), repeats in the hypothesis merged first;
- `sclite`: NIST sclite's alignment, reproduced exactly in Python
  (evaluation/alignment.py); when an sclite binary exists it is run too and its
  sum/rsum/pra/sgml/dtl reports land in `out_dir`.
"""
from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable

from evaluation.alignment import Alignment, align
from evaluation.ctm import format_ctm_line, group_by_file, read_ctm
from evaluation.input_lines import EvaluationInputError
from evaluation.normalise import normalise_hypothesis
from evaluation.python_wer import official_reference_words, python_align
from evaluation.report import ScoreReport, SentenceScore
from evaluation.sclite import ScliteResult, find_sclite, run_sclite
from evaluation.stm import StmSegment, format_stm_line, read_stm
from utils.io import atomic_open, write_json_atomic, write_text_atomic
from utils.work_dir import score_report


def merge_hypotheses(hyp_ctm: str | Path, references: dict[str, StmSegment], dataset: str,
                     scope: str = "ctm-line") -> dict[str, list[str]]:
    """Normalised hypothesis of every reference file id (`[EMPTY]` where none); unknown ids are an error."""
    grouped = group_by_file(read_ctm(hyp_ctm))
    for fileid, words in grouped.items():
        if fileid not in references:
            raise EvaluationInputError(hyp_ctm, words[0].line_number, f"file id {fileid} is not in the reference STM")
    return {fileid: normalise_hypothesis([w.word for w in grouped.get(fileid, [])], dataset, scope)
            for fileid in references}


SCORING_TOOLS: dict[str, Callable[[list[str], list[str]], Alignment]] = {"python": python_align, "sclite": align}


def score_merged(hypotheses: dict[str, list[str]], references: dict[str, StmSegment], name: str = "",
                 tool: str = "python") -> ScoreReport:
    """Align every reference sentence with its hypothesis using `tool`'s rules and total the errors."""
    if tool not in SCORING_TOOLS:
        raise ValueError(f"unknown scoring tool {tool!r}; expected one of {', '.join(SCORING_TOOLS)}")
    sentences = []
    for fileid, segment in references.items():
        alignment = SCORING_TOOLS[tool](list(segment.words), hypotheses[fileid])
        sentences.append(SentenceScore.from_alignment(fileid, segment.speaker, alignment))
    return ScoreReport.from_sentences(name, sentences, sum(len(h) for h in hypotheses.values()), tool)


def _write_sclite_inputs(directory: Path, name: str, hypotheses: dict[str, list[str]],
                         references: dict[str, StmSegment]) -> tuple[Path, Path]:
    """The merged hypothesis CTM and the reference STM, both sorted by file id as the official flow does."""
    ctm_path, stm_path = directory / f"out.{name}.ctm", directory / f"{name}.stm"
    order = sorted(references)
    with atomic_open(ctm_path) as handle:
        for fileid in order:
            handle.writelines(format_ctm_line(fileid, i, gloss) for i, gloss in enumerate(hypotheses[fileid]))
    with atomic_open(stm_path) as handle:
        for fileid in order:
            s = references[fileid]
            handle.write(format_stm_line(fileid, s.speaker, " ".join(s.words), s.channel))
    return ctm_path, stm_path


def _disagreement(report: ScoreReport, result: ScliteResult) -> str:
    ours = (report.num_ref_words, report.substitutions, report.deletions, report.insertions)
    theirs = (result.num_ref_words, result.substitutions, result.deletions, result.insertions)
    return "" if ours == theirs else f"sclite (N,S,D,I)={theirs} differs from Python {ours}"


def score(hyp_ctm: str | Path, ref_stm: str | Path, *, tool: str = "python", dataset: str = "phoenix2014",
          out_dir: str | Path | None = None, sclite: str | None = None, name: str = "", scope: str = "ctm-line",
          use_sclite: bool = True, note: str = "") -> ScoreReport:
    """Score `hyp_ctm` against `ref_stm` with `tool`; write `<name>.<tool>.report.txt/.json` (and sclite's
    reports) into out_dir. `note`, when given, heads the report's note (what the caller knows about how the
    hypotheses were made).

    With the sclite tool and `use_sclite=False`, only the (identical) Python reproduction of sclite runs.
    """
    name = name or Path(hyp_ctm).stem
    references = read_stm(ref_stm)
    hypotheses = merge_hypotheses(hyp_ctm, references, dataset, scope)
    if tool == "python":
        official_words = official_reference_words(ref_stm)
        references = {fileid: replace(segment, words=tuple(official_words[fileid]))
                      for fileid, segment in references.items()}
    report = score_merged(hypotheses, references, name, tool)
    if tool == "sclite":
        _confirm_with_sclite(report, hypotheses, references, out_dir, sclite, use_sclite)
    report.note = "; ".join(part for part in (note, report.note) if part)
    if out_dir is not None:
        write_text_atomic(Path(out_dir) / score_report(name, tool), report.to_text())
        write_json_atomic(Path(out_dir) / score_report(name, tool, "json"), report.to_json())
    return report


def _confirm_with_sclite(report: ScoreReport, hypotheses: dict[str, list[str]], references: dict[str, StmSegment],
                         out_dir: str | Path | None, sclite: str | None, use_sclite: bool) -> None:
    """Run the sclite binary when there is one, keep its reports, and note whether it agrees."""
    name = report.name
    binary = find_sclite(sclite) if use_sclite else None
    if not use_sclite:
        report.note = "sclite's rules in Python (binary not requested)"
    elif binary is None:
        report.note = "no sclite binary found (config path, PATH, /usr/lib/sctk/bin/sclite): Python score used"
    else:
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(out_dir) if out_dir is not None else Path(scratch)
            try:
                ctm_path, stm_path = _write_sclite_inputs(target, name, hypotheses, references)
                result = run_sclite(binary, ctm_path, stm_path, target, name)
            except (OSError, RuntimeError) as error:
                report.note = f"sclite at {binary} failed ({error}): Python score used"
            else:
                report.sclite_used = True
                report.note = _disagreement(report, result) or f"sclite at {binary} agrees with the Python score"
