"""The ONNX export carries the translator (deploy/translator_export.py), and prediction through ONNX Runtime
translates with the NumPy beam search, without torch, giving PyTorch's sentences."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import main as entry
from conftest import child_env, run_args
from test_deploy import dev_inputs
from test_joint import JOINT

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def predict_both(corpus, checkpoint: Path, exported: Path, out: Path, *extra: str) -> tuple[Path, Path]:
    """PyTorch prediction with the checkpoint and ONNX Runtime prediction (in a process that must not import torch)
    on every dev clip; their prediction folders."""
    inputs = dev_inputs(corpus)
    assert entry.main(run_args(corpus, out / "pt", "--phase", "predict", "--load-weights", str(checkpoint),
                               "--input", *inputs, *extra)) == 0
    args = run_args(corpus, out / "onnx", "--phase", "predict", "--load-weights", str(exported), "--input", *inputs)
    code = f"import sys, main; code = main.main({args!r}); print(code, 'torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=child_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.stdout.strip().splitlines()[-1] == "0 False", done.stdout[-2000:] + done.stderr[-2000:]
    return out / "pt" / "predictions", out / "onnx" / "predictions"


def assert_same_sentences(pt: Path, onnx: Path) -> None:
    names = sorted(path.name for path in pt.glob("synthetic_*.json"))
    assert len(names) == 12
    sentences = [json.loads((folder / name).read_text())["translation"] for name in names for folder in (pt, onnx)]
    assert sentences[0::2] == sentences[1::2]
    assert (onnx / "translations.txt").read_text() == (pt / "translations.txt").read_text()
    assert any(sentences)


def test_a_recogniser_exported_with_its_translator_translates_as_pytorch(corpus, briefly_trained, g2t_trained,
                                                                         tmp_path):
    translator = f"translation_args.translator={g2t_trained / 'best_model.pt'}"
    checkpoint = briefly_trained / "best_model.pt"
    assert entry.main(run_args(corpus, tmp_path / "export", "--phase", "export", "--load-weights", str(checkpoint),
                               translator)) == 0
    exported = tmp_path / "export" / "export" / "model.onnx"
    description = json.loads(exported.with_suffix(".json").read_text())["translation"]
    assert description["source"] == "glosses" and description["verification"]["sentences_equal"] == 12
    assert (exported.parent / description["encoder"]).is_file() and (exported.parent / description["decoder"]).is_file()
    assert_same_sentences(*predict_both(corpus, checkpoint, exported, tmp_path, translator))


def test_a_joint_model_exports_its_features_and_decoder(corpus, joint_trained, tmp_path):
    work = joint_trained
    assert entry.main(run_args(corpus, tmp_path / "export", *JOINT, "--phase", "export", "--load-weights",
                               str(work / "best_model.pt"))) == 0
    exported = tmp_path / "export" / "export" / "model.onnx"
    description = json.loads(exported.with_suffix(".json").read_text())["translation"]
    assert description["source"] == "features" and description["verification"]["sentences_equal"] == 2  # 16, 64
    assert_same_sentences(*predict_both(corpus, work / "best_model.pt", exported, tmp_path, *JOINT))
