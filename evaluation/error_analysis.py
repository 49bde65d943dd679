"""Error analysis from a score report: per gloss, per signer, by sentence length, and two systems compared.

Everything is derived from the alignments the WER itself was computed from
(either tool's), so the totals here are the report's S/D/I/N exactly.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

from evaluation.alignment import CORRECT, DELETION, INSERTION, SUBSTITUTION, ErrorCounts
from evaluation.report import ScoreReport, SentenceScore

LENGTH_BUCKETS = ((1, 4), (5, 8), (9, 12), (13, 16), (17, 10**9))


@dataclass
class Rate(ErrorCounts):
    """Errors over reference words, with the parts."""

    sentences: int = 0
    words: int = 0

    @property
    def wer(self) -> float:
        return 100.0 * self.errors / self.words if self.words else 0.0

    def add(self, sentence: SentenceScore) -> None:
        self.sentences += 1
        self.words += sentence.num_ref_words
        self.substitutions += sentence.substitutions
        self.deletions += sentence.deletions
        self.insertions += sentence.insertions

    def to_json(self) -> dict:
        return dict(asdict(self), errors=self.errors, wer=round(self.wer, 4))


@dataclass
class GlossErrors:
    """How one gloss fared: as a reference word (correct, substituted by what, deleted) and as an insertion."""

    references: int = 0
    correct: int = 0
    substituted_by: Counter = field(default_factory=Counter)
    deleted: int = 0
    inserted: int = 0

    @property
    def substituted(self) -> int:
        return sum(self.substituted_by.values())

    @property
    def errors(self) -> int:
        return self.substituted + self.deleted + self.inserted

    def to_json(self) -> dict:
        return {"references": self.references, "correct": self.correct, "substituted": self.substituted,
                "deleted": self.deleted, "inserted": self.inserted, "errors": self.errors,
                "substituted_by": dict(self.substituted_by.most_common())}


@dataclass
class ErrorAnalysis:
    """The breakdowns of one scored hypothesis file."""

    name: str
    tool: str
    total: Rate
    glosses: dict[str, GlossErrors]
    substitution_pairs: Counter
    signers: dict[str, Rate]
    lengths: dict[str, Rate]

    def most_error_prone(self, count: int = 20) -> list[tuple[str, GlossErrors]]:
        return sorted(self.glosses.items(), key=lambda item: (-item[1].errors, item[0]))[:count]

    def to_json(self) -> dict:
        return {
            "name": self.name, "tool": self.tool, "total": self.total.to_json(),
            "glosses": {gloss: stats.to_json() for gloss, stats in self.most_error_prone(len(self.glosses))},
            "top_substitutions": [{"reference": ref, "hypothesis": hyp, "count": n}
                                  for (ref, hyp), n in self.substitution_pairs.most_common()],
            "signers": {signer: rate.to_json() for signer, rate in self.signers.items()},
            "reference_length": {bucket: rate.to_json() for bucket, rate in self.lengths.items()},
        }


def length_bucket(words: int) -> str:
    for low, high in LENGTH_BUCKETS:
        if low <= words <= high:
            return f"{low}-{high}" if high < 10**9 else f"{low}+"
    return "0"


def analyse(report: ScoreReport) -> ErrorAnalysis:
    """Per-gloss, per-signer and per-length breakdowns of `report`, from its own alignments."""
    total, signers, lengths = Rate(), defaultdict(Rate), {}
    glosses: dict[str, GlossErrors] = defaultdict(GlossErrors)
    pairs: Counter = Counter()
    for low, high in LENGTH_BUCKETS:
        lengths[length_bucket(low)] = Rate()
    for sentence in report.per_sentence:
        total.add(sentence)
        signers[sentence.speaker].add(sentence)
        lengths.setdefault(length_bucket(sentence.num_ref_words), Rate()).add(sentence)
        for op, ref, hyp in zip(sentence.ops, sentence.ref_aligned, sentence.hyp_aligned):
            if op == CORRECT:
                glosses[ref].references += 1
                glosses[ref].correct += 1
            elif op == SUBSTITUTION:
                glosses[ref].references += 1
                glosses[ref].substituted_by[hyp] += 1
                pairs[(ref, hyp)] += 1
            elif op == DELETION:
                glosses[ref].references += 1
                glosses[ref].deleted += 1
            elif op == INSERTION:
                glosses[hyp].inserted += 1
    return ErrorAnalysis(report.name, report.tool, total, dict(glosses), pairs, dict(sorted(signers.items())),
                         {bucket: rate for bucket, rate in lengths.items() if rate.sentences})


@dataclass
class Comparison:
    """Two systems on the same references: who gets which sentence right, and whether the WER gap is real."""

    wer_a: float
    wer_b: float
    only_a_correct: list[str]
    only_b_correct: list[str]
    difference: float  # WER(a) - WER(b), points
    interval: tuple[float, float]  # 95% paired bootstrap interval of the difference
    p_value: float  # two-sided: how often the resampled difference falls on the other side of zero
    resamples: int
    seed: int
    system_a: str = ""  # what was compared: the CTM files (or report names)
    system_b: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def bootstrap_wers(errors: list[int], words: list[int], resamples: int, seed: int) -> list[float]:
    """The WER (percent) of `resamples` resamplings of the sentences with replacement (Bisani & Ney, 2004),
    sorted: each draws as many sentences as there are and divides their errors by their reference words."""
    generator = random.Random(seed)
    samples = []
    for _ in range(resamples):
        picks = [generator.randrange(len(errors)) for _ in errors]
        n = sum(words[k] for k in picks) or 1
        samples.append(100.0 * sum(errors[k] for k in picks) / n)
    return sorted(samples)


def percentile_interval(samples: list[float], level: float = 0.95) -> tuple[float, float]:
    """The central `level` interval of sorted bootstrap samples."""
    tail = (1 - level) / 2
    last = len(samples) - 1
    return samples[int(tail * last)], samples[int(round((1 - tail) * last))]


def wer_interval(report: ScoreReport, resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval over sentences of one system's WER: how much the number would move on another
    draw of sentences like these."""
    sentences = report.per_sentence
    return percentile_interval(bootstrap_wers([s.errors for s in sentences], [s.num_ref_words for s in sentences],
                                              resamples, seed))


