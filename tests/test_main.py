"""End-to-end tests of main.py on a tiny synthetic corpus (the short version of the demo)."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from checkpoint_files import save_as_official_code
from collective_counter import read_counts
from conftest import CORPUS_FRAME_SIZE, child_env, run_args, torchrun
from dataset.paths import DataPaths
from dataset.video_dataset import split_dataset
import experiment
import seq_scripts
import main as entry
from preprocess.cli import main as preprocess_main
from tasks.recognition import RecognitionTask, build_loader, prediction_geometry
from training.optimizer import build_optimizer
from utils.checkpoint import read_checkpoint
from utils.distributed import init_distributed
from utils.errors import CheckpointError
from utils.provenance import RunRecord

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """20 epochs: long enough to learn the corpus (4 minutes on 2 cores)."""
    work_dir = tmp_path_factory.mktemp("train")
    assert entry.main(run_args(corpus, work_dir, "--num-epoch", "20", "--log-interval", "0", "--eval-interval", "2")) == 0
    return work_dir


@pytest.mark.slow
def test_training_lowers_the_loss_and_beats_chance(trained):
    history = json.loads((trained / "training_history.json").read_text())
    losses = [epoch["loss"] for epoch in history["epochs"]]
    assert len(losses) == 20 and all(np.isfinite(losses))
    assert losses[-1] < 0.6 * losses[0]
    # A recogniser that has learnt nothing deletes or substitutes every gloss: WER >= 100%.
    assert history["best_wer"] < 90.0
    for name in ("best_model.pt", "last_checkpoint.pt", "training_curves.png", "log.txt", "config.yaml",
                 "output-hypothesis-dev.ctm", "output-hypothesis-dev-conv.ctm", "dev.python.report.json",
                 "dev.sclite.report.json", "dev-conv.python.report.json"):
        assert (trained / name).is_file(), name
    assert list((trained / "tensorboard").glob("events.out.tfevents.*")), "no TensorBoard scalars"
    assert "still (nearly) empty" not in (trained / "log.txt").read_text()  # no stuck-run warning
    checkpoint = read_checkpoint(trained / "last_checkpoint.pt")
    assert {"epoch", "model_state_dict", "optimizer_state_dict", "scheduler_state_dict", "rng_state"} <= set(checkpoint)
    assert checkpoint["epoch"] == 19


def test_test_phase_reproduces_the_training_wer(corpus, briefly_trained, tmp_path):
    """Also from the same weights written as the official code writes them (numpy 1.x pickle names)."""
    history = json.loads((briefly_trained / "training_history.json").read_text())
    best = history["epochs"][history["best_epoch"]]["wer"]
    save_as_official_code(read_checkpoint(briefly_trained / "best_model.pt"), tmp_path / "official.pt")
    for name, source in (("ours", briefly_trained / "best_model.pt"), ("official", tmp_path / "official.pt")):
        assert entry.main(run_args(corpus, tmp_path / name, "--phase", "test", "--load-weights", str(source))) == 0
        results = json.loads((tmp_path / name / "test_results.json").read_text())
        assert results["dev"]["wer"] == best["dev"]["wer"]
        assert results["test"]["wer"] == best["test"]["wer"]
        assert results["dev"]["conv_wer"] == best["dev"]["conv_wer"]


def test_test_phase_reports_both_scorers_on_merged_beam_output(corpus, briefly_trained, tmp_path, capsys):
    from evaluation import score

    assert entry.main(run_args(corpus, tmp_path, "--phase", "test", "--decode-mode", "beam", "--load-weights",
                                str(briefly_trained / "best_model.pt"))) == 0
    results = json.loads((tmp_path / "test_results.json").read_text())
    printed = capsys.readouterr().out
    stm_dir = corpus["info_dir"]
    for split in ("dev", "test"):
        ctm = tmp_path / f"output-hypothesis-{split}.ctm"
        rows = [line.split() for line in ctm.read_text().splitlines()]
        # the official repeat merge: no file id has the same gloss twice in a row
        assert all(not (a[0] == b[0] and a[4] == b[4]) for a, b in zip(rows, rows[1:]))
        stm = stm_dir / f"phoenix2014-groundtruth-{split}.stm"
        for tool in ("python", "sclite"):
            expected = score(ctm, stm, tool=tool, sclite="/nonexistent").wer
            assert results[split][f"wer_{tool}"] == expected
            assert results[split][f"conv_wer_{tool}"] == score(
                tmp_path / f"output-hypothesis-{split}-conv.ctm", stm, tool=tool, sclite="/nonexistent").wer
            assert (tmp_path / f"{split}.{tool}.report.json").is_file()
        assert results[split]["wer"] == results[split]["wer_python"]  # evaluate_tool python, as officially
        analysis = json.loads((tmp_path / "analysis" / split / "analysis.json").read_text())
        assert analysis["total"]["wer"] == pytest.approx(results[split]["wer_python"], abs=1e-4)
        assert (tmp_path / "analysis" / split / "confusions.png").is_file()
        assert f"{split}: WER {results[split]['wer_python']:.2f}% (official python scorer), " \
               f"{results[split]['wer_sclite']:.2f}% (sclite)" in printed


def test_a_run_that_emits_only_blanks_is_told_why_after_two_evaluations(corpus, tmp_path, monkeypatch):
    """A model whose outputs are all blank (here: a large blank logit at evaluation) gets one warning, at the
    first evaluation (the second or later) after stuck_warning_steps, naming the likely causes and the data
    check, and no second one; the figures behind it are recorded."""
    import slr_network

    real_forward = slr_network.SLRModel.forward

    def blank_forward(self, x, lengths):
        output = real_forward(self, x, lengths)
        if not self.training:
            for logits in output.sequence_logits:
                logits[..., 0] += 1e3
        return output

    monkeypatch.setattr(slr_network.SLRModel, "forward", blank_forward)
    work_dir = tmp_path / "work"
    assert entry.main(run_args(corpus, work_dir, "--num-epoch", "3", "--max-steps-per-epoch", "1",
                               "--log-interval", "0", "--eval-interval", "1", "dataset_info.eval_splits=[dev]",
                               "stuck_warning_steps=2")) == 0
    warnings = [line.split("] ", 1)[1] for line in (work_dir / "log.txt").read_text().splitlines()
                if "still (nearly) empty" in line]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("warning: after 2 evaluations and 2 training steps the dev hypotheses are still "
                                  "(nearly) empty (0.00 x the reference length, 100% of the output steps blank")
    assert f"python -m dataset.check --config {work_dir / 'config.yaml'}" in warnings[0]
    history = json.loads((work_dir / "training_history.json").read_text())
    assert [epoch["wer"]["dev"]["blank_share"] for epoch in history["epochs"]] == [1.0, 1.0, 1.0]
    assert [epoch["wer"]["dev"]["length_ratio"] for epoch in history["epochs"]] == [0.0, 0.0, 0.0]


def test_a_run_that_emits_glosses_gets_no_stuck_warning(briefly_trained):
    history = json.loads((briefly_trained / "training_history.json").read_text())
    assert all(epoch["wer"]["dev"]["length_ratio"] > 0.1 for epoch in history["epochs"])
    assert "still (nearly) empty" not in (briefly_trained / "log.txt").read_text()


def predict_dev_clips_like_the_test_phase(corpus, work_dir, tmp_path) -> int:
    """Predict on the raw 210x260 frames of every dev clip, into the training run's own directory, and check
    each clip's glosses against the test phase of the same checkpoint; returns how many clips had glosses."""
    records = [json.loads(line) for line in (corpus["info_dir"] / "dev_info.jsonl").read_text().splitlines()[1:]]
    raw = corpus["raw"] / "features" / "fullFrame-210x260px"
    recorded = read_checkpoint(work_dir / "best_model.pt")["input_geometry"]
    assert recorded["frame_size"] == [CORPUS_FRAME_SIZE, CORPUS_FRAME_SIZE] and recorded["frame_suffix"] == ".png"
    training_record = (work_dir / "config.yaml").read_text()
    assert entry.main(run_args(corpus, work_dir, "--phase", "predict", "--load-weights", str(work_dir / "best_model.pt"),
                                "--input", *(str(raw / Path(r["folder"]).parent) for r in records))) == 0
    assert (work_dir / "config.yaml").read_text() == training_record  # the run's record is kept
    out = work_dir / "predictions"
    assert (out / "predict_config.yaml").is_file()
    assert entry.main(run_args(corpus, tmp_path / "test", "--phase", "test", "--load-weights",
                                str(work_dir / "best_model.pt"))) == 0
    ctm = [line.split() for line in (tmp_path / "test" / "output-hypothesis-dev.ctm").read_text().splitlines()]
    recognised = 0
    for record in records:  # PHOENIX's camera folder `<id>/1`: the prediction is named after the video id
        result = json.loads((out / f"{record['fileid']}.json").read_text())
        assert result["glosses"] == [row[4] for row in ctm if row[0] == record["fileid"]], record["fileid"]
        spans = [(s["start_frame"], s["end_frame"]) for s in result["segments"]]
        assert all(0 <= a <= b < result["num_frames"] for a, b in spans)
        assert spans == sorted(spans)
        recognised += bool(result["glosses"])
    return recognised


