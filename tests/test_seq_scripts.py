import copy
import logging
from pathlib import Path

import torch

from conftest import padded_frames, tiny_backbone
from dataset.collate import Batch
from modules.losses import SLRLoss
from deploy.prediction import expand_inputs, prediction_name
from seq_scripts import train_epoch
from slr_network import SLRModel
from utils.distributed import DistContext
from utils.precision import Precision


def _batch(frames=(24, 20)):
    lengths = torch.tensor([padded_frames(t) for t in frames])
    video = torch.randint(0, 256, (len(frames), int(lengths.max()), 32, 32, 3), dtype=torch.uint8)
    return Batch(video=video, video_length=lengths,
                 label=torch.tensor([1, 2, 3, 1]), label_length=torch.tensor([2, 2]),
                 info=[{"fileid": f"v{i}"} for i in range(len(frames))])


def _setup():
    model = SLRModel(5, tiny_backbone(), hidden_size=16, lstm_dropout=0.0)  # no randomness: runs comparable
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    return model, optimizer, scaler, DistContext(torch.device("cpu"))


def test_non_finite_gradients_skip_the_step_and_are_counted(caplog):
    batches = [_batch(), _batch(), _batch()]
    model, optimizer, scaler, context = _setup()
    reference = copy.deepcopy(model)
    poisoned = {"calls": 0}

    def poison(grad):
        poisoned["calls"] += 1
        return torch.full_like(grad, float("nan")) if poisoned["calls"] == 2 else grad

    model.classifier[0].weight.register_hook(poison)
    with caplog.at_level(logging.WARNING):
        stats = train_epoch(model, batches, SLRLoss(), optimizer, scaler, context, epoch=0,
                            precision=Precision(), log_interval=0)
    assert stats.skipped_nonfinite == 1
    assert stats.steps == 2
    assert "non-finite gradients; step skipped" in caplog.text
    # the poisoned batch changed no weight (its forward pass did update BatchNorm statistics, as officially):
    # the weights equal those of training on the other two batches alone
    reference_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    train_epoch(reference, [batches[0], batches[2]], SLRLoss(), reference_optimizer, scaler, context,
                epoch=0, precision=Precision(), log_interval=0)
    for (name, ours), theirs in zip(model.named_parameters(), reference.parameters()):
        assert torch.equal(ours, theirs), name


def test_batches_with_no_alignable_sample_are_skipped_without_a_step():
    model, optimizer, scaler, context = _setup()
    before = [p.detach().clone() for p in model.parameters()]
    impossible = _batch((4, 4))  # one output step per clip, two glosses each
    stats = train_epoch(model, [impossible], SLRLoss(), optimizer, scaler, context, epoch=0, precision=Precision(), log_interval=0)
    assert stats.skipped_infeasible_batches == 1 and stats.steps == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_a_batch_with_no_alignable_sample_still_runs_its_forward_pass_as_officially():
    """The official loop computes the forward pass and an inf loss before skipping such a batch: BatchNorm's
    running statistics and the random stream (dropout masks) move as for any batch, so every later step
    depends on it as in the official code."""
    torch.manual_seed(0)
    model = SLRModel(5, tiny_backbone(dropout=0.5), hidden_size=16, lstm_dropout=0.3)
    by_hand = copy.deepcopy(model).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    impossible = _batch((4, 4))
    start = torch.get_rng_state()
    train_epoch(model, [impossible], SLRLoss(), optimizer, torch.amp.GradScaler("cuda", enabled=False),
                DistContext(torch.device("cpu")), epoch=0, precision=Precision(), log_interval=0)
    after = torch.get_rng_state()
    torch.set_rng_state(start)
    by_hand(impossible.network_input(), impossible.video_length)
    assert torch.equal(torch.get_rng_state(), after)
    buffers = dict(by_hand.named_buffers())
    assert any(value.abs().sum() > 0 for name, value in model.named_buffers() if name.endswith("running_mean"))
    for name, value in model.named_buffers():
        assert torch.equal(value, buffers[name]), name


def test_prediction_names_follow_the_input_and_never_collide():
    taken = set()
    names = [prediction_name(Path(p), taken) for p in (
        "videos/clip.mp4", "dev/01April_2010_Thursday_heute-6694/1/*.png", "dev/01April_2010_Thursday_heute-6694/1",
        "own/frames_of_me", "other/frames_of_me/*.jpg", "more/clip.MOV")]
    assert names == ["clip", "01April_2010_Thursday_heute-6694", "01April_2010_Thursday_heute-6694_2",
                     "frames_of_me", "frames_of_me_2", "clip_2"]


def test_a_glob_over_several_folders_is_one_input_per_folder(tmp_path):
    """The README's `"clips/*/*.png"`: each folder a video, not one video of every frame."""
    for name in ("b_clip", "a_clip"):
        (tmp_path / "clips" / name).mkdir(parents=True)
        for index in range(3):
            (tmp_path / "clips" / name / f"{index}.png").write_bytes(b"")
    (tmp_path / "clips" / "empty").mkdir()
    single = str(tmp_path / "clips" / "a_clip" / "*.png")
    assert expand_inputs([str(tmp_path / "clips" / "*" / "*.png"), single]) == [
        tmp_path / "clips" / "a_clip" / "*.png", tmp_path / "clips" / "b_clip" / "*.png", Path(single)]


def test_decoding_counts_blank_steps_without_building_graphs():
    """decode_split runs under no_grad (no autograd graph kept for a whole split) and counts, over each clip's
    own output steps only, those whose most probable class is the blank."""
    from decoding.ctc_decoder import CTCDecoder
    from seq_scripts import decode_split

    model, _, _, context = _setup()
    seen = []
    model.register_forward_hook(lambda module, args, output: seen.append((torch.is_grad_enabled(), output)))
    batch = _batch()
    decoded = decode_split(model, [batch], CTCDecoder({"a": 1, "b": 2, "c": 3, "d": 4}, 5), context, Precision())
    [(grad_enabled, output)] = seen
    assert not grad_enabled
    logits = output.sequence_logits[0]
    expected = sum(int((logits[:n, b].argmax(-1) == 0).sum()) for b, n in enumerate(output.feat_len.tolist()))
    assert (decoded.blank_steps, decoded.steps) == (expected, int(output.feat_len.sum()))
    assert set(decoded.lstm) == set(decoded.conv) == {"v0", "v1"}
