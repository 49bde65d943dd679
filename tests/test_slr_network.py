import csv
from pathlib import Path

import pytest
import torch

from conftest import padded_frames, tiny_backbone
from slr_network import SLRModel

TSV = Path(__file__).with_name("official_state_dict_phoenix2014.tsv")


def _tiny_model(num_classes=11, **kwargs):
    return SLRModel(num_classes, tiny_backbone(**kwargs.pop("backbone", {})), hidden_size=32, **kwargs)


def test_state_dict_matches_official_checkpoint_listing():
    rows = list(csv.reader(TSV.open(), delimiter="\t"))[1:]
    model = SLRModel(1296)
    state = model.state_dict()
    listed = [(key, shape, dtype) for key, shape, dtype in rows]
    ours = [
        (key, "scalar" if t.dim() == 0 else "x".join(map(str, t.shape)), str(t.dtype).removeprefix("torch."))
        for key, t in state.items()
    ]
    assert len(rows) == 1400
    assert ours == listed
    assert sum(p.numel() for p in model.parameters()) == 133_601_920
    # The shared classifier is one tensor under two names, as in the official model.
    assert state["classifier.0.weight"].data_ptr() == state["conv1d.fc.0.weight"].data_ptr()


@pytest.mark.parametrize("frames", [[16], [40, 23], [37, 37, 20]])
def test_output_shapes_and_feature_lengths(frames):
    model = _tiny_model().train()
    lengths = torch.tensor([padded_frames(t) for t in frames])
    video = torch.randn(len(frames), 3, int(lengths.max()), 64, 64)
    out = model(video, lengths)
    expected_len = [((int(n) - 4) // 2 - 4) // 2 for n in lengths]
    assert out.feat_len.tolist() == expected_len
    # ceil(T/4) steps per clip: exactly one output step per 4 input frames.
    assert expected_len == [-(-t // 4) for t in frames]
    steps = max(expected_len)
    assert len(out.conv_logits) == len(out.sequence_logits) == 3
    for logits in out.conv_logits + out.sequence_logits:
        assert logits.shape == (steps, len(frames), 11)
    assert out.framewise_features.shape == (len(frames), 16 * 32 + 16 * 32 // 8, int(lengths.max()))


def test_lstm_output_is_zero_past_each_length():
    model = _tiny_model().train()
    lengths = torch.tensor([padded_frames(40), padded_frames(16)])
    out = model(torch.randn(2, 3, int(lengths.max()), 64, 64), lengths)
    short = int(out.feat_len[1])
    hidden = model.temporal_model[0](out.visual_features[0], out.feat_len)
    assert torch.count_nonzero(hidden[short:, 1]) == 0
    assert torch.count_nonzero(hidden[:short, 1]) > 0


def test_eval_uses_only_the_main_branch():
    model = _tiny_model().eval()
    lengths = torch.tensor([padded_frames(20)])
    video = torch.randn(1, 3, int(lengths.max()), 64, 64)
    calls = []
    for name in ("slow_temporal_conv", "fast_temporal_conv"):
        getattr(model.conv1d, name).register_forward_hook(lambda *_, n=name: calls.append(n))
    with torch.no_grad():
        before = model(video, lengths)
        for branch in (1, 2):
            for p in model.temporal_model[branch].parameters():
                p.add_(torch.randn_like(p))
        for p in model.conv1d.slow_temporal_conv.parameters():
            p.add_(1.0)
        after = model(video, lengths)
    assert calls == []
    assert len(before.sequence_logits) == len(before.conv_logits) == 1
    assert torch.equal(before.sequence_logits[0], after.sequence_logits[0])


def test_gradients_reach_every_parameter_with_slow_fast_losses():
    from modules.losses import SLRLoss

    model = _tiny_model().train()
    with torch.no_grad():  # open the zero-initialised gates so every path carries gradient
        for name, p in model.named_parameters():
            if name.endswith(("weight_s", "weight_f")) or ("c_bn.weight" in name or "b_bn.weight" in name):
                p.fill_(0.5)
    lengths = torch.tensor([padded_frames(40), padded_frames(32)])
    out = model(torch.randn(2, 3, int(lengths.max()), 64, 64), lengths)
    loss = SLRLoss()(out, torch.tensor([1, 2, 3, 4, 5, 6]), torch.tensor([3, 3]))
    loss.total.backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert silent == []
    assert set(loss.parts) == {"SeqCTC", "ConvCTC", "Dist", "Slow", "Fast"}


WEIGHT_SETS = [
    {"SeqCTC": 1.0, "ConvCTC": 1.0, "Dist": 25.0, "Slow": 0.25, "Fast": 0.25},
    {"SeqCTC": 1.0, "ConvCTC": 1.0, "Dist": 25.0},  # the official baseline: no PFE terms
    {"SeqCTC": 1.0, "ConvCTC": 1.0, "Dist": 25.0, "Slow": 0.25},
    {"SeqCTC": 1.0, "Fast": 0.5},
    {"ConvCTC": 1.0, "Slow": 0.0, "Fast": 1.0},
    {"Dist": 25.0, "Slow": 1.0},
]


@pytest.mark.parametrize("weights", WEIGHT_SETS)
@pytest.mark.parametrize("share_classifier", [True, False])
def test_the_parameters_left_out_of_ddp_are_exactly_those_the_loss_gives_no_gradient(weights, share_classifier):
    """What one process's backward pass leaves without a gradient is what DDP is told to ignore: a parameter
    DDP waited for would hang (or crash) the second step; one it ignored wrongly would not be averaged."""
    from modules.losses import SLRLoss

    model = _tiny_model(share_classifier=share_classifier).train()
    lengths = torch.tensor([padded_frames(40), padded_frames(32)])
    out = model(torch.randn(2, 3, int(lengths.max()), 64, 64), lengths)
    criterion = SLRLoss(weights)
    criterion(out, torch.tensor([1, 2, 3, 4, 5]), torch.tensor([3, 2])).total.backward()
    without_gradient = [name for name, parameter in model.named_parameters() if parameter.grad is None]
    assert model.parameters_outside(criterion.outputs_read()) == without_gradient
    if "Slow" not in weights and "Fast" not in weights:
        assert any(name.startswith("temporal_model.1.") for name in without_gradient)
