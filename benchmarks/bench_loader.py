"""Training-loader throughput against the raw decoding limit, on generated 256x256 PNG frames.

The loader (2 workers, batch 2, random crop 224, flip, temporal rescale,
normalisation and padding) should reach at least 0.8x the clips per second
of a plain loop that only calls cv2.imread on the same frames: then data
loading costs little beyond decoding.

    python -m benchmarks.bench_loader [--clips 16] [--work-dir DIR]
"""
from __future__ import annotations

import argparse
import glob
import tempfile
import time
from pathlib import Path

import cv2
import torch

from benchmarks.common import Row, load_note, record
from dataset.collate import PadCollate
from dataset.gloss_dict import load_gloss_dict
from dataset.info import read_info
from dataset.synthetic import generate_synthetic_corpus
from dataset.video_dataset import SignVideoDataset
from preprocess.cli import main as preprocess_main

BAR = 0.8


def build_corpus(work_dir: Path, clips: int) -> tuple[Path, Path, Path]:
    """Generate 256x256 PNG clips in the PHOENIX layout and their metadata; return (info, gloss dict, frame root)."""
    corpus = generate_synthetic_corpus(work_dir / "raw", train=clips, dev=1, test=1, frame_size=(256, 256),
                                       glosses_per_sentence=(4, 6), frames_per_gloss=(18, 26))
    meta = work_dir / "meta"
    if preprocess_main(["--dataset", "phoenix2014", "--dataset-root", str(corpus), "--output", str(meta),
                        "--skip-frames"]) != 0:
        raise RuntimeError("preprocessing the benchmark corpus failed")
    return meta / "train_info.jsonl", meta / "gloss_dict.json", corpus / "features/fullFrame-210x260px"


def raw_read_seconds(info: Path, frame_root: Path) -> float:
    """Time of a loop doing only cv2.imread of every frame of every clip."""
    _, records = read_info(info)
    paths = [sorted(glob.glob(str(frame_root / r["folder"]))) for r in records]
    start = time.perf_counter()
    for clip in paths:
        for path in clip:
            cv2.imread(path, cv2.IMREAD_COLOR)
    return time.perf_counter() - start


def loader_seconds(info: Path, gloss_dict: Path, frame_root: Path, epoch: int) -> float:
    """Time of one training epoch through DataLoader(2 workers, batch 2), worker start-up included."""
    dataset = SignVideoDataset(info, load_gloss_dict(gloss_dict), frame_root, mode="train")
    dataset.set_epoch(epoch)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, shuffle=True, num_workers=2, collate_fn=PadCollate())
    start = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "slowfastsign_bench_loader")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    info, gloss_dict, frame_root = build_corpus(args.work_dir, args.clips)
    frames = sum(r["num_frames"] for r in read_info(info)[1])
    raw_read_seconds(info, frame_root)  # warm the page cache
    raw = min(raw_read_seconds(info, frame_root) for _ in range(args.repeats))
    loaded = min(loader_seconds(info, gloss_dict, frame_root, epoch) for epoch in range(args.repeats))
    raw_rate, loader_rate = args.clips / raw, args.clips / loaded
    ratio = loader_rate / raw_rate
    record("bench_loader", [
        Row("clips", f"{args.clips} clips, {frames / args.clips:.0f} frames each on average, 256x256 PNG"),
        Row("raw limit: cv2.imread loop (1 process)", f"{raw_rate:.2f} clips/s"),
        Row("training loader (2 workers, batch 2, crop 224, flip, rescale, collate)", f"{loader_rate:.2f} clips/s"),
        Row("loader / raw limit", f"{ratio:.2f}x", f">= {BAR}x", ratio >= BAR),
    ], notes=f"{load_note()}; best of repeats; loader epochs include worker start-up")


if __name__ == "__main__":
    main()
