"""Run CPU jobs under jemalloc when it is installed.

glibc's allocator keeps freed activation buffers resident and fragments them, so
a CPU training step holds far more memory than its tensors need (see
benchmarks/RESULTS.md: 3.15 GB vs 2.55 GB peak with activation checkpointing).
jemalloc must be loaded before the process starts, so main.py re-executes itself
with LD_PRELOAD, as PyTorch's and Intel's CPU launchers do. Set
SLOWFASTSIGN_JEMALLOC=0 to keep the system allocator.
"""
from __future__ import annotations

import os
import sys
from typing import Mapping

SWITCH = "SLOWFASTSIGN_JEMALLOC"
# Keep freed pages for reuse (no decay): returning them costs page faults on every step.
MALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"
CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2",
    "/usr/local/lib/libjemalloc.so.2",
    "/usr/lib/libjemalloc.so.2",
)


def find_jemalloc(candidates: tuple[str, ...] = CANDIDATES) -> str | None:
    return next((path for path in candidates if os.path.isfile(path)), None)


def jemalloc_environment(environ: Mapping[str, str], library: str | None) -> dict[str, str] | None:
    """The environment to re-run under jemalloc, or None when it is off, missing or already loaded."""
    if library is None or environ.get(SWITCH, "1") == "0" or "jemalloc" in environ.get("LD_PRELOAD", ""):
        return None
    env = dict(environ)
    env["LD_PRELOAD"] = ":".join(filter(None, [library, environ.get("LD_PRELOAD", "")]))
    env.setdefault("MALLOC_CONF", MALLOC_CONF)
    env[SWITCH] = "0"  # never twice
    return env


def reexec_under_jemalloc() -> None:
    """Replace this process by the same command under jemalloc (same PID, so torchrun is unaffected)."""
    env = jemalloc_environment(os.environ, find_jemalloc())
    if env is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
