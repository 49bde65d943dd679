"""Gloss dictionary: the gloss -> class-index mapping that fixes a checkpoint's output layer.

Stored as JSON `{gloss: [class_index, count]}` (index 0 is the CTC blank), the
form the official preprocessing produces, converted from its pickled `.npy`.
"""
from __future__ import annotations

import json
from pathlib import Path


def load_gloss_dict(path: str | Path) -> dict[str, int]:
    """Read `{gloss: [class_index, count]}` and return `{gloss: class_index}`.

    Indices must be unique and start at 1, because 0 is reserved for the blank.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: gloss dictionary not found") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{path}: expected a non-empty JSON object {{gloss: [index, count]}}")
    mapping: dict[str, int] = {}
    for gloss, value in raw.items():
        index = value[0] if isinstance(value, list) and value else value
        if not isinstance(index, int) or isinstance(index, bool) or index < 1:
            raise ValueError(f"{path}: gloss {gloss!r} has class index {value!r}; expected [int >= 1, count]")
        mapping[gloss] = index
    if len(set(mapping.values())) != len(mapping):
        raise ValueError(f"{path}: class indices are not unique")
    return mapping


def encode_label(label: str, gloss_dict: dict[str, int], video_id: str = "") -> list[int]:
    """Turn a space-separated gloss sentence into class indices.

    Empty tokens (double spaces occur in PHOENIX annotations) are ignored. An
    unknown gloss raises instead of being dropped silently as the official
    loader does, because a silently shortened target corrupts training.
    """
    indices = []
    for gloss in label.split():
        if gloss not in gloss_dict:
            raise KeyError(f"video {video_id!r}: gloss {gloss!r} is not in the gloss dictionary")
        indices.append(gloss_dict[gloss])
    return indices


def build_gloss_dict(sentences: list[str]) -> dict[str, list[int]]:
    """Count glosses over all sentences and number them in sorted order from 1 (the official rule)."""
    counts: dict[str, int] = {}
    for sentence in sentences:
        for gloss in sentence.split():
            counts[gloss] = counts.get(gloss, 0) + 1
    return {gloss: [index, counts[gloss]] for index, gloss in enumerate(sorted(counts), start=1)}