def compare(a: ScoreReport, b: ScoreReport, resamples: int = 1000, seed: int = 0,
            names: tuple[str, str] | None = None) -> Comparison:
    """Paired bootstrap over sentences (Bisani & Ney, 2004) of WER(a) - WER(b) on the same references;
    `names` say what a and b are (default: the reports' names)."""
    sentences_a = {s.fileid: s for s in a.per_sentence}
    sentences_b = {s.fileid: s for s in b.per_sentence}
    if set(sentences_a) != set(sentences_b):
        raise ValueError("the two hypotheses were scored against different references")
    ids = sorted(sentences_a)
    errors_a = [sentences_a[i].errors for i in ids]
    errors_b = [sentences_b[i].errors for i in ids]
    words = [sentences_a[i].num_ref_words for i in ids]
    total_words = max(sum(words), 1)
    difference = 100.0 * (sum(errors_a) - sum(errors_b)) / total_words
    samples = bootstrap_wers([ea - eb for ea, eb in zip(errors_a, errors_b)], words, resamples, seed)
    low, high = percentile_interval(samples)
    at_or_below = sum(x <= 0 for x in samples) / resamples
    at_or_above = sum(x >= 0 for x in samples) / resamples
    return Comparison(
        wer_a=a.wer, wer_b=b.wer,
        only_a_correct=[i for i, ea, eb in zip(ids, errors_a, errors_b) if ea == 0 < eb],
        only_b_correct=[i for i, ea, eb in zip(ids, errors_a, errors_b) if eb == 0 < ea],
        difference=difference, interval=(low, high), p_value=min(1.0, 2 * min(at_or_below, at_or_above)),
        resamples=resamples, seed=seed, system_a=(names or (a.name, b.name))[0],
        system_b=(names or (a.name, b.name))[1])
