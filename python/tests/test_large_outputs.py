"""Large outputs: the float32 samplers write outputs of 8 MiB or more with streaming stores on
AVX-512 builds (bypassing the cache). The values must not change: each large result is compared
bit for bit with the same samples computed one batch element at a time, in calls whose outputs
are small enough for ordinary stores. Odd plane sizes leave the channel planes unaligned to
16 bytes, where the kernels fall back to ordinary stores block by block."""
import numpy as np
import pytest

import swiftstn


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(scope="module")
def large_case():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 3, 601, 703)).astype(np.float32)      # output 15.2 MB, 5.1 MB per element
    theta = np.array([[[0.9, -0.15, 0.05], [0.15, 0.9, -0.02]],
                      [[1.1, 0.2, 0.0], [-0.2, 1.1, 0.1]],
                      [[0.7, 0.0, -0.3], [0.0, 0.7, 0.3]]], np.float32)
    return x, theta, swiftstn.affine_grid(theta, x.shape)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("threads", [1, 2])
def test_large_output_equals_per_element_calls(large_case, mode, threads):
    x, theta, grid = large_case
    saved = swiftstn.get_num_threads()
    try:
        swiftstn.set_num_threads(threads)
        whole = swiftstn.grid_sample(x, grid, mode=mode)
        fused = swiftstn.warp_affine(x, theta, x.shape[2:], mode=mode)
        fill = swiftstn.grid_sample(x, grid, mode=mode, padding_mode="fill", fill=[0.5, -1.0, 2.0])
    finally:
        swiftstn.set_num_threads(saved)
    for b in range(x.shape[0]):
        part = swiftstn.grid_sample(x[b:b + 1], grid[b:b + 1], mode=mode)
        assert same_bits(whole[b:b + 1], part), (mode, b)
        assert same_bits(fused[b:b + 1], part), (mode, b)
        part_fill = swiftstn.grid_sample(x[b:b + 1], grid[b:b + 1], mode=mode, padding_mode="fill",
                                         fill=[0.5, -1.0, 2.0])
        assert same_bits(fill[b:b + 1], part_fill), (mode, b)
