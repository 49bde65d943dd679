import copy

import pytest
import torch

from conftest import padded_frames, tiny_backbone
from modules.losses import SLRLoss
from slr_network import SLRModel


@pytest.mark.parametrize("stages", [True, ["s1"], ["s4"]])
def test_activation_checkpointing_keeps_outputs_gradients_and_bn_stats(stages):
    plain = SLRModel(9, tiny_backbone(dropout=0.5), hidden_size=32).train()
    with torch.no_grad():
        for name, p in plain.named_parameters():
            if name.endswith(("weight_s", "weight_f", "c_bn.weight")):
                p.fill_(0.5)
    ckpt = copy.deepcopy(plain)
    ckpt.backbone.set_activation_checkpointing(stages)
    lengths = torch.tensor([padded_frames(30), padded_frames(21)])
    video = torch.randn(2, 3, int(lengths.max()), 64, 64)
    labels, label_lengths = torch.tensor([1, 2, 3, 4, 5]), torch.tensor([3, 2])

    results = []
    for model in (plain, ckpt):
        torch.manual_seed(123)
        out = model(video, lengths)
        SLRLoss()(out, labels, label_lengths).total.backward()
        results.append(out)

    torch.testing.assert_close(results[0].sequence_logits[0], results[1].sequence_logits[0], rtol=0, atol=1e-6)
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-7, msg=name)
    for (name, buf), other in zip(plain.named_buffers(), ckpt.buffers()):
        assert torch.equal(buf, other), name


def test_unknown_stage_is_rejected():
    model = SLRModel(5, tiny_backbone(), hidden_size=16)
    with pytest.raises(ValueError, match="unknown stage"):
        model.backbone.set_activation_checkpointing(["s6"])


def _forward_backward(model, video, lengths):
    out = model(video, lengths)
    SLRLoss()(out, torch.tensor([1, 2, 3, 4, 5]), torch.tensor([3, 2])).total.backward()


def _first_module_of(model, stage):
    """The module of `stage` whose forward runs once per forward pass (twice when recomputed in backward)."""
    return getattr(model.backbone.s1, "pathway0_stem") if stage == "s1" else getattr(model.backbone, stage).pathway0_res0


@pytest.mark.parametrize("stage", ["s1", "s2", "s3", "s4", "s5"])
def test_every_checkpointed_stage_is_recomputed_in_backward(stage):
    """The stem too, although its input (the video) needs no gradient: a stage counts as checkpointed only
    when backward runs its forward again."""
    video, lengths = torch.randn(2, 3, padded_frames(12), 32, 32), torch.tensor([padded_frames(12), padded_frames(9)])
    for stages, expected_calls in (([], 1), ([stage], 2)):
        model = SLRModel(9, tiny_backbone(), hidden_size=16).train()
        model.backbone.set_activation_checkpointing(stages)
        calls = []
        _first_module_of(model, stage).register_forward_hook(lambda *_: calls.append(1))
        _forward_backward(model, video, lengths)
        assert len(calls) == expected_calls, (stages, len(calls))


def test_checkpointing_the_stem_frees_its_activations():
    """Bytes kept for backward outside checkpointed regions (saved_tensors_hooks sees only those): with s1
    checkpointed, at least the stem's convolution outputs (what its BatchNorms keep) are no longer kept."""
    video, lengths = torch.randn(2, 3, padded_frames(12), 32, 32), torch.tensor([padded_frames(12), padded_frames(9)])
    kept = {}
    stem_conv_bytes = []
    for stages in ([], ["s1"]):
        model = SLRModel(9, tiny_backbone(), hidden_size=16).train()
        model.backbone.set_activation_checkpointing(stages)
        if not stages:
            for pathway in (0, 1):
                getattr(model.backbone.s1, f"pathway{pathway}_stem").conv.register_forward_hook(
                    lambda _m, _i, out: stem_conv_bytes.append(out.numel() * out.element_size()))
        total = [0]

        def pack(tensor):
            total[0] += tensor.numel() * tensor.element_size()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            _forward_backward(model, video, lengths)
        kept[bool(stages)] = total[0]
    assert len(stem_conv_bytes) == 2
    assert kept[False] - kept[True] >= sum(stem_conv_bytes)
