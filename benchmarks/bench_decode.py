"""Greedy vs beam-search (width 10) CTC decoding of 540 sentences x 40 steps x 1296 classes.

Run from the repository root: `python -m benchmarks.bench_decode`.
"""
from __future__ import annotations

import time

import torch

from benchmarks.common import Row, load_note, record
from utils.decode import CTCDecoder

SENTENCES, STEPS, CLASSES, BATCH = 540, 40, 1296, 10


def peaked_scores(seed: int = 0) -> torch.Tensor:
    """Model-like scores: mostly blank-dominated frames with one confident gloss now and then."""
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(STEPS, SENTENCES, CLASSES, generator=generator)
    scores[:, :, 0] += 6.0
    emit = torch.rand(STEPS, SENTENCES, generator=generator) < 0.3
    labels = torch.randint(1, CLASSES, (STEPS, SENTENCES), generator=generator)
    scores.scatter_add_(2, labels.unsqueeze(-1), emit.unsqueeze(-1).float() * 9.0)
    return scores


def time_decoder(decoder: CTCDecoder, scores: torch.Tensor) -> tuple[float, list[list[int]]]:
    lengths = torch.full((BATCH,), STEPS, dtype=torch.long)
    outputs = []
    start = time.perf_counter()
    for first in range(0, scores.shape[1], BATCH):
        outputs += [o.ids for o in decoder.decode(scores[:, first:first + BATCH], lengths)]
    return time.perf_counter() - start, outputs


def main() -> None:
    torch.set_num_threads(1)
    gloss_dict = {f"G{i}": i for i in range(1, CLASSES)}
    scores = peaked_scores()
    greedy_s, greedy_ids = time_decoder(CTCDecoder(gloss_dict, CLASSES, search_mode="greedy"), scores)
    beam_s, beam_ids = time_decoder(CTCDecoder(gloss_dict, CLASSES, beam_width=10), scores)
    full_s, full_ids = time_decoder(CTCDecoder(gloss_dict, CLASSES, beam_width=10, token_beam=CLASSES),
                                    scores[:, :60])
    differ = sum(a != b for a, b in zip(greedy_ids, beam_ids))
    rows = [
        Row("greedy, 540 x 40 x 1296", f"{greedy_s:.3f} s"),
        Row("beam 10 (top-40 tokens/step, ctcdecode default)", f"{beam_s:.3f} s"),
        Row("beam 10, all 1296 tokens/step (60 sentences)", f"{full_s:.3f} s",
            f"~{full_s * SENTENCES / 60:.1f} s for 540"),
        Row("sentences where beam != greedy", f"{differ} / {SENTENCES}"),
        Row("beam (top-40) == beam (all tokens) on those 60", str(beam_ids[:60] == full_ids)),
    ]
    record("bench_decode", rows, notes=f"{load_note()}; "
                                       "torch 1 thread; batches of 10; one timed pass each.")


if __name__ == "__main__":
    main()
