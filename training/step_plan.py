"""One optimiser step agreed by every process before any forward pass.

A step's global batch is every process's micro-batches (accumulate_grad_batches of them each). One collective
tells every process whether any micro-batch came without a readable clip (the step is then skipped everywhere:
a process that skipped its forward pass alone would leave the others waiting in DDP), the longest padded clip
(every micro-batch is padded to it, so each clip sees the padding one batch would give it and the distillation
averages over the rows one batch would have), how many clips CTC can align (the mean's denominator), and
whether to checkpoint or stop before this step. The feature lengths come from the temporal head's rule, before
the model runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from dataset.collate import Batch
from modules.losses import Alignability, LossScale, batch_alignability, ctc_required_lengths
from modules.temporal_conv import TemporalConv
from utils.distributed import DistContext, gather_values
from utils.kernel_spec import feature_length


@dataclass
class StepPlan:
    """This process's share of one optimiser step and what all processes agreed about the whole."""

    batches: list[Batch]  # this process's micro-batches, padded to the global batch's length
    alignability: list[Alignability]
    scale: LossScale  # what the global batch's loss averages over
    bad_samples: int  # unreadable samples left out of this process's micro-batches
    missing: bool  # some process has a micro-batch without any readable clip
    stop: bool
    save: bool


def plan_step(context: DistContext, micro_batches: Sequence[Batch | None], head: TemporalConv, *, stop: bool,
              save: bool) -> StepPlan:
    """Agree on one optimiser step (module docstring); `stop` and `save` are this process's wishes, granted
    to all when any process has them."""
    present = [batch for batch in micro_batches if batch is not None and not batch.is_empty]
    bad = sum(batch.skipped for batch in micro_batches if batch is not None)
    length = max((batch.video.shape[1] for batch in present), default=0)
    feat_lens = [head.output_lengths(batch.video_length) for batch in present]
    samples = sum(int((feat_len >= ctc_required_lengths(batch.label, batch.label_length)).sum())
                  for feat_len, batch in zip(feat_lens, present))
    clips = sum(batch.video.shape[0] for batch in present)
    rows = gather_values(context, [len(present) < len(micro_batches), length, samples, clips, stop, save])
    missing, length, stop, save = (any(row[0] for row in rows), int(max(row[1] for row in rows)),
                                   any(row[4] for row in rows), any(row[5] for row in rows))
    steps = feature_length(length, head.layers)
    padded = [] if missing else [batch.padded_to(length) for batch in present]
    alignability = [batch_alignability(feat_len, batch.label, batch.label_length, steps * batch.video.shape[0])
                    for feat_len, batch in zip(feat_lens, padded)]
    scale = LossScale(int(sum(row[2] for row in rows)), steps * int(sum(row[3] for row in rows)))
    return StepPlan(padded, alignability, scale, bad, missing, stop, save)
