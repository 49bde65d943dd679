"""CUDA self-check: does training work on this GPU, how fast, and does the loader keep up?

    python -m benchmarks.gpu_check            # every visible GPU; no dataset needed
    python -m benchmarks.gpu_check --smoke    # main.py end to end on the GPU (train 2 steps, test, predict)

Per GPU it trains the full R101 SlowFastSign (PHOENIX-2014's classes) on generated clips of
PHOENIX-like length (batch 2, 120 and 200 frames, 224x224) and prints, for
float32, float16 AMP and bfloat16 AMP, each with and without channels_last_3d:
the median step time and the peak GPU memory; then the peak memory of steps on the longest training clips
with batch 2 or 1 x 2 accumulated, with and without activation checkpointing (README's memory table). It checks that the AMP losses
agree with float32 on the same batch (dropout off), that uint8 frames normalised on the
GPU have the official CPU bits, measures the training
loader's clips/s on generated PNG frames against the GPU's consumption rate,
and with 2+ GPUs runs a 2-process torchrun DDP step over NCCL whose replicas
must stay identical. Rows go to benchmarks/results/gpu_check.json (RESULTS.md).
It exits 1 on any failure; without CUDA it says so in one line and exits 0.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

import seq_scripts
from benchmarks.common import Row, load_note, print_table, record, released_num_classes, run_benchmark
from dataset.collate import Batch, PadCollate
from dataset.video_dataset import Sample
from modules.losses import SLRLoss
from slr_network import SLRModel
from tasks.recognition import RecognitionSteps
from training.trainer import train_epoch
from utils.cli import ArgumentParser
from utils.config.merge import backbone_from_yaml, build_config
from utils.distributed import DistContext
from utils.precision import Precision
from utils.random_state import configure_determinism
from utils.work_dir import LAST_CHECKPOINT, PREDICTIONS_DIR, TEST_RESULTS

REPO = Path(__file__).resolve().parent.parent
R101 = REPO / "configs" / "backbone" / "slowfast_r101_64x2.yaml"
NUM_CLASSES = released_num_classes()
TOLERANCE = {torch.float16: 1e-2, torch.bfloat16: 5e-2}
SETTINGS = [("float32", None), ("float16 AMP", torch.float16), ("bfloat16 AMP", torch.bfloat16)]


@dataclass
class Agreement:
    """How far a mixed-precision loss is from the float32 one on the same batch."""

    relative: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.relative <= self.tolerance


def loss_agreement(reference: float, value: float, dtype: torch.dtype) -> Agreement:
    """|value - reference| / |reference| against the dtype's tolerance (a wrong cast is far outside it)."""
    relative = abs(value - reference) / max(abs(reference), 1e-12) if value == value else float("inf")
    return Agreement(relative, TOLERANCE[dtype])


