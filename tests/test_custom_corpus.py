"""The README's "Your own corpus" commands end to end, on a manifest of .mp4 videos with Cyrillic glosses and glob
characters in every id and folder: manifest -> preprocess -> dataset.check -> train -> test (WER report and analysis,
both scorers) -> predict on one video and one frame folder."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import main as entry
from conftest import corpus_as_manifest, run_args, word_error_rate
from dataset.check import main as check_main
from evaluation import find_sclite
from preprocess.cli import main as preprocess_main

CYRILLIC = ["ДОМ", "МАМА", "ИДТИ", "ХЛЕБ"]  # the demo corpus's four glosses, renamed
GLOB_IDS = ("{}[{}]", "{}*{}", "{}?{}")  # every id gets a glob character, so that no frame is found by accident


@pytest.fixture(scope="module")
def manifest(corpus, tmp_path_factory) -> Path:
    """The shared corpus's clips (24 train, 6 dev, 4 test) as .mp4 videos beside a manifest in a folder named with a
    glob character, glosses in Cyrillic, signers from the corpus, ids with glob characters."""
    path = corpus_as_manifest(corpus, tmp_path_factory.mktemp("cyrillic") / "set[1]", CYRILLIC,
                              {"train": 24, "dev": 6, "test": 4}, videos=True)
    header, *rows = path.read_text(encoding="utf-8").splitlines()
    fields = [row.split(",", 1) for row in rows]
    renamed = [f"{GLOB_IDS[k % 3].format(fileid, k)},{rest}" for k, (fileid, rest) in enumerate(fields)]
    path.write_text("\n".join([header, *renamed]) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
def test_your_own_corpus_from_manifest_to_prediction(corpus, manifest, tmp_path, capsys):
    meta, frames, work_dir = tmp_path / "meta[1]", tmp_path / "frames[1]", tmp_path / "work"
    assert preprocess_main(["--dataset", "custom", "--manifest", str(manifest), "--output", str(meta),
                            "--frames-output", str(frames), "--output-size", "72", "--workers", "2"]) == 0
    assert sorted(json.loads((meta / "gloss_dict.json").read_text(encoding="utf-8"))) == sorted(CYRILLIC)
    args = run_args(corpus, work_dir, "dataset=custom", "--decode-mode", "beam", info_dir=meta)
    assert check_main(args) == 0
    assert "the data looks ready for training" in capsys.readouterr().out
    assert entry.main([*args, "--num-epoch", "2", "--max-steps-per-epoch", "4", "--eval-interval", "1",
                       "--evaluate-tool", "sclite", "test_after_train=true"]) == 0  # both scorers; sclite's binary too
    results = json.loads((work_dir / "test_results.json").read_text())
    assert set(results) == {"dev", "test", "provenance"}
    for split in ("dev", "test"):  # the custom corpus is scored as written: plain edit distance gives the same WER
        expected = word_error_rate(work_dir / f"output-hypothesis-{split}.ctm", meta / f"custom-groundtruth-{split}.stm")
        assert results[split]["wer"] == pytest.approx(expected, abs=1e-9)
    assert results["test"]["sentences"] == 4
    analysis = json.loads((work_dir / "analysis" / "test" / "analysis.json").read_text(encoding="utf-8"))
    assert analysis["total"]["wer"] == pytest.approx(results["test"]["wer"], abs=1e-4)
    report = (work_dir / "test.python.report.txt").read_text(encoding="utf-8")
    assert any(gloss in report for gloss in CYRILLIC)
    if find_sclite() is not None:
        assert "agrees with the Python score" in (work_dir / "test.sclite.report.txt").read_text(encoding="utf-8")
    video = sorted((manifest.parent / "videos").glob("*.mp4"))[0]
    folder = next(path for path in (frames / "test").iterdir() if "[" in path.name)
    assert entry.main([*args, "--phase", "predict", "--load-weights", str(work_dir / "best_model.pt"),
                       "--input", str(video), str(folder)]) == 0
    # the folder is a test clip: read alone, as the test phase reads it with one clip per batch, the same glosses
    assert entry.main([*args, "--phase", "test", "--load-weights", str(work_dir / "best_model.pt"),
                       "--test-batch-size", "1", "--work-dir", str(tmp_path / "alone"), "analysis=false"]) == 0
    alone = [line.split() for line in (tmp_path / "alone" / "output-hypothesis-test.ctm").read_text().splitlines()]
    recognised = [fields[4] for fields in alone if fields[0] == folder.name and fields[4] != "[EMPTY]"]
    prediction = json.loads((work_dir / "predictions" / f"{folder.name}.json").read_text(encoding="utf-8"))
    assert prediction["glosses"] == recognised
    video_prediction = json.loads((work_dir / "predictions" / f"{video.stem}.json").read_text(encoding="utf-8"))
    assert set(video_prediction["glosses"]) <= set(CYRILLIC) and video_prediction["num_frames"] > 0
