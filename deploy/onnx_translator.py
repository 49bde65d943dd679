"""A translator exported beside the recogniser (deploy/translator_export.py), run in ONNX Runtime with the NumPy
beam search every runtime shares (translation/beam_search.py): the same sentences as PyTorch. Imports no torch."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from deploy.onnx_format import (ExportedModelError, decoder_cache_names, decoder_input_names, encoder_output_names,
                                session_providers)
from utils.io import file_sha256
from translation.beam_search import BeamSettings, beam_search
from translation.spec import TranslatorSpec, output_limits


class OnnxTranslator:
    """The exported encoder and decoding step; `description` is model.json's `translation`, `paths` the graphs'
    files by their names there (checked against their recorded SHA-256)."""

    def __init__(self, description: dict[str, Any], paths: dict[str, Path]) -> None:
        import onnxruntime

        self.description = description
        self.spec = TranslatorSpec.from_dict(description["spec"])
        self.layers, heads, width = (int(description[key]) for key in ("layers", "heads", "head_width"))
        self.empty_cache = np.zeros((0, heads, 0, width), dtype=np.float32)
        sessions = {}
        for role in ("encoder", "decoder"):
            path = paths[description[role]]
            if not Path(path).is_file():
                raise ExportedModelError(f"{path} not found: the exported model's translator is missing (keep the "
                                         f"files of one export together)")
            if file_sha256(Path(path)) != description[f"{role}_sha256"]:
                raise ExportedModelError(f"{path} is not the translator model.json describes (its SHA-256 differs)")
            sessions[role] = onnxruntime.InferenceSession(str(path), providers=session_providers())
        self.encoder, self.decoder = sessions["encoder"], sessions["decoder"]
        self.inputs = decoder_input_names(self.layers)
        self.memory_names = encoder_output_names(self.layers)
        self.cache_names = decoder_cache_names(self.layers)

    def translate_source(self, source: np.ndarray, settings: BeamSettings | None = None) -> str:
        """One source (ids S, or features S x F) to its sentence, tokens separated by spaces."""
        memory = self.encoder.run(self.memory_names, {"source": np.ascontiguousarray(source[None])})

        def step(tokens: np.ndarray, position: int, rows: np.ndarray, cache: list[np.ndarray]
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
            feeds = {"tokens": tokens, "step": np.asarray(position, dtype=np.int64)}
            feeds.update({name: array[rows] for name, array in zip(self.memory_names, memory)})
            past = cache or [np.zeros((len(tokens), *self.empty_cache.shape[1:]), dtype=np.float32)] * len(self.cache_names)
            feeds.update(dict(zip(self.cache_names, past)))
            log_probs, *new_cache = self.decoder.run(None, feeds)
            return log_probs, new_cache

        limits = output_limits([source.shape[0]], int(self.description["max_output_length"]))
        [ids] = beam_search(step, limits, settings or self.spec.decoding)
        return " ".join(self.spec.target.decode(ids))

    def translate_glosses(self, glosses: Sequence[str]) -> str:
        """Recognised glosses to the sentence a reader reads ('' for none)."""
        if not glosses:
            return ""
        source = np.asarray(self.spec.encode_source(glosses), dtype=np.int64)
        return self.spec.readable(self.translate_source(source))

    def translate_features(self, features: np.ndarray) -> str:
        return self.spec.readable(self.translate_source(features.astype(np.float32)))
