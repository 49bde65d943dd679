"""SLRModel: SlowFast backbone -> PFE temporal convs -> BiLSTMs -> NormLinear classifiers, and for joint
Sign2(Gloss+Text) a translation transformer reading the main branch's BiLSTM features (`translator`).

Parameter names match the official SlowFastSign checkpoints, so a released
`model_state_dict` loads with strict=True (a model without a translator has exactly their keys).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import nn

from modules.bilstm import BiLSTMLayer
from modules.norm_linear import NormLinear
from modules.slowfast import SlowFast, SlowFastConfig
from modules.temporal_conv import TemporalConv
from utils.config.schema import ModelArgs
from utils.kernel_spec import parse_kernel_spec

DEFAULTS = ModelArgs()  # the schema owns every default


@dataclass
class SLROutput:
    """Model outputs; per-branch lists are [main, slow, fast] in training and [main] in eval.

    Logits are time-major (T' x B x num_classes), as the CTC loss and decoders expect.
    """

    feat_len: torch.Tensor
    conv_logits: list[torch.Tensor]
    sequence_logits: list[torch.Tensor]
    framewise_features: torch.Tensor
    visual_features: list[torch.Tensor]
    sequence_features: list[torch.Tensor]  # the BiLSTM outputs (T' x B x hidden), what the classifiers read


class SLRModel(nn.Module):
    """The SlowFastSign recogniser; decoding and losses live outside the model."""

    def __init__(
        self, num_classes: int, backbone: SlowFastConfig | None = None, kernel_spec: str | Sequence[str] = DEFAULTS.conv_type,
        hidden_size: int = DEFAULTS.hidden_size, share_classifier: bool = DEFAULTS.share_classifier,
        lstm_dropout: float = DEFAULTS.lstm_dropout, activation_checkpointing: Sequence[str] | bool = (),
        translator: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.conv2d = SlowFast(backbone or SlowFastConfig(), activation_checkpointing)
        slow_dim, fast_dim = self.conv2d.output_dims
        self.conv1d = TemporalConv(slow_dim, fast_dim, hidden_size, parse_kernel_spec(kernel_spec))
        self.temporal_model = nn.ModuleList(
            [BiLSTMLayer(hidden_size, hidden_size, num_layers=2, dropout=lstm_dropout) for _ in range(3)]
        )
        self.classifier = nn.ModuleList([NormLinear(hidden_size, num_classes) for _ in range(3)])
        self.conv1d.use_classifiers(
            self.classifier if share_classifier
            else nn.ModuleList([NormLinear(hidden_size, num_classes) for _ in range(3)])
        )
        if translator is not None:  # registered last: the recogniser's parameters keep their order
            self.translator = translator

    @property
    def backbone(self) -> SlowFast:
        """The SlowFast backbone (`conv2d` in the official parameter names): `model.backbone(x)` gives the
        per-frame features, B x (C_slow + C_fast) x T, that feature extraction saves."""
        return self.conv2d

    def output_modules(self, kind: str, branch: int) -> list[nn.Module]:
        """The modules an output runs through: kind "sequence" (BiLSTM logits) or "conv" (temporal-conv logits)
        of branch 0 (main), 1 (slow) or 2 (fast)."""
        temporal = (self.conv1d.main_temporal_conv, self.conv1d.slow_temporal_conv, self.conv1d.fast_temporal_conv)
        if kind == "conv":
            return [self.conv2d, temporal[branch], self.conv1d.fc[branch]]
        return [self.conv2d, temporal[branch], self.temporal_model[branch], self.classifier[branch]]

    def parameters_outside(self, outputs: Iterable[tuple[str, int]]) -> list[str]:
        """Names (as named_parameters gives them) of the parameters none of `outputs` depends on, so a loss
        reading only those outputs gives them no gradient (e.g. the slow and fast heads when loss_weights sets
        no Slow or Fast term): DDP must leave them out of its gradient reduction. The outputs must include
        one of the main branch, which depends on the whole backbone."""
        reached = {id(parameter) for kind, branch in outputs for module in self.output_modules(kind, branch)
                   for parameter in module.parameters()}
        return [name for name, parameter in self.named_parameters() if id(parameter) not in reached]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> SLROutput:
        """x: B x 3 x T x H x W (padded clips), lengths: (B,) padded frame counts."""
        framewise = self.conv2d(x)
        conv_out = self.conv1d(framewise, lengths)
        sequence_features = [self.temporal_model[i](feat, conv_out.feat_len) for i, feat in enumerate(conv_out.visual_feat)]
        sequence_logits = [self.classifier[i](features) for i, features in enumerate(sequence_features)]
        return SLROutput(
            feat_len=conv_out.feat_len,
            conv_logits=conv_out.conv_logits,
            sequence_logits=sequence_logits,
            framewise_features=framewise,
            visual_features=conv_out.visual_feat,
            sequence_features=sequence_features,
        )
