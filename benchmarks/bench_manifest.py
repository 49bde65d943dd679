"""Preprocessing a corpus of one's own (a manifest of .mp4 videos) against decoding the same videos alone,
and `python -m dataset.check` on the bundled demo corpus.

The manifest path decodes each video, resizes every frame to 256x256 (Lanczos) and writes it as PNG, in N
processes; the decode limit is N processes that only decode the same videos with OpenCV. Both sides include
process start-up. The check reads the demo corpus as `python main.py --config configs/demo.yaml` would.

    python -m benchmarks.bench_manifest [--videos 40] [--work-dir DIR]
"""
from __future__ import annotations

import shutil
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import cv2

from benchmarks.common import Row, load_note, record, run_benchmark
from dataset.frames import read_video_file
from dataset.synthetic import generate_synthetic_corpus
from preprocess.cli import main as preprocess_main
from utils.cli import ArgumentParser

WORKERS = 2


def write_videos(work_dir: Path, count: int) -> tuple[Path, int]:
    """`count` synthetic 210x260 clips as .mp4 videos and a manifest naming them; (manifest, total frames)."""
    corpus = generate_synthetic_corpus(work_dir / "raw", train=count, dev=1, test=1)
    videos = work_dir / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    rows, total = ["id,split,path,glosses"], 0
    csv = (corpus / "annotations" / "manual" / "train.corpus.csv").read_text().splitlines()[1:]
    for line in csv:
        fileid, folder, _signer, glosses = line.split("|")
        frames = sorted((corpus / "features" / "fullFrame-210x260px" / "train").glob(folder))
        first = cv2.imread(str(frames[0]))
        writer = cv2.VideoWriter(str(videos / f"{fileid}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25,
                                 (first.shape[1], first.shape[0]))
        for frame in frames:
            writer.write(cv2.imread(str(frame)))
        writer.release()
        rows.append(f"{fileid},train,videos/{fileid}.mp4,{glosses}")
        total += len(frames)
    (work_dir / "corpus.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return work_dir / "corpus.csv", total


def _decode(path: Path) -> int:
    return len(read_video_file(path))


def decode_seconds(videos: list[Path]) -> float:
    start = time.perf_counter()
    with Pool(WORKERS, initializer=cv2.setNumThreads, initargs=(1,)) as pool:
        pool.map(_decode, videos, chunksize=1)
    return time.perf_counter() - start


def preprocess_seconds(manifest: Path, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    if preprocess_main(["--dataset", "custom", "--manifest", str(manifest), "--output", str(out / "meta"),
                        "--frames-output", str(out / "frames"), "--workers", str(WORKERS)]) != 0:
        raise RuntimeError("preprocessing the benchmark manifest failed")
    return time.perf_counter() - start


def check_seconds() -> float:
    from dataset.check import main as check_main

    start = time.perf_counter()
    if check_main(["--config", "configs/demo.yaml", "--picture", str(Path(tempfile.gettempdir()) / "check.png")]) != 0:
        raise RuntimeError("the demo corpus did not pass dataset.check (prepare it with the demo first)")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "slowfastsign_bench_manifest")
    args = parser.parse_args(argv)
    manifest, frames = write_videos(args.work_dir, args.videos)
    videos = sorted((args.work_dir / "videos").glob("*.mp4"))
    decode = min(decode_seconds(videos) for _ in range(args.repeats))
    prep = min(preprocess_seconds(manifest, args.work_dir / "out") for _ in range(args.repeats))
    rows = [Row("videos", f"{len(videos)} .mp4 videos (mp4v), {frames / len(videos):.0f} frames of 210x260 each "
                          f"on average"),
            Row(f"decode limit: OpenCV decoding in {WORKERS} processes",
                f"{len(videos) / decode:.2f} videos/s, {frames / decode:.0f} frames/s"),
            Row(f"python -m preprocess --dataset custom --manifest ({WORKERS} workers: decode, Lanczos 256x256, PNG)",
                f"{len(videos) / prep:.2f} videos/s, {frames / prep:.0f} frames/s"),
            Row("preprocessing / decode limit", f"{decode / prep:.2f}x"),
            Row("python -m dataset.check on the demo corpus (240 videos, 3 frames each of all decoded)",
                f"{min(check_seconds() for _ in range(args.repeats)):.1f} s")]
    record("bench_manifest", rows, notes=f"{load_note()}; best of {args.repeats} repeats; both sides include "
                                         "process start-up; PNG encoding of 256x256 frames dominates the difference")


if __name__ == "__main__":
    run_benchmark(main)
