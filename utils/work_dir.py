"""The names of everything a run writes into its work directory, in one place: the run writes them, tests,
benchmarks and the README's list of outputs read them; and the check that the directory takes files."""
from __future__ import annotations

import tempfile
from pathlib import Path

from utils.errors import UserError

LOG = "log.txt"
LAST_CHECKPOINT = "last_checkpoint.pt"  # the latest epoch, for resuming
BEST_CHECKPOINT = "best_model.pt"  # the epoch of the lowest dev WER
TRAINING_HISTORY = "training_history.json"
TRAINING_CURVES = "training_curves.png"
TEST_RESULTS = "test_results.json"
TENSORBOARD_DIR = "tensorboard"
ANALYSIS_DIR = "analysis"  # analysis/<split>/: error analysis of the test phase
ALIGNMENTS_DIR = "alignments"  # alignments/<split>/: alignment pictures of the test phase
FEATURES_DIR = "features"  # features/<split>/: the features phase's per-video arrays
PREDICTIONS_DIR = "predictions"  # the predict phase's default output folder
PREDICTIONS_CTM = "predictions.ctm"
PREDICTIONS_TRANSLATIONS = "translations.txt"  # with a translator: name (and a long recording's time) and sentence
PREDICTIONS_TRANSLATIONS_JSON = "translations.json"  # a gloss-to-text model's predict: glosses and sentence each


def epoch_checkpoint(epoch: int) -> str:
    """The checkpoint kept every save_interval epochs."""
    return f"epoch{epoch:03d}_model.pt"


def hypothesis_ctm(split: str, branch: str = "") -> str:
    """The official hypothesis CTM of a split; branch "-conv" for the temporal-conv logits."""
    return f"output-hypothesis-{split}{branch}.ctm"


def score_report(name: str, tool: str, extension: str = "txt") -> str:
    """A scorer's report of `name` (a split, or a split and branch): `dev.python.report.txt`."""
    return f"{name}.{tool}.report.{extension}"


def translations_file(split: str) -> str:
    """A translation test's output: id, translation and reference per sentence of a split."""
    return f"translations-{split}.tsv"


def config_record(phase: str) -> str:
    """The resolved configuration of a run: config.yaml for training, <phase>_config.yaml for the other
    phases, so that testing into a training directory keeps the record of how it was trained."""
    return "config.yaml" if phase == "train" else f"{phase}_config.yaml"


def provenance_record(phase: str) -> str:
    """What produced a run (utils/provenance.py), named as config_record names the configuration; a diff of
    uncommitted changes goes beside it with the suffix .diff."""
    return "provenance.json" if phase == "train" else f"{phase}_provenance.json"


def ensure_writable_directory(path: Path) -> None:
    """The work directory exists and takes new files, or a one-line error says why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write_test_"):
            pass
    except OSError as error:
        raise UserError(f"the work directory {path} cannot be written ({error.strerror or error}); "
                        f"choose another --work-dir or fix its permissions") from None
