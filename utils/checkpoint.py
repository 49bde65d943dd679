"""The checkpoint format, in one place: the whole training state in the official layout, written
atomically, restored for resuming; model weights of ours or the official checkpoints loaded strictly.

The official layout is a dict with `epoch`, `model_state_dict`, `optimizer_state_dict`,
`scheduler_state_dict` and `rng_state` (`torch`, `cuda`, `numpy`, `random`); ours adds
`scaler_state_dict`, `history`, `gloss_dict`, `config` and `input_geometry`, and reads checkpoints without them.
"""
from __future__ import annotations

import collections
import logging
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from utils.errors import CheckpointError
from utils.io import atomic_open
from utils.safe_pickle import NUMPY_DATA_GLOBALS
from utils.random_state import get_rng_state, set_rng_state

logger = logging.getLogger(__name__)


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DistributedDataParallel / DataParallel."""
    return getattr(model, "module", model)


def save_checkpoint(path: str | Path, state: Mapping[str, Any]) -> None:
    """torch.save to a temporary file, then rename: a kill or a full disk never leaves a truncated checkpoint."""
    try:
        with atomic_open(path, "wb") as handle:
            torch.save(dict(state), handle)
    except OSError as error:
        raise CheckpointError(f"writing checkpoint {path} failed ({error.strerror or error}); the previous one is "
                              f"intact: free some space and run the same command again to resume") from None


# What the official layout and ours hold besides tensors and plain containers: numpy's RNG state (arrays and
# dtypes, under numpy 1's and numpy 2's module names) and the multistep schedule's milestone Counter.
_CHECKPOINT_GLOBALS = [(obj, f"{module}.{name}") for (module, name), obj in NUMPY_DATA_GLOBALS.items()]
_CHECKPOINT_GLOBALS.append(collections.Counter)
_UNSAFE_GLOBAL = re.compile(r"GLOBAL ([\w.]+)|global '?([\w.]+)")
_CHECKPOINT_MAGIC = (b"PK\x03\x04", b"\x80")  # torch's zip format; its legacy format starts with a pickle


def _not_a_checkpoint(path: Path) -> str | None:
    """Plain words for a file that is no PyTorch checkpoint at all (a text file, a saved web page)."""
    with open(path, "rb") as handle:
        start = handle.read(64)
    if not start:
        return f"{path} is empty (0 bytes); copy or download it again"
    if start.startswith(_CHECKPOINT_MAGIC):
        return None
    text = start.decode("utf-8", errors="replace").strip().lower()
    kind = "a web page (HTML), perhaps saved from a download link instead of the file itself" if text.startswith(
        ("<!doctype", "<html", "<?xml", "<head")) else "no PyTorch checkpoint (it starts with neither a zip nor a pickle header)"
    return f"{path} is {kind}; download the checkpoint file itself"


def _unpickler_reason(message: str) -> str:
    """The line of torch's weights-only refusal that says what was refused, without its advice to turn it off."""
    boilerplate = ("Weights only load failed", "Check the documentation", "(1)", "(2)", "Re-running", "In PyTorch")
    lines = [line.strip() for line in message.splitlines() if line.strip() and not line.strip().startswith(boilerplate)]
    return lines[0] if lines else "it holds objects other than data"


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint dict on the CPU as data only: tensors, numbers, strings, containers and the few
    classes the official layout holds (_CHECKPOINT_GLOBALS). A file naming anything else (a function to
    call, any other class) is refused before it runs; every problem is a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}; check the path given to --load-weights / "
                              f"--load-checkpoints")
    problem = _not_a_checkpoint(path)
    if problem:
        raise CheckpointError(problem)
    try:
        with torch.serialization.safe_globals(_CHECKPOINT_GLOBALS):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = _UNSAFE_GLOBAL.search(str(error))
        if found is None:
            raise CheckpointError(f"{path} is not a plain-data checkpoint ({_unpickler_reason(str(error))}); it was "
                                  f"refused without running anything") from None
        name = found.group(1) or found.group(2)
        raise CheckpointError(f"{path} is not a plain-data checkpoint: it names {name}, which no checkpoint needs, "
                              f"and was refused without running anything; use checkpoints from a source you "
                              f"trust") from None
    except Exception as error:  # torch raises many types for a damaged file
        reason = str(error).splitlines()[0].split(". ")[0] if str(error) else type(error).__name__
        raise CheckpointError(f"{path} is damaged or truncated ({reason}); copy or download it again") from None
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise CheckpointError(f"{path} is not a checkpoint (a {type(checkpoint).__name__}, not a dict of tensors)")
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


