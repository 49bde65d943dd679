"""Checkpoint files as users meet them: written by the official code (its five keys, from a numpy 1.x
environment), or crafted to run code when unpickled."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any, Mapping

import torch

OFFICIAL_KEYS = ("epoch", "model_state_dict", "optimizer_state_dict", "scheduler_state_dict", "rng_state")


def save_as_official_code(state: Mapping[str, Any], path: Path) -> None:
    """torch.save of the official keys, with the pickle naming numpy's array reconstructor by its numpy 1.x
    module (`numpy.core.multiarray`), as the official code's numpy 1.x environment writes it."""
    official = {key: state[key] for key in OFFICIAL_KEYS}
    official["rng_state"] = {key: official["rng_state"][key] for key in ("torch", "cuda", "numpy", "random")}
    buffer = io.BytesIO()
    torch.save(official, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, zipfile.ZipFile(path, "w") as target:
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename.endswith("/data.pkl"):
                # protocol 2 names a global as "module\nname\n" text, so renaming the module is a byte edit
                assert b"numpy._core.multiarray\n_reconstruct" in data
                data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
            target.writestr(entry, data)


class CreatesAFile:
    """Pickles as a call of open(path, "w"): an unsafe load of a checkpoint holding it creates the file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")
