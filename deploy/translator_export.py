"""The translator of an exported model as two ONNX graphs beside model.onnx: its encoder (a source sentence in,
every decoder layer's memory keys and values out) and one cached decoding step (deploy/onnx_format.py names
their inputs and outputs), so that prediction through ONNX Runtime translates with the same NumPy beam search
as PyTorch (translation/beam_search.py). Before the files are kept, ONNX Runtime and PyTorch translate the same
sources and must give the same sentences.
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from deploy.onnx_format import (TRANSLATOR_DECODER, TRANSLATOR_ENCODER, ExportedModelError, decoder_cache_names,
                                decoder_input_names, encoder_output_names)
from deploy.onnx_translator import OnnxTranslator
from translation.beam_search import BeamSettings
from translation.model import Memory, TranslationTransformer
from translation.spec import TranslatorSpec, output_limits
from translation.translator import search
from utils.io import file_sha256

logger = logging.getLogger("slowfastsign")


class EncoderGraph(nn.Module):
    """One source (1 x S ids, or 1 x S x F features) -> its mask (1 x S) and each decoder layer's memory keys and
    values (1 x heads x S x head_width)."""

    def __init__(self, model: TranslationTransformer) -> None:
        super().__init__()
        self.model = model

    def forward(self, source: torch.Tensor) -> tuple[torch.Tensor, ...]:
        lengths = torch.ones_like(source[:, :, 0] if source.dim() == 3 else source, dtype=torch.int64).sum(1)
        memory = self.model.encode(source, lengths)
        return (memory.mask, *[tensor for pair in zip(memory.keys, memory.values) for tensor in pair])


class DecoderStepGraph(nn.Module):
    """translation.model.TranslationTransformer.decode_step with every tensor an input or an output."""

    def __init__(self, model: TranslationTransformer) -> None:
        super().__init__()
        self.model = model
        self.layers = len(model.decoder_layers)

    def forward(self, tokens: torch.Tensor, step: torch.Tensor, memory_mask: torch.Tensor,
                *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        memory = Memory(list(tensors[0:2 * self.layers:2]), list(tensors[1:2 * self.layers:2]), memory_mask)
        log_probs, cache = self.model.decode_step(tokens, step, list(tensors[2 * self.layers:]), memory)
        return (log_probs, *cache)


def _example_source(spec: TranslatorSpec, features: int, length: int) -> torch.Tensor:
    if features:
        return torch.zeros(1, length, features)
    return torch.full((1, length), 4, dtype=torch.int64)


def export_translator(model: TranslationTransformer, spec: TranslatorSpec, folder: Path, *, features: int,
                      sources: Sequence[np.ndarray], max_output_length: int, opset: int) -> dict[str, Any]:
    """Write the encoder and decoder-step graphs into `folder` when ONNX Runtime translates every one of `sources`
    (id arrays, or S x F feature arrays) as PyTorch does with the spec's decoding; their description for
    model.json. An ExportedModelError, and no file, otherwise."""
    model = model.eval()
    layers, heads = len(model.decoder_layers), model.shape.heads
    head_width = model.shape.width // heads
    partial = {name: folder / f".{name}.partial" for name in (TRANSLATOR_ENCODER, TRANSLATOR_DECODER)}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            encoder_outputs = encoder_output_names(layers)
            torch.onnx.export(EncoderGraph(model), (_example_source(spec, features, 5),),
                              str(partial[TRANSLATOR_ENCODER]), dynamo=False, opset_version=opset,
                              input_names=["source"], output_names=encoder_outputs,
                              dynamic_axes={"source": {1: "source_steps"},
                                            **{name: {(1 if name == "memory_mask" else 2): "source_steps"}
                                               for name in encoder_outputs}})
            hypotheses, steps, source_steps = 3, 2, 5
            example = [torch.full((hypotheses,), 4, dtype=torch.int64), torch.tensor(steps, dtype=torch.int64),
                       torch.ones(hypotheses, source_steps, dtype=torch.bool)]
            example += [torch.zeros(hypotheses, heads, source_steps, head_width) for _ in range(2 * layers)]
            example += [torch.zeros(hypotheses, heads, steps, head_width) for _ in range(2 * layers)]
            inputs = decoder_input_names(layers)
            cache_out = [f"new_{name}" for name in decoder_cache_names(layers)]
            axes = {"tokens": {0: "hypotheses"}, "memory_mask": {0: "hypotheses", 1: "source_steps"}}
            axes.update({name: {0: "hypotheses", 2: "source_steps"} for name in inputs[3:3 + 2 * layers]})
            axes.update({name: {0: "hypotheses", 2: "steps"} for name in inputs[3 + 2 * layers:]})
            axes.update({"log_probs": {0: "hypotheses"}, **{name: {0: "hypotheses", 2: "steps_after"}
                                                            for name in cache_out}})
            torch.onnx.export(DecoderStepGraph(model), tuple(example), str(partial[TRANSLATOR_DECODER]), dynamo=False,
                              opset_version=opset, input_names=inputs, output_names=["log_probs", *cache_out],
                              dynamic_axes=axes)
        description = {"spec": spec.to_dict(), "source": "features" if features else "glosses",
                       "feature_width": features, "max_output_length": max_output_length, "layers": layers,
                       "heads": heads, "head_width": head_width,
                       "encoder": TRANSLATOR_ENCODER, "decoder": TRANSLATOR_DECODER,
                       "encoder_sha256": file_sha256(partial[TRANSLATOR_ENCODER]),
                       "decoder_sha256": file_sha256(partial[TRANSLATOR_DECODER])}
        onnx = OnnxTranslator(description, {name: path for name, path in partial.items()})
        agreed = 0
        for source in sources:
            expected = _torch_sentence(model, spec, source, max_output_length)
            got = onnx.translate_source(source)
            if got != expected:
                raise ExportedModelError(f"the exported translator translates a source as {got!r} where PyTorch gives "
                                         f"{expected!r}: nothing was written")
            agreed += 1
        description["verification"] = {"sentences_equal": agreed, "decoding": spec.decoding.describe()}
        logger.info("Exported the translator (%s, %s): ONNX Runtime gives PyTorch's sentence for all %d sources",
                    TRANSLATOR_ENCODER, TRANSLATOR_DECODER, agreed)
        for name, path in partial.items():
            os.replace(path, folder / name)
        return description
    finally:
        for path in partial.values():
            if path.exists():
                path.unlink()


@torch.no_grad()
def _torch_sentence(model: TranslationTransformer, spec: TranslatorSpec, source: np.ndarray,
                    max_output_length: int, settings: BeamSettings | None = None) -> str:
    tensor = torch.from_numpy(source)[None]
    memory = model.encode(tensor, torch.tensor([source.shape[0]]))
    [ids] = search(model, memory, output_limits([source.shape[0]], max_output_length), settings or spec.decoding)
    return " ".join(spec.target.decode(ids))
