import pickle

import numpy as np
import pytest
import torch

from conftest import tiny_backbone
from modules.c2_model_loading import c2_name_to_pytorch, load_c2_checkpoint, read_c2_blobs
from modules.slowfast import SlowFast
from utils.errors import CheckpointError


def test_caffe2_names_map_to_pyslowfast_names():
    assert c2_name_to_pytorch("conv1_w") == "s1.pathway0_stem.conv.weight"
    assert c2_name_to_pytorch("t_res_conv1_bn_riv") == "s1.pathway1_stem.bn.running_var"
    assert c2_name_to_pytorch("res4_12_branch2b_bn_s") == "s4.pathway0_res12.branch2.b_bn.weight"
    assert c2_name_to_pytorch("t_res3_0_branch1_w") == "s3.pathway1_res0.branch1.weight"
    assert c2_name_to_pytorch("res2_0_branch1_bn_rm") == "s2.pathway0_res0.branch1_bn.running_mean"
    assert c2_name_to_pytorch("t_pool1_subsample_w") == "s1_fuse.conv_f2s.weight"
    assert c2_name_to_pytorch("t_res3_3_branch2c_bn_subsample_bn_b") == "s3_fuse.bn.bias"
    assert c2_name_to_pytorch("pred_w") is None


def test_loader_copies_adapts_and_reports(tmp_path):
    # res4 blocks use a temporal kernel of 1 here, while the checkpoint's have 3.
    backbone = SlowFast(tiny_backbone(num_block_temp_kernel=[[2, 2], [2, 2], [0, 0], [1, 1]]))
    rng = np.random.default_rng(0)
    blobs = {
        "conv1_w": rng.standard_normal((16, 3, 1, 7, 7)).astype(np.float32),
        "t_conv1_w": rng.standard_normal((2, 3, 5, 7, 7)).astype(np.float32),
        "res_conv1_bn_s": rng.standard_normal(16).astype(np.float32),
        # concat fusion widths: 16 slow + 4 fused channels in, the model takes 16
        "res2_0_branch1_w": rng.standard_normal((64, 20, 1, 1, 1)).astype(np.float32),
        "res4_0_branch2a_w": rng.standard_normal((64, 128, 3, 1, 1)).astype(np.float32),
        # fusion BN of width 2*C_f = 4 against the model's C_f*beta_inv = 16: tiled
        "t_pool1_subsample_bn_s": np.arange(4, dtype=np.float32),
        # fusion conv with 4 output channels cannot become 16: reported, init kept
        "t_pool1_subsample_w": rng.standard_normal((4, 2, 5, 1, 1)).astype(np.float32),
        "pred_w": rng.standard_normal((400, 2304)).astype(np.float32),
        "conv1_w_momentum": np.zeros((16, 3, 1, 7, 7), np.float32),
        "model_iter": np.array([1]),
    }
    path = tmp_path / "SLOWFAST_tiny.pkl"
    with open(path, "wb") as handle:
        pickle.dump({"blobs": blobs}, handle)
    fuse_init = backbone.s1_fuse.conv_f2s.weight.detach().clone()

    report = load_c2_checkpoint(path, backbone)

    state = backbone.state_dict()
    assert torch.equal(state["s1.pathway0_stem.conv.weight"], torch.from_numpy(blobs["conv1_w"]))
    assert torch.equal(state["s1.pathway1_stem.conv.weight"], torch.from_numpy(blobs["t_conv1_w"]))
    assert torch.equal(state["s1.pathway0_stem.bn.weight"], torch.from_numpy(blobs["res_conv1_bn_s"]))
    assert torch.equal(state["s2.pathway0_res0.branch1.weight"], torch.from_numpy(blobs["res2_0_branch1_w"][:, :16]))
    assert torch.equal(state["s4.pathway0_res0.branch2.a.weight"], torch.from_numpy(blobs["res4_0_branch2a_w"][:, :, :1]))
    assert state["s1_fuse.bn.weight"].tolist() == [0.0, 1.0, 2.0, 3.0] * 4
    assert torch.equal(state["s1_fuse.conv_f2s.weight"], fuse_init)

    assert len(report.loaded) == 3
    assert len(report.adapted) == 3
    assert sorted(line.split(":")[0].split(" ")[0] for line in report.unmapped) == ["pred_w", "t_pool1_subsample_w"]
    assert "s1_fuse.conv_f2s.weight" in report.missing
    assert "s1.pathway0_stem.conv.weight" not in report.missing
    assert not any(key.endswith("num_batches_tracked") for key in report.missing)
    assert "3 loaded" in report.summary()


def test_python2_era_pickles_load_and_pickles_naming_code_are_refused(tmp_path):
    blobs = {"conv1_w": np.arange(6, dtype=np.float32).reshape(1, 6), "model_iter": np.int64(7)}
    # protocol 2 with the `numpy.core` module names older numpy wrote, as PySlowFast's released files have
    old = pickle.dumps({"blobs": blobs}, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray\n_reconstruct" in old
    (tmp_path / "old.pkl").write_bytes(old)
    loaded = read_c2_blobs(tmp_path / "old.pkl")
    assert np.array_equal(loaded["conv1_w"], blobs["conv1_w"]) and loaded["model_iter"] == 7

    class RunsCode:
        def __reduce__(self):
            return (print, ("this must not run",))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"blobs": {"conv1_w": RunsCode()}}))
    with pytest.raises(CheckpointError, match=r"evil.pkl: not a Caffe2 checkpoint \(refuses to load builtins.print"):
        read_c2_blobs(tmp_path / "evil.pkl")
