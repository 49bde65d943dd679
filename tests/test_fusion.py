import torch
import torch.nn.functional as F

from modules.fusion_helper import BiFusion
from conftest import tiny_backbone
from modules.slowfast import SlowFast


def test_fusion_scalars_start_at_zero_and_fusion_is_identity():
    backbone = SlowFast(tiny_backbone())
    fusions = [getattr(backbone, f"s{i}_fuse") for i in range(1, 5)]
    assert not hasattr(backbone, "s5_fuse")
    for fusion in fusions:
        assert fusion.weight_s.item() == 0.0 and fusion.weight_f.item() == 0.0
    fusion = fusions[0].eval()
    x_s, x_f = torch.randn(2, 16, 3, 8, 8), torch.randn(2, 2, 12, 8, 8)
    out_s, out_f = fusion([x_s, x_f])
    assert torch.equal(out_s, x_s) and torch.equal(out_f, x_f)


def test_fusion_matches_an_independent_computation():
    fusion = BiFusion(fast_dim=2, beta_inv=8, fusion_kernel=5, alpha=4).eval()
    with torch.no_grad():
        fusion.weight_s.fill_(0.7)
        fusion.weight_f.fill_(-0.3)
        for bn in (fusion.bn, fusion.bn2):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    x_s, x_f = torch.randn(1, 16, 3, 4, 4), torch.randn(1, 2, 12, 4, 4)

    def bn(x, layer):
        shape = (1, -1, 1, 1, 1)
        return (x - layer.running_mean.view(shape)) / torch.sqrt(layer.running_var.view(shape) + layer.eps) * layer.weight.view(shape) + layer.bias.view(shape)

    to_slow = F.relu(bn(F.conv3d(x_f, fusion.conv_f2s.weight, stride=(4, 1, 1), padding=(2, 0, 0)), fusion.bn))
    to_fast = F.relu(bn(F.conv3d(x_s, fusion.conv_s2f.weight), fusion.bn2))
    to_fast = to_fast.repeat_interleave(4, dim=2)  # nearest upsampling 3 -> 12 frames
    with torch.no_grad():
        out_s, out_f = fusion([x_s, x_f])
    assert to_slow.shape == x_s.shape
    torch.testing.assert_close(out_s, x_s + 0.7 * to_slow)
    torch.testing.assert_close(out_f, x_f - 0.3 * to_fast)


def test_backbone_config_rejects_unknown_keys():
    import pytest

    with pytest.raises(ValueError, match="unknown config key .widht.; did you mean .width."):
        tiny_backbone(widht=8)
    with pytest.raises(ValueError, match="depth"):
        tiny_backbone(depth=34)
