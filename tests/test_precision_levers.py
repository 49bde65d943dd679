"""The GPU speed levers leave results unchanged, each checked on the CPU against the default path.

channels_last_3d and the fused Adam must agree to float32 rounding; bfloat16
autocast (which exists on the CPU too) within bfloat16's precision; the uint8
batch normalised on the device is checked bit for bit in test_collate.py.
"""
import copy

import os

import pytest
import torch

from benchmarks.gpu_check import loss_agreement, without_dropout
from conftest import tiny_backbone
from dataset.collate import PadCollate
from dataset.video_dataset import Sample
from modules.losses import SLRLoss
from slr_network import SLRModel
from utils.precision import Precision
from utils.random_state import configure_determinism


def tiny_batch():
    generator = torch.Generator().manual_seed(0)
    samples = [Sample(torch.randint(0, 256, (t, 32, 32, 3), generator=generator, dtype=torch.uint8), label,
                      {"fileid": f"v{t}"}) for t, label in ((24, [1, 2]), (20, [3]))]
    return PadCollate()(samples)


def loss_and_grads(model, batch, memory_format=torch.contiguous_format, autocast=None):
    model.zero_grad()
    with torch.autocast("cpu", dtype=autocast or torch.float32, enabled=autocast is not None):
        output = model(batch.network_input(memory_format), batch.video_length)
    loss = SLRLoss()(output, batch.label, batch.label_length, ["a", "b"]).total
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def tiny_model():
    """Dropout off, so that two forward passes differ only by what is being compared."""
    torch.manual_seed(0)
    return without_dropout(SLRModel(5, tiny_backbone(), hidden_size=16).train())


def test_channels_last_3d_gives_the_same_loss_and_gradients():
    batch = tiny_batch()
    assert batch.network_input(torch.channels_last_3d).is_contiguous(memory_format=torch.channels_last_3d)
    assert torch.equal(batch.network_input(torch.channels_last_3d), batch.network_input())
    model = tiny_model()
    reference_loss, reference_grads = loss_and_grads(model, batch)
    converted = copy.deepcopy(model).to(memory_format=torch.channels_last_3d)
    loss, grads = loss_and_grads(converted, batch, torch.channels_last_3d)
    torch.testing.assert_close(loss, reference_loss, rtol=1e-5, atol=1e-5)
    # float32 rounding of other summation orders, measured against the largest gradient (biases that a
    # BatchNorm cancels have gradients of rounding size, so a per-tensor relative test means nothing there)
    scale = max(float(grad.abs().max()) for grad in reference_grads.values())
    worst = max(float((grads[name] - grad).abs().max()) for name, grad in reference_grads.items())
    assert worst <= 1e-5 * scale


def test_bfloat16_autocast_agrees_with_float32_within_its_precision():
    batch = tiny_batch()
    model = tiny_model()
    reference, _ = loss_and_grads(model, batch)
    mixed, _ = loss_and_grads(model, batch, autocast=torch.bfloat16)
    agreement = loss_agreement(float(reference), float(mixed), torch.bfloat16)
    assert agreement.passed, agreement
    # and the check is tight enough to catch a cast that loses the signal
    assert not loss_agreement(float(reference), float(reference) * 1.2, torch.bfloat16).passed


def test_fused_adam_makes_the_same_update():
    """One step from the same gradients: the updates (about lr = 1e-3 each) agree to float32 rounding. (Later
    steps drift apart where Adam normalises gradients of rounding size, as any two summation orders do.)"""
    model = tiny_model()
    fused_model = copy.deepcopy(model)
    plain = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    fused = torch.optim.Adam(fused_model.parameters(), lr=1e-3, weight_decay=1e-4, fused=True)
    batch = tiny_batch()
    before = [p.detach().clone() for p in model.parameters()]
    for network, optimizer in ((model, plain), (fused_model, fused)):
        loss_and_grads(network, batch)
        optimizer.step()
    moved = 0
    for start, (name, a), (_, b) in zip(before, model.named_parameters(), fused_model.named_parameters()):
        moved += float((a.detach() - start).abs().max()) > 1e-4
        torch.testing.assert_close(b.detach(), a.detach(), rtol=0, atol=1e-6, msg=name)
    assert moved > len(before) // 2  # (zero-initialised gates and final BNs leave some without gradient)


def test_grad_scaler_only_for_float16_on_cuda():
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert Precision(torch.float16).needs_grad_scaler(cuda)
    assert not Precision(torch.bfloat16).needs_grad_scaler(cuda)
    assert not Precision(torch.float16).needs_grad_scaler(cpu)
    assert not Precision().needs_grad_scaler(cuda)


def test_cudnn_autotunes_unless_deterministic(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    configure_determinism(False)
    assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
    assert not torch.are_deterministic_algorithms_enabled() and "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    try:
        configure_determinism(True)
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    finally:
        configure_determinism(False)
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("key, value", [("amp_dtype", "float8"), ("amp_dtype", "half")])
def test_bad_amp_dtype_is_refused(key, value):
    from utils.config.merge import build_config
    from utils.config.schema import ConfigError

    with pytest.raises(ConfigError, match="amp_dtype"):
        build_config({key: value})
