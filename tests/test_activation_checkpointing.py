import copy

import pytest
import torch

from conftest import padded_frames, tiny_backbone
from modules.losses import SLRLoss
from slr_network import SLRModel


@pytest.mark.parametrize("stages", [True, ["s4"]])
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