def _check_fit(model: nn.Module, weights: Mapping[str, torch.Tensor], strict: bool, source: str) -> None:
    """A one-line CheckpointError when the weights do not fit the model, naming the first offending tensor."""
    own = model.state_dict()
    mismatched = [(key, tuple(value.shape), tuple(own[key].shape)) for key, value in weights.items()
                  if key in own and tuple(value.shape) != tuple(own[key].shape)]
    if mismatched:
        key, theirs, ours = mismatched[0]
        hint = ("; a checkpoint for another gloss vocabulary: set ignore_weights=[classifier,conv1d.fc] to start the "
                "classifiers afresh, or model_args.num_classes to its size"
                if key.startswith(("classifier", "conv1d.fc")) else "; is it for the same backbone and model_args?")
        raise CheckpointError(f"{source}: {key} is {list(theirs)} in the checkpoint but {list(ours)} in the model "
                              f"({len(mismatched)} tensor(s) differ){hint}")
    if strict:
        missing = [key for key in own if key not in weights]
        unexpected = [key for key in weights if key not in own]
        if missing or unexpected:
            example = (missing or unexpected)[0]
            raise CheckpointError(f"{source}: {len(missing)} model tensor(s) missing from the checkpoint and "
                                  f"{len(unexpected)} it has that the model lacks (e.g. {example}); is it a "
                                  f"SlowFastSign checkpoint for this configuration?")


CLASSIFIER_PREFIXES = ("classifier", "conv1d.fc")  # the layers whose rows are the gloss vocabulary's classes


def _check_vocabulary(model_keys: Sequence[str], checkpoint: Mapping[str, Any], ignore: Sequence[str],
                      gloss_dict: Mapping[str, int] | None, source: str) -> None:
    """A checkpoint trained on another gloss vocabulary may only lend its classifiers' shapes by accident: its
    rows would mean other glosses. Unless every classifier tensor is left out (re-initialised), refuse."""
    stored = checkpoint.get("gloss_dict")
    if gloss_dict is None or stored is None:
        return  # the official checkpoints record no vocabulary
    theirs = dict(stored)  # {gloss: class index}, as training_state records it
    if theirs == dict(gloss_dict):
        return
    classifier_keys = [key for key in model_keys if key.startswith(CLASSIFIER_PREFIXES)]
    if all(any(key.startswith(prefix) for prefix in ignore) for key in classifier_keys):
        return
    shared = len(set(theirs) & set(gloss_dict))
    raise CheckpointError(f"{source} was trained on another gloss vocabulary ({len(theirs)} glosses; this corpus has "
                          f"{len(gloss_dict)}, {shared} in common): its classifier rows mean other glosses; to "
                          f"fine-tune it, set ignore_weights=[classifier,conv1d.fc] so they start afresh")


def apply_model_weights(model: nn.Module, checkpoint: Mapping[str, Any], ignore: Sequence[str] = (),
                        source: str = "checkpoint", gloss_dict: Mapping[str, int] | None = None) -> None:
    """Load a checkpoint's weights strictly (all keys must match) unless `ignore` names prefixes to leave out;
    with `gloss_dict` (the run's vocabulary), a checkpoint of another vocabulary must leave its classifiers out.
    Logs which tensors were loaded and which start from this model's initialisation."""
    model = unwrap(model)
    keys = list(model.state_dict())
    total = len(keys)
    _check_vocabulary(keys, checkpoint, ignore, gloss_dict, source)
    weights = model_weights(checkpoint, ignore)
    _check_fit(model, weights, strict=not ignore, source=source)
    result = model.load_state_dict(weights, strict=not ignore)
    if ignore:
        new = result.missing_keys
        logger.info("Loaded %d of %d model tensors from %s; %d start from this model's initialisation (ignore_weights "
                    "%s): %s", total - len(new), total, source, len(new), list(ignore), ", ".join(new) or "none")


