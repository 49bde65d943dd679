"""The README's "Your own corpus" commands end to end, on a manifest of .mp4 videos with Cyrillic glosses:
manifest -> preprocess -> dataset.check -> train -> test (WER report and analysis) -> predict on one video."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import main as entry
from conftest import corpus_as_manifest, run_args
from dataset.check import main as check_main
from preprocess.cli import main as preprocess_main

CYRILLIC = ["ДОМ", "МАМА", "ИДТИ", "ХЛЕБ"]  # the demo corpus's four glosses, renamed


@pytest.fixture(scope="module")
def manifest(corpus, tmp_path_factory) -> Path:
    """The shared corpus's clips (24 train, 6 dev, 4 test) as .mp4 videos beside a manifest, glosses in Cyrillic,
    signers from the corpus."""
    return corpus_as_manifest(corpus, tmp_path_factory.mktemp("cyrillic"), CYRILLIC, {"train": 24, "dev": 6, "test": 4},
                              videos=True)


@pytest.mark.slow
def test_your_own_corpus_from_manifest_to_prediction(corpus, manifest, tmp_path, capsys):
    meta, frames, work_dir = tmp_path / "meta", tmp_path / "frames", tmp_path / "work"
    assert preprocess_main(["--dataset", "custom", "--manifest", str(manifest), "--output", str(meta),
                            "--frames-output", str(frames), "--output-size", "72", "--workers", "2"]) == 0
    assert sorted(json.loads((meta / "gloss_dict.json").read_text(encoding="utf-8"))) == sorted(CYRILLIC)
    args = run_args(corpus, work_dir, "dataset=custom", "--decode-mode", "beam", info_dir=meta)
    assert check_main(args) == 0
    assert "the data looks ready for training" in capsys.readouterr().out
    assert entry.main([*args, "--num-epoch", "2", "--max-steps-per-epoch", "4", "--eval-interval", "1",
                       "test_after_train=true"]) == 0
    results = json.loads((work_dir / "test_results.json").read_text())
    assert set(results) == {"dev", "test"} and all(0 <= results[s]["wer"] for s in results)
    assert results["test"]["sentences"] == 4
    analysis = json.loads((work_dir / "analysis" / "test" / "analysis.json").read_text(encoding="utf-8"))
    assert analysis["total"]["wer"] == pytest.approx(results["test"]["wer"], abs=1e-4)
    report = (work_dir / "test.python.report.txt").read_text(encoding="utf-8")
    assert any(gloss in report for gloss in CYRILLIC)
    video = sorted((manifest.parent / "videos").glob("*.mp4"))[0]
    assert entry.main([*args, "--phase", "predict", "--load-weights", str(work_dir / "best_model.pt"),
                       "--input", str(video)]) == 0
    prediction = json.loads((work_dir / "predictions" / f"{video.stem}.json").read_text(encoding="utf-8"))
    assert set(prediction["glosses"]) <= set(CYRILLIC)
