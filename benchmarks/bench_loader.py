"""Training-loader throughput against the frame-decoding limit, on generated 256x256 PNG frames.

The loader (N workers, batch 2, random crop 224, flip, temporal rescale and
padding, uint8 batches) should reach at least 0.8x the clips per second of N
processes that only call cv2.imread on the same frames: then data loading costs
little beyond decoding. Both sides use the same number of processes and include
their start-up. N = 2 is the bar; 4 and 8 are measured where there are cores.

    python -m benchmarks.bench_loader [--clips 40] [--work-dir DIR]
"""
from __future__ import annotations

import glob
import os
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import cv2
import torch

from benchmarks.common import Row, load_note, record, run_benchmark
from dataset.collate import PadCollate
from dataset.frames import frame_glob
from dataset.gloss_dict import load_gloss_dict
from dataset.info import read_info
from dataset.paths import GLOSS_DICT_FILE, info_file_name
from dataset.synthetic import generate_synthetic_corpus
from dataset.video_dataset import SignVideoDataset, init_loader_worker
from preprocess.cli import main as preprocess_main
from utils.cli import ArgumentParser

BAR = 0.8


def build_corpus(work_dir: Path, clips: int) -> tuple[Path, Path, Path]:
    """Generate 256x256 PNG clips (about 100 frames) in the PHOENIX layout and their metadata;
    return (info, gloss dict, frame root)."""
    corpus = generate_synthetic_corpus(work_dir / "raw", train=clips, dev=1, test=1, frame_size=(256, 256),
                                       glosses_per_sentence=(4, 5), frames_per_gloss=(18, 26))
    meta = work_dir / "meta"
    if preprocess_main(["--dataset", "phoenix2014", "--dataset-root", str(corpus), "--output", str(meta),
                        "--skip-frames"]) != 0:
        raise RuntimeError("preprocessing the benchmark corpus failed")
    return meta / info_file_name("train"), meta / GLOSS_DICT_FILE, corpus / "features/fullFrame-210x260px"


def _decode_clip(paths: list[str]) -> int:
    for path in paths:
        cv2.imread(path, cv2.IMREAD_COLOR)
    return len(paths)


def raw_read_seconds(info: Path, frame_root: Path, processes: int) -> float:
    """Time for `processes` processes (start-up included) to cv2.imread every frame of every clip."""
    _, records = read_info(info)
    paths = [sorted(glob.glob(str(frame_glob(frame_root, r["folder"])))) for r in records]
    start = time.perf_counter()
    with Pool(processes, initializer=cv2.setNumThreads, initargs=(1,)) as pool:
        pool.map(_decode_clip, paths, chunksize=1)
    return time.perf_counter() - start


def loader_seconds(info: Path, gloss_dict: Path, frame_root: Path, epoch: int, workers: int) -> float:
    """Time of one training epoch through DataLoader(workers, batch 2), worker start-up included."""
    dataset = SignVideoDataset(info, load_gloss_dict(gloss_dict), frame_root, mode="train")
    dataset.set_epoch(epoch)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, shuffle=True, num_workers=workers,
                                         collate_fn=PadCollate(), worker_init_fn=init_loader_worker)
    start = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "slowfastsign_bench_loader")
    args = parser.parse_args(argv)
    info, gloss_dict, frame_root = build_corpus(args.work_dir, args.clips)
    frames = sum(r["num_frames"] for r in read_info(info)[1])
    raw_read_seconds(info, frame_root, 1)  # warm the page cache
    rows = [Row("clips", f"{args.clips} clips, {frames / args.clips:.0f} frames each on average, 256x256 PNG")]
    for workers in [n for n in (2, 4, 8) if n == 2 or n <= (os.cpu_count() or 1)]:
        raw = min(raw_read_seconds(info, frame_root, workers) for _ in range(args.repeats))
        loaded = min(loader_seconds(info, gloss_dict, frame_root, epoch, workers) for epoch in range(args.repeats))
        raw_rate, loader_rate = args.clips / raw, args.clips / loaded
        ratio = loader_rate / raw_rate
        rows += [
            Row(f"decode limit: cv2.imread in {workers} processes", f"{raw_rate:.2f} clips/s"),
            Row(f"training loader ({workers} workers, batch 2, crop 224, flip, rescale, collate)",
                f"{loader_rate:.2f} clips/s"),
            Row(f"loader / decode limit, {workers} processes each", f"{ratio:.2f}x",
                f">= {BAR}x" if workers == 2 else "", ratio >= BAR if workers == 2 else None),
        ]
    record("bench_loader", rows, notes=f"{load_note()}; best of {args.repeats} repeats; both sides include "
                                       "process start-up; train mode reads each distinct frame once")


if __name__ == "__main__":
    run_benchmark(main)
