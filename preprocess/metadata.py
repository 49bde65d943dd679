"""Metadata outputs: gloss dictionary, per-split info JSON lines and ground-truth STM files.

Gloss dictionaries are always rebuilt from the annotations with the official
rule (sorted glosses of all splits, numbered from 1) and compared with the
shipped reference dictionary, whose class indices released checkpoints use.
PHOENIX-2014 ground truth is the corpus's own evaluation STM (normalised
glosses, corpus line order): taken from the corpus's `evaluation/` folder, or
else the shipped copy when the split holds exactly the shipped videos; only
a corpus that is neither (e.g. the synthetic one) gets STMs generated from
its labels, the rule used for the other corpora.
"""
from __future__ import annotations

import json
from pathlib import Path

from dataset.gloss_dict import build_gloss_dict
from dataset.info import write_info
from dataset.paths import (GLOSS_DICT_FILE, SHIPPED_METADATA_DIR, info_file_name, shipped_gloss_dict, stm_file_name,
                           stm_prefix)
from evaluation.stm import format_stm_line
from preprocess.corpora import AnnotationError, VideoEntry
from utils.io import write_json_atomic, write_text_atomic


def stm_text(records: list[dict]) -> str:
    """Ground truth in NIST STM form, one line per video in record order (the official format)."""
    return "".join(format_stm_line(str(r["fileid"]), str(r["signer"]), r["label"]) for r in records)


def stm_file_ids(path: Path) -> set[str]:
    """The file ids an STM file covers."""
    return {line.split(" ", 1)[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def phoenix2014_stm(records: list[dict], split: str, corpus_root: Path) -> tuple[str, str]:
    """(STM text, where it came from) for a PHOENIX-2014 split; see the module docstring."""
    name = stm_file_name(stm_prefix("phoenix2014"), split)
    own = corpus_root / "evaluation" / name
    if own.is_file():
        return own.read_text(encoding="utf-8"), f"corpus file {own}"
    shipped = SHIPPED_METADATA_DIR / "phoenix2014" / name
    if shipped.is_file() and stm_file_ids(shipped) == {r["fileid"] for r in records}:
        return shipped.read_text(encoding="utf-8"), f"shipped corpus STM {shipped}"
    return stm_text(records), "generated from the labels (not the released corpus)"


def choose_gloss_dict(dataset: str, splits: dict[str, list[VideoEntry]], use_shipped: bool) -> tuple[dict, str]:
    """(gloss dictionary to write, a one-line note on how it relates to the shipped one)."""
    built = build_gloss_dict([e.record["label"] for entries in splits.values() for e in entries])
    shipped_path = shipped_gloss_dict(dataset)
    shipped = json.loads(shipped_path.read_text(encoding="utf-8")) if shipped_path.is_file() else None
    if use_shipped:
        if shipped is None:
            raise AnnotationError(f"{shipped_path}: no shipped gloss dictionary for {dataset}; drop --use-shipped-gloss-dict")
        unknown = sorted(set(built) - set(shipped))
        if unknown:
            raise AnnotationError(f"{len(unknown)} glosses of the annotations are not in {shipped_path}, e.g. "
                                  f"{unknown[:5]}; drop --use-shipped-gloss-dict to build the dictionary from them")
        return shipped, f"copied the shipped dictionary {shipped_path}"
    if shipped is not None and list(built.items()) == list(shipped.items()):
        return built, "identical to the shipped reference dictionary (released checkpoints apply)"
    note = "differs from the shipped reference dictionary" if shipped is not None else "no shipped dictionary"
    return built, f"built from the annotations ({len(built)} glosses); {note}"


def write_metadata(dataset: str, splits: dict[str, list[VideoEntry]], output: Path, corpus_root: Path,
                   prefix: str, use_shipped_gloss_dict: bool = False) -> list[str]:
    """Write gloss_dict.json, <split>_info.jsonl and the STMs under `output`; return notes to print."""
    notes = []
    gloss_dict, note = choose_gloss_dict(dataset, splits, use_shipped_gloss_dict)
    write_json_atomic(output / GLOSS_DICT_FILE, gloss_dict)
    notes.append(f"{GLOSS_DICT_FILE}: {note}")
    for split, entries in splits.items():
        records = [e.record for e in entries]
        write_info(output / info_file_name(split), records, prefix=prefix)
        if dataset == "phoenix2014":
            text, source = phoenix2014_stm(records, split, corpus_root)
        else:
            text, source = stm_text(records), "generated from the labels"
        write_text_atomic(output / stm_file_name(stm_prefix(dataset), split), text)
        notes.append(f"{split}: {len(records)} videos; STM {source}")
    return notes
