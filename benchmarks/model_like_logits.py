"""Generated CTC logits shaped like a trained SlowFastSign model's, for decoder tests and benchmarks.

A trained CSLR model is blank-dominant: each gloss peaks over one or two steps and
the blank wins everywhere else; PHOENIX labels repeat a gloss in about a quarter of
adjacent pairs (REGEN REGEN), so "A _ A" paths are common. `ambiguous=True` lowers
the margins and adds a close competitor to every peak, so that prefixes merge and
compete, which is where decoders differ.
"""
from __future__ import annotations

import numpy as np


def model_like_logits(rng: np.random.Generator, steps: int, classes: int, *, ambiguous: bool = False,
                      repeat_rate: float = 0.25) -> tuple[np.ndarray, list[int]]:
    """float32 T x C logits (class 0 = blank) and the gloss sequence they were built around."""
    logits = rng.normal(0.0, 1.0, (steps, classes)).astype(np.float32)
    blank_level = 3.0 if ambiguous else 8.0
    logits[:, 0] += blank_level
    glosses: list[int] = []
    t = int(rng.integers(0, 3))
    while t < steps:
        gloss = glosses[-1] if glosses and rng.random() < repeat_rate else int(rng.integers(1, classes))
        glosses.append(gloss)
        width = int(rng.integers(1, 3))
        for s in range(t, min(t + width, steps)):
            peak = rng.uniform(2.0, 5.0) if ambiguous else rng.uniform(9.0, 13.0)
            logits[s, gloss] += blank_level + peak
            if ambiguous:
                competitor = int(rng.integers(1, classes))
                logits[s, competitor] += blank_level + peak - rng.uniform(0.0, 1.5)
        t += width + int(rng.integers(1, 4))
    return logits, glosses
