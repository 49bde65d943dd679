import logging

import pytest
import torch
import torch.nn.functional as F

from modules.losses import SeqKD, SLRLoss, ctc_required_lengths
from slr_network import SLROutput


def _output(steps, feat_len, num_classes=6, branches=3):
    def logits():
        return [torch.randn(steps, len(feat_len), num_classes, requires_grad=True) for _ in range(branches)]

    return SLROutput(
        feat_len=torch.tensor(feat_len), conv_logits=logits(), sequence_logits=logits(),
        framewise_features=torch.empty(0), visual_features=[], sequence_features=[],
    )


def test_required_lengths_count_repeats():
    labels = torch.tensor([1, 1, 2, 1, 2, 3, 5, 5, 5])
    assert ctc_required_lengths(labels, torch.tensor([3, 3, 3])).tolist() == [4, 3, 5]


def test_seqkd_matches_hand_computation():
    student, teacher = torch.randn(5, 2, 7), torch.randn(5, 2, 7)
    t = 8.0
    p = torch.softmax(teacher[..., 1:] / t, -1)
    log_q = torch.log_softmax(student[..., 1:] / t, -1)
    expected = (p * (p.log() - log_q)).sum() / 10 * t * t
    torch.testing.assert_close(SeqKD(8)(student, teacher, use_blank=False), expected)


def _ctc(logits, labels, in_len, lab_len):
    return F.ctc_loss(logits.log_softmax(-1), labels, in_len, lab_len, reduction="none").mean()


def test_total_follows_published_weighting():
    out = _output(6, [6, 5])
    labels, lab_len = torch.tensor([1, 2, 3, 4, 4]), torch.tensor([3, 2])
    w = {"SeqCTC": 1.0, "ConvCTC": 1.0, "Dist": 25.0, "Slow": 0.25, "Fast": 0.25}
    result = SLRLoss(w)(out, labels, lab_len)
    kd = SeqKD(8)

    def branch(i):
        return (
            _ctc(out.sequence_logits[i], labels, out.feat_len, lab_len)
            + _ctc(out.conv_logits[i], labels, out.feat_len, lab_len)
            + 25.0 * kd(out.conv_logits[i], out.sequence_logits[i].detach())
        )

    expected = branch(0) + 0.25 * branch(1) + 0.25 * branch(2)
    torch.testing.assert_close(result.total, expected)
    torch.testing.assert_close(result.parts["Slow"], branch(1))


def test_infeasible_samples_are_left_out_with_a_warning(caplog):
    # Sample "b" needs 1 + 2 + 1 (repeat) = 4 steps but has only 3.
    out = _output(5, [5, 3])
    labels, lab_len = torch.tensor([1, 2, 3, 3]), torch.tensor([1, 3])
    with caplog.at_level(logging.WARNING):
        result = SLRLoss({"SeqCTC": 1.0})(out, labels, lab_len, names=["a", "b"])
    expected = _ctc(out.sequence_logits[0][:, :1], torch.tensor([1]), torch.tensor([5]), torch.tensor([1]))
    torch.testing.assert_close(result.total, expected)
    assert result.excluded == ["b"]
    assert "b (feature length 3 < 4)" in caplog.text
    assert torch.isfinite(result.total)
    result.total.backward()
    assert torch.count_nonzero(out.sequence_logits[0].grad[:, 1]) == 0


def test_all_infeasible_batch_is_skipped():
    out = _output(2, [2, 2])
    assert SLRLoss()(out, torch.tensor([1, 2, 3, 4, 5, 6]), torch.tensor([3, 3])) is None


def test_unknown_loss_weight_is_rejected():
    with pytest.raises(ValueError, match="unknown loss weight"):
        SLRLoss({"SeqCTc": 1.0})


def test_eval_outputs_skip_auxiliary_terms():
    out = _output(6, [6], branches=1)
    result = SLRLoss()(out, torch.tensor([1, 2]), torch.tensor([2]))
    assert set(result.parts) == {"SeqCTC", "ConvCTC", "Dist"}
