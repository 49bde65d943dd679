import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from utils.config.merge import REPO_ROOT, backbone_from_dict, load_yaml
from utils.config.schema import SlowFastConfig
from utils.kernel_spec import padded_length, parse_kernel_spec

TINY_BACKBONE = REPO_ROOT / "configs" / "backbone" / "slowfast_tiny.yaml"


def tiny_backbone(**overrides) -> SlowFastConfig:
    """The demo's backbone (configs/backbone/slowfast_tiny.yaml: the R101 code path, only depth and width
    shrink) without dropout, so that runs compare exactly; `overrides` change any key."""
    values = {**load_yaml(TINY_BACKBONE), "dropout": 0.0, **overrides}
    return backbone_from_dict(values, source=str(TINY_BACKBONE))


def padded_frames(num_frames: int) -> int:
    """Padded length under the released K5 P2 K5 P2 head (tests/test_kernel_spec.py checks the rule)."""
    return padded_length(num_frames, parse_kernel_spec("K5 P2 K5 P2"))


def word_error_rate(ctm: Path, stm: Path) -> float:
    """WER (%) of a CTM against an STM by plain Levenshtein distance over each id's words: an independent check of
    the scorers on corpora they need not normalise (ids without a hypothesis count as empty)."""
    references = {}
    for line in stm.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith(";;"):
            fields = line.split()
            references[fields[0]] = fields[5:]
    hypotheses: dict[str, list[str]] = {}
    for line in ctm.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if fields and fields[4] != "[EMPTY]":
            hypotheses.setdefault(fields[0], []).append(fields[4])
    errors = words = 0
    for name, reference in references.items():
        hypothesis = hypotheses.get(name, [])
        row = list(range(len(hypothesis) + 1))
        for i, word in enumerate(reference, start=1):
            previous, row[0] = row[0], i
            for j, other in enumerate(hypothesis, start=1):
                previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
        errors += row[-1]
        words += len(reference)
    return 100 * errors / words


def tiny_recognition_batch(frames=(24, 20)):
    """Random uint8 clips of `frames` frames (padded as the default head needs) labelled with two glosses each."""
    from dataset.collate import Batch

    lengths = torch.tensor([padded_frames(t) for t in frames])
    video = torch.randint(0, 256, (len(frames), int(lengths.max()), 32, 32, 3), dtype=torch.uint8)
    return Batch(video=video, video_length=lengths, label=torch.tensor([1, 2, 3, 1][:2 * len(frames)]),
                 label_length=torch.tensor([2] * len(frames)), info=[{"fileid": f"v{i}"} for i in range(len(frames))])


@pytest.fixture(autouse=True)
def _deterministic_seed():
    torch.manual_seed(0)


# --- the end-to-end tests' shared corpus, checkpoint and command line (test_main.py, test_error_matrix.py, ...) ---

CORPUS_FRAME_SIZE = 72  # the demo's preprocessed frame side


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """The demo's synthetic corpus, small (48 train / 12 dev / 8 test clips of 2-3 of 4 glosses), preprocessed
    as `python -m preprocess` does and given the demo's translations: raw (the PHOENIX layout), info_dir
    (gloss_dict.json, info files, STMs) and frames. Built once for every end-to-end test."""
    from dataset.synthetic import generate_synthetic_corpus
    from preprocess.cli import main as preprocess_main
    from preprocess.demo_corpus import attach_translations

    root = tmp_path_factory.mktemp("corpus")
    raw = generate_synthetic_corpus(root / "raw", num_glosses=4, train=48, dev=12, test=8, seed=3,
                                    glosses_per_sentence=(2, 3))
    info_dir = root / "meta"
    assert preprocess_main(["--dataset", "phoenix2014", "--dataset-root", str(raw), "--output", str(info_dir),
                            "--frames-output", str(root / "frames"), "--output-size", str(CORPUS_FRAME_SIZE),
                            "--workers", "1"]) == 0
    attach_translations(info_dir)
    return {"raw": raw, "info_dir": info_dir, "frames": root / "frames"}


def run_args(corpus: dict[str, Path], work_dir: Path, *extra: str, info_dir: Path | None = None) -> list[str]:
    """main.py's arguments for the demo's configuration (16-wide R18, 64 px input) at test size; `extra` last,
    so it overrides; `info_dir`: another copy of the corpus's metadata."""
    return [
        "--work-dir", str(work_dir), "--device", "cpu", "--num-worker", "0", "--batch-size", "2",
        "--test-batch-size", "4", "--log-interval", "1", "--num-epoch", "3", "--evaluate-tool", "python",
        "--decode-mode", "max", f"dataset_info.info_dir={info_dir or corpus['info_dir']}",
        "model_args.backbone=configs/backbone/slowfast_tiny.yaml", "model_args.hidden_size=128",
        "model_args.pretrained_backbone=", "feeder_args.input_size=64", "optimizer_args.base_lr=0.001",
        "optimizer_args.step=[50]", *extra,
    ]


def translation_args(corpus: dict[str, Path], work_dir: Path, *extra: str) -> list[str]:
    """main.py's arguments for gloss-to-text on the corpus's glosses and translations, a tiny transformer."""
    return ["--work-dir", str(work_dir), "--device", "cpu", "task=translation", "--num-worker", "0",
            "--batch-size", "8", "--num-epoch", "15", "--log-interval", "0", f"dataset_info.info_dir={corpus['info_dir']}",
            "translation_args.width=32", "translation_args.heads=2", "translation_args.feed_forward=64",
            "translation_args.dropout=0.0", "translation_args.embedding_dropout=0.0", "optimizer_args.base_lr=0.003",
            "optimizer_args.scheduler=noam", "optimizer_args.warmup_steps=10", "optimizer_args.weight_decay=0",
            "translation_args.beam_sizes=[1,2]", "translation_args.alphas=[0,1]", *extra]