def test_a_failed_evaluation_costs_no_training(corpus, briefly_trained, tmp_path, monkeypatch):
    """The briefly trained run's settings, its first evaluation failing (a full disk while writing the CTM):
    the epoch's training is already in last_checkpoint.pt, marked as owing its evaluation; the same command
    again evaluates that epoch first and ends where the uninterrupted run ended, history and weights alike."""
    args = run_args(corpus, tmp_path, "--num-epoch", "2", "--max-steps-per-epoch", "2", "--log-interval", "0",
                    "--eval-interval", "1", "optimizer_args.base_lr=1e-5")
    real = seq_scripts.write_ctm

    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(seq_scripts, "write_ctm", full_disk)
    assert entry.main(args) == 1
    saved = read_checkpoint(tmp_path / "last_checkpoint.pt")
    assert saved["epoch"] == 0 and saved["evaluation_pending"] and saved["history"]["epochs"][0]["wer"] == {}
    monkeypatch.setattr(seq_scripts, "write_ctm", real)
    assert entry.main(args) == 0
    assert "after evaluating epoch 0" in (tmp_path / "log.txt").read_text()
    ours, uninterrupted = (json.loads((path / "training_history.json").read_text()) for path in (tmp_path, briefly_trained))
    for record in ours["epochs"] + uninterrupted["epochs"]:
        record.pop("train_seconds")
    assert ours == uninterrupted
    final, expected = (read_checkpoint(path / "last_checkpoint.pt")["model_state_dict"]
                       for path in (tmp_path, briefly_trained))
    for key, value in expected.items():
        assert torch.equal(final[key], value), key


