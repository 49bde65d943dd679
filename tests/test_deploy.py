"""Deploying a trained model (deploy/): the ONNX export and its verification, prediction through ONNX Runtime
without torch, and the one-line errors for exported models that do not belong together."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import child_env, run_args
from test_provenance import string_values
from dataset.collate import PadCollate
from dataset.video_dataset import Sample
from deploy.onnx_format import sidecar_path
from deploy.prediction import pad_clip
import main as entry
from utils.checkpoint import read_checkpoint

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def exported(corpus, briefly_trained, tmp_path_factory) -> Path:
    """The briefly trained checkpoint exported by `main.py --phase export`."""
    work_dir = tmp_path_factory.mktemp("export")
    assert entry.main(run_args(corpus, work_dir, "--phase", "export", "--load-weights",
                               str(briefly_trained / "best_model.pt"))) == 0
    return work_dir / "export" / "model.onnx"


def dev_inputs(corpus) -> list[str]:
    """The raw 210x260 frames of every dev clip of the shared corpus (PHOENIX's `<id>/1` camera folders)."""
    records = [json.loads(line) for line in (corpus["info_dir"] / "dev_info.jsonl").read_text().splitlines()[1:]]
    raw = corpus["raw"] / "features" / "fullFrame-210x260px"
    return [str(raw / Path(record["folder"]).parent) for record in records]


def test_the_export_writes_a_verified_model_and_what_prediction_needs(exported, briefly_trained):
    import onnx

    onnx.checker.check_model(str(exported))
    description = json.loads(sidecar_path(exported).read_text())
    checkpoint = read_checkpoint(briefly_trained / "best_model.pt")
    assert description["gloss_dict"] == checkpoint["gloss_dict"]
    assert description["num_classes"] == len(checkpoint["gloss_dict"]) + 1
    assert description["input_geometry"] == checkpoint["input_geometry"]  # how its training data was read
    assert description["padding"] == {"left_pad": 6, "stride": 4}  # K5 P2 K5 P2
    source = briefly_trained / "best_model.pt"
    assert description["source"] == {"checkpoint": "best_model.pt",
                                     "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}
    assert description["onnx_sha256"] == hashlib.sha256(exported.read_bytes()).hexdigest()
    assert description["decoding"]["mode"] == "max" and description["decoding"]["beam_width"] == 10
    verification = description["verification"]  # every length prediction uses, on the training clips
    assert verification["frames"] == [16, 64, 96, 256] and verification["tolerance"] == 1e-4
    assert verification["source"] == "training" and all(verification["best_class_equal"])
    assert all(0 <= difference <= 1e-4 for difference in verification["relative_logit_difference"])
    assert "largest logit difference ONNX Runtime vs PyTorch" in (exported.parent.parent / "log.txt").read_text()
    record = description["provenance"]  # public: nothing of the machine, nested records too
    assert not {"command", "working_directory", "host", "user", "launcher"} & set(record)
    assert not {"command", "working_directory", "host", "user"} & set(record["weights"]["provenance"])
    assert record["weights"]["checkpoint"] == "best_model.pt"


def test_an_export_beyond_the_tolerance_writes_nothing(corpus, briefly_trained, exported, tmp_path, capsys):
    """Refused in one line; an earlier export in the same place stays as it was."""
    earlier = {name: (exported.parent / name).read_bytes() for name in ("model.onnx", "model.json")}
    (tmp_path / "export").mkdir()
    for name, content in earlier.items():
        (tmp_path / "export" / name).write_bytes(content)
    assert entry.main(run_args(corpus, tmp_path, "--phase", "export", "--load-weights",
                               str(briefly_trained / "last_checkpoint.pt"), "export_args.tolerance=1e-12")) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "of the largest logit, above export_args.tolerance 1e-12: nothing was " \
                                       "written" in error
    assert {name: (tmp_path / "export" / name).read_bytes() for name in earlier} == earlier
    assert not list((tmp_path / "export").glob(".model.onnx*"))


def test_prediction_through_onnx_runtime_gives_the_checkpoints_glosses_without_torch(
        corpus, briefly_trained, exported, tmp_path):
    """Every dev clip, from its raw frames: the same JSON (glosses, frame spans, seconds) and CTM as prediction
    with the checkpoint; and the ONNX path never imports torch."""
    inputs = dev_inputs(corpus)
    assert entry.main(run_args(corpus, tmp_path / "pt", "--phase", "predict", "--load-weights",
                               str(briefly_trained / "best_model.pt"), "--input", *inputs)) == 0
    args = run_args(corpus, tmp_path / "onnx", "--phase", "predict", "--load-weights", str(exported), "--input", *inputs)
    code = f"import sys, main; code = main.main({args!r}); print(code, 'torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=child_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.stdout.strip().splitlines()[-1] == "0 False", done.stdout[-2000:] + done.stderr[-2000:]
    pt, onnx = tmp_path / "pt" / "predictions", tmp_path / "onnx" / "predictions"
    names = sorted(path.name for path in pt.glob("synthetic_*.json"))
    assert len(names) == len(inputs) == 12 and names == sorted(path.name for path in onnx.glob("synthetic_*.json"))
    records = [json.loads((folder / "predict_provenance.json").read_text()) for folder in (pt, onnx)]
    assert [record["phase"] for record in records] == ["predict", "predict"]
    assert records[1]["software"]["torch_loaded"] is False and records[1]["weights"]["onnx"] == str(exported)
    # the exported model's record names the export run, whose own record names the checkpoint it read
    source = records[1]["weights"]["provenance"]["weights"]
    assert records[0]["weights"]["checkpoint"] == str(briefly_trained / "best_model.pt")  # the local record: a path
    assert source["checkpoint"] == "best_model.pt"  # the published record: its name only
    assert source["provenance"]["phase"] == "train"
    assert source["provenance"]["code"] == records[0]["weights"]["provenance"]["code"]
    for name in names:
        assert json.loads((onnx / name).read_text()) == json.loads((pt / name).read_text()), name
    assert (onnx / "predictions.ctm").read_text() == (pt / "predictions.ctm").read_text()
    assert sum(1 for name in names if json.loads((pt / name).read_text())["glosses"]) > 0
    assert len(list(onnx.glob("*.alignment.png"))) == 12


def _export_of_another_project(path: Path) -> None:
    torch.onnx.export(torch.nn.Linear(3, 2), (torch.zeros(1, 3),), str(path), dynamo=False, input_names=["x"])


@pytest.mark.parametrize("case", ["no description", "another format", "another network", "another project",
                                  "not onnx"])
def test_an_exported_model_that_does_not_belong_is_one_line(corpus, exported, tmp_path, capsys, case):
    model, sidecar = tmp_path / "model.onnx", tmp_path / "model.json"
    description = json.loads(sidecar_path(exported).read_text())
    model.write_bytes(exported.read_bytes())
    if case != "no description":
        sidecar.write_text(json.dumps({**description, "format": "something-else"} if case == "another format"
                                      else description))
    if case == "another network":
        model.write_bytes(model.read_bytes() + b"\0")
    if case in ("another project", "not onnx"):
        if case == "another project":
            _export_of_another_project(model)
        else:
            model.write_text("<html>not a model</html>")
        sidecar.write_text(json.dumps({**description, "onnx_sha256": hashlib.sha256(model.read_bytes()).hexdigest()}))
    expected = {"no description": "has no model.json beside it", "another format": "does not describe a",
                "another network": "is not the network model.json describes",
                "another project": "takes ['x'] and gives", "not onnx": "cannot be loaded by ONNX Runtime"}[case]
    frames = dev_inputs(corpus)[0]
    assert entry.main(run_args(corpus, tmp_path / "work", "--phase", "predict", "--load-weights", str(model),
                               "--input", frames)) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: ") and expected in error, error


@pytest.mark.parametrize("frames", [1, 7, 8, 30])
def test_a_clip_is_padded_as_the_collate_pads_it_alone(frames):
    clip = np.random.default_rng(frames).integers(0, 256, (frames, 4, 5, 3), dtype=np.uint8)
    batch = PadCollate("K5 P2 K5 P2")([Sample(torch.from_numpy(clip), [1], {})])
    np.testing.assert_array_equal(pad_clip(clip, 6, 4), batch.video[0].numpy())


@pytest.mark.slow
def test_the_papers_r101_exports_from_a_checkpoint_in_the_official_layout(tmp_path):
    """configs/phoenix2014.yaml's R101 (1296 classes), weights as the official code saves them (no gloss
    dictionary, no input geometry recorded): the description takes the shipped dictionary and the official
    preprocessing's geometry, and ONNX Runtime agrees with PyTorch."""
    from checkpoint_files import save_as_official_code
    from training.optimizer import build_optimizer
    from slr_network import SLRModel
    from utils.checkpoint import training_state
    from utils.config.merge import build_config

    torch.manual_seed(0)
    model = SLRModel(1296)
    optimizer, scheduler = build_optimizer(build_config(), model)
    state = training_state(79, model, optimizer, scheduler, torch.amp.GradScaler("cuda", enabled=False), {}, {})
    save_as_official_code(state, tmp_path / "official.pt")
    del model, optimizer, state
    done = subprocess.run(
        [sys.executable, "main.py", "--config", "configs/phoenix2014.yaml", "--phase", "export", "--device", "cpu",
         "--load-weights", str(tmp_path / "official.pt"), "--work-dir", str(tmp_path / "work"),
         "dataset_info.info_dir=preprocess/meta/phoenix2014", "model_args.pretrained_backbone=",
         "export_args.verify_frames=[16,40]"],
        cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    description = json.loads((tmp_path / "work" / "export" / "model.json").read_text())
    assert description["num_classes"] == 1296 and len(description["gloss_dict"]) == 1295
    assert description["input_geometry"] == {"frame_size": [256, 256], "frame_suffix": ".png",
                                             "dataset": "phoenix2014", "input_size": 224, "image_scale": 1.0,
                                             "frame_interval": 1}
    verification = description["verification"]
    from utils.config.schema import PredictArgs
    lengths = sorted({16, 40, PredictArgs().live_window, PredictArgs().window})  # the prediction lengths beside
    assert verification["frames"] == lengths and verification["tolerance"] == 1e-4
    assert verification["source"] == "seeded random"  # no PHOENIX-2014 frames here
    assert max(verification["relative_logit_difference"]) <= 1e-4 and all(verification["best_class_equal"])


def demo_args(demo_run, work_dir: Path, *extra: str) -> list[str]:
    """main.py's arguments for predicting with the demo's best checkpoint into `work_dir`."""
    return ["--config", "configs/demo.yaml", "--work-dir", str(work_dir), "synthetic.enabled=false",
            f"dataset_info.info_dir={demo_run['data'] / 'preprocessed'}", "--phase", "predict", "--load-weights",
            str(demo_run["work_dir"] / "best_model.pt"), *extra]


def demo_recording(demo_run, out: Path) -> tuple[Path, list[str], list[str]]:
    """Every demo dev clip's raw frames one after another as one recording (a frame folder of links), the
    references joined in the same order, and the clips' folders."""
    meta = demo_run["data"] / "preprocessed"
    records = [json.loads(line) for line in (meta / "dev_info.jsonl").read_text().splitlines()[1:]]
    raw = demo_run["data"] / "phoenix-2014-multisigner" / "features" / "fullFrame-210x260px"
    clips = [raw / Path(record["folder"]).parent for record in records]
    out.mkdir(parents=True)
    for index, frame in enumerate(frame for clip in clips for frame in sorted(clip.glob("*.png"))):
        (out / f"{index:06d}.png").symlink_to(frame)
    return out, [gloss for record in records for gloss in record["label"].split()], [str(clip) for clip in clips]


@pytest.mark.slow
def test_a_long_recording_is_recognised_in_windows_about_as_well_as_its_clips(demo_run, tmp_path):
    """The demo's 40 dev clips as one recording (1,579 frames; windows of 256 with overlap 64): its WER against the
    joined references is within a few points of the clips' own hypotheses joined (merged across the sentence
    boundaries, as any continuous recognition merges a gloss ending one sentence and starting the next)."""
    import itertools

    from evaluation.alignment import align

    recording, reference, clips = demo_recording(demo_run, tmp_path / "recording")
    assert entry.main(demo_args(demo_run, tmp_path / "clips", "--input", *clips)) == 0
    out = tmp_path / "clips" / "predictions"
    clip_glosses = [json.loads((out / f"{Path(clip).parent.name}.json").read_text())["glosses"] for clip in clips]
    joined = [gloss for gloss, _ in itertools.groupby(itertools.chain(*clip_glosses))]
    assert entry.main(demo_args(demo_run, tmp_path / "long", "--input", str(recording))) == 0
    result = json.loads((tmp_path / "long" / "predictions" / "recording.json").read_text())
    assert result["windows"] == {"window": 256, "overlap": 64} and result["num_frames"] == len(list(recording.iterdir()))

    def wer(hypothesis):
        counts = align(reference, hypothesis)
        return 100 * (counts.substitutions + counts.deletions + counts.insertions) / len(reference)

    assert wer(joined) < 15 and abs(wer(result["glosses"]) - wer(joined)) <= 3, (wer(result["glosses"]), wer(joined))
    spans = [(s["start_frame"], s["end_frame"]) for s in result["segments"]]
    assert spans == sorted(spans) and all(0 <= a <= b < result["num_frames"] for a, b in spans)
    assert (tmp_path / "long" / "predictions" / "recording.alignment.png").is_file()


@pytest.mark.slow
def test_a_live_stream_prints_glosses_as_they_settle_and_ctrl_c_keeps_them(demo_run, tmp_path):
    """The recording streamed through the live path at 200 frames/s (live windows: 96 frames, overlap 32): the
    glosses are printed as they settle, with their delay behind the live frame, and are those the recording gives
    when read at once in the same windows; Ctrl-C in the middle
    of another stream ends it cleanly with what was recognised written; a camera that cannot be opened is one
    line."""
    import signal

    recording, _, _ = demo_recording(demo_run, tmp_path / "recording")
    at_once = demo_args(demo_run, tmp_path / "at_once", "predict_args.fps=200", "predict_args.window=96",
                        "predict_args.overlap=32", "--input", str(recording))  # the live windows, read at once
    assert entry.main(at_once) == 0
    expected = json.loads((tmp_path / "at_once" / "predictions" / "recording.json").read_text())
    live_args = demo_args(demo_run, tmp_path / "live", "predict_args.fps=200", "predict_args.live=true",
                          "predict_args.max_lag=0", "--input", str(recording))  # every frame, as read at once
    done = subprocess.run([sys.executable, "main.py", *live_args], cwd=REPO, env=child_env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    printed = [line.split() for line in done.stdout.splitlines() if "behind the live frame" in line]
    live = json.loads((tmp_path / "live" / "predictions" / "recording.json").read_text())
    assert live["windows"] == {"window": 96, "overlap": 32}
    assert live["glosses"] == expected["glosses"] and [words[2] for words in printed] == live["glosses"]
    assert all(0 <= float(words[3].strip("(")) < 10 for words in printed)  # seconds behind the live frame

    live_args[live_args.index("--work-dir") + 1] = str(tmp_path / "interrupted")
    process = subprocess.Popen([sys.executable, "main.py", *live_args], cwd=REPO, env=child_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "behind the live frame" in line:
            process.send_signal(signal.SIGINT)
            break
    output = "".join(seen) + process.communicate(timeout=120)[0]
    assert process.returncode == 0 and "Traceback" not in output, output[-2000:]
    interrupted = json.loads((tmp_path / "interrupted" / "predictions" / "recording.json").read_text())
    assert 0 < interrupted["num_frames"] < live["num_frames"] and interrupted["glosses"]
    settled = interrupted["glosses"][:-2]  # those settled before the stop (the stream's end is read anew)
    assert settled == live["glosses"][:len(settled)]

    camera = subprocess.run([sys.executable, "main.py", *demo_args(demo_run, tmp_path / "camera", "--input", "9")],
                            cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=300)
    assert camera.returncode == 1 and camera.stderr.strip() == (
        "error: the camera 9 cannot be opened (no such device, unreachable address or unsupported format)")


def test_an_exported_models_decoding_is_used_unless_the_command_line_sets_it():
    """model.json records the exporting run's decoding; a config file's settings do not replace it (they are not
    this run's choice), the command line's do, key by key."""
    from deploy.onnx_predict import decoding_settings
    from utils.config.command_line import config_from_args

    recorded = {"mode": "max", "beam_width": 3, "cutoff_top_n": 20, "backend": "builtin", "lm_path": "",
                "lm_weight": 0.0, "word_score": 0.0}
    mode, args = decoding_settings(config_from_args(["--config", "configs/demo.yaml"]), recorded)
    assert (mode, args.beam_width, args.cutoff_top_n) == ("max", 3, 20)  # demo.yaml says beam, 10, 40
    mode, args = decoding_settings(config_from_args(["--config", "configs/demo.yaml", "--decode-mode", "beam",
                                                     "decode_args.beam_width=7"]), recorded)
    assert (mode, args.beam_width, args.cutoff_top_n) == ("beam", 7, 20)
    mode, args = decoding_settings(config_from_args([]), {"mode": "beam"})  # an older model.json: the rest as configured
    assert (mode, args.beam_width) == ("beam", 10)


def test_the_exported_folder_can_be_published_and_run_as_it_is(corpus, briefly_trained, exported, tmp_path):
    """model.onnx, model.json, model.safetensors (the checkpoint's weights, as data) and a model card whose
    model-index holds the results the training run measured; nothing of the machine in any file; --load-weights
    FOLDER tests and predicts as the checkpoint does, the network's shape coming from the folder."""
    import getpass
    import os
    import socket

    import yaml
    from safetensors.torch import load_file

    folder = exported.parent
    assert sorted(path.name for path in folder.iterdir()) == ["README.md", "model.json", "model.onnx",
                                                              "model.safetensors"]
    checkpoint = read_checkpoint(briefly_trained / "best_model.pt")
    weights = load_file(str(folder / "model.safetensors"))
    assert weights.keys() == checkpoint["model_state_dict"].keys()
    assert all(torch.equal(weights[key], value) for key, value in checkpoint["model_state_dict"].items())
    card = (folder / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---\n")[1])
    history = checkpoint["history"]
    best = next(epoch for epoch in history["epochs"] if epoch["epoch"] == history["best_epoch"])
    metrics = {result["dataset"]["split"]: result["metrics"][0]["value"]
               for result in metadata["model-index"][0]["results"]}
    assert metrics == {split: round(best["wer"][split]["wer"], 2) for split in ("dev", "test")}
    assert metadata["datasets"] == ["phoenix2014"] and "licence" in card.lower()
    for path in folder.iterdir():
        text = path.read_bytes().decode("utf-8", "replace")
        for private in (os.getcwd(), str(briefly_trained), str(Path.home()) + "/"):
            assert private not in text, (path.name, private)
    values = string_values(json.loads((folder / "model.json").read_text()))
    assert socket.gethostname() not in values and getpass.getuser() not in values
    # the folder runs without the training's model keys on the command line: its model.json gives the shape
    shape = ("model_args.backbone=configs/backbone/slowfast_tiny.yaml", "model_args.hidden_size=128")
    plain = [arg for arg in run_args(corpus, tmp_path / "plain") if arg not in shape]
    assert entry.main([*plain, "--phase", "test", "--load-weights", str(folder)]) == 0
    assert entry.main(run_args(corpus, tmp_path / "checkpoint", "--phase", "test", "--load-weights",
                               str(briefly_trained / "best_model.pt"))) == 0
    for split in ("dev", "test"):
        name = f"output-hypothesis-{split}.ctm"
        assert (tmp_path / "plain" / name).read_text() == (tmp_path / "checkpoint" / name).read_text()
    clip = dev_inputs(corpus)[0]
    assert entry.main([*plain, "--phase", "predict", "--load-weights", str(folder), "--input", clip]) == 0
    assert entry.main(run_args(corpus, tmp_path / "checkpoint", "--phase", "predict", "--load-weights",
                               str(briefly_trained / "best_model.pt"), "--input", clip)) == 0
    name = Path(clip).name + ".json" if not Path(clip).name.isdigit() else Path(clip).parent.name + ".json"
    results = [json.loads((tmp_path / run / "predictions" / name).read_text()) for run in ("plain", "checkpoint")]
    assert results[0]["glosses"] == results[1]["glosses"] and results[0]["segments"] == results[1]["segments"]


def test_the_verification_refuses_another_best_class_even_within_the_tolerance(tmp_path, monkeypatch):
    """A graph whose logits differ by little but swap the best class at one output step is not PyTorch's model."""
    import onnxruntime

    from deploy import export

    class Graph(torch.nn.Module):
        features = False

        def forward(self, frames):  # T x 3 "logits": each step's mean colour
            return frames.to(torch.float32).mean(dim=(2, 3))[0]

    path = tmp_path / "g.onnx"
    torch.onnx.export(Graph(), (torch.zeros(1, 8, 2, 2, 3, dtype=torch.uint8),), str(path), dynamo=False,
                      input_names=["frames"], output_names=["logits"], dynamic_axes={"frames": {1: "t"}})
    clip = np.zeros((4, 2, 2, 3), dtype=np.uint8)
    clip[:, :, :, 0] = 100
    clip[:, :, :, 1] = 99  # class 0 leads class 1 by 1 in 100 at every step
    good = export.verify(Graph(), path, [clip], left_pad=0, stride=1, tolerance=0.05, source="test")
    assert good.passed and good.best_class_equal == [True]
    real_run = onnxruntime.InferenceSession.run

    def swapped(self, names, feeds):
        logits = real_run(self, names, feeds)[0].copy()
        logits[2, [0, 1]] = logits[2, [1, 0]]  # one step's two best classes swap: 1% of the largest logit
        return [logits]

    monkeypatch.setattr(onnxruntime.InferenceSession, "run", swapped)
    bad = export.verify(Graph(), path, [clip], left_pad=0, stride=1, tolerance=0.05, source="test")
    assert bad.worst <= 0.05 and bad.best_class_equal == [False] and not bad.passed


def test_onnx_runtime_and_pytorch_give_the_same_logits_side_by_side(corpus, briefly_trained, exported):
    """Run here, not read from the export's record: a dev clip's frames through the exported graph in ONNX Runtime
    and through the checkpoint's model in PyTorch, padded alike: the same best class at every step, the logits
    within 1e-4 of the largest one."""
    import onnxruntime

    from deploy.export import RecognizerGraph
    from slr_network import SLRModel
    from utils.config.command_line import config_from_args

    from dataset.frames import InputGeometry
    from deploy.frame_source import input_frames

    args = config_from_args(run_args(corpus, briefly_trained)).model_args
    weights = read_checkpoint(briefly_trained / "best_model.pt")["model_state_dict"]
    model = SLRModel(weights["classifier.0.weight"].shape[1], args.backbone, kernel_spec=args.conv_type,
                     hidden_size=args.hidden_size)
    model.load_state_dict(weights)
    description = json.loads(sidecar_path(exported).read_text())
    geometry = InputGeometry.from_dict(description["input_geometry"])
    clip = geometry.prepare(np.stack(list(input_frames(Path(dev_inputs(corpus)[0])))))
    padded = pad_clip(clip, 6, 4)[None]
    with torch.no_grad():
        expected = RecognizerGraph(model.eval()).eval()(torch.from_numpy(padded)).numpy()
    got = onnxruntime.InferenceSession(str(exported), providers=["CPUExecutionProvider"]).run(
        ["logits"], {"frames": padded})[0]
    assert got.shape == expected.shape and (got.argmax(-1) == expected.argmax(-1)).all()
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
