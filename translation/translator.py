"""A translation model with what it needs around it: its vocabularies, shape and text settings (`TranslatorSpec`,
stored in every translation checkpoint under `translation`), and translating with it (`Translator`: gloss
sequences in, sentences out, through the NumPy beam search)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from translation.beam_search import BeamSettings, beam_search
from translation.model import Memory, TranslationTransformer, TranslatorShape
from translation.vocabulary import PAD_ID, Vocabulary
from utils.config.schema import TranslationArgs
from utils.errors import CheckpointError

CHECKPOINT_KEY = "translation"


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

    def build_model(self, source_features: int = 0) -> TranslationTransformer:
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


@torch.no_grad()
def search(model: TranslationTransformer, memory: Memory, limits: Sequence[int], settings: BeamSettings
           ) -> list[list[int]]:
    """Beam search over the encoded sources `memory` with the model's cached decoder steps."""
    device = memory.mask.device

    def step(tokens: np.ndarray, position: int, rows: np.ndarray, cache: list[np.ndarray]
             ) -> tuple[np.ndarray, list[np.ndarray]]:
        index = torch.from_numpy(rows).to(device)
        rows_memory = Memory([keys[index] for keys in memory.keys], [values[index] for values in memory.values],
                             memory.mask[index])
        log_probs, new_cache = model.decode_step(torch.from_numpy(tokens).to(device), position,
                                                 [torch.from_numpy(array).to(device) for array in cache], rows_memory)
        return log_probs.cpu().numpy(), [array.cpu().numpy() for array in new_cache]

    return beam_search(step, limits, settings)


def pad_ids(sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id sequences as one padded N x L tensor, and their lengths."""
    length = max((len(sequence) for sequence in sequences), default=0)
    padded = torch.full((len(sequences), max(length, 1)), PAD_ID, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        padded[row, :len(sequence)] = torch.tensor(sequence, dtype=torch.long)
    return padded, torch.tensor([len(sequence) for sequence in sequences], dtype=torch.long)


class Translator:
    """Gloss sequences to sentences with a trained gloss-to-text model."""

    def __init__(self, spec: TranslatorSpec, model: TranslationTransformer, device: torch.device,
                 max_output_length: int = TranslationArgs().max_output_length, batch_size: int = 64) -> None:
        self.spec, self.model, self.device = spec, model.to(device).eval(), device
        self.max_output_length, self.batch_size = max_output_length, batch_size

    @classmethod
    def from_checkpoint(cls, path: Path, checkpoint: dict, device: torch.device,
                        max_output_length: int = TranslationArgs().max_output_length) -> "Translator":
        """A translation checkpoint's model (one line naming the file when it is none)."""
        values = checkpoint.get(CHECKPOINT_KEY)
        if not isinstance(values, dict) or values.get("source_vocabulary") is None:
            raise CheckpointError(f"{path} is not a gloss-to-text checkpoint (it has no translation vocabularies); "
                                  f"train one with task=translation (configs/phoenix2014-T-g2t.yaml)")
        spec = TranslatorSpec.from_dict(values)
        model = spec.build_model()
        from utils.checkpoint import apply_model_weights

        apply_model_weights(model, checkpoint, source=str(path))
        return cls(spec, model, device, max_output_length)

    @torch.no_grad()
    def translate(self, gloss_sequences: Sequence[Sequence[str]], settings: BeamSettings | None = None) -> list[str]:
        """One sentence per gloss sequence, its tokens separated by spaces as they are scored (an empty sequence
        translates to an empty sentence)."""
        settings = settings or self.spec.decoding
        sentences = [""] * len(gloss_sequences)
        todo = [index for index, glosses in enumerate(gloss_sequences) if glosses]
        for start in range(0, len(todo), self.batch_size):
            chunk = todo[start:start + self.batch_size]
            source, lengths = pad_ids([self.spec.encode_source(gloss_sequences[index]) for index in chunk])
            memory = self.model.encode(source.to(self.device), lengths.to(self.device))
            for index, ids in zip(chunk, search(self.model, memory, output_limits(lengths.tolist(),
                                                                                    self.max_output_length), settings)):
                sentences[index] = " ".join(self.spec.target.decode(ids))
        return sentences
