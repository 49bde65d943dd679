"""Long recordings: a recording made of every demo dev clip one after another (its raw frames), recognised in
windows, against the same clips recognised one by one; the window and overlap settings; peak memory at 1x, 4x
and 16x that length, through PyTorch and ONNX Runtime.

Needs the demo's trained run and data (`python main.py --config configs/demo.yaml`):

    python -m benchmarks.bench_long_recording [--run work_dir/demo] [--data demo_data/synthetic]
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row, load_note, record, run_benchmark
from deploy.prediction import prediction_name
from evaluation.alignment import align
from utils.cli import ArgumentParser

REPO = Path(__file__).resolve().parents[1]
SETTINGS = [(64, 16), (96, 32), (128, 32), (256, 32), (256, 64), (512, 64), (512, 128)]


def wer(reference: list[str], hypothesis: list[str]) -> float:
    counts = align(reference, hypothesis)
    return 100 * (counts.substitutions + counts.deletions + counts.insertions) / max(len(reference), 1)


def recording(clips: list[Path], copies: int, out: Path) -> Path:
    """A frame folder holding the clips' frames one after another, `copies` times (links, no copies)."""
    out.mkdir(parents=True, exist_ok=True)
    frames = [frame for _ in range(copies) for clip in clips for frame in sorted(clip.glob("*.png"))]
    for index, frame in enumerate(frames):
        os.symlink(frame, out / f"{index:07d}.png")
    return out


def predict(weights: Path, data: Path, work_dir: Path, inputs: list[str], *extra: str) -> tuple[list[dict], float, float]:
    """main.py --phase predict in a process of its own: its results, seconds and peak resident memory (GB)."""
    command = [sys.executable, "main.py", "--config", "configs/demo.yaml", "--phase", "predict", "--load-weights",
               str(weights), "--work-dir", str(work_dir), "synthetic.enabled=false",
               f"dataset_info.info_dir={data / 'preprocessed'}", "predict_args.alignment_pictures=false", *extra,
               "--input", *inputs]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=dict(os.environ, SLOWFASTSIGN_JEMALLOC="0"))
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"prediction failed: {process.stderr.read().decode()[-500:]}")
    out = work_dir / "predictions"
    taken: set[str] = set()
    results = [json.loads((out / f"{prediction_name(Path(item), taken)}.json").read_text()) for item in inputs]
    return results, seconds, usage.ru_maxrss * 1024 / 1e9


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=REPO / "work_dir" / "demo", help="the demo's work directory")
    parser.add_argument("--data", type=Path, default=REPO / "demo_data" / "synthetic", help="the demo's data")
    args = parser.parse_args(argv)
    stm = args.data / "preprocessed" / "phoenix2014-groundtruth-dev.stm"
    references = {line.split()[0]: line.split()[5:] for line in stm.read_text().splitlines()}
    ids = sorted(references)
    raw = args.data / "phoenix-2014-multisigner" / "features" / "fullFrame-210x260px" / "dev"
    clips = [raw / video / "1" for video in ids]
    reference = [gloss for video in ids for gloss in references[video]]
    checkpoint = args.run / "best_model.pt"
    rows = []
    with tempfile.TemporaryDirectory(prefix="slowfastsign_long_") as scratch:
        scratch = Path(scratch)
        subprocess.run([sys.executable, "main.py", "--config", "configs/demo.yaml", "--phase", "export",
                        "--load-weights", str(checkpoint), "--work-dir", str(scratch / "export"),
                        "synthetic.enabled=false", f"dataset_info.info_dir={args.data / 'preprocessed'}"],
                       cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        onnx = scratch / "export" / "model.onnx"
        one_by_one, _, _ = predict(onnx, args.data, scratch / "clips", [str(clip) for clip in clips])
        clip_hypotheses = [gloss for result in one_by_one for gloss in result["glosses"]]
        merged = [gloss for gloss, _ in itertools.groupby(clip_hypotheses)]
        frames = sum(result["num_frames"] for result in one_by_one)
        repeats = sum(references[a][-1] == references[b][0] for a, b in zip(ids, ids[1:]))
        rows += [Row(f"recording: the {len(ids)} demo dev clips one after another", f"{frames} frames, "
                     f"{len(reference)} glosses ({repeats} sentence boundaries repeat a gloss)"),
                 Row("clip by clip (each clip whole, as the test phase)", f"WER {wer(reference, clip_hypotheses):.2f}%"),
                 Row("clip by clip, hypotheses joined (repeats across boundaries merged, as one recording's are)",
                     f"WER {wer(reference, merged):.2f}%")]
        single = recording(clips, 1, scratch / "rec1")
        for window, overlap in SETTINGS:
            results, seconds, _ = predict(onnx, args.data, scratch / f"w{window}_{overlap}", [str(single)],
                                          f"predict_args.window={window}", f"predict_args.overlap={overlap}")
            rows.append(Row(f"recording in windows of {window}, overlap {overlap} (ONNX Runtime)",
                            f"WER {wer(reference, results[0]['glosses']):.2f}%, {seconds:.1f} s"))
        for copies in (1, 4, 16):
            long = single if copies == 1 else recording(clips, copies, scratch / f"rec{copies}")
            for name, weights in (("PyTorch", checkpoint), ("ONNX Runtime", onnx)):
                results, seconds, peak = predict(weights, args.data, scratch / f"{name}{copies}", [str(long)])
                rows.append(Row(f"{copies}x the recording ({copies * frames} frames), {name}: peak memory, time",
                                f"{peak:.2f} GB, {seconds:.1f} s ({results[0]['num_frames'] / seconds:.0f} frames/s)"))
    record("bench_long_recording", rows, notes=f"{load_note()}; demo model; default window 256, overlap 64; peak "
                                               f"resident memory of the whole predict process (glibc allocator)")


if __name__ == "__main__":
    run_benchmark(main)
