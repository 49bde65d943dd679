"""Recognition-like errors in gloss sequences: substitutions, deletions and insertions at a chosen word error rate,
for measuring what recognition errors cost a translator and for training it on them (translation_args.noise_wer).

Each reference gloss is substituted with probability wer x mix[0] and deleted with wer x mix[1]; after each
gloss (and before the first) a gloss is inserted with probability wer x mix[2] / (length + 1) x length, so that a
sentence of n glosses gets n x wer errors on average in the stated shares. Substituted and inserted glosses are
drawn from the training glosses' frequencies (a substitute always differs from the gloss it replaces).
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np


class GlossNoise:
    """Draws corrupted copies of gloss sequences; `wer` in percent, `mix` the shares of substitutions, deletions
    and insertions (normalised to sum to 1)."""

    def __init__(self, training_glosses: Sequence[Sequence[str]], wer: float, mix: Sequence[float]) -> None:
        if len(mix) != 3 or min(mix) < 0 or sum(mix) <= 0:
            raise ValueError(f"noise_mix needs three non-negative shares (substitutions, deletions, insertions), "
                             f"got {list(mix)}")
        counts = Counter(gloss for sentence in training_glosses for gloss in sentence)
        self.glosses = sorted(counts)
        frequencies = np.array([counts[gloss] for gloss in self.glosses], dtype=np.float64)
        self.probabilities = frequencies / frequencies.sum()
        shares = np.asarray(mix, dtype=np.float64) / float(sum(mix))
        self.substitution, self.deletion, self.insertion = (wer / 100.0) * shares

    def _draw(self, rng: np.random.Generator, avoid: str | None = None) -> str:
        while True:
            gloss = self.glosses[int(rng.choice(len(self.glosses), p=self.probabilities))]
            if gloss != avoid or len(self.glosses) == 1:
                return gloss

    def corrupt(self, glosses: Sequence[str], rng: np.random.Generator) -> list[str]:
        length = len(glosses)
        insert_probability = self.insertion * length / (length + 1)
        out: list[str] = []
        for position in range(length + 1):
            if rng.random() < insert_probability:
                out.append(self._draw(rng))
            if position == length:
                break
            draw = rng.random()
            if draw < self.substitution:
                out.append(self._draw(rng, avoid=glosses[position]))
            elif draw >= self.substitution + self.deletion:
                out.append(glosses[position])
        return out
