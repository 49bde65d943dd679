"""Checkpoints in the official layout, written atomically, and loading of ours or official ones."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from utils.io import atomic_open

logger = logging.getLogger(__name__)
LAST_CHECKPOINT = "last_checkpoint.pt"
BEST_CHECKPOINT = "best_model.pt"


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DistributedDataParallel / DataParallel."""
    return getattr(model, "module", model)


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> None:
    """torch.save to a temporary file, then rename: a kill never leaves a truncated checkpoint."""
    with atomic_open(path, "wb") as handle:
        torch.save(dict(state), handle)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint dict on the CPU, with a one-line error for a missing or broken file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many types for a damaged file
        raise ValueError(f"{path}: not a readable checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path}: expected a dict checkpoint, got {type(checkpoint).__name__}")
    return checkpoint


def model_weights(checkpoint: Mapping[str, Any], ignore: Sequence[str] = ()) -> dict[str, torch.Tensor]:
    """The model state of a checkpoint, without DataParallel prefixes or ignored key prefixes."""
    weights = checkpoint.get("model_state_dict", checkpoint)
    cleaned = {}
    for key, value in weights.items():
        key = key.removeprefix("module.")
        if not any(key.startswith(prefix) for prefix in ignore):
            cleaned[key] = value
    return cleaned


def apply_model_weights(model: nn.Module, checkpoint: Mapping[str, Any], ignore: Sequence[str] = ()) -> None:
    """Load a checkpoint's weights strictly (all keys must match) unless `ignore` names prefixes to leave out."""
    result = unwrap(model).load_state_dict(model_weights(checkpoint, ignore), strict=not ignore)
    if ignore:
        logger.info("Loaded weights without %s (%d tensors kept their init)", list(ignore), len(result.missing_keys))
