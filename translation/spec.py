"""What a translation model is besides its weights, without torch: its vocabularies, shape, how glosses become
source tokens and the decoding chosen on dev (`TranslatorSpec`, stored in every translation checkpoint under
`translation` and in an exported model's model.json)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

from translation.beam_search import BeamSettings
from translation.vocabulary import Vocabulary
from utils.config.schema import TranslationArgs

CHECKPOINT_KEY = "translation"


@dataclass
class TranslatorShape:
    """Every number that shapes the transformer (translation_args in the configuration)."""

    width: int = 512
    heads: int = 8
    encoder_layers: int = 2
    decoder_layers: int = 2
    feed_forward: int = 2048
    dropout: float = 0.1
    embedding_dropout: float = 0.1
    tie_output: bool = True
    max_length: int = 400


@dataclass
class TranslatorSpec:
    """Everything but the weights that a translation model needs: its vocabularies (`source` None when the
    encoder reads features), its shape, how glosses become source tokens, and the decoding chosen on dev."""

    target: Vocabulary
    source: Vocabulary | None
    shape: TranslatorShape
    lowercase_glosses: bool = False
    share_vocabulary: bool = False
    level: str = "word"
    decoding: BeamSettings = BeamSettings(4, 1.0)

    @classmethod
    def build(cls, glosses: Sequence[Sequence[str]], texts: Sequence[Sequence[str]], args: TranslationArgs,
              features: bool = False) -> "TranslatorSpec":
        """Vocabularies from the training split's gloss sequences and texts."""
        lower = args.lowercase_glosses
        sources = [[gloss.lower() for gloss in sentence] if lower else list(sentence) for sentence in glosses]
        shared = args.share_vocabulary and not features
        target = Vocabulary.build([*texts, *sources] if shared else texts, args.min_frequency)
        source = None if features else (target if shared else Vocabulary.build(sources, args.min_frequency))
        shape = TranslatorShape(args.width, args.heads, args.encoder_layers, args.decoder_layers, args.feed_forward,
                                args.dropout, args.embedding_dropout, args.tie_output)
        return cls(target, source, shape, lower, shared, args.level, BeamSettings(args.beam_size, args.alpha))

    def source_tokens(self, glosses: Sequence[str]) -> list[str]:
        return [gloss.lower() for gloss in glosses] if self.lowercase_glosses else list(glosses)

    def encode_source(self, glosses: Sequence[str]) -> list[int]:
        return self.source.encode(self.source_tokens(glosses))

    def readable(self, sentence: str) -> str:
        """A translation (tokens separated by spaces, as it is scored) as a reader wants it: characters joined."""
        return sentence.replace(" ", "") if self.level == "char" else sentence

    def build_model(self, source_features: int = 0) -> Any:
        """The transformer of this shape and these vocabularies (a TranslationTransformer; torch is imported
        here, not by this module)."""
        from translation.model import TranslationTransformer

        model = TranslationTransformer(len(self.target), self.shape,
                                       source_vocabulary=0 if source_features else len(self.source),
                                       source_features=source_features)
        if self.share_vocabulary:
            model.source_embedding.weight = model.target_embedding.weight
        return model

    def to_dict(self) -> dict[str, Any]:
        return {"target_vocabulary": self.target.to_list(),
                "source_vocabulary": self.source.to_list() if self.source is not None else None,
                "shape": asdict(self.shape), "lowercase_glosses": self.lowercase_glosses,
                "share_vocabulary": self.share_vocabulary, "level": self.level,
                "decoding": {"beam_size": self.decoding.beam_size, "alpha": self.decoding.alpha}}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TranslatorSpec":
        source = values.get("source_vocabulary")
        decoding = values.get("decoding") or {}
        return cls(Vocabulary.from_list(values["target_vocabulary"]),
                   Vocabulary.from_list(source) if source is not None else None, TranslatorShape(**values["shape"]),
                   bool(values.get("lowercase_glosses")), bool(values.get("share_vocabulary")),
                   values.get("level", "word"),
                   BeamSettings(int(decoding.get("beam_size", 4)), float(decoding.get("alpha", 1.0))))


def output_limits(source_lengths: Sequence[int], cap: int) -> list[int]:
    """Each sentence's longest output, </s> included: twice its source length plus 10, at most `cap` words."""
    return [min(2 * int(length) + 10, cap) + 1 for length in source_lengths]


