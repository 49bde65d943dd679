"""A word vocabulary built from a training split: the special tokens first, then words by frequency."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

UNK, PAD, BOS, EOS = "<unk>", "<pad>", "<s>", "</s>"
SPECIALS = (UNK, PAD, BOS, EOS)
UNK_ID, PAD_ID, BOS_ID, EOS_ID = range(len(SPECIALS))


@dataclass(frozen=True)
class Vocabulary:
    """Tokens in id order; the first four are the specials (unknown, padding, start and end of sentence)."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        if tuple(self.tokens[:len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}, not {tuple(self.tokens[:len(SPECIALS)])}")
        object.__setattr__(self, "_index", {token: index for index, token in enumerate(self.tokens)})

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_frequency: int = 1) -> "Vocabulary":
        """Every word seen at least `min_frequency` times, most frequent first (ties alphabetically, so that the
        same data always gives the same ids)."""
        counts = Counter(word for sentence in sentences for word in sentence)
        words = sorted((word for word, count in counts.items() if count >= min_frequency and word not in SPECIALS),
                       key=lambda word: (-counts[word], word))
        return cls((*SPECIALS, *words))

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def encode(self, words: Sequence[str]) -> list[int]:
        return [self._index.get(word, UNK_ID) for word in words]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words up to the first end-of-sentence, without start and padding tokens."""
        words = []
        for index in ids:
            if index == EOS_ID:
                break
            if index not in (BOS_ID, PAD_ID):
                words.append(self.tokens[index])
        return words

    def to_list(self) -> list[str]:
        return list(self.tokens)

    @classmethod
    def from_list(cls, tokens: Sequence[str]) -> "Vocabulary":
        return cls(tuple(tokens))
