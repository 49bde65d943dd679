"""Gloss-to-text on PHOENIX-2014-T: a seed study of finished runs of configs/phoenix2014-T-g2t.yaml (test BLEU-4
with its dev figure, the decoding their test chose on dev, training minutes), side by side with the published
anchors; and what recognition errors cost: each translator on the test glosses corrupted to a word error rate
(the paper's PHOENIX-2014-T test WER, 18.71%, by default), the WER measured with the official Python scorer's
alignment, for a translator trained on clean glosses and one trained with translation_args.noise_wer.

    python -m benchmarks.bench_translation work_dir/g2t/seed0 work_dir/g2t/seed1 work_dir/g2t/seed2 \\
        [--noisy work_dir/g2t-noisy] [--wer 18.71] [--draws 3]
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import Row, load_note, record, run_benchmark
from dataset.info import InfoFile
from evaluation.python_wer import python_align
from translation.corpus import parallel_sentences
from translation.metrics import score_translations
from translation.noise import GlossNoise
from translation.translator import Translator
from utils.checkpoint import read_checkpoint
from utils.cli import ArgumentParser
from utils.config.schema import TranslationArgs
from utils.errors import UserError
from utils.work_dir import BEST_CHECKPOINT, TEST_RESULTS, TRAINING_HISTORY

META = Path(__file__).resolve().parents[1] / "preprocess" / "meta" / "phoenix2014-T"
# test BLEU-4 (dev) of the published systems (README of docs/translation.md)
ANCHORS = [("gloss-to-text, Camgöz et al. 2018", "19.26"), ("gloss-to-text, Yin et al. 2021", "22.17"),
           ("gloss-to-text, Camgöz et al. 2020 transformer (best cited single model)", "24.54 (25.35)"),
           ("recognised glosses to text, Camgöz et al. 2020", "22.45 (22.11)"),
           ("recognised glosses to text, STMC-Transformer", "24.00 (22.47)"),
           ("recognised glosses to text, TwoStream-SLT", "26.71 (26.47)")]
BEST_CITED = 24.54


def read_run(directory: Path) -> dict:
    results = directory / TEST_RESULTS
    if not results.is_file():
        raise UserError(f"{results} not found: give finished runs of configs/phoenix2014-T-g2t.yaml (their test "
                        f"writes it)")
    figures = json.loads(results.read_text(encoding="utf-8"))
    history = json.loads((directory / TRAINING_HISTORY).read_text(encoding="utf-8"))
    minutes = sum(epoch.get("train_seconds", 0.0) for epoch in history["epochs"]) / 60
    seed = (figures.get("provenance") or {}).get("config", {}).get("random_seed")
    return {"dir": directory, "test": figures["test"], "dev": figures["dev"], "minutes": minutes, "seed": seed,
            "epochs": len(history["epochs"]), "best_epoch": history.get("best_epoch")}


def noisy_bleu(directory: Path, wer: float, draws: int) -> tuple[float, float, float]:
    """(measured WER %, mean test BLEU-4 over `draws` corruptions, BLEU-4 on the clean glosses)."""
    path = directory / BEST_CHECKPOINT
    translator = Translator.from_checkpoint(path, read_checkpoint(path), torch.device("cpu"))
    train = parallel_sentences(InfoFile.read(META / "train_info.jsonl"), "phoenix2014-T")
    test = parallel_sentences(InfoFile.read(META / "test_info.jsonl"), "phoenix2014-T")
    references = [" ".join(s.text) for s in test]
    noise = GlossNoise([s.glosses for s in train], wer, TranslationArgs().noise_mix)
    errors = words = 0
    scores = []
    for draw in range(draws):
        rng = np.random.default_rng(1000 + draw)
        corrupted = [noise.corrupt(list(s.glosses), rng) for s in test]
        for sentence, hypothesis in zip(test, corrupted):
            errors += python_align(list(sentence.glosses), hypothesis).errors
            words += len(sentence.glosses)
        scores.append(score_translations(references, translator.translate(corrupted)).bleu4)
    clean = score_translations(references, translator.translate([list(s.glosses) for s in test])).bleu4
    return 100 * errors / words, statistics.fmean(scores), clean


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="python -m benchmarks.bench_translation", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished gloss-to-text runs (their work directories)")
    parser.add_argument("--noisy", type=Path, help="a run trained with translation_args.noise_wer")
    parser.add_argument("--wer", type=float, default=18.71, help="word error rate of the corrupted test glosses (%%)")
    parser.add_argument("--draws", type=int, default=3, help="corruptions of the test glosses averaged")
    args = parser.parse_args(argv)
    runs = [read_run(directory) for directory in args.runs]
    rows = []
    for run in runs:
        test, dev = run["test"], run["dev"]
        rows.append(Row(f"seed {run['seed']}: test BLEU-4 (dev), {test['decoding']['beam_size']}-beam alpha "
                        f"{test['decoding']['alpha']:g}; best epoch {run['best_epoch']} of {run['epochs']}",
                        f"{test['bleu4']:.2f} ({dev['bleu4']:.2f}) in {run['minutes']:.0f} min"))
    for key, label in (("bleu4", "BLEU-4"), ("bleu1", "BLEU-1"), ("rouge", "ROUGE-L"), ("chrf", "chrF"),
                       ("bleu4_13a", "BLEU-4 (13a)")):
        values = [run["test"][key] for run in runs]
        spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
        dev = statistics.fmean(run["dev"][key] for run in runs)
        passed = None if key != "bleu4" else statistics.fmean(values) >= BEST_CITED
        rows.append(Row(f"test {label}, mean{' ± std' if spread else ''} over {len(runs)} seed(s) (dev mean)",
                        f"{statistics.fmean(values):.2f}{spread} ({dev:.2f})",
                        f">= {BEST_CITED} (best cited single model)" if key == "bleu4" else "", passed))
    rows.append(Row("training minutes per run, mean", f"{statistics.fmean(run['minutes'] for run in runs):.0f}",
                    "<= 60 (on this machine)", statistics.fmean(run["minutes"] for run in runs) <= 60))
    rows += [Row(f"published: {name}", value) for name, value in ANCHORS]
    for name, directory in (("clean-trained", runs[0]["dir"]), ("noise-trained", args.noisy)):
        if directory is None:
            continue
        measured, noisy, clean = noisy_bleu(directory, args.wer, args.draws)
        rows.append(Row(f"{name} translator ({directory.name}): test BLEU-4 on ground-truth glosses", f"{clean:.2f}"))
        rows.append(Row(f"{name} translator: test BLEU-4 on glosses corrupted to {measured:.2f}% WER "
                        f"(mean of {args.draws})", f"{noisy:.2f}"))
    record("bench_translation", rows, notes=f"sacreBLEU without tokenisation (signjoey's procedure); {load_note()}")
    return 0


if __name__ == "__main__":
    run_benchmark(main)
