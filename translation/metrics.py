"""Translation scores as the published PHOENIX-2014-T systems compute them (docs/METHOD.md, "Translation").

BLEU-1..4 are sacreBLEU's corpus BLEU on text that is tokenised already (no tokeniser, floor smoothing with 0, the
effective n-gram order), which is what signjoey's `raw_corpus_bleu` and TwoStream-SLT compute; BLEU-n is the
brevity penalty times the geometric mean of the 1..n-gram precisions. sacreBLEU's default `13a` tokenisation is
reported beside it, with both signatures, since papers must not be compared across scoring procedures. ROUGE-L is
signjoey's: the mean over sentences of the LCS F-score with beta 1.2. chrF is sacreBLEU's chrF2.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

ROUGE_BETA = 1.2


def _bleu(order: int, tokenize: str = "none"):
    from sacrebleu.metrics import BLEU

    if tokenize == "none":
        return BLEU(tokenize="none", smooth_method="floor", smooth_value=0.0, effective_order=True,
                    max_ngram_order=order)
    return BLEU(tokenize=tokenize, max_ngram_order=order)


def longest_common_subsequence(first: Sequence[str], second: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (dynamic programming, one row kept)."""
    if len(first) < len(second):
        first, second = second, first
    row = [0] * (len(second) + 1)
    for token in first:
        diagonal = 0
        for index, other in enumerate(second, start=1):
            above = row[index]
            row[index] = diagonal + 1 if token == other else max(above, row[index - 1])
            diagonal = above
    return row[-1]


def rouge_l(references: Sequence[str], hypotheses: Sequence[str], beta: float = ROUGE_BETA) -> float:
    """Mean sentence-level ROUGE-L F-score x 100 (tokens split on spaces; 0 for a sentence without overlap)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    if not references:
        return 0.0
    total = 0.0
    for reference, hypothesis in zip(references, hypotheses):
        ref_tokens, hyp_tokens = reference.split(" "), hypothesis.split(" ")
        lcs = longest_common_subsequence(ref_tokens, hyp_tokens)
        precision, recall = lcs / len(hyp_tokens), lcs / len(ref_tokens)
        if precision and recall:
            total += (1 + beta ** 2) * precision * recall / (recall + beta ** 2 * precision)
    return 100 * total / len(references)


@dataclass
class TranslationScores:
    """A split's scores, each x 100; `signatures` name the sacreBLEU settings that produced them."""

    bleu: list[float]  # BLEU-1..4, no tokenisation (the anchors' procedure)
    bleu4_13a: float
    rouge: float
    chrf: float
    sentences: int
    signatures: dict[str, str] = field(default_factory=dict)

    @property
    def bleu4(self) -> float:
        return self.bleu[3]

    def to_dict(self) -> dict:
        return {"bleu4": self.bleu4, **{f"bleu{n}": value for n, value in enumerate(self.bleu, start=1)},
                "bleu4_13a": self.bleu4_13a, "rouge": self.rouge, "chrf": self.chrf, "sentences": self.sentences,
                "signatures": self.signatures}

    def summary_line(self) -> str:
        return (f"BLEU-1..4 {' / '.join(f'{value:.2f}' for value in self.bleu)} "
                f"(13a BLEU-4 {self.bleu4_13a:.2f}), ROUGE-L {self.rouge:.2f}, chrF {self.chrf:.2f} "
                f"on {self.sentences} sentences")


def score_translations(references: Sequence[str], hypotheses: Sequence[str]) -> TranslationScores:
    """All translation scores of hypotheses against one reference each (the same order)."""
    from sacrebleu.metrics import CHRF

    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    refs = [list(references)]
    bleu, signatures = [], {}
    for order in range(1, 5):
        metric = _bleu(order)
        bleu.append(metric.corpus_score(list(hypotheses), refs).score)
    signatures["bleu"] = str(metric.get_signature())
    metric_13a = _bleu(4, "13a")
    bleu4_13a = metric_13a.corpus_score(list(hypotheses), refs).score
    signatures["bleu_13a"] = str(metric_13a.get_signature())
    chrf_metric = CHRF()
    chrf = chrf_metric.corpus_score(list(hypotheses), refs).score
    signatures["chrf"] = str(chrf_metric.get_signature())
    return TranslationScores(bleu, bleu4_13a, rouge_l(references, hypotheses), chrf, len(references), signatures)
