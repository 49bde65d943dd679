import torch

from benchmarks.model_flops import count_multiply_adds
from modules.conv3d import Conv3d


def test_a_convolution_counts_output_elements_times_its_kernel_volume():
    conv = Conv3d(4, 6, (3, 3, 3), stride=(1, 2, 2), padding=(1, 1, 1), bias=False)
    x = torch.zeros(1, 4, 8, 16, 16)
    out_elements = 6 * 8 * 8 * 8  # T kept by padding 1, H and W halved by stride 2
    counts = count_multiply_adds(conv, x)
    assert sum(counts.values()) == out_elements * 4 * 3 * 3 * 3
