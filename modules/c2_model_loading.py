"""Initialise the backbone from a PySlowFast Caffe2 checkpoint (Kinetics-400 SlowFast R101 64x2).

The published Kinetics weights come as a Caffe2 pickle `{"blobs": {name: ndarray}}`
with Caffe2 blob names and the widths of concatenation fusion. Names are converted
to this model's (PySlowFast) names and shapes are adapted as the official
SlowFastSign training did; everything that cannot be mapped keeps its
initialisation and is listed in the report.
"""
from __future__ import annotations

import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from utils.errors import CheckpointError
from utils.safe_pickle import load_data_pickle

_CONV_PARAM = {"w": "weight", "b": "bias"}
_BN_PARAM = {"s": "weight", "b": "bias", "rm": "running_mean", "riv": "running_var"}
_BOOKKEEPING = ("momentum", "lr", "model_iter")

_FUSE_STEM = re.compile(r"^t_pool1_subsample(?P<bn>_bn)?_(?P<param>\w+)$")
_FUSE_STAGE = re.compile(r"^t_res(?P<stage>\d)_\d+_branch2c_bn_subsample(?P<bn>_bn)?_(?P<param>\w+)$")
_SHORTCUT = re.compile(r"^(?P<fast>t_)?res(?P<stage>\d)_(?P<block>\d+)_branch1(?P<bn>_bn)?_(?P<param>\w+)$")
_TRANSFORM = re.compile(r"^(?P<fast>t_)?res(?P<stage>\d)_(?P<block>\d+)_branch2(?P<conv>[abc])(?P<bn>_bn)?_(?P<param>\w+)$")
_STEM_CONV = re.compile(r"^(?P<fast>t_)?conv1_(?P<param>\w+)$")
_STEM_BN = re.compile(r"^(?P<fast>t_)?res_conv1_bn_(?P<param>\w+)$")


def _param(match: re.Match, is_bn: bool) -> str | None:
    return (_BN_PARAM if is_bn else _CONV_PARAM).get(match.group("param"))


def c2_name_to_pytorch(name: str) -> str | None:
    """Map a Caffe2 SlowFast blob name to this backbone's state-dict key (None if it has none)."""
    if match := _FUSE_STEM.match(name):
        is_bn = bool(match.group("bn"))
        param = _param(match, is_bn)
        return param and f"s1_fuse.{'bn' if is_bn else 'conv_f2s'}.{param}"
    if match := _FUSE_STAGE.match(name):
        is_bn = bool(match.group("bn"))
        param = _param(match, is_bn)
        return param and f"s{match.group('stage')}_fuse.{'bn' if is_bn else 'conv_f2s'}.{param}"
    if match := _SHORTCUT.match(name):
        is_bn = bool(match.group("bn"))
        param = _param(match, is_bn)
        pathway = 1 if match.group("fast") else 0
        module = "branch1_bn" if is_bn else "branch1"
        return param and f"s{match.group('stage')}.pathway{pathway}_res{match.group('block')}.{module}.{param}"
    if match := _TRANSFORM.match(name):
        is_bn = bool(match.group("bn"))
        param = _param(match, is_bn)
        pathway = 1 if match.group("fast") else 0
        module = match.group("conv") + ("_bn" if is_bn else "")
        return param and f"s{match.group('stage')}.pathway{pathway}_res{match.group('block')}.branch2.{module}.{param}"
    if match := _STEM_CONV.match(name):
        param = _param(match, False)
        return param and f"s1.pathway{1 if match.group('fast') else 0}_stem.conv.{param}"
    if match := _STEM_BN.match(name):
        param = _param(match, True)
        return param and f"s1.pathway{1 if match.group('fast') else 0}_stem.bn.{param}"
    return None


@dataclass
class C2LoadReport:
    """What happened to every blob and every model key."""

    loaded: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"Kinetics init: {len(self.loaded)} loaded as is, {len(self.adapted)} adapted, "
            f"{len(self.unmapped)} checkpoint blobs unmapped, {len(self.missing)} model tensors kept their init"
        )


def _adapt(blob: np.ndarray, target: torch.Tensor) -> tuple[torch.Tensor | None, str]:
    """Bring a Caffe2 blob to the model tensor's shape; None when no published rule applies."""
    source = torch.from_numpy(np.ascontiguousarray(blob)).to(target.dtype)
    notes = []
    if source.dim() < target.dim():
        source = source.reshape(*source.shape, *([1] * (target.dim() - source.dim())))
        notes.append("reshaped")
    if source.dim() == 5 and source.shape[2] > 1 and target.shape[2] == 1:
        source = source[:, :, :1]
        notes.append("first temporal slice")
    if source.dim() == 1 and source.shape[0] < target.shape[0] and target.shape[0] % source.shape[0] == 0:
        source = source.repeat(target.shape[0] // source.shape[0])
        notes.append("tiled")
    if source.dim() >= 2 and source.shape[0] == target.shape[0] and source.shape[1] != target.shape[1]:
        if source.shape[1] > target.shape[1]:
            source = source[:, : target.shape[1]]
            notes.append("first input channels")
        else:
            source = torch.cat([source, target[:, source.shape[1] :].cpu()], dim=1)
            notes.append("extra input channels keep init")
    if tuple(source.shape) != tuple(target.shape):
        return None, f"shape {tuple(blob.shape)} cannot become {tuple(target.shape)}"
    return source, ", ".join(notes)


def read_c2_blobs(path: str | Path) -> dict[str, np.ndarray]:
    """Read the blobs of a Caffe2 checkpoint pickle (data only: utils/safe_pickle.py)."""
    if not Path(path).is_file():
        raise CheckpointError(f"the Kinetics-400 backbone weights {path} (model_args.pretrained_backbone) are not "
                              f"there: download SLOWFAST_64x2_R101_50_50.pkl from the PySlowFast model zoo to that "
                              f"path, or set model_args.pretrained_backbone= to start from random weights")
    with open(path, "rb") as handle:
        try:
            checkpoint = load_data_pickle(handle, encoding="latin1")
        except pickle.UnpicklingError as error:
            raise CheckpointError(f"{path}: not a Caffe2 checkpoint ({error})") from None
    if not isinstance(checkpoint, Mapping) or "blobs" not in checkpoint:
        raise ValueError(f"{path}: not a Caffe2 checkpoint (expected a dict with a 'blobs' entry)")
    return dict(checkpoint["blobs"])


def load_c2_checkpoint(source: str | Path | Mapping[str, Any], backbone: nn.Module) -> C2LoadReport:
    """Copy every mappable blob into `backbone` (a SlowFast module) and report the rest."""
    blobs = read_c2_blobs(source) if isinstance(source, (str, Path)) else dict(source)
    state = backbone.state_dict()
    report = C2LoadReport()
    updates: dict[str, torch.Tensor] = {}
    for name, blob in blobs.items():
        if any(word in name for word in _BOOKKEEPING):
            continue
        key = c2_name_to_pytorch(name)
        if key is None or key not in state:
            report.unmapped.append(f"{name}: no matching model tensor ({key or 'unknown name'})")
            continue
        tensor, note = _adapt(np.asarray(blob), state[key])
        if tensor is None:
            report.unmapped.append(f"{name} -> {key}: {note}")
            continue
        updates[key] = tensor
        (report.adapted if note else report.loaded).append(f"{name} -> {key}" + (f" ({note})" if note else ""))
    with torch.no_grad():
        for key, tensor in updates.items():
            state[key].copy_(tensor)
    report.missing = sorted(k for k in state if k not in updates and not k.endswith("num_batches_tracked"))
    return report
