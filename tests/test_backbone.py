import math

import torch

from conftest import tiny_backbone
from modules.slowfast import SlowFast, SlowFastConfig


def test_stage_shapes_at_224_follow_the_published_strides():
    backbone = SlowFast(tiny_backbone()).eval()
    shapes = {}
    for name in ("s1", "s2", "s3", "s4", "s5"):
        getattr(backbone, name).register_forward_hook(
            lambda _m, _i, out, n=name: shapes.__setitem__(n, [tuple(t.shape) for t in out])
        )
    with torch.no_grad():
        features = backbone(torch.randn(1, 3, 8, 224, 224))
    w = 16
    assert shapes["s1"] == [(1, w, 2, 56, 56), (1, w // 8, 8, 56, 56)]
    assert shapes["s2"] == [(1, 4 * w, 2, 56, 56), (1, w // 2, 8, 56, 56)]
    assert shapes["s3"] == [(1, 8 * w, 2, 28, 28), (1, w, 8, 28, 28)]
    assert shapes["s4"] == [(1, 16 * w, 2, 14, 14), (1, 2 * w, 8, 14, 14)]
    assert shapes["s5"] == [(1, 32 * w, 2, 7, 7), (1, 4 * w, 8, 7, 7)]
    assert features.shape == (1, 32 * w + 4 * w, 8)


def test_head_repeats_slow_features_alpha_times_and_averages_space():
    backbone = SlowFast(tiny_backbone()).eval()
    x_s, x_f = torch.randn(2, 512, 3, 7, 7), torch.randn(2, 64, 12, 7, 7)
    out = backbone.head([x_s, x_f])
    expected_slow = torch.nn.functional.avg_pool3d(x_s, (1, 7, 7)).flatten(2)
    for t in range(12):
        torch.testing.assert_close(out[:, :512, t], expected_slow[:, :, t // 4])
    torch.testing.assert_close(out[:, 512:], x_f.mean(dim=(3, 4)))


def test_r101_temporal_kernels_per_block():
    backbone = SlowFast(SlowFastConfig())
    kernels = {
        stage: [getattr(backbone, stage).__getattr__(f"pathway{p}_res{i}").branch2.a.kernel_size[0]
                for p in (0, 1) for i in range(getattr(backbone, stage).num_blocks)]
        for stage in ("s2", "s3", "s4", "s5")
    }
    assert kernels["s2"] == [1] * 3 + [3] * 3
    assert kernels["s3"] == [1] * 4 + [3] * 4
    assert kernels["s4"] == ([3] * 6 + [1] * 17) * 2
    assert kernels["s5"] == [3] * 6
    assert backbone.s1.pathway0_stem.conv.kernel_size == (1, 7, 7)
    assert backbone.s1.pathway1_stem.conv.kernel_size == (5, 7, 7)


def test_initialisation_follows_pyslowfast():
    backbone = SlowFast(tiny_backbone())
    block = backbone.s3.pathway0_res0.branch2
    assert torch.count_nonzero(block.c_bn.weight) == 0
    assert torch.all(block.a_bn.weight == 1) and torch.all(block.b_bn.bias == 0)
    assert torch.all(backbone.s3.pathway0_res0.branch1_bn.weight == 1)
    conv = block.b.weight  # fan_out = out_channels * 3 * 3
    expected_std = math.sqrt(2.0 / (conv.shape[0] * 9))
    assert abs(conv.std().item() / expected_std - 1) < 0.1


def test_cpu_conv3d_matches_torch_reference():
    from modules.conv3d import Conv3d

    conv = Conv3d(4, 6, (3, 3, 3), stride=(1, 2, 2), padding=(1, 1, 1), bias=True)
    x = torch.randn(1, 4, 6, 10, 10, requires_grad=True)
    ours = conv(x)
    reference = torch.nn.functional.conv3d(x, conv.weight, conv.bias, (1, 2, 2), (1, 1, 1))
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4)
    grads = torch.autograd.grad(ours.sum(), (x, conv.weight))
    expected = torch.autograd.grad(reference.sum(), (x, conv.weight))
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_the_depth_table_covers_exactly_the_depths_the_schema_accepts():
    import typing

    from modules.slowfast import STAGE_DEPTH
    depth_choices = typing.get_args(typing.get_type_hints(SlowFastConfig)["depth"])
    assert set(STAGE_DEPTH) == set(depth_choices) == {18, 50, 101}
    assert STAGE_DEPTH[101] == (3, 4, 23, 3) and STAGE_DEPTH[50] == (3, 4, 6, 3)  # PySlowFast's _MODEL_STAGE_DEPTH


def test_declared_output_channels_are_the_features_channels():
    """output_dims (what the temporal head is built for) == the channels the backbone really emits,
    for two depths and widths: 32 x width slow (res5's 4 x 8 x width) and 1/beta_inv of that fast."""
    for overrides in ({}, {"depth": 50, "width": 8, "num_block_temp_kernel": [[3, 3], [4, 4], [6, 6], [3, 3]]}):
        backbone = SlowFast(tiny_backbone(**overrides)).eval()
        with torch.no_grad():
            features = backbone(torch.randn(1, 3, 4, 32, 32))
        width = backbone.config.width
        assert backbone.output_dims == (32 * width, 32 * width // 8)
        assert features.shape[1] == sum(backbone.output_dims)