def test_train_test_predict_chain(corpus, briefly_trained, tmp_path):
    """The fast loop's in-process chain: the checkpoint records its input geometry, prediction reads raw
    frames with it into the run's directory without touching its config.yaml, and agrees with the test phase
    (a briefly trained model's glosses hardly depend on the input: the trained model below tells geometries apart)."""
    assert predict_dev_clips_like_the_test_phase(corpus, briefly_trained, tmp_path) > 0


@pytest.mark.slow
def test_predict_on_raw_frames_matches_the_test_phase_for_every_dev_clip(corpus, trained, tmp_path):
    """A trained model's glosses follow the pixels: reading the raw frames at another size (the old fixed
    256) gives other glosses, so agreement shows prediction reads clips as the test phase did."""
    assert predict_dev_clips_like_the_test_phase(corpus, trained, tmp_path) >= 8  # of 12 dev clips


def test_prediction_geometry_of_official_checkpoints_and_overrides():
    from dataset.frames import InputGeometry

    config = entry.config_from_args(["--dataset", "CSL-Daily", "feeder_args.frame_interval=2"])
    assert prediction_geometry(config, {}) == InputGeometry((256, 256), ".jpg", "CSL-Daily", 224, 1.0, 2)
    recorded = InputGeometry((72, 72), ".png", "phoenix2014", 64, 1.0, 1)
    assert prediction_geometry(config, recorded.to_dict()) == recorded  # the training data's, not the config's
    sized = entry.config_from_args(["predict_args.frame_size=96"])
    assert prediction_geometry(sized, recorded.to_dict()).frame_size == (96, 96)


