"""PyTorch against ONNX Runtime for recognition on the CPU, side by side in one run: the paper's R101 at 224 and
the demo's model at 64, one clip of `--frames` frames, the same input to both (an exported graph and the model it
came from), after a warm-up. Frames per second and times real time at 25 fps, threads stated.

    python -m benchmarks.bench_onnx [--frames 64] [--repeats 3]
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import Row, load_note, median_time, record, released_num_classes, run_benchmark
from deploy.export import RecognizerGraph, export_onnx
from deploy.onnx_format import INPUT_NAME, OUTPUT_NAME, session_providers
from slr_network import SLRModel
from utils.cli import ArgumentParser
from utils.config.merge import REPO_ROOT, backbone_from_yaml
from utils.kernel_spec import pad_to_stride

MODELS = {"R101, 224x224": ("slowfast_r101_64x2.yaml", 224, 1024), "demo model, 64x64": ("slowfast_tiny.yaml", 64, 128)}


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=64, help="frames of the clip")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per runtime (median)")
    args = parser.parse_args(argv)
    import onnxruntime

    rows = []
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="slowfastsign_onnx_") as scratch:
        for name, (backbone, size, hidden) in MODELS.items():
            torch.manual_seed(0)
            model = SLRModel(released_num_classes(), backbone_from_yaml(REPO_ROOT / "configs" / "backbone" / backbone),
                             hidden_size=hidden).eval()
            path = Path(scratch) / f"{backbone}.onnx"
            export_onnx(model, path, {}, input_size=size, left_pad=6, stride=4, verify_frames=[16], tolerance=1e-3,
                        opset=17)
            clip = np.random.default_rng(0).integers(0, 256, (1, pad_to_stride(args.frames, 6, 4), size, size, 3),
                                                     dtype=np.uint8)
            graph = RecognizerGraph(model)
            with torch.no_grad():
                expected = graph(torch.from_numpy(clip)).numpy()
                seconds_torch = median_time(lambda: graph(torch.from_numpy(clip)), args.repeats)
            timings = [("PyTorch", seconds_torch)]
            for provider in reversed(session_providers()):  # the plain CPU provider, then OpenVINO's when installed
                session = onnxruntime.InferenceSession(str(path), providers=[provider])
                label = f"ONNX Runtime, {provider if isinstance(provider, str) else provider[0]}"
                got = session.run([OUTPUT_NAME], {INPUT_NAME: clip})[0]
                timings.append((label, median_time(lambda: session.run([OUTPUT_NAME], {INPUT_NAME: clip}), args.repeats)))
                same = bool((got.argmax(-1) == expected.argmax(-1)).all())
                rows.append(Row(f"{name}, {label}: same best class as PyTorch at every output step, largest logit "
                                f"difference", f"{'yes' if same else 'NO'}, {float(abs(got - expected).max()):.1e}",
                                "yes", same))
            for label, seconds in timings:
                fps = args.frames / seconds
                rows.append(Row(f"{name}, {args.frames} frames, {label}", f"{fps:.1f} frames/s, {fps / 25:.2f}x real "
                                                                         f"time at 25 fps ({seconds:.2f} s)"))
            best_label, best = min(timings[1:], key=lambda item: item[1])
            rows.append(Row(f"{name}: {best_label} / PyTorch speed", f"{seconds_torch / best:.2f}x",
                            ">= 1.3x" if name.startswith("R101") else "",
                            seconds_torch / best >= 1.3 if name.startswith("R101") else None))

    record("bench_onnx", rows, notes=f"{load_note()}; PyTorch {threads} threads (its oneDNN convolutions); ONNX "
                                     f"Runtime {onnxruntime.__version__} with its default threads and graph "
                                     f"optimisations, OpenVINO's provider on the CPU device; median of "
                                     f"{args.repeats} after a warm-up; random weights (speed does not depend on them)")


if __name__ == "__main__":
    run_benchmark(main)
