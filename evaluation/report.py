"""The score of one hypothesis file: per-sentence errors and the overall summary, as text and JSON."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from evaluation.alignment import Alignment


@dataclass
class SentenceScore:
    """Errors of one reference sentence and its aligned words (None marks the `*` side of an I/D)."""

    fileid: str
    speaker: str
    num_ref_words: int
    correct: int
    substitutions: int
    deletions: int
    insertions: int
    ref_aligned: list[str | None]
    hyp_aligned: list[str | None]
    ops: str

    @classmethod
    def from_alignment(cls, fileid: str, speaker: str, alignment: Alignment) -> "SentenceScore":
        return cls(fileid, speaker, alignment.num_ref_words, alignment.correct, alignment.substitutions, alignment.deletions,
                   alignment.insertions, [p.ref for p in alignment.pairs], [p.hyp for p in alignment.pairs],
                   "".join(p.op for p in alignment.pairs))

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions


def _percent(count: int, total: int) -> float:
    """sclite's convention: a rate over zero reference words is 0 when there are no errors."""
    if total == 0:
        return 0.0 if count == 0 else float("inf")
    return 100.0 * count / total


@dataclass
class ScoreReport:
    """Overall WER (percent, (S+D+I)/N) with its parts and per-sentence detail, under one tool's rules
    (`python`: the official Python scorer; `sclite`: NIST sclite)."""

    name: str
    wer: float
    sub_rate: float
    del_rate: float
    ins_rate: float
    num_sentences: int
    num_ref_words: int
    num_hyp_words: int
    correct: int
    substitutions: int
    deletions: int
    insertions: int
    per_sentence: list[SentenceScore] = field(default_factory=list)
    tool: str = "sclite"
    sclite_used: bool = False
    note: str = ""

    @classmethod
    def from_sentences(cls, name: str, sentences: list[SentenceScore], num_hyp_words: int,
                       tool: str = "sclite") -> "ScoreReport":
        n = sum(s.num_ref_words for s in sentences)
        sub = sum(s.substitutions for s in sentences)
        dele = sum(s.deletions for s in sentences)
        ins = sum(s.insertions for s in sentences)
        return cls(name=name, wer=_percent(sub + dele + ins, n), sub_rate=_percent(sub, n), del_rate=_percent(dele, n),
                   ins_rate=_percent(ins, n), num_sentences=len(sentences), num_ref_words=n,
                   num_hyp_words=num_hyp_words, correct=sum(s.correct for s in sentences), substitutions=sub,
                   deletions=dele, insertions=ins, per_sentence=sentences, tool=tool)

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    def summary_line(self) -> str:
        """One line for the training log; the bracket says which scorer's rules produced it."""
        scorer = {"python": "official python scorer", "sclite": "sclite"}[self.tool]
        if self.tool == "sclite":
            scorer += " binary" if self.sclite_used else " rules"
        label = f"{self.name}: " if self.name else ""
        return (f"{label}WER {self.wer:.2f}% (sub {self.sub_rate:.2f}%, del {self.del_rate:.2f}%, "
                f"ins {self.ins_rate:.2f}%) over {self.num_sentences} sentences, {self.num_ref_words} words [{scorer}]")

    def to_json(self) -> dict:
        """Plain-JSON form (per-sentence alignments included)."""
        return asdict(self)

    @classmethod
    def from_json(cls, content: dict) -> "ScoreReport":
        """The report to_json wrote (`<split>.<tool>.report.json` in a work directory)."""
        sentences = [SentenceScore(**sentence) for sentence in content.get("per_sentence", [])]
        return cls(**{**content, "per_sentence": sentences})

    def to_text(self) -> str:
        """Summary, then one block per sentence in sclite's REF/HYP/Eval layout."""
        lines = [self.summary_line(), f"errors {self.errors} = sub {self.substitutions} + del {self.deletions} + "
                 f"ins {self.insertions}; correct {self.correct}; hyp words {self.num_hyp_words}"]
        if self.note:
            lines.append(f"note: {self.note}")
        for s in self.per_sentence:
            lines.append("")
            lines.append(f"{s.fileid} ({s.speaker}) ref {s.num_ref_words}: C {s.correct} S {s.substitutions} "
                         f"D {s.deletions} I {s.insertions} WER {_percent(s.errors, s.num_ref_words):.2f}%")
            widths = [max(len(r or "*"), len(h or "*")) for r, h in zip(s.ref_aligned, s.hyp_aligned)]
            lines.append("REF:  " + " ".join((r or "*" * w).ljust(w) for r, w in zip(s.ref_aligned, widths)))
            lines.append("HYP:  " + " ".join((h or "*" * w).ljust(w) for h, w in zip(s.hyp_aligned, widths)))
            lines.append("Eval: " + " ".join(("" if op == "C" else op).ljust(w) for op, w in zip(s.ops, widths)))
        return "\n".join(lines) + "\n"
