"""Forward/backward time and peak memory of the full R101 SlowFastSign training step.

CPU: B=1, T=32 frames at 224x224, the full training loss (Slow/Fast weights on),
with and without activation checkpointing; each variant runs in its own process
so that peak RSS belongs to it alone. CUDA (when available): one AMP training
step at B=2, T=140 frames.

    python -m benchmarks.bench_model [--repeats 5] [--device cpu|cuda]

On CPU each variant runs with glibc's allocator and, when libjemalloc2 is
installed, under jemalloc as main.py runs CPU jobs (utils/allocator.py): glibc
keeps freed activation buffers resident and so peaks higher than the tensors need.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch

from benchmarks.common import (Row, load_note, machine_description, peak_rss_gb, record, released_num_classes,
                               run_benchmark)
from benchmarks.model_flops import backbone_multiply_adds
from utils.allocator import MALLOC_CONF, find_jemalloc, jemalloc_environment
from utils.cli import ArgumentParser

WARMUP = 2


def _step_inputs(batch: int, frames: int, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    video = torch.randn(batch, 3, frames, 224, 224, device=device)
    lengths = torch.full((batch,), frames, dtype=torch.long)
    labels = torch.tensor([5, 17, 42] * batch)
    return video, lengths, labels, torch.full((batch,), 3, dtype=torch.long)


def measure(checkpointing: bool, repeats: int, device: str, batch: int, frames: int, amp: bool) -> dict:
    """Median forward and backward seconds over warm iterations, and peak memory."""
    from modules.losses import SLRLoss
    from slr_network import SLRModel

    torch.manual_seed(0)
    model = SLRModel(released_num_classes(), activation_checkpointing=checkpointing).to(device).train()
    criterion = SLRLoss()
    video, lengths, labels, label_lengths = _step_inputs(batch, frames, device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    forward_times, backward_times = [], []
    for iteration in range(repeats + WARMUP):
        model.zero_grad(set_to_none=True)
        sync()
        start = time.perf_counter()
        with torch.autocast(device_type=device, dtype=torch.float16, enabled=amp):
            loss = criterion(model(video, lengths), labels, label_lengths).total
        sync()
        middle = time.perf_counter()
        loss.backward()
        sync()
        end = time.perf_counter()
        if iteration >= WARMUP:  # the first iterations warm up allocators and kernel caches
            forward_times.append(middle - start)
            backward_times.append(end - middle)
    forward_times.sort()
    backward_times.sort()
    result = {
        "forward_s": forward_times[len(forward_times) // 2],
        "backward_s": backward_times[len(backward_times) // 2],
        "peak_rss_gb": peak_rss_gb(),
    }
    if device == "cuda":
        result["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 1e9
    return result


def _run_child(args: argparse.Namespace, checkpointing: bool, jemalloc: bool = False) -> dict:
    command = [
        sys.executable, "-m", "benchmarks.bench_model", "--child", "--repeats", str(args.repeats),
        "--device", args.device, "--batch", str(args.batch), "--frames", str(args.frames),
        "--threads", str(args.threads),
    ] + (["--checkpointing"] if checkpointing else []) + (["--amp"] if args.amp else [])
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    if jemalloc:
        env = jemalloc_environment(env, find_jemalloc()) or env
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output.strip().splitlines()[-1])


def _cpu_rows(plain: dict, ckpt: dict, setting: str, allocator: str) -> list[Row]:
    """Times and memory as measured (no bar: another day's or machine's figure is no bar), and activation
    checkpointing against the plain step of the same run: <= 1.35x the time, <= 0.6x the memory."""
    plain_time = plain["forward_s"] + plain["backward_s"]
    ckpt_time = ckpt["forward_s"] + ckpt["backward_s"]
    tag = f" [{allocator}]"
    return [
        Row(f"forward ({setting}){tag}", f"{plain['forward_s']:.2f} s"),
        Row(f"backward{tag}", f"{plain['backward_s']:.2f} s"),
        Row(f"peak RSS, training step{tag}", f"{plain['peak_rss_gb']:.2f} GB"),
        Row(f"forward + backward, activation checkpointing{tag}", f"{ckpt_time:.2f} s"),
        Row(f"peak RSS, activation checkpointing{tag}", f"{ckpt['peak_rss_gb']:.2f} GB"),
        Row(f"time ratio checkpointing / plain{tag}", f"{ckpt_time / plain_time:.2f}x", "<= 1.35x",
            ckpt_time / plain_time <= 1.35),
        Row(f"peak RSS ratio checkpointing / plain{tag}", f"{ckpt['peak_rss_gb'] / plain['peak_rss_gb']:.2f}x",
            "<= 0.6x", ckpt["peak_rss_gb"] <= 0.6 * plain["peak_rss_gb"]),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--checkpointing", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.batch = args.batch or (2 if args.device == "cuda" else 1)
    args.frames = args.frames or (140 if args.device == "cuda" else 32)
    torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(measure(args.checkpointing, args.repeats, args.device, args.batch, args.frames, args.amp)))
        return

    setting = f"B={args.batch}, T={args.frames}, 224x224, {args.device}{' AMP' if args.amp else ''}"
    from slr_network import SLRModel

    gmacs = backbone_multiply_adds(SLRModel(released_num_classes()), args.frames) / 1e9
    flop_rows = [Row(f"backbone multiply-adds per {args.frames}-frame clip (fvcore)", f"{gmacs:.1f} G"),
                 Row("backbone multiply-adds per frame (fvcore)", f"{gmacs / args.frames:.2f} G")]
    if args.device == "cuda":
        plain, ckpt = _run_child(args, False), _run_child(args, True)
        rows = [
            Row(f"training step time ({setting})", f"{plain['forward_s'] + plain['backward_s']:.3f} s"),
            Row("peak GPU memory", f"{plain['peak_gpu_gb']:.2f} GB"),
            Row("training step time, activation checkpointing", f"{ckpt['forward_s'] + ckpt['backward_s']:.3f} s"),
            Row("peak GPU memory, activation checkpointing", f"{ckpt['peak_gpu_gb']:.2f} GB"),
        ]
    else:
        rows = []
        allocators = [("glibc", False)] + ([("jemalloc", True)] if find_jemalloc() else [])
        for allocator, jemalloc in allocators:
            rows += _cpu_rows(_run_child(args, False, jemalloc), _run_child(args, True, jemalloc), setting, allocator)
    record(f"bench_model_{args.device}", flop_rows + rows, device=machine_description(),
           notes=f"{load_note()}; median of {args.repeats} warm iterations after {WARMUP} warm-up, {args.threads} threads; "
                 "full training loss with Slow/Fast weights; jemalloc rows: LD_PRELOAD libjemalloc2 with "
                 f"MALLOC_CONF={MALLOC_CONF} (what main.py uses on CPU)")


if __name__ == "__main__":
    run_benchmark(main)
