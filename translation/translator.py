"""Translating with a trained gloss-to-text model: gloss sequences in, sentences out, through the NumPy beam
search on the model's cached decoding steps (`Translator`)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from translation.beam_search import BeamSettings, beam_search
from translation.model import Memory, TranslationTransformer
from translation.spec import CHECKPOINT_KEY, TranslatorSpec, output_limits
from translation.vocabulary import PAD_ID
from utils.config.schema import TranslationArgs
from utils.errors import CheckpointError


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
