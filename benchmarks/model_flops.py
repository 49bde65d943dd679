"""Multiply-adds of the SlowFast backbone per clip, counted by fvcore on the traced graph.

    python -m benchmarks.model_flops [--frames 32] [--size 224]

fvcore's default handles know `aten::_convolution`; modules/conv3d.py calls oneDNN's
convolution operator directly on the CPU, so it gets the same convolution rule here.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any

import torch
from fvcore.nn import FlopCountAnalysis
from fvcore.nn.jit_handles import conv_flop_count, get_shape
from torch import nn

from benchmarks.common import Row, record, released_num_classes, run_benchmark
from utils.cli import ArgumentParser


def _mkldnn_convolution(inputs: list[Any], outputs: list[Any]) -> int:
    return conv_flop_count(get_shape(inputs[0]), get_shape(inputs[1]), get_shape(outputs[0]), False)


def count_multiply_adds(module: nn.Module, *inputs: torch.Tensor) -> dict[str, int]:
    """Multiply-adds of `module(*inputs)` per operator (fvcore counts one multiply-add as one "flop")."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("fvcore").setLevel(logging.ERROR)
        analysis = FlopCountAnalysis(module.eval(), inputs).set_op_handle("aten::mkldnn_convolution",
                                                                           _mkldnn_convolution)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return dict(analysis.by_operator())


def backbone_multiply_adds(model: nn.Module, frames: int, size: int = 224) -> int:
    """Multiply-adds of the SlowFast backbone for one clip of `frames` frames of size x size."""
    with torch.no_grad():
        return sum(count_multiply_adds(model.backbone, torch.zeros(1, 3, frames, size, size)).values())


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args(argv)
    from slr_network import SLRModel
    from utils.config.merge import backbone_from_yaml, resolve_path
    from utils.config.schema import SlowFastConfig

    rows = []
    for name, backbone in (("R101 64x2 (the paper)", SlowFastConfig()),
                           ("demo (configs/backbone/slowfast_tiny.yaml)",
                            backbone_from_yaml(resolve_path("configs/backbone/slowfast_tiny.yaml")))):
        total = backbone_multiply_adds(SLRModel(released_num_classes(), backbone), args.frames, args.size)
        rows += [Row(f"{name}: multiply-adds per {args.frames}-frame {args.size}x{args.size} clip", f"{total / 1e9:.2f} G"),
                 Row(f"{name}: multiply-adds per frame", f"{total / args.frames / 1e9:.3f} G")]
    record("model_flops", rows, notes="fvcore FlopCountAnalysis of the backbone's forward pass (one multiply-add "
                                      "counted once); convolutions and BatchNorm, no temporal head or BiLSTM")


if __name__ == "__main__":
    run_benchmark(main)
