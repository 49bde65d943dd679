"""Bidirectional LSTM over packed sequences, so padding never leaks into the recurrence."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from modules.export_mode import exporting


class BiLSTMLayer(nn.Module):
    """2-layer BiLSTM; `hidden_size` is the concatenated output width (half per direction)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size // 2, num_layers=num_layers, dropout=dropout, bidirectional=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: T x B x D, lengths: (B,) -> T x B x hidden_size, zeros past each length. An ONNX export traces one
        clip of the whole length (deploy/export.py), for which packing changes nothing: the LSTM runs unpacked."""
        if exporting():
            return self.rnn(x)[0]
        packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        output, _ = self.rnn(packed)
        output, _ = pad_packed_sequence(output, total_length=x.shape[0])
        return output
