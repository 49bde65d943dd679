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
from evaluation.runs import Run, Summary, load_run, render_markdown, study
from evaluation.python_wer import python_align
from translation.corpus import parallel_sentences
from translation.metrics import score_translations
from translation.noise import GlossNoise
from translation.translator import Translator
from utils.checkpoint import read_checkpoint
from utils.cli import ArgumentParser
from utils.config.schema import TranslationArgs
from utils.errors import UserError
from utils.work_dir import BEST_CHECKPOINT, TEST_RESULTS

META = Path(__file__).resolve().parents[1] / "preprocess" / "meta" / "phoenix2014-T"
# test BLEU-4 (dev) of the published systems (README of docs/translation.md)
ANCHORS = [("gloss-to-text, Camgöz et al. 2018", "19.26"), ("gloss-to-text, Yin et al. 2021", "22.17"),
           ("gloss-to-text, Camgöz et al. 2020 transformer (best cited single model)", "24.54 (25.35)"),
           ("recognised glosses to text, Camgöz et al. 2020", "22.45 (22.11)"),
           ("recognised glosses to text, STMC-Transformer", "24.00 (22.47)"),
           ("recognised glosses to text, TwoStream-SLT", "26.71 (26.47)")]
BEST_CITED = 24.54


def test_figures(run: Run) -> dict:
    """Every figure the run's test wrote (BLEU-1..4, ROUGE-L, chrF, the decoding it chose on dev) per split."""
    results = run.directory / TEST_RESULTS
    if not results.is_file():
        raise UserError(f"{results} not found: give finished runs of configs/phoenix2014-T-g2t.yaml (their test "
                        f"writes it)")
    return json.loads(results.read_text(encoding="utf-8"))


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
    parser.add_argument("--note", default="", help="what the notes should say of how the runs were made (their "
                                                   "minutes are wall-clock: say what else the machine ran)")
    args = parser.parse_args(argv)
    runs = [load_run(directory) for directory in args.runs]
    studies = study(runs)
    if len(studies) != 1 or studies[0].task != "translation" or studies[0].corpus != "phoenix2014-T":
        raise UserError("give gloss-to-text runs of PHOENIX-2014-T only (configs/phoenix2014-T-g2t.yaml)")
    figures = {run.key: test_figures(run) for run in runs}
    rows = []
    for run in runs:
        test, dev = figures[run.key]["test"], figures[run.key]["dev"]
        rows.append(Row(f"seed {run.seed}: test BLEU-4 (dev), beam {test['decoding']['beam_size']} alpha "
                        f"{test['decoding']['alpha']:g}; best epoch {run.best_epoch}",
                        f"{test['bleu4']:.2f} ({dev['bleu4']:.2f}) in {run.minutes:.0f} min"))
    for key, label in (("bleu4", "BLEU-4"), ("bleu1", "BLEU-1"), ("rouge", "ROUGE-L"), ("chrf", "chrF"),
                       ("bleu4_13a", "BLEU-4 (13a)")):
        test = Summary([figures[run.key]["test"][key] for run in runs])
        dev = Summary([figures[run.key]["dev"][key] for run in runs])
        spread = f" ± {test.std:.2f}" if test.std is not None else ""
        rows.append(Row(f"test {label}, mean{' ± std' if spread else ''} over {len(runs)} seed(s) (dev mean)",
                        f"{test.mean:.2f}{spread} ({dev.mean:.2f})",
                        f">= {BEST_CITED} (best cited single model)" if key == "bleu4" else "",
                        test.mean >= BEST_CITED if key == "bleu4" else None))
    minutes = Summary([run.minutes for run in runs]).mean
    rows.append(Row("training minutes per run, mean (wall-clock: see the notes)", f"{minutes:.0f}"))
    rows += [Row(f"published: {name}", value) for name, value in ANCHORS]
    for name, directory in (("clean-trained", runs[0].directory), ("noise-trained", args.noisy)):
        if directory is None:
            continue
        measured, noisy, clean = noisy_bleu(directory, args.wer, args.draws)
        rows.append(Row(f"{name} translator ({directory.name}): test BLEU-4 on ground-truth glosses", f"{clean:.2f}"))
        rows.append(Row(f"{name} translator: test BLEU-4 on glosses corrupted to {measured:.2f}% WER "
                        f"(mean of {args.draws})", f"{noisy:.2f}"))
    notes = "; ".join(filter(None, ["sacreBLEU without tokenisation (signjoey's procedure)", args.note,
                                    "each translator decodes as its checkpoint records (its training run's test)",
                                    load_note()]))
    record("bench_translation", rows, notes=notes,
           table=render_markdown(studies, paper=True))
    return 0


if __name__ == "__main__":
    run_benchmark(main)