def training_state(epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any,
                   history: Mapping[str, Any], config: Mapping[str, Any], *, extras: Mapping[str, Any] | None = None,
                   rng_states: Sequence[Mapping] | None = None, position: Mapping[str, Any] | None = None,
                   evaluation_pending: bool = False, provenance: Mapping[str, Any] | None = None) -> dict:
    """Everything a run needs to continue after `epoch` (the last finished one), in the official layout (module
    docstring), and what its task needs beside it (`extras`: recognition's gloss dictionary and how the training
    data was read, dataset.frames.InputGeometry; translation's vocabularies). `rng_states`: every process's
    generators, in rank order (`rng_state` keeps the main process's, as officially); `position`: where the next
    epoch stopped part-way (the next step, the processes' figures); `evaluation_pending`: `epoch` finished
    training but not its evaluation; `provenance`: what produced the weights (utils/provenance.py), so that a
    released checkpoint says it."""
    states = [dict(state) for state in rng_states] if rng_states else [get_rng_state()]
    state = {
        "epoch": epoch,
        "model_state_dict": unwrap(model).state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "scheduler_state_dict": scheduler.state_dict(),
        "rng_state": states[0],
        "scaler_state_dict": scaler.state_dict(),
        "history": dict(history),
        **dict(extras or {}),
        "config": dict(config),
        "rng_states": states,
        "evaluation_pending": evaluation_pending,
    }
    if position is not None:
        state["position"] = dict(position)
    if provenance is not None:
        state["provenance"] = dict(provenance)
    return state


def record_in_checkpoint(path: str | Path, key: str, section: str, value: Any) -> None:
    """Set `checkpoint[key][section] = value` in a checkpoint file, rewritten atomically (a training run's test
    records there what it chose on dev, so that what loads the checkpoint later decodes as chosen)."""
    checkpoint = read_checkpoint(path)
    if not isinstance(checkpoint.get(key), dict):
        raise CheckpointError(f"{path} has no {key} to record {section} in")
    checkpoint[key] = {**checkpoint[key], section: value}
    save_checkpoint(path, checkpoint)


def resume_checkpoint(config: Any) -> Path | None:
    """The checkpoint a training run continues from: --load-checkpoints, else (with `resume`) the work
    directory's last checkpoint when there is one; None starts afresh."""
    from utils.config.merge import resolve_path
    from utils.work_dir import LAST_CHECKPOINT

    if config.load_checkpoints:
        return resolve_path(config.load_checkpoints)
    last = Path(config.work_dir) / LAST_CHECKPOINT
    return last if config.resume and last.is_file() else None


@dataclass
class ResumePoint:
    """Where a restored run continues: its next epoch (continued at a step when `position` says it stopped
    part-way), the history of the epochs before it, whether the last finished epoch still awaits its
    evaluation, the random state of each process that saved it (the main process's alone for
    checkpoints of one process or of the official code), and the record of what produced it (none in official
    checkpoints)."""

    start_epoch: int
    history: dict[str, Any] = field(default_factory=dict)
    position: dict[str, Any] | None = None
    evaluation_pending: bool = False
    rng_states: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] | None = None


def restore_training_state(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                           scaler: Any, rank: int = 0) -> ResumePoint:
    """Load a checkpoint of ours or an official one into the model, optimiser, schedule, scaler and this
    process's (`rank`'s) random generators, so the run continues as if it had not stopped. A process the
    checkpoint has no random state for (it was saved by fewer processes) keeps the stream it has."""
    checkpoint = read_checkpoint(path)
    missing = [key for key in ("epoch", "optimizer_state_dict", "scheduler_state_dict", "rng_state")
               if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} cannot resume training: it has no {', '.join(missing)} (weights only? "
                              f"use --load-weights for those)")
    apply_model_weights(model, checkpoint, source=str(path))
    optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
    scheduler.load_state_dict(checkpoint["scheduler_state_dict"])
    if "scaler_state_dict" in checkpoint:
        scaler.load_state_dict(checkpoint["scaler_state_dict"])
    rng_states = list(checkpoint.get("rng_states") or [checkpoint["rng_state"]])
    if rank < len(rng_states):
        note = set_rng_state(rng_states[rank])
        if note:
            logger.info(note)
    else:
        logger.info("%s holds the random state of %d process(es): process %d keeps its own stream", path,
                    len(rng_states), rank)
    position = checkpoint.get("position")
    start = int(checkpoint["epoch"]) + 1  # the one epoch counter: a stopped epoch is the one after the last finished
    if position and int(position.get("epoch", start)) != start:  # written before `position` lost its own number
        raise CheckpointError(f"{path} is inconsistent: its position is in epoch {position['epoch']} but its last "
                              f"finished epoch is {checkpoint['epoch']}")
    return ResumePoint(start, dict(checkpoint.get("history", {})), dict(position) if position else None,
                       bool(checkpoint.get("evaluation_pending", False)), rng_states, checkpoint.get("provenance"))
