"""`--phase export`: the recogniser as an ONNX graph of one clip of any length, checked against PyTorch.

The graph takes what prediction has after reading a clip (uint8 frames, padded as the collate pads one clip)
and gives the main branch's BiLSTM logits; normalisation runs inside it with the training code's float32
operations. The model traces its portable branches (modules/export_mode.py). Before the file is kept, ONNX
Runtime and PyTorch run clips of every length prediction uses (a short clip, the live window and the window,
each padded as prediction pads it), on real frames of the training data when they are there: the largest logit
difference relative to the largest logit must stay within the tolerance and every output step's best class must
be PyTorch's, or nothing is written.
"""
from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from dataset.collate import normalised_video
from deploy.onnx_format import (FEATURES_NAME, FORMAT, FORMAT_VERSION, INPUT_NAME, OUTPUT_NAME, ExportedModelError,
                                session_providers, sidecar_path)
from deploy.prediction import pad_clip
from utils.io import file_sha256, write_json_atomic

logger = logging.getLogger("slowfastsign")


class RecognizerGraph(nn.Module):
    """What model.onnx computes: uint8 frames 1 x T x H x W x 3 (padded) -> BiLSTM logits T' x C (main branch),
    and with `features` (a joint model) the BiLSTM features T' x hidden its translator reads."""

    def __init__(self, model: nn.Module, features: bool = False) -> None:
        super().__init__()
        self.model, self.features = model, features

    def forward(self, frames: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        video = normalised_video(frames)  # as dataset.collate.Batch.network_input normalises
        lengths = torch.full((1,), frames.shape[1], dtype=torch.int64)
        output = self.model(video, lengths)
        if self.features:
            return output.sequence_logits[0][:, 0], output.sequence_features[0][:, 0]
        return output.sequence_logits[0][:, 0]


@dataclass
class Verification:
    """ONNX Runtime against PyTorch on clips of `frames` frames each (before padding), read from `source`: per clip
    the largest logit difference relative to the largest logit, and whether every output step's best class is
    PyTorch's."""

    frames: list[int]
    relative_difference: list[float]
    best_class_equal: list[bool]
    tolerance: float
    source: str

    @property
    def worst(self) -> float:
        return max(self.relative_difference)

    @property
    def passed(self) -> bool:
        return self.worst <= self.tolerance and all(self.best_class_equal)

    def to_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "relative_logit_difference": self.relative_difference,
                "best_class_equal": self.best_class_equal, "tolerance": self.tolerance, "source": self.source}


def verify(graph: RecognizerGraph, onnx_path: Path, clips: Sequence[np.ndarray], left_pad: int, stride: int,
           tolerance: float, source: str) -> Verification:
    """Each clip (prepared uint8 frames T x H x W x 3), padded as prediction pads it, through both runtimes (ONNX
    Runtime with the providers prediction uses)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=session_providers())
    differences, equal = [], []
    for clip in clips:
        padded = pad_clip(clip, left_pad, stride)[None]
        with torch.no_grad():
            expected = graph(torch.from_numpy(padded))
        expected = (expected[0] if graph.features else expected).numpy()
        got = session.run([OUTPUT_NAME], {INPUT_NAME: padded})[0]
        if got.shape != expected.shape:
            raise ExportedModelError(f"the exported graph gives {got.shape} logits for a clip of {len(clip)} frames "
                                     f"where PyTorch gives {expected.shape}")
        differences.append(float(np.abs(got - expected).max() / max(float(np.abs(expected).max()), 1e-12)))
        equal.append(bool((got.argmax(-1) == expected.argmax(-1)).all()))
    return Verification([len(clip) for clip in clips], differences, equal, tolerance, source)


def export_onnx(model: nn.Module, out_path: Path, description: dict[str, Any], *, clips: Sequence[np.ndarray],
                clip_source: str, left_pad: int, stride: int, tolerance: float, opset: int, features: bool = False,
                translator: Callable[[], dict[str, Any]] | None = None) -> Verification:
    """Write `out_path` and its description (deploy/onnx_format.py) if ONNX Runtime agrees with PyTorch on `clips`
    (from `clip_source`): within `tolerance` of the largest logit, every output step's best class the same;
    otherwise an ExportedModelError and no file (an earlier export there stays as it was).
    `features`: the graph also gives the BiLSTM features (a joint model's translator reads them); `translator`:
    exports the translator beside it (deploy/translator_export.py) and returns its description."""
    graph = RecognizerGraph(model.eval(), features).eval()
    outputs = [OUTPUT_NAME, FEATURES_NAME] if features else [OUTPUT_NAME]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.name}.partial")
    example = torch.from_numpy(pad_clip(clips[-1], left_pad, stride)[None])
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes on Python values it keeps as constants
            torch.onnx.export(graph, (example,), str(partial), dynamo=False, opset_version=opset,
                              input_names=[INPUT_NAME], output_names=outputs,
                              dynamic_axes={INPUT_NAME: {1: "frames"}, **{name: {0: "steps"} for name in outputs}})
        logger.info("Traced the model into ONNX (opset %d) in %.0f s; verifying with ONNX Runtime on %s clips of %s "
                    "frames", opset, time.perf_counter() - start, clip_source, ", ".join(str(len(c)) for c in clips))
        verification = verify(graph, partial, clips, left_pad, stride, tolerance, clip_source)
        for count, difference, equal in zip(verification.frames, verification.relative_difference,
                                            verification.best_class_equal):
            logger.info("  %d frames: largest logit difference ONNX Runtime vs PyTorch %.2e of the largest logit; "
                        "best class %s at every step", count, difference, "the same" if equal else "NOT the same")
        if not all(verification.best_class_equal):
            raise ExportedModelError("the exported model's best class differs from PyTorch's at some output step: "
                                     "nothing was written")
        if verification.worst > tolerance:
            raise ExportedModelError(f"the exported model differs from PyTorch by {verification.worst:.2e} of the "
                                     f"largest logit, above export_args.tolerance {tolerance:g}: nothing was written")
        description = {"format": FORMAT, "format_version": FORMAT_VERSION, **description,
                       "padding": {"left_pad": left_pad, "stride": stride}, "opset": opset,
                       "onnx_sha256": file_sha256(partial), "verification": verification.to_dict()}
        if translator is not None:
            description["translation"] = translator()
        write_json_atomic(sidecar_path(out_path), description)
        os.replace(partial, out_path)
    finally:
        if partial.exists():
            partial.unlink()
    return verification
