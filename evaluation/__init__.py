"""Evaluation: CTM/STM files, PHOENIX normalisation, the official Python scorer, sclite-identical WER, reports."""
from evaluation.alignment import Alignment, AlignedPair, align
from evaluation.ctm import CtmWord, read_ctm, write_ctm
from evaluation.ground_truth import ground_truth_stm
from evaluation.input_lines import EvaluationInputError
from evaluation.normalise import DATASET_NORMALISATION, EMPTY_HYPOTHESIS, normalise_hypothesis
from evaluation.report import ScoreReport, SentenceScore
from evaluation.python_wer import python_align
from evaluation.sclite import find_sclite
from evaluation.scoring import SCORING_TOOLS, score
from evaluation.stm import StmSegment, read_stm

__all__ = [
    "AlignedPair", "Alignment", "CtmWord", "DATASET_NORMALISATION", "EMPTY_HYPOTHESIS", "EvaluationInputError",
    "SCORING_TOOLS", "ScoreReport", "SentenceScore", "StmSegment", "align", "find_sclite", "ground_truth_stm",
    "normalise_hypothesis", "python_align", "read_ctm", "read_stm", "score", "write_ctm",
]