def torchrun(processes: int, *args: str) -> list[str]:
    """The command line of `torchrun --standalone --nproc_per_node <processes> main.py args` (this Python's)."""
    import sys

    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes),
            "main.py", *args]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a main.py (or other command) subprocess: one thread each, unbuffered output."""
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)


@pytest.fixture(scope="session")
def briefly_trained(corpus, tmp_path_factory) -> Path:
    """A finished run of two short epochs, each evaluated: the fast loop's train -> test -> predict chain and
    the work directory the error matrix's failing cases must leave alone. The learning rate is small enough
    that the model still emits glosses (it has not yet learnt that blanks pay), so predictions have something
    to agree on."""
    import main as entry

    work_dir = tmp_path_factory.mktemp("brief") / "work"
    assert entry.main(run_args(corpus, work_dir, "--num-epoch", "2", "--max-steps-per-epoch", "2",
                               "--log-interval", "0", "--eval-interval", "1", "optimizer_args.base_lr=1e-5")) == 0
    return work_dir


@pytest.fixture(scope="session")
def g2t_trained(corpus, tmp_path_factory) -> Path:
    """A gloss-to-text run on the corpus's glosses and translations (15 short epochs, then its test)."""
    import main as entry

    work_dir = tmp_path_factory.mktemp("g2t") / "work"
    assert entry.main(translation_args(corpus, work_dir, "test_after_train=true")) == 0
    return work_dir


JOINT_ARGS = ("task=joint", "translation_args.width=32", "translation_args.heads=2", "translation_args.feed_forward=64",
              "translation_args.dropout=0.0", "translation_args.embedding_dropout=0.0", "translation_args.beam_sizes=[1,2]",
              "translation_args.alphas=[0,1]")


@pytest.fixture(scope="session")
def joint_trained(corpus, tmp_path_factory) -> Path:
    """A joint Sign2(Gloss+Text) run: two short epochs, each evaluated, then its test (one clip per batch)."""
    import main as entry

    work_dir = tmp_path_factory.mktemp("joint") / "work"
    assert entry.main(run_args(corpus, work_dir, *JOINT_ARGS, "--num-epoch", "2", "--max-steps-per-epoch", "4",
                               "--eval-interval", "1", "test_after_train=true", "--log-interval", "0",
                               "--test-batch-size", "1")) == 0
    return work_dir


def edited_meta(source: Path, tmp_path: Path, edit=None) -> Path:
    """A copy of a corpus's metadata in tmp_path/meta whose train_info records `edit(records)` changes."""
    meta = tmp_path / "meta"
    shutil.copytree(source, meta)
    if edit is not None:
        lines = (meta / "train_info.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines[1:]]
        edit(records)
        (meta / "train_info.jsonl").write_text("\n".join([lines[0]] + [json.dumps(r) for r in records]) + "\n")
    return meta


def corpus_as_manifest(corpus: dict[str, Path], root: Path, names: list[str], counts: dict[str, int],
                       videos: bool = False) -> Path:
    """The shared corpus's first `counts[split]` clips of each split as a custom corpus's manifest (root/corpus.csv)
    whose glosses are renamed (the i-th of the corpus's sorted glosses becomes names[i]); its clips are the
    corpus's frame globs, or .mp4 videos written into root/videos when `videos`."""
    import cv2

    glosses = sorted(json.loads((corpus["info_dir"] / "gloss_dict.json").read_text()))
    rows = ["id,split,path,glosses,signer"]
    for split, count in counts.items():
        lines = (corpus["info_dir"] / f"{split}_info.jsonl").read_text().splitlines()[1:count + 1]
        for record in map(json.loads, lines):
            path = corpus["frames"] / record["folder"]
            if videos:
                frames = sorted(corpus["frames"].glob(record["folder"]))
                path = root / "videos" / f"{record['fileid']}.mp4"
                path.parent.mkdir(parents=True, exist_ok=True)
                height, width = cv2.imread(str(frames[0])).shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (width, height))
                for frame in frames:
                    writer.write(cv2.imread(str(frame)))
                writer.release()
                path = path.relative_to(root)
            label = " ".join(names[glosses.index(gloss)] for gloss in record["label"].split())
            rows.append(f"{record['fileid']},{split},{path},{label},{record['signer']}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root / "corpus.csv"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> dict[str, Path]:
    """The README's demo (configs/demo.yaml: 20 epochs on the generated corpus, about 10 minutes on 2 cores) in a
    scratch directory, for the tests that need a model that recognises sentences well (long recordings, live
    streams): its work directory and its corpus."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("demo")
    data = root / "data" / "synthetic"
    subprocess.run([sys.executable, "main.py", "--config", "configs/demo.yaml", "--work-dir", str(root / "work"),
                    f"synthetic.root={data}", f"dataset_info.info_dir={data / 'preprocessed'}", "test_after_train=false"],
                   cwd=REPO_ROOT, env=child_env(), check=True, stdout=subprocess.DEVNULL, timeout=3600)
    return {"work_dir": root / "work", "data": data}
