"""The translation transformer: a pre-norm encoder-decoder (as signjoey's), whose encoder reads either gloss ids
(gloss-to-text) or the recognition network's per-step features (joint Sign2(Gloss+Text)).

Decoding runs one step at a time on cached keys and values (`DecoderState`), so beam search costs one token per
step; `decode_step` and the teacher-forced `forward` share every layer and give the same numbers (tested).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from translation.spec import TranslatorShape
from translation.vocabulary import PAD_ID

NEGATIVE_INFINITY = -1e9  # masked attention scores; finite, so a fully masked row stays a number


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """The transformer's fixed position encoding, length x width."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return table


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention over `heads` heads; keys and values can be projected once and reused."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.heads, self.head_width = heads, width // heads
        self.query, self.key, self.value, self.output = (nn.Linear(width, width) for _ in range(4))
        self.dropout = nn.Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_width).transpose(1, 2)

    def keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of `x` (N x S x width), each N x heads x S x head_width."""
        return self._split(self.key(x)), self._split(self.value(x))

    def attend(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """Queries from `x` (N x T x width) over `keys`/`values`; `allowed`: N x (1 or T) x S booleans."""
        query = self._split(self.query(x)) / math.sqrt(self.head_width)
        scores = query @ keys.transpose(-1, -2)
        scores = scores.masked_fill(~allowed[:, None], NEGATIVE_INFINITY)
        weights = self.dropout(scores.softmax(-1))
        context = (weights @ values).transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
        return self.output(context)


class FeedForward(nn.Sequential):
    def __init__(self, width: int, hidden: int, dropout: float) -> None:
        super().__init__(nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, width))


class EncoderLayer(nn.Module):
    def __init__(self, width: int, heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.attention_norm, self.feed_forward_norm = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attention = MultiHeadAttention(width, heads, dropout)
        self.feed_forward = FeedForward(width, hidden, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        normed = self.attention_norm(x)
        x = x + self.dropout(self.attention.attend(normed, *self.attention.keys_values(normed), allowed))
        return x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))


class DecoderLayer(nn.Module):
    def __init__(self, width: int, heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.self_norm, self.cross_norm, self.feed_forward_norm = (nn.LayerNorm(width) for _ in range(3))
        self.self_attention = MultiHeadAttention(width, heads, dropout)
        self.cross_attention = MultiHeadAttention(width, heads, dropout)
        self.feed_forward = FeedForward(width, hidden, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, self_keys: torch.Tensor, self_values: torch.Tensor, self_allowed: torch.Tensor,
                memory_keys: torch.Tensor, memory_values: torch.Tensor, memory_allowed: torch.Tensor,
                normed: torch.Tensor) -> torch.Tensor:
        """`normed` is self_norm(x), whose keys and values (with the earlier steps') are `self_keys`/`self_values`."""
        x = x + self.dropout(self.self_attention.attend(normed, self_keys, self_values, self_allowed))
        x = x + self.dropout(self.cross_attention.attend(self.cross_norm(x), memory_keys, memory_values,
                                                          memory_allowed))
        return x + self.dropout(self.feed_forward(self.feed_forward_norm(x)))


@dataclass
class Memory:
    """The encoder's output as every decoder layer reads it: per layer its keys and values, and which source
    steps are real (N x S)."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    mask: torch.Tensor


class TranslationTransformer(nn.Module):
    """Encoder-decoder transformer. `source_vocabulary` > 0: the encoder embeds token ids; `source_features` > 0:
    it projects feature vectors (the recognition network's BiLSTM output) instead."""

    def __init__(self, target_vocabulary: int, shape: TranslatorShape, source_vocabulary: int = 0,
                 source_features: int = 0) -> None:
        super().__init__()
        if (source_vocabulary > 0) == (source_features > 0):
            raise ValueError("the encoder reads either token ids or features")
        width = shape.width
        self.shape = shape
        self.source_embedding = (nn.Embedding(source_vocabulary, width, padding_idx=PAD_ID) if source_vocabulary
                                 else nn.Linear(source_features, width))
        self.target_embedding = nn.Embedding(target_vocabulary, width, padding_idx=PAD_ID)
        self.register_buffer("positions", sinusoidal_positions(shape.max_length, width), persistent=False)
        self.embedding_dropout = nn.Dropout(shape.embedding_dropout)
        self.encoder_layers = nn.ModuleList(EncoderLayer(width, shape.heads, shape.feed_forward, shape.dropout)
                                            for _ in range(shape.encoder_layers))
        self.encoder_norm = nn.LayerNorm(width)
        self.decoder_layers = nn.ModuleList(DecoderLayer(width, shape.heads, shape.feed_forward, shape.dropout)
                                            for _ in range(shape.decoder_layers))
        self.decoder_norm = nn.LayerNorm(width)
        self.output = nn.Linear(width, target_vocabulary, bias=False)
        self._initialise()
        if shape.tie_output:
            self.output.weight = self.target_embedding.weight

    def _initialise(self) -> None:
        """Xavier-uniform matrices (OpenNMT's `param_init_glorot`, as Yin & Read), zero biases, unit norms."""
        for name, parameter in self.named_parameters():
            if parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)
            elif "norm" not in name:
                nn.init.zeros_(parameter)
        for embedding in (self.source_embedding, self.target_embedding):
            if isinstance(embedding, nn.Embedding):
                with torch.no_grad():
                    embedding.weight[PAD_ID].zero_()

    def _embed(self, embedded: torch.Tensor, offset: int = 0) -> torch.Tensor:
        length = embedded.shape[1]
        if offset + length > self.positions.shape[0]:
            raise ValueError(f"sequence of {offset + length} steps is longer than the model's {self.positions.shape[0]}")
        scaled = embedded * math.sqrt(self.shape.width) + self.positions[offset:offset + length]
        return self.embedding_dropout(scaled)

    def encode(self, source: torch.Tensor, source_lengths: torch.Tensor) -> Memory:
        """`source`: N x S token ids, or N x S x F features; `source_lengths`: N real lengths."""
        steps = source.shape[1]
        mask = torch.arange(steps, device=source.device)[None] < source_lengths.to(source.device)[:, None]
        x = self._embed(self.source_embedding(source))
        for layer in self.encoder_layers:
            x = layer(x, mask[:, None])
        x = self.encoder_norm(x)
        keys, values = zip(*(layer.cross_attention.keys_values(x) for layer in self.decoder_layers))
        return Memory(list(keys), list(values), mask)

    def forward(self, source: torch.Tensor, source_lengths: torch.Tensor, target_input: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits N x T x V for every position of `target_input` (N x T, starting with <s>)."""
        memory = self.encode(source, source_lengths)
        steps = target_input.shape[1]
        causal = torch.ones(steps, steps, dtype=torch.bool, device=target_input.device).tril()[None]
        x = self._embed(self.target_embedding(target_input))
        for index, layer in enumerate(self.decoder_layers):
            normed = layer.self_norm(x)
            keys, values = layer.self_attention.keys_values(normed)
            x = layer(x, keys, values, causal, memory.keys[index], memory.values[index], memory.mask[:, None], normed)
        return self.output(self.decoder_norm(x))

    def decode_step(self, tokens: torch.Tensor, step: int | torch.Tensor, cache: list[torch.Tensor], memory: Memory
                    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One decoding step for N hypotheses: `tokens` (N) the previous output (<s> at step 0), `step` its position
        (an int, or a 0-d tensor when traced for ONNX), `cache` the earlier steps' self-attention keys and values
        (two per layer, N x heads x step x head_width; empty, or zero steps long, at step 0). Returns
        log-probabilities N x V of the next token and the cache with this step added."""
        position = self.positions.index_select(0, torch.as_tensor(step, device=tokens.device).reshape(1))
        x = self.embedding_dropout(self.target_embedding(tokens[:, None]) * math.sqrt(self.shape.width) + position)
        new_cache = []
        for index, layer in enumerate(self.decoder_layers):
            normed = layer.self_norm(x)
            keys, values = layer.self_attention.keys_values(normed)
            if cache:
                keys = torch.cat([cache[2 * index], keys], dim=2)
                values = torch.cat([cache[2 * index + 1], values], dim=2)
            new_cache += [keys, values]
            allowed = torch.ones_like(keys[:, 0, :, 0], dtype=torch.bool)[:, None]  # N x 1 x (step + 1)
            x = layer(x, keys, values, allowed, memory.keys[index], memory.values[index], memory.mask[:, None],
                      normed)
        return self.output(self.decoder_norm(x))[:, 0].float().log_softmax(-1), new_cache
