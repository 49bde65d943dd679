"""Gloss-to-text through main.py (tasks/translation.py): training selects on dev BLEU-4, the test chooses the
decoding on dev and writes what it scores."""
import json

import pytest

import main as entry
from conftest import translation_args
from dataset.info import read_info
from dataset.synthetic_grammar import synthetic_translation
from translation.metrics import score_translations


def test_training_learns_the_translations_and_keeps_the_best_dev_bleu(g2t_trained):
    history = json.loads((g2t_trained / "training_history.json").read_text())
    dev = [record["translation"]["dev"]["bleu4"] for record in history["epochs"]]
    assert history["best_bleu4"] == max(dev) and history["best_epoch"] == dev.index(max(dev))
    assert max(dev) > 60.0 and dev[0] < max(dev)  # the grammar is a function of the glosses: learnable


def test_the_test_writes_what_it_scores_with_the_decoding_chosen_on_dev(corpus, g2t_trained):
    results = json.loads((g2t_trained / "test_results.json").read_text())
    _, records = read_info(corpus["info_dir"] / "test_info.jsonl")
    lines = (g2t_trained / "translations-test.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id\ttranslation\treference"
    rows = [line.split("\t") for line in lines[1:]]
    assert [row[0] for row in rows] == [record["fileid"] for record in records]
    assert [row[2] for row in rows] == [synthetic_translation(record["label"].split()) for record in records]
    rescored = score_translations([row[2] for row in rows], [row[1] for row in rows])
    assert results["test"]["bleu4"] == pytest.approx(rescored.bleu4)
    assert results["test"]["rouge"] == pytest.approx(rescored.rouge)
    assert results["test"]["decoding"] in ({"beam_size": 1, "alpha": 0.0}, {"beam_size": 2, "alpha": 0.0},
                                           {"beam_size": 2, "alpha": 1.0})
    assert "tok:none" in results["test"]["signatures"]["bleu"] and "provenance" in results
    from utils.checkpoint import read_checkpoint  # the test recorded its choice where the model goes

    assert read_checkpoint(g2t_trained / "best_model.pt")["translation"]["decoding"] == results["test"]["decoding"]


def test_a_translation_checkpoint_tests_again_with_the_same_result(corpus, g2t_trained, tmp_path):
    assert entry.main(translation_args(corpus, tmp_path, "--phase", "test", "--load-weights",
                                       str(g2t_trained / "best_model.pt"))) == 0
    again = json.loads((tmp_path / "test_results.json").read_text())
    first = json.loads((g2t_trained / "test_results.json").read_text())
    assert again["test"]["bleu4"] == first["test"]["bleu4"] and again["test"]["decoding"] == first["test"]["decoding"]


def test_a_recognition_checkpoint_is_no_translation_model(corpus, briefly_trained, tmp_path, capsys):
    assert entry.main(translation_args(corpus, tmp_path, "--phase", "test", "--load-weights",
                                       str(briefly_trained / "best_model.pt"))) == 2
    assert "is not a translation checkpoint" in capsys.readouterr().err


def test_a_weight_average_is_what_is_evaluated_kept_and_resumed(corpus, tmp_path):
    """ema_decay: best_model.pt holds the average (what was evaluated), last_checkpoint.pt the raw weights and the
    average; a run stopped after its first epoch and resumed ends with the uninterrupted run's average."""
    import shutil

    import torch

    from utils.checkpoint import read_checkpoint

    assert entry.main(translation_args(corpus, tmp_path / "single", "--num-epoch", "1", "ema_decay=0.9")) == 0
    single = read_checkpoint(tmp_path / "single" / "last_checkpoint.pt")
    best = read_checkpoint(tmp_path / "single" / "best_model.pt")["model_state_dict"]
    shadow = single["ema_state_dict"]["shadow"]
    assert single["ema_state_dict"]["updates"] == 6  # 48 sentences in batches of 8
    assert all(torch.equal(best[name], shadow[name]) for name in shadow)
    assert not all(torch.equal(best[name], single["model_state_dict"][name]) for name in shadow)
    shutil.copytree(tmp_path / "single", tmp_path / "resumed")
    for run in ("straight", "resumed"):
        assert entry.main(translation_args(corpus, tmp_path / run, "--num-epoch", "2", "ema_decay=0.9")) == 0
    straight, resumed = (read_checkpoint(tmp_path / run / "last_checkpoint.pt") for run in ("straight", "resumed"))
    assert straight["ema_state_dict"]["updates"] == resumed["ema_state_dict"]["updates"] == 12
    for key in ("ema_state_dict", "model_state_dict"):
        expected = straight[key]["shadow"] if key == "ema_state_dict" else straight[key]
        got = resumed[key]["shadow"] if key == "ema_state_dict" else resumed[key]
        assert all(torch.equal(value, got[name]) for name, value in expected.items()), key


def test_a_translation_model_translates_glosses_given_on_the_command_line_or_in_a_file(corpus, g2t_trained, tmp_path,
                                                                                       capsys):
    from translation.translator import Translator
    from utils.checkpoint import read_checkpoint

    lines = tmp_path / "glosses.txt"
    lines.write_text("REGEN NORD\n\nSONNE\n", encoding="utf-8")
    best = g2t_trained / "best_model.pt"
    assert entry.main(translation_args(corpus, tmp_path, "--phase", "predict", "--load-weights", str(best),
                                       "--input", "WOLKE SUED", str(lines))) == 0
    results = json.loads((tmp_path / "predictions" / "translations.json").read_text(encoding="utf-8"))
    expected = Translator.from_checkpoint(best, read_checkpoint(best), __import__("torch").device("cpu")).translate(
        [["WOLKE", "SUED"], ["REGEN", "NORD"], ["SONNE"]])
    assert [item["translation"] for item in results] == expected
    assert (tmp_path / "predictions" / "translations.txt").read_text(encoding="utf-8").splitlines()[1] == \
        f"REGEN NORD\t{expected[1]}"
    assert f"SONNE  ->  {expected[2]}" in capsys.readouterr().out
