"""The folder `--phase export` writes, publishable as it is (Hugging Face, icefall and sherpa-onnx publish models
so): model.onnx and its description model.json, the weights as data in safetensors (model.safetensors; a separate
translator's in translator.safetensors), its translator's ONNX graphs, and a model card (README.md, written by
deploy/model_card.py). Nothing in it says whose machine it came from (utils/provenance.public_record).

`--load-weights FOLDER` tests and predicts with PyTorch from such a folder: the weights from the safetensors
files, the network's shape from the configuration model.json records (unless the command line sets a key), the
gloss dictionary, input geometry and decoding from model.json.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deploy.onnx_format import sidecar_path
from utils.config.merge import adopt_recorded
from utils.config.schema import Config
from utils.errors import CheckpointError

EXPORTED_MODEL = "model.onnx"
WEIGHTS = "model.safetensors"
TRANSLATOR_WEIGHTS = "translator.safetensors"
MODEL_CARD = "README.md"
# the configuration sections an exported model's shape and use come from
RECORDED_SECTIONS = ("task", "model_args", "translation_args", "decode_mode", "decode_args")


def export_location(output: str, work_dir: Path) -> tuple[Path, Path]:
    """(folder, model.onnx path) of an export: export_args.output is the folder (default <work_dir>/export); a
    path ending in .onnx names the graph itself, in its folder."""
    if output.endswith(".onnx"):
        return Path(output).parent, Path(output)
    folder = Path(output) if output else work_dir / "export"
    return folder, folder / EXPORTED_MODEL


def is_model_folder(path: Path) -> bool:
    return path.is_dir() and (path / WEIGHTS).is_file()


def _description(folder: Path) -> dict[str, Any]:
    path = sidecar_path(folder / EXPORTED_MODEL)
    if not path.is_file():
        raise CheckpointError(f"{folder} has {WEIGHTS} but no {path.name}: keep the files of one export together")
    return json.loads(path.read_text(encoding="utf-8"))


def write_weights(path: Path, state: dict[str, Any], metadata: dict[str, str] | None = None) -> None:
    """A state dict as safetensors, written atomically (tensors that share memory, as tied embeddings do, each
    stored whole)."""
    from safetensors.torch import save

    from utils.io import atomic_open

    tensors = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in state.items()}
    with atomic_open(path, "wb") as handle:
        handle.write(save(tensors, metadata=metadata or {}))


def read_model_folder(folder: Path) -> dict[str, Any]:
    """An exported folder as a checkpoint: its weights (and a separate translator's as `translator_checkpoint`),
    gloss dictionary, input geometry, translation spec and record; data only (safetensors and JSON)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    description = _description(folder)
    try:
        weights = load_file(str(folder / WEIGHTS))
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{folder / WEIGHTS} is damaged ({error}); copy or download the folder again") from None
    checkpoint: dict[str, Any] = {"model_state_dict": weights, "gloss_dict": description["gloss_dict"],
                                  "input_geometry": description["input_geometry"],
                                  "provenance": description.get("provenance"), "exported": description}
    translation = description.get("translation")
    if translation is not None and translation["source"] == "features":
        checkpoint["translation"] = translation["spec"]  # a joint model: its decoder is in model.safetensors
    elif translation is not None:
        checkpoint["translator_checkpoint"] = {"translation": translation["spec"],
                                               "model_state_dict": load_file(str(folder / TRANSLATOR_WEIGHTS)),
                                               "provenance": description.get("provenance")}
    return checkpoint


def read_weights(path: Path) -> dict[str, Any]:
    """What --load-weights names, as a checkpoint: an exported folder (read_model_folder) or a checkpoint file."""
    from utils.checkpoint import read_checkpoint

    return read_model_folder(path) if is_model_folder(path) else read_checkpoint(path)


def config_for_folder(config: Config, folder: Path) -> Config:
    """The configuration for running an exported folder: its recorded shape and decoding (RECORDED_SECTIONS) for
    every key the command line does not set."""
    recorded = _description(folder).get("config") or {}
    return adopt_recorded(config, {key: recorded[key] for key in RECORDED_SECTIONS if key in recorded},
                          source=str(sidecar_path(folder / EXPORTED_MODEL)))
