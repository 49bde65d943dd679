"""The optimiser and learning-rate schedule of every task, from optimizer_args: the official Adam and multistep
schedule for recognition; the transformer's warm-up schedule for translation."""
from __future__ import annotations

from typing import Any

import torch

from utils.config.schema import Config


def noam_factor(step: int, warmup: int) -> float:
    """The learning rate of optimiser step `step` (0-based) over base_lr: linear warm-up for `warmup` steps to 1,
    then the inverse square root of the step (Vaswani et al.'s schedule, peak = base_lr)."""
    step = step + 1
    return min(step / warmup, (warmup / step) ** 0.5)


def build_optimizer(config: Config, model: torch.nn.Module,
                    device: torch.device = torch.device("cpu")) -> tuple[torch.optim.Optimizer, Any]:
    """The optimiser and schedule; Adam runs its fused kernel on CUDA (same update, fewer launches). The noam
    schedule steps after every optimiser step, the others after every epoch (`per_step_schedule`)."""
    args = config.optimizer_args
    params = [p for p in model.parameters() if p.requires_grad]
    if args.optimizer == "Adam":
        fused = True if args.fused and device.type == "cuda" else None
        optimizer = torch.optim.Adam(params, lr=args.base_lr, weight_decay=args.weight_decay, fused=fused,
                                     betas=tuple(args.betas))
    else:
        optimizer = torch.optim.SGD(params, lr=args.base_lr, weight_decay=args.weight_decay,
                                    momentum=args.momentum, nesterov=args.nesterov)
    if args.scheduler == "multistep":
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(args.step), gamma=args.gamma)
    elif args.scheduler == "noam":
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: noam_factor(step, args.warmup_steps))
    else:
        # the official eta_min: base_lr * 0.025
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.num_epoch),
                                                               eta_min=args.base_lr * 0.025)
    return optimizer, scheduler


def per_step_schedule(config: Config) -> bool:
    return config.optimizer_args.scheduler == "noam"
