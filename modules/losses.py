"""Training losses: CTC on every branch, self-distillation, and the PFE auxiliary terms."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from utils.config.schema import LOSS_KEYS, LossWeights

logger = logging.getLogger(__name__)


class BranchLogits(Protocol):
    """What the loss reads from the model's output (slr_network.SLROutput): time-major logits per branch,
    [main] or [main, slow, fast], and the feature length of each clip."""

    feat_len: torch.Tensor
    conv_logits: list[torch.Tensor]
    sequence_logits: list[torch.Tensor]


class SeqKD(nn.Module):
    """KL(student || teacher) over frames at temperature T, times T^2, batchmean over B*T rows.

    The blank column is dropped when `use_blank` is False, so distillation transfers
    only how the gloss classes rank against each other.
    """

    def __init__(self, temperature: float = 8.0) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor, use_blank: bool = False,
                rows: int | None = None) -> torch.Tensor:
        """`rows`: the number of B*T rows to average over, when it is not this tensor's own (under DDP, the
        global batch's); the sum is then divided by it instead of taking the batch mean."""
        start = 0 if use_blank else 1
        num_classes = student_logits.shape[-1] - start
        t = self.temperature
        student = F.log_softmax(student_logits[..., start:].float() / t, dim=-1).reshape(-1, num_classes)
        teacher = F.softmax(teacher_logits[..., start:].float() / t, dim=-1).reshape(-1, num_classes)
        if rows is None or rows == student.shape[0]:
            return F.kl_div(student, teacher, reduction="batchmean") * t * t
        return F.kl_div(student, teacher, reduction="sum") / rows * t * t


def ctc_required_length(label: Sequence) -> int:
    """Shortest input a CTC alignment of `label` (class indices or glosses) needs: one step per label plus a
    blank between repeats."""
    return len(label) + sum(a == b for a, b in zip(label, label[1:]))


def ctc_required_lengths(labels: torch.Tensor, label_lengths: torch.Tensor) -> torch.Tensor:
    """ctc_required_length of each label of a batch (labels concatenated, as CTC takes them)."""
    return torch.tensor([ctc_required_length(label.tolist()) for label in
                         torch.split(labels.cpu(), label_lengths.cpu().tolist())], dtype=torch.long)


@dataclass(frozen=True)
class LossScale:
    """What the loss terms average over: CTC over `ctc_samples` alignable clips, distillation over `kd_rows`
    frame rows (B x T). In one process these are the batch's own; with several processes or micro-batches
    the whole global batch's, every micro-batch padded to the global batch's longest clip
    (tasks/recognition.RecognitionSteps), so that the terms add up to the loss one process would compute on
    that batch. That holds exactly (to float rounding) when the clips' features do too: with BatchNorm in training mode each
    micro-batch is normalised by its own statistics, and dropout masks differ (docs/METHOD.md, "Several
    processes, gradient accumulation")."""

    ctc_samples: int
    kd_rows: int


@dataclass(frozen=True)
class Alignability:
    """Which clips of a batch CTC can align at all (at least one output step per gloss and one between
    repeats), worked out once per batch: the training loop reduces its `scale` across processes before the
    loss uses the rest."""

    feat_len: torch.Tensor  # CPU int64 (B,)
    label_lengths: torch.Tensor  # CPU int64 (B,)
    required: torch.Tensor  # CPU int64 (B,)
    kd_rows: int

    @property
    def feasible(self) -> torch.Tensor:
        return self.feat_len >= self.required

    @property
    def scale(self) -> LossScale:
        """This batch's own counts: its alignable clips and its distillation rows (steps x clips)."""
        return LossScale(int(self.feasible.sum()), self.kd_rows)


def batch_alignability(feat_len: torch.Tensor, labels: torch.Tensor, label_lengths: torch.Tensor,
                       kd_rows: int) -> Alignability:
    """Which clips of a batch CTC can align, from the clips' output lengths (the model's, or the temporal head's
    rule applied to the padded input lengths before any forward pass) and their labels; `kd_rows`: the
    distillation's frame rows (output steps x clips)."""
    label_lengths = label_lengths.cpu()
    return Alignability(feat_len.cpu(), label_lengths, ctc_required_lengths(labels, label_lengths), kd_rows)


@dataclass
class LossResult:
    """Weighted total and its parts; `excluded` names samples left out as CTC-infeasible."""

    total: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)


