"""Scoring a hypothesis CTM against a reference STM the way the official evaluation does, without needing sclite.

Flow (official `evaluate`): normalise the hypotheses per dataset, give every
reference sentence without a hypothesis `[EMPTY]`, sort, then score. The Python
alignment reproduces sclite exactly; when an sclite binary exists it is run too
and its sum/rsum/pra/sgml/dtl reports land in `out_dir`.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from evaluation.alignment import align
from evaluation.ctm import format_ctm_line, group_by_file, read_ctm
from evaluation.input_lines import EvaluationInputError
from evaluation.normalise import normalise_hypothesis
from evaluation.report import ScoreReport, SentenceScore
from evaluation.sclite import ScliteResult, find_sclite, run_sclite
from evaluation.stm import StmSegment, read_stm
from utils.io import atomic_open, write_json_atomic, write_text_atomic


def merge_hypotheses(hyp_ctm: str | Path, references: dict[str, StmSegment], dataset: str,
                     scope: str = "ctm-line") -> dict[str, list[str]]:
    """Normalised hypothesis of every reference file id (`[EMPTY]` where none); unknown ids are an error."""
    grouped = group_by_file(read_ctm(hyp_ctm))
    for fileid, words in grouped.items():
        if fileid not in references:
            raise EvaluationInputError(hyp_ctm, words[0].line_number, f"file id {fileid} is not in the reference STM")
    return {fileid: normalise_hypothesis([w.word for w in grouped.get(fileid, [])], dataset, scope)
            for fileid in references}


def score_merged(hypotheses: dict[str, list[str]], references: dict[str, StmSegment], name: str = "") -> ScoreReport:
    """Align every reference sentence with its hypothesis and total the errors."""
    sentences = []
    for fileid, segment in references.items():
        alignment = align(list(segment.words), hypotheses[fileid])
        sentences.append(SentenceScore.from_alignment(fileid, segment.speaker, len(segment.words), alignment))
    return ScoreReport.from_sentences(name, sentences, sum(len(h) for h in hypotheses.values()))


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
            handle.write(f"{fileid} {s.channel} {s.speaker} 0.0 1.79769e+308 {' '.join(s.words)}\n")
    return ctm_path, stm_path


def _disagreement(report: ScoreReport, result: ScliteResult) -> str:
    ours = (report.num_ref_words, report.substitutions, report.deletions, report.insertions)
    theirs = (result.num_ref_words, result.substitutions, result.deletions, result.insertions)
    return "" if ours == theirs else f"sclite (N,S,D,I)={theirs} differs from Python {ours}"


def score(hyp_ctm: str | Path, ref_stm: str | Path, *, dataset: str = "phoenix2014", out_dir: str | Path | None = None,
          sclite: str | None = None, name: str = "", scope: str = "ctm-line", use_sclite: bool = True) -> ScoreReport:
    """Score `hyp_ctm` against `ref_stm`; write `<name>.report.txt/.json` (and sclite's reports) into out_dir.

    With `use_sclite=False` only the (identical) Python score is computed, e.g. for quick per-epoch evaluation.
    """
    name = name or Path(hyp_ctm).stem
    references = read_stm(ref_stm)
    hypotheses = merge_hypotheses(hyp_ctm, references, dataset, scope)
    report = score_merged(hypotheses, references, name)
    binary = find_sclite(sclite) if use_sclite else None
    if not use_sclite:
        report.note = "Python score (sclite not requested)"
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
    if out_dir is not None:
        write_text_atomic(Path(out_dir) / f"{name}.report.txt", report.to_text())
        write_json_atomic(Path(out_dir) / f"{name}.report.json", report.to_json())
    return report
