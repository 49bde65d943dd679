"""Parallel sentences (glosses and their spoken-language translation) from a corpus's info files.

Where a translation is found: the record's `translation` key (written by the preprocessing of corpora that have
one, and by the demo corpus), else the corpus's own annotation line kept in `original_info`: PHOENIX-2014-T's
last field (`name|video|start|end|speaker|orth|translation`, lowercased and tokenised by the corpus), CSL-Daily's
word-segmented sentence (`name|length|gloss|char|word|postag`; its characters with translation_args.level: char).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from dataset.errors import DataError
from dataset.info import InfoFile

# field of `original_info` holding the translation, per corpus and text level
ORIGINAL_INFO_FIELDS = {("phoenix2014-T", "word"): -1, ("CSL-Daily", "word"): 4, ("CSL-Daily", "char"): 3}


@dataclass(frozen=True)
class ParallelSentence:
    """One video's gloss sequence and translation, both as tokens."""

    id: str
    glosses: tuple[str, ...]
    text: tuple[str, ...]


def translation_of(record: dict, dataset: str, level: str = "word") -> str | None:
    """The record's translation as a string of space-separated tokens, or None when the corpus has none."""
    if record.get("translation") is not None:
        return str(record["translation"])
    field = ORIGINAL_INFO_FIELDS.get((dataset, level))
    original = record.get("original_info")
    if field is None or not isinstance(original, str):
        return None
    parts = original.strip().split("|")
    return parts[field].strip() if len(parts) > abs(field) else None


def parallel_sentences(info: InfoFile, dataset: str, level: str = "word") -> list[ParallelSentence]:
    """Every record of a split with its translation; one line naming the file when a record has none."""
    sentences = []
    for record in info.records:
        text = translation_of(record, dataset, level)
        if not text or not text.split():
            reason = ("this corpus has no translations (PHOENIX-2014-T, CSL-Daily and corpora whose manifest has a "
                      "`translation` column do)" if dataset not in {key for key, _ in ORIGINAL_INFO_FIELDS}
                      else "it has no translation")
            raise DataError(f"{info.path}: record {record.get('fileid')!r}: {reason}")
        sentences.append(ParallelSentence(str(record["fileid"]), tuple(str(record["label"]).split()),
                                          tuple(text.split())))
    return sentences


def references(sentences: Sequence[ParallelSentence]) -> dict[str, str]:
    """Reference translations by id, as scored (tokens joined by one space)."""
    return {sentence.id: " ".join(sentence.text) for sentence in sentences}


def read_split(path: str | Path, dataset: str, level: str = "word") -> list[ParallelSentence]:
    return parallel_sentences(InfoFile.read(path), dataset, level)