class SLRLoss:
    """SeqCTC + ConvCTC + Dist on the main branch, and Slow/Fast times the same three on theirs.

    As in the official training, the Slow and Fast terms multiply the SeqCTC, ConvCTC
    and Dist weights: Slow * (SeqCTC_w * CTC + ConvCTC_w * CTC + Dist_w * KD). CTC is
    averaged over the samples that can be aligned at all; the others are named in a
    warning and left out, so one short clip never turns the loss into inf or NaN.
    Under DDP each process passes the global batch's LossScale, so its loss is its
    share of the global batch's loss.
    """

    def __init__(self, weights: Mapping[str, float] | None = None, blank: int = 0, kd_temperature: float = 8.0) -> None:
        weights = LossWeights().active() if weights is None else dict(weights)
        unknown = sorted(set(weights) - set(LOSS_KEYS))
        if unknown:
            raise ValueError(f"unknown loss weight(s) {unknown}; valid: {list(LOSS_KEYS)}")
        self.weights = weights
        self.blank = blank
        self.distillation = SeqKD(kd_temperature)

    def _ctc(self, logits: torch.Tensor, keep: torch.Tensor, labels: torch.Tensor, feat_len: torch.Tensor,
             label_lengths: torch.Tensor, samples: int) -> torch.Tensor:
        """Per-clip CTC of the kept clips, averaged over `samples` clips (the mean, as officially, when those
        are all). With no kept clip (another process has them) it is a zero that still reaches every logit,
        so DDP reduces gradients for every parameter."""
        if keep.numel() == 0:
            return logits.float().sum() * 0.0
        log_probs = logits[:, keep].float().log_softmax(-1)
        losses = F.ctc_loss(
            log_probs, labels, feat_len, label_lengths, blank=self.blank, reduction="none", zero_infinity=False,
        )
        return losses.mean() if samples == keep.numel() else losses.sum() / samples

    def _branch_terms(
        self, conv_logits: torch.Tensor, seq_logits: torch.Tensor, keep: torch.Tensor,
        labels: torch.Tensor, feat_len: torch.Tensor, label_lengths: torch.Tensor, scale: LossScale,
    ) -> dict[str, torch.Tensor]:
        terms = {}
        args = (keep, labels, feat_len, label_lengths, scale.ctc_samples)
        if self.weights.get("SeqCTC", 0.0):
            terms["SeqCTC"] = self._ctc(seq_logits, *args)
        if self.weights.get("ConvCTC", 0.0):
            terms["ConvCTC"] = self._ctc(conv_logits, *args)
        if self.weights.get("Dist", 0.0):
            terms["Dist"] = self.distillation(conv_logits, seq_logits.detach(), use_blank=False, rows=scale.kd_rows)
        return terms

    @staticmethod
    def alignability(output: BranchLogits, labels: torch.Tensor, label_lengths: torch.Tensor) -> Alignability:
        """The batch's alignability read off the model's output."""
        steps, clips = output.conv_logits[0].shape[:2]
        return batch_alignability(output.feat_len, labels, label_lengths, steps * clips)

    def outputs_read(self) -> set[tuple[str, int]]:
        """The model outputs the active terms take gradients through: ("sequence" or "conv", branch), branch 0
        main, 1 slow, 2 fast. Distillation reads the conv logits only (its teacher is detached)."""
        branches = [0] + [branch for branch, key in ((1, "Slow"), (2, "Fast")) if self.weights.get(key, 0.0)]
        read = set()
        for branch in branches:
            if self.weights.get("SeqCTC", 0.0):
                read.add(("sequence", branch))
            if self.weights.get("ConvCTC", 0.0) or self.weights.get("Dist", 0.0):
                read.add(("conv", branch))
        return read

    def __call__(
        self, output: BranchLogits, labels: torch.Tensor, label_lengths: torch.Tensor,
        names: Sequence[str] | None = None, scale: LossScale | None = None,
        alignability: Alignability | None = None,
    ) -> LossResult | None:
        """The loss of this batch, averaged as `scale` says (default: over this batch alone); None when
        nothing is left to average (no clip of the batch can be aligned and no scale was given).
        `alignability`: the batch's, when the caller has already worked it out."""
        alignability = alignability or self.alignability(output, labels, label_lengths)
        feat_len, label_lengths, feasible = alignability.feat_len, alignability.label_lengths, alignability.feasible
        names = list(names) if names is not None else [f"sample {i}" for i in range(len(feat_len))]
        excluded = [i for i in range(len(feasible)) if not feasible[i]]
        if excluded:
            details = ", ".join(f"{names[i]} (feature length {int(feat_len[i])} < {int(alignability.required[i])})"
                                for i in excluded)
            logger.warning("CTC-infeasible sample(s) left out of the loss (clip too short for its label): %s", details)
        scale = scale or alignability.scale
        if scale.ctc_samples == 0:
            return None
        keep = feasible.nonzero().squeeze(1)
        kept_labels = torch.cat([torch.empty(0, dtype=labels.dtype)] + [
            chunk for chunk, ok in zip(torch.split(labels.cpu(), label_lengths.tolist()), feasible) if ok
        ])
        device = output.sequence_logits[0].device
        args = (keep.to(device), kept_labels.to(device), feat_len[keep].to(device), label_lengths[keep].to(device),
                scale)

        parts: dict[str, torch.Tensor] = {}
        main = self._branch_terms(output.conv_logits[0], output.sequence_logits[0], *args)
        total = sum(self.weights[k] * v for k, v in main.items())
        parts.update(main)
        for branch, key in ((1, "Slow"), (2, "Fast")):
            weight = self.weights.get(key, 0.0)
            if not weight or len(output.sequence_logits) <= branch:
                continue
            terms = self._branch_terms(output.conv_logits[branch], output.sequence_logits[branch], *args)
            branch_loss = sum(self.weights[k] * v for k, v in terms.items())
            parts[key] = branch_loss
            total = total + weight * branch_loss
        return LossResult(total=total, parts=parts, excluded=[names[i] for i in excluded])
