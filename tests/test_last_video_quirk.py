"""The official feeder never loads the last video of a CSL-Daily (or CSL) split: reproduced by default, said in
the WER report, and turned off by feeder_args.skip_last_video=false."""
import json

import numpy as np
import pytest

import main as entry
from data_fixtures import write_corpus
from dataset.frame_layout import write_layout
from dataset.paths import DataPaths
from dataset.video_dataset import split_dataset
from evaluation.stm import format_stm_line

LABELS = {"S000001_P0000_T00": "他 去 学校", "S000002_P0001_T00": "我 喜欢 你", "S000003_P0002_T00": "他 喜欢 学校"}


@pytest.fixture(scope="module")
def csl_daily(tmp_path_factory):
    """Three dev videos in an info folder laid out as the CSL-Daily preprocessing writes it."""
    root = tmp_path_factory.mktemp("csl_daily")
    rng = np.random.default_rng(0)
    videos = {name: (rng.integers(0, 256, (16, 64, 64, 3), dtype=np.uint8), label) for name, label in LABELS.items()}
    info_path, frame_root, gloss_dict = write_corpus(root, videos, split="dev")
    write_layout(frame_root, "CSL-Daily", 64)  # as the CSL-Daily preprocessing marks its frames
    (root / "gloss_dict.json").write_text(json.dumps({g: [i, 1] for g, i in gloss_dict.items()}, ensure_ascii=False),
                                          encoding="utf-8")
    stm = "".join(format_stm_line(name, "P0", label) for name, label in LABELS.items())
    (root / "CSL-Daily-groundtruth-dev.stm").write_text(stm, encoding="utf-8")
    return root, frame_root


def _test_phase(csl_daily, work_dir, *extra):
    root, frame_root = csl_daily
    return entry.main([
        "--work-dir", str(work_dir), "--device", "cpu", "--dataset", "CSL-Daily", "--phase", "test", "--num-worker",
        "0", "--test-batch-size", "2", "--decode-mode", "max", f"dataset_info.info_dir={root}",
        f"dataset_info.dataset_root={frame_root}", "dataset_info.eval_splits=[dev]",
        "model_args.backbone=configs/backbone/slowfast_tiny.yaml", "model_args.hidden_size=16",
        "model_args.pretrained_backbone=", "feeder_args.input_size=32", "analysis=false", *extra])


def test_the_last_video_is_left_unread_and_scored_as_empty_by_default(csl_daily, tmp_path, capsys):
    assert _test_phase(csl_daily, tmp_path) == 0
    last = list(LABELS)[-1]
    decoded = {line.split()[0] for line in (tmp_path / "output-hypothesis-dev.ctm").read_text().splitlines()}
    assert decoded == set(LABELS) - {last}  # the untrained model (seed 0) emits glosses for every clip it reads
    report = json.loads((tmp_path / "dev.python.report.json").read_text(encoding="utf-8"))
    sentence = next(s for s in report["per_sentence"] if s["fileid"] == last)
    assert [word for word in sentence["hyp_aligned"] if word] == ["[EMPTY]"]  # one substitution, two deletions
    assert sentence["correct"] == 0 and sentence["substitutions"] + sentence["deletions"] == 3
    assert f"the split's last video ({last}) was not decoded and scores as [EMPTY]" in report["note"]
    assert "feeder_args.skip_last_video=false" in (tmp_path / "dev.python.report.txt").read_text(encoding="utf-8")
    results = json.loads((tmp_path / "test_results.json").read_text())
    assert last in results["dev"]["note"]
    assert f"note: as in the official code, the split's last video ({last})" in capsys.readouterr().out


def test_the_key_turns_it_off(csl_daily, tmp_path):
    assert _test_phase(csl_daily, tmp_path, "feeder_args.skip_last_video=false") == 0
    decoded = {line.split()[0] for line in (tmp_path / "output-hypothesis-dev.ctm").read_text().splitlines()}
    report = json.loads((tmp_path / "dev.python.report.json").read_text(encoding="utf-8"))
    assert "[EMPTY]" not in report["note"] and report["note"] == ""
    assert decoded == set(LABELS)
    assert json.loads((tmp_path / "test_results.json").read_text())["dev"]["note"] == ""


def test_phoenix_reads_every_video(tmp_path):
    """Its official info files hold a prefix entry, so len - 1 is every video."""
    from dataset.video_dataset import SignVideoDataset

    videos = {f"v{i}": (np.zeros((4, 8, 8, 3), dtype=np.uint8), "A") for i in range(3)}
    info_path, frame_root, gloss_dict = write_corpus(tmp_path, videos)
    config = entry.config_from_args(["--dataset", "phoenix2014", "--device", "cpu", f"dataset_info.info_dir={tmp_path}"])
    dataset = split_dataset(config, DataPaths(config), "dev", False, gloss_dict)
    assert isinstance(dataset, SignVideoDataset) and len(dataset) == 3 and dataset.left_out == []