def test_predict_on_an_mp4(corpus, briefly_trained, tmp_path):
    frames = sorted((corpus["frames"] / "dev").glob("*/1/*.png"))[:40]
    video_path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (CORPUS_FRAME_SIZE, CORPUS_FRAME_SIZE))
    for frame in frames:
        writer.write(cv2.imread(str(frame)))
    writer.release()
    out = tmp_path / "pred"
    assert entry.main(run_args(corpus, tmp_path, "--phase", "predict", "--load-weights",
                                str(briefly_trained / "best_model.pt"), "--input", str(video_path),
                                f"predict_args.output_dir={out}",
                                f"dataset_info.info_dir={tmp_path / 'no_dataset_here'}")) == 0
    result = json.loads((out / "clip.json").read_text())  # gloss dictionary taken from the checkpoint
    assert (out / "clip.alignment.png").stat().st_size > 5000
    assert result["num_frames"] == 40
    assert result["sentence"] == " ".join(result["glosses"])
    ctm = (out / "predictions.ctm").read_text().splitlines()
    assert [line.split()[4] for line in ctm] == result["glosses"]
    assert all(line.split()[0] == "clip" for line in ctm)


def test_features_phase_writes_one_array_per_frame(corpus, briefly_trained, tmp_path):
    assert entry.main(run_args(corpus, tmp_path, "--phase", "features", "--load-weights",
                                str(briefly_trained / "best_model.pt"))) == 0
    records = [json.loads(line) for line in (corpus["info_dir"] / "test_info.jsonl").read_text().splitlines()[1:]]
    for record in records:
        features = np.load(tmp_path / "features" / "test" / f"{record['fileid']}.npy")
        # the tiny backbone: 16 * 32 slow + 16 * 4 fast channels per frame
        assert features.shape == (record["num_frames"], 16 * 32 + 16 * 4)


