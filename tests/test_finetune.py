"""Fine-tuning a trained checkpoint on a corpus of another vocabulary (configs/custom_finetune.yaml's recipe)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import main as entry
from conftest import corpus_as_manifest, run_args, word_error_rate
from dataset.paths import DataPaths
from preprocess.cli import main as preprocess_main
from tasks.recognition import RecognitionTask
from utils.checkpoint import CLASSIFIER_PREFIXES, read_checkpoint
from utils.config.schema import ConfigError
from utils.distributed import DistContext
from utils.errors import CheckpointError
from utils.provenance import RunRecord

GREEK = ["ΑΛΦΑ", "ΒΗΤΑ", "ΓΑΜΜΑ", "ΔΕΛΤΑ"]  # as many glosses as the demo corpus, other names


@pytest.fixture(scope="module")
def greek_corpus(corpus, tmp_path_factory) -> Path:
    """The shared corpus's first 12 train and 4 dev clips as a custom corpus whose glosses are renamed in Greek:
    a vocabulary of the same size as the checkpoint's, so only the names tell them apart."""
    root = tmp_path_factory.mktemp("greek")
    corpus_as_manifest(corpus, root, GREEK, {"train": 12, "dev": 4})
    assert preprocess_main(["--dataset", "custom", "--manifest", str(root / "corpus.csv"), "--output",
                            str(root / "meta"), "--frames-output", str(root / "frames"), "--output-size", "72",
                            "--workers", "1"]) == 0
    return root / "meta"


def finetune_args(corpus, greek_corpus, work_dir, checkpoint, *extra):
    return run_args(corpus, work_dir, "dataset=custom", "dataset_info.eval_splits=[dev]", "--load-weights",
                    str(checkpoint), *extra, info_dir=greek_corpus)


def test_fine_tuning_keeps_everything_but_the_classifiers(corpus, greek_corpus, briefly_trained, tmp_path):
    checkpoint = briefly_trained / "best_model.pt"
    config = entry.config_from_args(finetune_args(corpus, greek_corpus, tmp_path, checkpoint,
                                                  "ignore_weights=[classifier,conv1d.fc]"))
    run = RecognitionTask(config, DistContext(torch.device("cpu")), DataPaths(config), RunRecord({}))
    assert sorted(run.gloss_dict) == sorted(GREEK)
    loaded, trained = run.model.state_dict(), read_checkpoint(checkpoint)["model_state_dict"]
    assert set(loaded) == set(trained)
    classifiers = [key for key in loaded if key.startswith(CLASSIFIER_PREFIXES)]
    assert classifiers and len(classifiers) < len(loaded) / 10
    for key, value in loaded.items():
        if key in classifiers:
            assert not torch.equal(value, trained[key]), key  # started afresh
        else:
            assert torch.equal(value, trained[key]), key


def test_a_checkpoint_of_another_vocabulary_is_refused_without_the_recipe(corpus, greek_corpus, briefly_trained,
                                                                          tmp_path):
    """Same number of classes, other glosses: the shapes fit, so only the recorded vocabulary can tell."""
    config = entry.config_from_args(finetune_args(corpus, greek_corpus, tmp_path, briefly_trained / "best_model.pt"))
    with pytest.raises(CheckpointError, match=r"was trained on another gloss vocabulary \(4 glosses; this corpus has "
                                              r"4, 0 in common\).*ignore_weights=\[classifier,conv1d.fc\]"):
        RecognitionTask(config, DistContext(torch.device("cpu")), DataPaths(config), RunRecord({}))


def test_the_recipe_config_is_valid():
    config = entry.config_from_args(["--config", "configs/custom_finetune.yaml"])
    assert config.dataset == "custom" and config.ignore_weights == ["classifier", "conv1d.fc"]
    with pytest.raises(ConfigError):
        entry.config_from_args(["--config", "configs/custom_finetune.yaml", "optimizer_args.base_lr=0"])


@pytest.mark.slow
def test_fine_tuning_runs_and_says_what_it_kept(corpus, greek_corpus, briefly_trained, tmp_path):
    work_dir = tmp_path / "work"
    assert entry.main(finetune_args(corpus, greek_corpus, work_dir, briefly_trained / "best_model.pt",
                                    "ignore_weights=[classifier,conv1d.fc]", "--num-epoch", "1",
                                    "--max-steps-per-epoch", "2", "test_after_train=true")) == 0
    log = (work_dir / "log.txt").read_text()
    total = len(read_checkpoint(briefly_trained / "best_model.pt")["model_state_dict"])
    report = next(line for line in log.splitlines() if "start from this model's initialisation" in line)
    assert f"Loaded {total - 6} of {total} model tensors" in report
    assert set(report.rsplit("): ", 1)[1].split(", ")) == {f"{layer}.{i}.weight" for layer in CLASSIFIER_PREFIXES
                                                          for i in range(3)}
    results = json.loads((work_dir / "test_results.json").read_text())
    assert set(results) == {"dev", "provenance"}
    stm = greek_corpus / "custom-groundtruth-dev.stm"
    expected = word_error_rate(work_dir / "output-hypothesis-dev.ctm", stm)
    assert results["dev"]["wer"] == pytest.approx(expected, abs=1e-9)
