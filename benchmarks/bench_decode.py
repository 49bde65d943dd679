"""CTC decoding of 540 sentences x 40-60 steps x PHOENIX-2014's classes (its dev set's size), beam width 10.

Run from the repository root: `python -m benchmarks.bench_decode`. Every decoder
runs on one core (torch 1 thread) over the same model-like logits, in the batches
of 2 the evaluation uses, softmax included. When the ctcdecode package is
importable, its hypotheses are compared with the builtin search's, sentence by
sentence, on those logits and on ambiguous ones.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time

import numpy as np
import torch

from benchmarks.common import Row, load_note, record, released_gloss_dict, released_num_classes, run_benchmark
from benchmarks.model_like_logits import model_like_logits
from decoding.ctc_decoder import CTCDecoder
from utils.cli import ArgumentParser

SENTENCES, BATCH = 540, 2
GLOSS_DICT = released_gloss_dict()
CLASSES = released_num_classes()


def sentences(seed: int, ambiguous: bool) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    return [torch.from_numpy(model_like_logits(rng, int(rng.integers(40, 61)), CLASSES, ambiguous=ambiguous)[0])
            for _ in range(SENTENCES)]


def decode_all(decoder: CTCDecoder, logits: list[torch.Tensor]) -> tuple[float, list[list[int]]]:
    """Seconds to decode every sentence in padded batches, and the decoded ids."""
    outputs: list[list[int]] = []
    start = time.perf_counter()
    for first in range(0, len(logits), BATCH):
        group = logits[first:first + BATCH]
        lengths = torch.tensor([len(x) for x in group])
        padded = torch.nn.utils.rnn.pad_sequence(group)  # T x B x C
        outputs += [o.ids for o in decoder.decode(padded, lengths)]
    return time.perf_counter() - start, outputs


def first_call_seconds(fresh_cache: bool) -> float:
    """Import and first decode in a new process: numba compiles (empty cache) or loads its cache."""
    code = ("import time, torch; t = time.perf_counter(); from decoding.ctc_decoder import CTCDecoder; "
            "CTCDecoder({'A': 1}, 2).decode(torch.randn(5, 1, 2), torch.tensor([5])); "
            "print(time.perf_counter() - t)")
    env = dict(os.environ)
    if fresh_cache:
        env["NUMBA_CACHE_DIR"] = os.path.join("/tmp", f"numba-empty-{os.getpid()}")
        env["NUMBA_DISABLE_JIT"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ArgumentParser(prog="python -m benchmarks.bench_decode", description=__doc__.split("\n")[0]).parse_args(argv)
    torch.set_num_threads(1)
    confident, ambiguous = sentences(0, False), sentences(1, True)
    builtin = CTCDecoder(GLOSS_DICT, CLASSES, beam_width=10)
    builtin.decode(confident[0].unsqueeze(1), torch.tensor([len(confident[0])]))  # compile or load the cache
    beam_s, beam_ids = decode_all(builtin, confident)
    ambiguous_s, ambiguous_ids = decode_all(builtin, ambiguous)
    greedy_s, greedy_ids = decode_all(CTCDecoder(GLOSS_DICT, CLASSES, search_mode="greedy"), confident)
    flashlight = CTCDecoder(GLOSS_DICT, CLASSES, beam_width=10, backend="flashlight")
    flashlight_s, flashlight_ids = decode_all(flashlight, confident)
    _, flashlight_ambiguous = decode_all(flashlight, ambiguous)
    rows = [
        Row(f"builtin beam 10 (ctcdecode's search), 540 x 40-60 x {CLASSES}", f"{beam_s:.3f} s"),
        Row("builtin beam 10, ambiguous logits", f"{ambiguous_s:.3f} s"),
        Row("greedy", f"{greedy_s:.3f} s"),
        Row("flashlight-text beam 10 (top-40 tokens/step)", f"{flashlight_s:.3f} s"),
        Row("first decode in a new process (numba compiles, empty cache)", f"{first_call_seconds(True):.1f} s"),
        Row("first decode in a new process (numba cache present)", f"{first_call_seconds(False):.1f} s"),
        Row("sentences where builtin beam != greedy", f"{sum(a != b for a, b in zip(beam_ids, greedy_ids))} / {SENTENCES}"),
        Row("sentences where flashlight != builtin (model-like / ambiguous)",
            f"{sum(a != b for a, b in zip(flashlight_ids, beam_ids))} / "
            f"{sum(a != b for a, b in zip(flashlight_ambiguous, ambiguous_ids))} of {SENTENCES}"),
    ]
    notes = f"{load_note()}; torch 1 thread; batches of {BATCH} with softmax; one timed pass each"
    if importlib.util.find_spec("ctcdecode") is not None:
        package = CTCDecoder(GLOSS_DICT, CLASSES, beam_width=10, backend="ctcdecode")
        package_s, package_ids = decode_all(package, confident)
        _, package_ambiguous = decode_all(package, ambiguous)
        same = sum(a == b for a, b in zip(package_ids, beam_ids))
        same_ambiguous = sum(a == b for a, b in zip(package_ambiguous, ambiguous_ids))
        rows += [
            Row("ctcdecode package, same logits", f"{package_s:.3f} s"),
            Row("sentences where builtin == ctcdecode (model-like / ambiguous)",
                f"{same} / {same_ambiguous} of {SENTENCES}", f"{SENTENCES} / {SENTENCES}",
                same == same_ambiguous == SENTENCES),
        ]
        notes += f"; ctcdecode from {importlib.util.find_spec('ctcdecode').origin}"
    record("bench_decode", rows, notes=notes)


if __name__ == "__main__":
    run_benchmark(main)