def test_sync_bn_on_a_cpu_torchrun_is_refused_at_start_up(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert entry.main(["--work-dir", str(tmp_path / "work"), "--device", "cpu", "--sync-bn"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: sync_bn=true needs CUDA GPUs") and "\n" not in err
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize("argv", [["--help"], ["num_epoch=abc"], ["--config", "absent.yaml"]])
def test_help_and_configuration_errors_answer_before_torch_is_loaded(argv):
    code = f"import sys, main; code = main.main({argv!r}); print(code, 'torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == f"{0 if argv == ['--help'] else 2} False", done.stdout + done.stderr


@pytest.mark.parametrize("module", ["preprocess", "evaluation", "dataset.check"])
def test_the_other_commands_answer_help_before_torch_is_loaded(module):
    code = (f"import runpy, sys; sys.argv = [{module!r}, '--help']\ntry:\n    runpy.run_module({module!r}, "
            f"run_name='__main__')\nexcept SystemExit as stop:\n    print(stop.code, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "0 False", done.stdout + done.stderr


def emulate_two_process_training(args: list[str], steps: int) -> dict[str, torch.Tensor]:
    """What `torchrun --nproc_per_node 2 main.py args` must end with, worked out in this one process: each
    rank's batches (its DistributedSampler share) padded to the longer of the two, forward with its own dropout
    stream (rank 1's seeded apart), BatchNorm statistics of its own batch and running statistics of rank 0's
    (DDP broadcasts rank 0's buffers), loss terms averaged over the global batch (each rank's share times the
    world size), gradients averaged over the two ranks (parameters no loss term reaches keep none), then one
    Adam step. The ranks' per-process code is the training loop's; only DDP is played by hand."""
    from dataset.paths import DataPaths
    from modules.losses import LossScale, SLRLoss
    from seq_scripts import forward
    from utils.distributed import DistContext
    from utils.precision import Precision
    from utils.random_state import process_seed, seed_everything

    config = entry.config_from_args(args)
    cpu = torch.device("cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the ranks (OMP_NUM_THREADS=1)
    try:
        seed_everything(config.random_seed)  # what each rank does before building the same objects
        run = RecognitionTask(config, DistContext(cpu), DataPaths(config), RunRecord({}))
        model = run.model.train()
        train_set = split_dataset(config, run.paths, "train", True, run.gloss_dict)
        train_set.set_epoch(0)
        optimizer, _ = build_optimizer(config, model)
        criterion = SLRLoss(config.loss_weights.active())
        rng = [torch.get_rng_state()]
        seed_everything(process_seed(config.random_seed, 1))  # rank 1's stream, seeded as training starts
        rng.append(torch.get_rng_state())
        batches = []
        for rank in (0, 1):
            loader = build_loader(config, train_set, run.collate, DistContext(cpu, rank, 2), train=True)
            loader.sampler.set_epoch(0)
            torch.set_rng_state(rng[rank])
            batches.append(iter(loader))  # draws the loader's base seed from the rank's generator
            rng[rank] = torch.get_rng_state()
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            ranks = []
            local = [next(batches[rank]) for rank in (0, 1)]
            length = max(batch.video.shape[1] for batch in local)
            for rank in (0, 1):
                # rank 1 updates running statistics of its own, which rank 0's overwrite at the next forward
                rank0_buffers = [(m, dict(m._buffers)) for m in model.modules()]
                if rank == 1:
                    for module, buffers in rank0_buffers:
                        module._buffers.update({k: v.clone() for k, v in buffers.items() if v is not None})
                torch.set_rng_state(rng[rank])
                batch, output = forward(model, local[rank].padded_to(length), DistContext(cpu),
                                        Precision(None, config.channels_last))
                rng[rank] = torch.get_rng_state()
                for module, buffers in rank0_buffers:
                    module._buffers.update(buffers)
                ranks.append((batch, output, criterion.alignability(output, batch.label, batch.label_length)))
            scale = LossScale(sum(a.scale.ctc_samples for *_, a in ranks), sum(a.scale.kd_rows for *_, a in ranks))
            assert scale.ctc_samples == 2  # every clip alignable: both ranks step
            for batch, output, alignable in ranks:
                result = criterion(output, batch.label, batch.label_length, None, scale, alignable)
                (result.total * 2).backward()
            for parameter in model.parameters():
                if parameter.grad is not None:
                    parameter.grad /= 2
            optimizer.step()
        return {k: v.detach().clone() for k, v in model.state_dict().items()}
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.parametrize("terms", ["paper", "baseline"])
def test_ddp_gloo_two_processes_match_one_process(corpus, briefly_trained, tmp_path, terms):
    """torchrun with 2 CPU processes (gloo): the weights it trains are those of the two ranks played by hand in
    one process (also with the official baseline's loss terms, whose slow and fast heads get no gradient); the
    dev WER it logs is what `--phase test` of its best checkpoint gives (each process evaluates with the
    checkpoint's BatchNorm statistics), and evaluation by two processes equals evaluation by one."""
    args = run_args(corpus, tmp_path / "ddp", "--num-epoch", "1", "--max-steps-per-epoch", "3",
                    "--batch-size", "1", "--load-weights", str(briefly_trained / "best_model.pt"), "save_interval=1")
    if terms == "baseline":  # a file's loss_weights replace the defaults: no Slow or Fast term
        (tmp_path / "baseline.yaml").write_text("loss_weights: {SeqCTC: 1.0, ConvCTC: 1.0, Dist: 25.0}\n")
        args = ["--config", str(tmp_path / "baseline.yaml"), *args]
    env = child_env()
    command = torchrun(2, *args)
    command[command.index("main.py")] = str(REPO / "tests" / "ddp_eval_worker.py")  # main.py, buffers recorded
    command.insert(command.index(str(REPO / "tests" / "ddp_eval_worker.py")) + 1, str(tmp_path / "evaluated"))
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "x2" in (tmp_path / "ddp" / "log.txt").read_text()
    ddp_state = read_checkpoint(tmp_path / "ddp" / "last_checkpoint.pt")["model_state_dict"]
    by_hand = [*args]
    by_hand[by_hand.index("--work-dir") + 1] = str(tmp_path / "by_hand")
    expected = emulate_two_process_training(by_hand, steps=3)
    assert set(ddp_state) == set(expected)
    for key, value in expected.items():
        assert torch.equal(ddp_state[key], value), key

    # every process evaluated with the buffers of the checkpoint (rank 0's), and so the dev WER logged is the
    # best checkpoint's
    saved = read_checkpoint(tmp_path / "ddp" / "best_model.pt")["model_state_dict"]
    for rank in (0, 1):
        evaluations = torch.load(tmp_path / f"evaluated.rank{rank}.pt", weights_only=True)
        assert len(evaluations) == 2  # dev and test
        for buffers in evaluations:
            for name, value in buffers.items():
                assert torch.equal(value, saved[name]), (rank, name)
    # training, checkpoints and the evaluation after training: the same collectives, as often, on both processes
    counts = [read_counts(tmp_path / f"evaluated.collectives.rank{rank}.json") for rank in (0, 1)]
    assert counts[0] == counts[1] and counts[0].get("all_reduce", 0) >= 3
    single = tmp_path / "single"
    assert entry.main(run_args(corpus, single, "--phase", "test", "--load-weights",
                               str(tmp_path / "ddp" / "best_model.pt"))) == 0
    logged = json.loads((tmp_path / "ddp" / "training_history.json").read_text())["epochs"][0]["wer"]["dev"]
    assert logged == json.loads((single / "test_results.json").read_text())["dev"]
    assert (tmp_path / "ddp" / "output-hypothesis-dev.ctm").read_text() == \
        (single / "output-hypothesis-dev.ctm").read_text()
    if terms == "baseline":
        return
    # the same weights evaluated by one process and by two must give the same WER
    two = tmp_path / "two"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--standalone", "main.py",
                           *run_args(corpus, two, "--phase", "test", "--load-weights",
                                     str(tmp_path / "ddp" / "last_checkpoint.pt"))],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    by_two, by_one = (json.loads((run / "test_results.json").read_text()) for run in (two, single))
    assert (by_two.pop("provenance")["processes"], by_one.pop("provenance")["processes"]) == (2, 1)
    assert by_two == by_one
    assert (two / "output-hypothesis-dev.ctm").read_text() == (single / "output-hypothesis-dev.ctm").read_text()


def test_evaluating_a_checkpoint_never_reads_the_kinetics_pickle(corpus, briefly_trained, tmp_path):
    """configs/<dataset>.yaml name a Kinetics pickle; testing a trained checkpoint must not need it."""
    assert entry.main(run_args(corpus, tmp_path, "--phase", "test", "--load-weights",
                                str(briefly_trained / "best_model.pt"),
                                f"model_args.pretrained_backbone={tmp_path / 'absent.pkl'}")) == 0
    with pytest.raises(CheckpointError, match=r"absent.pkl \(model_args.pretrained_backbone\) are not there"):
        config = entry.config_from_args(run_args(
            corpus, tmp_path / "fresh", f"model_args.pretrained_backbone={tmp_path / 'absent.pkl'}"))
        RecognitionTask(config, init_distributed("cpu"), DataPaths(config), RunRecord({}))


def test_autocast_in_training_only_unless_eval_amp(corpus, briefly_trained, tmp_path, monkeypatch):
    """The official evaluation runs in float32: inference asks for autocast only with eval_amp."""
    import sys as _sys

    from utils.precision import Precision

    requested = []
    real = Precision.autocast

    def recording(self, device):
        caller = _sys._getframe(1)
        while caller.f_code.co_name == "forward":  # seq_scripts.forward: the loop that called it
            caller = caller.f_back
        requested.append((caller.f_code.co_name, self.dtype))
        return real(self, device)

    monkeypatch.setattr(Precision, "autocast", recording)
    assert entry.main(run_args(corpus, tmp_path / "train", "--num-epoch", "1", "--max-steps-per-epoch", "1",
                                "amp_dtype=bfloat16")) == 0
    assert {name for name, dtype in requested if dtype is not None} == {"recognition_loss"}  # the training step
    assert ("recognition_loss", torch.bfloat16) in requested and ("decode_split", None) in requested
    requested.clear()
    assert entry.main(run_args(corpus, tmp_path / "test", "--phase", "test", "--load-weights",
                                str(briefly_trained / "best_model.pt"), "eval_amp=true")) == 0
    assert requested and all(dtype == torch.float16 for _, dtype in requested)


def test_cosine_schedule_ends_at_the_official_floor():
    import math

    from utils.config.merge import build_config

    config = build_config({"num_epoch": 10, "optimizer_args": {"scheduler": "cosine", "base_lr": 1e-3}})
    optimizer, scheduler = build_optimizer(config, torch.nn.Linear(2, 2))
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    floor = 1e-3 * 0.025
    assert rates[5] == pytest.approx(floor + (1e-3 - floor) * (1 + math.cos(math.pi * 5 / 10)) / 2)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(floor)


def test_csl_daily_frames_written_by_an_old_version_are_refused_when_read(tmp_path):
    from dataset.errors import DataError
    from utils.config.merge import build_config

    old = tmp_path / "frames"
    (old / "S1").mkdir(parents=True)
    info_dir = tmp_path / "meta"
    info_dir.mkdir()
    record = {"fileid": "S1", "folder": "S1/*.jpg", "label": "A"}
    (info_dir / "dev_info.jsonl").write_text(json.dumps({"prefix": str(old)}) + "\n" + json.dumps(record) + "\n")
    paths = DataPaths(build_config({"dataset": "CSL-Daily", "dataset_info": {"info_dir": str(info_dir)}}))
    with pytest.raises(DataError, match="old layout"):
        paths.frames("dev")
    official = tmp_path / "official"  # frames made elsewhere, e.g. by the official scripts: not ours to judge
    official.mkdir()
    paths = DataPaths(build_config({"dataset": "CSL-Daily",
                                          "dataset_info": {"info_dir": str(info_dir), "dataset_root": str(official)}}))
    assert paths.frames("dev") == official


def test_the_synthetic_corpus_is_prepared_through_the_preprocessing_api(tmp_path):
    """synthetic.enabled: generated, then preprocessed by preprocess_corpus exactly as the CLI would; the
    validated config is left as it was."""
    config = entry.config_from_args([
        "--work-dir", str(tmp_path / "work"), "--device", "cpu", "--num-worker", "1", "synthetic.enabled=true",
        f"synthetic.root={tmp_path / 'synthetic'}", "synthetic.train=3", "synthetic.dev=2", "synthetic.test=2",
        "synthetic.output_size=24", "synthetic.seed=4"])
    info_dir = experiment.data_folder(config, init_distributed("cpu"))
    assert info_dir == tmp_path / "synthetic" / "preprocessed" and config.dataset_info.info_dir == ""
    raw = tmp_path / "synthetic" / "phoenix-2014-multisigner"
    assert preprocess_main(["--dataset", "phoenix2014", "--dataset-root", str(raw), "--output", str(tmp_path / "cli"),
                            "--skip-frames"]) == 0
    for name in ("gloss_dict.json", "phoenix2014-groundtruth-dev.stm", "phoenix2014-groundtruth-test.stm"):
        assert (info_dir / name).read_text() == (tmp_path / "cli" / name).read_text(), name
    for split, count in (("train", 3), ("dev", 2), ("test", 2)):
        records = (info_dir / f"{split}_info.jsonl").read_text().splitlines()[1:]
        assert len(records) == count
        for record in map(json.loads, records):
            frames = sorted((tmp_path / "synthetic" / "frames").glob(record["folder"]))
            assert len(frames) == record["num_frames"] > 0
            assert cv2.imread(str(frames[0])).shape == (24, 24, 3)

