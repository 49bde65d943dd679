"""Recognised glosses to text: a recognition model's test and predict phases with a translator
(translation_args.translator) translate what they recognise."""
import json

import pytest
import torch

import main as entry
from conftest import run_args
from translation.metrics import score_translations
from translation.translator import Translator
from utils.checkpoint import read_checkpoint


def translator_of(run_dir):
    path = run_dir / "best_model.pt"
    return Translator.from_checkpoint(path, read_checkpoint(path), torch.device("cpu"))


def test_the_test_phase_translates_the_recognised_glosses_and_scores_them(corpus, briefly_trained, g2t_trained,
                                                                           tmp_path, capsys):
    assert entry.main(run_args(corpus, tmp_path, "--phase", "test", "--load-weights",
                               str(briefly_trained / "best_model.pt"),
                               f"translation_args.translator={g2t_trained / 'best_model.pt'}")) == 0
    results = json.loads((tmp_path / "test_results.json").read_text())
    translator = translator_of(g2t_trained)
    for split in ("dev", "test"):
        rows = [line.split("\t") for line in (tmp_path / f"translations-{split}.tsv").read_text().splitlines()[1:]]
        ctm = {}
        for line in (tmp_path / f"output-hypothesis-{split}.ctm").read_text().splitlines():
            ctm.setdefault(line.split()[0], []).append(line.split()[4])
        assert [row[3].split() for row in rows] == [ctm.get(row[0], []) for row in rows]  # the recognised glosses
        assert [row[1] for row in rows] == translator.translate([row[3].split() for row in rows])
        rescored = score_translations([row[2] for row in rows], [row[1] for row in rows])
        assert results[split]["translation"]["bleu4"] == pytest.approx(rescored.bleu4)
        assert results[split]["wer"] >= 0  # recognition's figures stay beside
    assert "recognised glosses translated by" in capsys.readouterr().out
    provenance = json.loads((tmp_path / "test_provenance.json").read_text())
    assert provenance["translator"]["checkpoint"].endswith("best_model.pt")


def test_predict_writes_the_sentence_beside_the_glosses(corpus, briefly_trained, g2t_trained, tmp_path):
    clip = corpus["frames"] / "test" / "synthetic_test_00000" / "1"
    assert entry.main(run_args(corpus, tmp_path, "--phase", "predict", "--load-weights",
                               str(briefly_trained / "best_model.pt"), "--input", str(clip),
                               f"translation_args.translator={g2t_trained / 'best_model.pt'}")) == 0
    result = json.loads((tmp_path / "predictions" / "synthetic_test_00000.json").read_text())
    assert result["translation"] == translator_of(g2t_trained).translate([result["glosses"]])[0]
    assert (tmp_path / "predictions" / "translations.txt").read_text() == \
        f"synthetic_test_00000\t{result['translation']}\n"


def test_a_recognition_checkpoint_is_no_translator(corpus, briefly_trained, tmp_path, capsys):
    assert entry.main(run_args(corpus, tmp_path, "--phase", "test", "--load-weights",
                               str(briefly_trained / "best_model.pt"),
                               f"translation_args.translator={briefly_trained / 'best_model.pt'}")) == 1
    assert "is not a gloss-to-text checkpoint" in capsys.readouterr().err
