"""The exported model's files, in one place: `model.onnx` (uint8 frames in, the main branch's BiLSTM logits out)
and beside it `model.json`, everything prediction needs besides the network (gloss dictionary, how frames are
read and padded, decoding settings), where the network came from, and the export's own verification. Torch-free:
prediction through ONNX Runtime reads it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.errors import UserError
from utils.io import file_sha256

FORMAT = "slowfastsign-onnx"
FORMAT_VERSION = 1
INPUT_NAME = "frames"  # uint8, 1 x T x H x W x 3 (RGB), padded as the collate pads one clip
OUTPUT_NAME = "logits"  # float32, T' x num_classes: the main branch's BiLSTM logits, one row per output step
FEATURES_NAME = "features"  # joint models also: float32, T' x hidden, the main branch's BiLSTM features
# A translator beside the recogniser (deploy/translator_export.py): its encoder (source: int64 1 x S ids or float32
# 1 x S x F features -> memory_mask and each decoder layer's memory keys and values) and one decoding step
# (tokens N, step, memory_mask N x S, the memory's keys and values, the cache -> log_probs N x V and the new cache)
TRANSLATOR_ENCODER = "translator_encoder.onnx"
TRANSLATOR_DECODER = "translator_decoder.onnx"


def encoder_output_names(layers: int) -> list[str]:
    return ["memory_mask", *[f"memory_{kind}_{layer}" for layer in range(layers) for kind in ("keys", "values")]]


def decoder_cache_names(layers: int) -> list[str]:
    return [f"cache_{kind}_{layer}" for layer in range(layers) for kind in ("keys", "values")]


def decoder_input_names(layers: int) -> list[str]:
    return ["tokens", "step", *encoder_output_names(layers), *decoder_cache_names(layers)]


def session_providers() -> list:
    """ONNX Runtime's providers for the CPU, fastest first: OpenVINO's kernels where the optional OpenVINO build is
    installed (requirements-openvino.txt: 1.45x the plain provider for the R101, benchmarks/RESULTS.md), then the
    plain CPU provider."""
    import onnxruntime

    if "OpenVINOExecutionProvider" in onnxruntime.get_available_providers():
        return [("OpenVINOExecutionProvider", {"device_type": "CPU"}), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class ExportedModelError(UserError):
    """An ONNX file without (or with another) description beside it, or one this project did not write."""


def sidecar_path(onnx_path: Path) -> Path:
    return onnx_path.with_suffix(".json")


@dataclass
class ExportedModel:
    """An exported model's description (model.json) and where its network is."""

    onnx_path: Path
    description: dict[str, Any]

    @property
    def gloss_dict(self) -> dict[str, int]:
        return {gloss: int(index) for gloss, index in self.description["gloss_dict"].items()}

    @property
    def num_classes(self) -> int:
        return int(self.description["num_classes"])

    @property
    def input_geometry(self) -> dict[str, Any]:
        return dict(self.description["input_geometry"])

    @property
    def padding(self) -> tuple[int, int]:
        """(left_pad, stride) of the temporal head: how a clip is padded before the network."""
        return int(self.description["padding"]["left_pad"]), int(self.description["padding"]["stride"])

    @property
    def decoding(self) -> dict[str, Any]:
        return dict(self.description["decoding"])

    @classmethod
    def read(cls, onnx_path: str | Path) -> "ExportedModel":
        """The ONNX file and its description, checked to belong together; one line for each way they do not."""
        onnx_path = Path(onnx_path)
        if not onnx_path.is_file():
            raise ExportedModelError(f"{onnx_path} not found; export one with --phase export")
        sidecar = sidecar_path(onnx_path)
        if not sidecar.is_file():
            raise ExportedModelError(f"{onnx_path} has no {sidecar.name} beside it: it was not exported by this project's "
                                     f"--phase export (which writes both), or the file was moved without it")
        try:
            description = json.loads(sidecar.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ExportedModelError(f"{sidecar} is not a model description ({error}); export the model again") from None
        if not isinstance(description, dict) or description.get("format") != FORMAT:
            raise ExportedModelError(f"{sidecar} does not describe a {FORMAT} model; export the model with --phase export")
        if int(description.get("format_version", 0)) > FORMAT_VERSION:
            raise ExportedModelError(f"{sidecar} is format version {description.get('format_version')}, newer than this "
                                     f"version reads ({FORMAT_VERSION}); update slowfastsign")
        if file_sha256(onnx_path) != description.get("onnx_sha256"):
            raise ExportedModelError(f"{onnx_path} is not the network {sidecar.name} describes (its SHA-256 differs): "
                                     f"keep the two files of one export together")
        return cls(onnx_path, description)
