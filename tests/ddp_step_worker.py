"""One process of tests/test_ddp_steps.py, started by torchrun (gloo): trains the tiny model through the real
`training.trainer.train_epoch` on global batches dealt out by rank, and (rank 0) saves what the test compares.

    python -m torch.distributed.run --standalone --nproc_per_node N tests/ddp_step_worker.py OUT.pt

Every process also writes OUT.pt.collectives.rank<r>.json: how often it issued each collective.

Scenarios, each from the same initial weights:
- "skip": Adam with weight decay over three global batches whose third has no alignable clip, and over the
  first two alone: the parameters and optimizer state after each;
- "weigh": SGD over one global batch [alignable clip, clip too short for its label], BatchNorm frozen (its
  batch statistics are per process; SyncBatchNorm needs CUDA): the loss reported, the gradients and the
  parameters after the step;
- "accumulate": SGD over one global batch of four clips of four lengths, BatchNorm frozen, split into
  micro-batches of 4, 2 and 1 clips per process (accumulate_grad_batches 1, 2 and 4 in one process; 2 micro-
  batches of 1 clip each in two): loss, gradients and parameters after the step.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from collective_counter import count_collectives, save_counts  # noqa: E402
from conftest import tiny_backbone  # noqa: E402
from dataset.collate import PadCollate  # noqa: E402
from dataset.video_dataset import Sample  # noqa: E402
from modules.losses import SLRLoss  # noqa: E402
from tasks.recognition import RecognitionSteps  # noqa: E402
from training.trainer import train_epoch  # noqa: E402
from slr_network import SLRModel  # noqa: E402
from utils.checkpoint import unwrap  # noqa: E402
from utils.distributed import DistContext, cleanup, init_distributed  # noqa: E402
from utils.precision import Precision  # noqa: E402

FRAMES = 24  # 6 output steps: a clip with 7 distinct glosses cannot be aligned
NUM_CLASSES = 9


class FrozenBatchNormModel(SLRModel):
    """SLRModel whose BatchNorms stay in eval mode when training, so a clip's output does not depend on
    which other clips share its process."""

    def train(self, mode: bool = True) -> "FrozenBatchNormModel":
        super().train(mode)
        for module in self.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
        return self


def clip(seed: int, label: list[int], frames: int = FRAMES) -> Sample:
    generator = torch.Generator().manual_seed(seed)
    video = torch.randint(0, 256, (frames, 32, 32, 3), generator=generator, dtype=torch.uint8)
    return Sample(video, label, {"fileid": f"clip{seed}"})


ALIGNABLE = [[1, 2, 3], [4, 5], [2, 6, 2], [7, 8]]
TOO_LONG = [1, 2, 3, 4, 5, 6, 7]


def local_batches(global_batches: list[list[Sample]], context: DistContext) -> list:
    """This process's share of each global batch, collated as the training loader does."""
    collate = PadCollate()
    return [collate(samples[context.rank::context.world_size]) for samples in global_batches]


def build(model_class: type, context: DistContext) -> nn.Module:
    torch.manual_seed(0)
    model = model_class(NUM_CLASSES, tiny_backbone(), hidden_size=16, lstm_dropout=0.0)
    return nn.parallel.DistributedDataParallel(model) if context.distributed else model


def train(model: nn.Module, optimizer: torch.optim.Optimizer, batches: list, context: DistContext,
          on_step=None, accumulate: int = 1) -> None:
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    train_epoch(RecognitionSteps(SLRLoss(), unwrap(model).conv1d), model, batches, optimizer, scaler, context,
                epoch=0, precision=Precision(), log_interval=0, on_step=on_step, accumulate=accumulate)


def skip_scenario(context: DistContext) -> dict:
    global_batches = [[clip(0, ALIGNABLE[0]), clip(1, ALIGNABLE[1])], [clip(2, ALIGNABLE[2]), clip(3, ALIGNABLE[3])],
                      [clip(4, TOO_LONG), clip(5, TOO_LONG)]]
    results = {}
    for name, count in (("three_steps", 3), ("two_steps", 2)):
        model = build(SLRModel, context)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
        train(model, optimizer, local_batches(global_batches[:count], context), context)
        results[name] = {"parameters": {k: v.detach().clone() for k, v in unwrap(model).named_parameters()},
                         "optimizer": optimizer.state_dict()["state"]}
    return results


def one_sgd_step(context: DistContext, batches: list, accumulate: int = 1) -> dict:
    """Loss, parts, gradients and parameters of one SGD step of the frozen-BatchNorm model over `batches`."""
    model = build(FrozenBatchNormModel, context)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = {}

    def record(step: int, loss: float, parts: dict[str, float]) -> None:
        seen["loss"], seen["parts"] = loss, parts
        seen["gradients"] = {k: v.grad.detach().clone() for k, v in unwrap(model).named_parameters()}

    train(model, optimizer, batches, context, record, accumulate)
    seen["parameters"] = {k: v.detach().clone() for k, v in unwrap(model).named_parameters()}
    return seen


def weigh_scenario(context: DistContext) -> dict:
    return one_sgd_step(context, local_batches([[clip(0, ALIGNABLE[0]), clip(1, TOO_LONG)]], context))


UNEQUAL = [clip(index, label, frames) for index, (label, frames) in enumerate(zip(ALIGNABLE, (24, 41, 30, 17)))]


def accumulate_scenario(context: DistContext) -> dict:
    """One global batch of four clips of four lengths as micro-batches of `size` clips per process."""
    share = UNEQUAL[context.rank::context.world_size]
    results = {}
    for size in (4, 2, 1):
        if size > len(share):
            continue
        micro = [share[start:start + size] for start in range(0, len(share), size)]
        results[size] = one_sgd_step(context, [PadCollate()(samples) for samples in micro], accumulate=len(micro))
    return results


def main(out: str) -> int:
    context = init_distributed("cpu")
    counts = count_collectives()
    results = {"world_size": context.world_size, "skip": skip_scenario(context), "weigh": weigh_scenario(context),
               "accumulate": accumulate_scenario(context)}
    if context.is_main:
        torch.save(results, out)
    save_counts(counts, f"{out}.collectives.rank{context.rank}.json")
    cleanup(context)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