def generated_batch(frames: tuple[int, ...], size: int = 224, seed: int = 0, num_classes: int = NUM_CLASSES) -> Batch:
    """Random uint8 clips with feasible gloss labels (one gloss per ten frames), collated as in training."""
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for index, length in enumerate(frames):
        video = torch.randint(0, 256, (length, size, size, 3), generator=generator, dtype=torch.uint8)
        label = torch.randint(1, num_classes, (max(1, length // 10),), generator=generator).tolist()
        samples.append(Sample(video, label, {"fileid": f"generated_{index}"}))
    return PadCollate()(samples)


def without_dropout(model: nn.Module) -> nn.Module:
    """A copy whose training forward is deterministic (dropout off), to compare precisions on one batch."""
    quiet = copy.deepcopy(model)
    for module in quiet.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        if isinstance(module, nn.LSTM):
            module.dropout = 0.0
    return quiet


def training_loss(model: nn.Module, batch: Batch, device: torch.device, precision: Precision) -> torch.Tensor:
    batch, output = seq_scripts.forward(model, batch, DistContext(device), precision)
    names = [str(info["fileid"]) for info in batch.info]
    return SLRLoss()(output, batch.label, batch.label_length, names).total


def measure_training(model: nn.Module, batch: Batch, device: torch.device, precision: Precision,
                     steps: int = 3, accumulate: int = 1) -> tuple[float, float | None]:
    """Median seconds per optimiser step of the real training loop (training.trainer.train_epoch, with the optimiser
    that training.optimizer.build_optimizer makes from the default configuration: the official Adam, fused on CUDA; each
    step `accumulate` forward passes of `batch`) after one warm-up step, and the peak GPU memory in GB (None on
    CPU)."""
    from training.optimizer import build_optimizer

    model = model.to(device).train()
    if precision.channels_last:
        model = model.to(memory_format=torch.channels_last_3d)
    optimizer, _ = build_optimizer(build_config(), model, device)
    scaler = torch.amp.GradScaler("cuda", enabled=precision.needs_grad_scaler(device))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    stamps = []

    def stamp(*_: object) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        stamps.append(time.perf_counter())

    train_epoch(RecognitionSteps(SLRLoss(), model.conv1d), model, [batch] * (accumulate * (steps + 1)), optimizer,
                scaler, DistContext(device), epoch=0, precision=precision, log_interval=0, on_step=stamp,
                            accumulate=accumulate)
    if len(stamps) < 2:
        raise RuntimeError(f"only {len(stamps)} of {steps + 1} training steps were taken (non-finite loss or gradients)")
    peak = torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else None
    return statistics.median(b - a for a, b in zip(stamps, stamps[1:])), peak


def check_device(device: torch.device, frames: tuple[int, ...], steps: int, failures: list[str]) -> tuple[list[Row], float]:
    """The precision x memory-format table of one GPU; returns its rows and float16 AMP's step time."""
    name = torch.cuda.get_device_name(device)
    torch.manual_seed(0)
    initial = SLRModel(NUM_CLASSES, backbone_from_yaml(R101))
    batch = generated_batch(frames)
    rows, fp16_step = [], float("nan")
    quiet = without_dropout(initial).to(device).train()
    with torch.no_grad():
        reference = float(training_loss(quiet, batch, device, Precision()))
        for label, dtype in SETTINGS[1:]:
            value = float(training_loss(quiet, batch, device, Precision(dtype)))
            agreement = loss_agreement(reference, value, dtype)
            rows.append(Row(f"[{name}] {label} loss vs float32, same batch", f"{agreement.relative:.2e} relative",
                            f"<= {agreement.tolerance:.0e}", agreement.passed))
            if not agreement.passed:
                failures.append(f"{name}: {label} loss {value:.4f} vs float32 {reference:.4f}")
    del quiet
    for label, dtype in SETTINGS:
        for channels_last in (False, True):
            layout = "channels_last_3d" if channels_last else "contiguous"
            figure = f"[{name}] train step, B=2 x {'/'.join(map(str, frames))} frames, {label}, {layout}"
            try:
                seconds, peak = measure_training(copy.deepcopy(initial), batch, device, Precision(dtype, channels_last),
                                                 steps)
            except torch.cuda.OutOfMemoryError:  # a finding about this GPU's size, not a fault
                rows.append(Row(figure, f"out of memory ({torch.cuda.get_device_properties(device).total_memory / 1e9:.0f} GB)"))
                torch.cuda.empty_cache()
                continue
            except RuntimeError as error:
                failures.append(f"{name}: {label}, {layout}: {error}".splitlines()[0])
                rows.append(Row(figure, "failed", "", False))
                torch.cuda.empty_cache()
                continue
            rows.append(Row(figure, f"{seconds:.3f} s, peak {peak:.1f} GB"))
            if dtype == torch.float16 and not channels_last:
                fp16_step = seconds
            torch.cuda.empty_cache()
    return rows, fp16_step


# (label, clips per forward pass, forward passes per step, activation checkpointing, autocast dtype): the settings
# README's memory table ("The GPU you have") is filled from; each makes optimiser steps of 2 clips, as officially.
MEMORY_SETTINGS = [
    ("batch 2, float16 AMP (official)", 2, 1, False, torch.float16),
    ("batch 1 x 2 accumulated, float16 AMP", 1, 2, False, torch.float16),
    ("batch 2, float16 AMP, activation checkpointing", 2, 1, True, torch.float16),
    ("batch 1 x 2 accumulated, float16 AMP, activation checkpointing", 1, 2, True, torch.float16),
    ("batch 2, float32", 2, 1, False, None),
    ("batch 1 x 2 accumulated, float32, activation checkpointing", 1, 2, True, None),
]


def check_memory(device: torch.device, frames: int, failures: list[str]) -> list[Row]:
    """Peak GPU memory of R101 training steps on the longest clips training makes (`frames` each) under each
    MEMORY_SETTINGS entry: what decides whether a run fits an 8, 12, 16 or 24 GB card."""
    name = torch.cuda.get_device_name(device)
    rows = []
    for label, size, accumulate, checkpointing, dtype in MEMORY_SETTINGS:
        torch.manual_seed(0)
        model = SLRModel(NUM_CLASSES, backbone_from_yaml(R101), activation_checkpointing=checkpointing)
        figure = f"[{name}] peak memory, {label}, clips of {frames} frames"
        try:
            seconds, peak = measure_training(model, generated_batch((frames,) * size), device, Precision(dtype),
                                             steps=2, accumulate=accumulate)
            rows.append(Row(figure, f"{peak:.1f} GB, {seconds:.2f} s/step"))
        except torch.cuda.OutOfMemoryError:
            rows.append(Row(figure, f"out of memory ({torch.cuda.get_device_properties(device).total_memory / 1e9:.0f} GB)"))
        except RuntimeError as error:
            failures.append(f"{name}: memory, {label}: {error}".splitlines()[0])
            rows.append(Row(figure, "failed", "", False))
        del model
        torch.cuda.empty_cache()
    return rows


def check_normalisation(device: torch.device, failures: list[str]) -> Row:
    """Every uint8 value normalised on the GPU (Batch.network_input) against the official float32 operations
    on the CPU: the same bits, or the claim in docs/METHOD.md does not hold on this GPU."""
    values = torch.arange(256, dtype=torch.uint8).reshape(1, 256, 1, 1, 1).expand(1, 256, 1, 1, 3).contiguous()
    one = torch.ones(1, dtype=torch.int64)
    ours = Batch(values, one * 256, one, one).to(device).network_input().cpu()
    official = ((values.permute(0, 4, 1, 2, 3).float() / 255.0) - 0.45) / 0.225
    same = torch.equal(ours, official)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
    if not same:
        failures.append(f"{name}: uint8 normalisation differs from the official CPU bits for "
                        f"{int((ours != official).sum())} of 768 values")
    return Row(f"[{name}] uint8 normalisation on the device == official CPU bits (256 values)", "yes" if same else "NO",
               "yes", same)


def check_loader(workers: int, clips: int, step_seconds: float) -> list[Row]:
    """The training loader on generated 256x256 PNG clips against what one GPU consumes (2 clips a step)."""
    from benchmarks.bench_loader import build_corpus, loader_seconds

    with tempfile.TemporaryDirectory() as scratch:
        info, gloss_dict, frame_root = build_corpus(Path(scratch), clips)
        seconds = min(loader_seconds(info, gloss_dict, frame_root, epoch, workers) for epoch in range(2))
    supplied, consumed = clips / seconds, 2 / step_seconds
    return [
        Row(f"training loader, {workers} workers (generated 256x256 PNG clips)", f"{supplied:.1f} clips/s"),
        Row("GPU consumption at the float16 AMP step time", f"{consumed:.1f} clips/s"),
        Row("loader keeps up with one GPU", "yes" if supplied >= consumed else
            f"no: {consumed / supplied:.1f}x more decoding needed (raise num_worker, or pre-resize frames)"),
    ]


def check_ddp(frames: tuple[int, ...], failures: list[str]) -> list[Row]:
    """A 2-process torchrun DDP step over NCCL; the workers compare their parameters after it."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "benchmarks.gpu_check", "--ddp-worker", "--frames", *map(str, frames)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1200)
    lines = [line for line in done.stdout.splitlines() if line.startswith("ddp:")]
    ok = done.returncode == 0 and any("replicas identical" in line for line in lines)
    if not ok:
        failures.append(f"DDP step: exit {done.returncode}: " + (lines or done.stderr.strip().splitlines()[-1:] or ["?"])[-1])
    return [Row("2-process DDP step (NCCL, float16 AMP), replicas identical after it", "yes" if ok else "NO", "yes", ok)]


def ddp_worker(frames: tuple[int, ...]) -> int:
    """One process of the DDP check (run by torchrun): one step of the real training loop on a per-rank batch,
    then compare parameters."""
    import torch.distributed as dist

    from training.optimizer import build_optimizer
    from utils.distributed import cleanup, init_distributed

    context = init_distributed("0,1")
    torch.manual_seed(0)
    model = SLRModel(NUM_CLASSES, backbone_from_yaml(R101)).to(context.device)
    model = nn.parallel.DistributedDataParallel(model, device_ids=[context.device.index])
    optimizer, _ = build_optimizer(build_config(), model, context.device)
    train_epoch(RecognitionSteps(SLRLoss(), model.module.conv1d), model, [generated_batch(frames, seed=context.rank)],
                optimizer, torch.amp.GradScaler("cuda"), context, epoch=0, precision=Precision(torch.float16),
                            log_interval=0)
    checksum = torch.stack([p.detach().double().sum() for p in model.parameters()])
    gathered = [torch.zeros_like(checksum) for _ in range(context.world_size)]
    dist.all_gather(gathered, checksum)
    identical = all(torch.equal(gathered[0], other) for other in gathered[1:])
    if context.is_main:
        print(f"ddp: {context.world_size} processes, replicas {'identical' if identical else 'DIFFER'}", flush=True)
    cleanup(context)
    return 0 if identical else 1


def smoke(device: str, work_dir: Path) -> list[Row]:
    """main.py on `device`: 2 training steps of the demo model with AMP, the test phase, predict; a row per
    stage, stopping at the first that fails."""
    base = [sys.executable, "main.py", "--config", "configs/demo.yaml", "--device", device, "--num-worker", "2",
            f"synthetic.root={work_dir / 'data'}", f"dataset_info.info_dir={work_dir / 'data' / 'preprocessed'}"]
    train_dir, test_dir = work_dir / "train", work_dir / "test"
    stages = [
        ("train 2 steps (AMP)", base + ["--work-dir", str(train_dir), "--num-epoch", "1", "--max-steps-per-epoch",
                                       "2", "test_after_train=false", "amp=true"],
         lambda: (train_dir / LAST_CHECKPOINT).is_file()),
        ("test phase", base + ["--work-dir", str(test_dir), "--phase", "test", "--load-weights",
                               str(train_dir / LAST_CHECKPOINT)],
         lambda: "wer_python" in json.loads((test_dir / TEST_RESULTS).read_text()).get("dev", {})),
        ("predict", base + ["--work-dir", str(test_dir), "--phase", "predict", "--load-weights",
                            str(train_dir / LAST_CHECKPOINT), "--input",
                            str(work_dir / "data" / "frames" / "dev" / "synthetic_dev_00000" / "1")],
         lambda: (test_dir / PREDICTIONS_DIR / "synthetic_dev_00000.json").is_file()),
    ]
    rows = []
    for name, command, succeeded in stages:
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        ok = done.returncode == 0 and succeeded()
        rows.append(Row(f"smoke on {device}: {name}", f"{'ok' if ok else 'FAILED'} in {time.perf_counter() - start:.0f} s",
                        "ok", ok))
        if not ok:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            print(f"gpu_check --smoke: {name} failed (exit {done.returncode}): {tail[0]}", file=sys.stderr)
            break
    return rows


def _device_names() -> str:
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return f"{len(names)} x {names[0]}, torch {torch.__version__}, CUDA {torch.version.cuda}" if names else "no GPU"


def check_determinism(device: torch.device, frames: tuple[int, ...], steps: int) -> list[Row]:
    """What `deterministic=true` costs (float16 AMP step time with and without it) and whether it makes two
    runs of the same steps from the same weights and seed end with the same weights on this GPU."""
    name = torch.cuda.get_device_name(device)
    torch.manual_seed(0)
    initial = SLRModel(NUM_CLASSES, backbone_from_yaml(R101))
    batch = generated_batch(frames)
    rows, ends = [], []
    try:
        for deterministic in (False, True, True):
            configure_determinism(deterministic)
            torch.manual_seed(0)
            model = copy.deepcopy(initial)
            seconds, _ = measure_training(model, batch, device, Precision(torch.float16), steps)
            if deterministic:
                ends.append(torch.cat([p.detach().float().flatten().cpu() for p in model.parameters()]))
            if len(ends) < 2:
                label = "deterministic=true" if deterministic else "deterministic=false (cudnn.benchmark)"
                rows.append(Row(f"[{name}] train step, float16 AMP, {label}", f"{seconds:.3f} s"))
            del model
            torch.cuda.empty_cache()
    finally:
        configure_determinism(False)
        torch.backends.cudnn.benchmark = True
    difference = float((ends[0] - ends[1]).abs().max())
    rows.append(Row(f"[{name}] deterministic=true: weights after {steps + 1} steps, two runs, largest difference",
                    f"{difference:.1e}", "0 except the CTC and pooling backward passes (README)", None))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="run main.py end to end instead of the measurements")
    parser.add_argument("--device", default="0", help="GPU index for --smoke ('cpu' runs the smoke test on the CPU)")
    parser.add_argument("--frames", type=int, nargs="+", default=[120, 200], help="clip lengths of the batch")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per setting (after one warm-up)")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="loader workers")
    parser.add_argument("--clips", type=int, default=24, help="clips for the loader measurement")
    parser.add_argument("--memory-frames", type=int, default=232,
                        help="clip length of the peak-memory rows (232: the longest clip training's rescale makes)")
    parser.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    frames = tuple(args.frames)
    if args.ddp_worker:
        return ddp_worker(frames)
    on_cpu = args.smoke and args.device == "cpu"
    if not torch.cuda.is_available() and not on_cpu:
        print("gpu_check: no CUDA device is visible, so there is nothing to check here (exit 0).")
        return 0
    if args.smoke:
        with tempfile.TemporaryDirectory() as scratch:
            rows = smoke(args.device, Path(scratch))
        if on_cpu:
            print_table(rows)
        else:
            record("gpu_check_smoke", rows, device=_device_names(), notes=load_note())
        return 0 if all(row.passed for row in rows) else 1
    torch.backends.cudnn.benchmark = True
    failures: list[str] = []
    rows: list[Row] = []
    fp16_steps = []
    for index in range(torch.cuda.device_count()):
        device_rows, fp16_step = check_device(torch.device("cuda", index), frames, args.steps, failures)
        rows += [check_normalisation(torch.device("cuda", index), failures)] + device_rows
        rows += check_memory(torch.device("cuda", index), args.memory_frames, failures)
        rows += check_determinism(torch.device("cuda", index), frames, args.steps)
        fp16_steps.append(fp16_step)
    if fp16_steps[0] == fp16_steps[0]:
        rows += check_loader(args.workers, args.clips, fp16_steps[0])
    if torch.cuda.device_count() >= 2:
        rows += check_ddp(frames, failures)
    record("gpu_check", rows, device=_device_names(),
           notes=f"{load_note()}; median of {args.steps} steps after a warm-up; cudnn.benchmark on; Adam fused")
    for failure in failures:
        print(f"gpu_check: FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    run_benchmark(main)
