"""Behaviour beyond the parity fixtures: non-finite grids, strides, threads, empty tensors."""
import numpy as np
import pytest

import swiftstn

from conftest import assert_close, cases, load_fixture

SPECIAL = load_fixture("special")


@pytest.mark.parametrize("case", cases(SPECIAL, "sp"))
def test_non_finite_grids_match_pytorch(case):
    """NaN, ±Inf and ±1e30 grid values: never a crash or an out-of-bounds access, and the same
    result as PyTorch — NaN exactly where PyTorch gives NaN, equal values elsewhere."""
    _, mode, pad, ac, dname = case.split("_")
    def f(k):
        return SPECIAL[f"{case}__{k}"]

    out = swiftstn.grid_sample(f("input"), f("grid"), mode=mode, padding_mode=pad, align_corners=ac == "ac1")
    ref = f("output")
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    finite = ~np.isnan(ref)
    assert_close(out[finite], ref[finite], ref.dtype, case)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("pad", ["zeros", "border", "reflection"])
def test_backward_on_non_finite_grids_is_safe(mode, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 5, 6)).astype(np.float32)
    g = rng.uniform(-1, 1, (1, 3, 4, 2)).astype(np.float32)
    g.reshape(-1)[:8] = [np.nan, np.inf, -np.inf, 1e30, -1e30, 3e9, -3e9, np.nan]
    go = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    gi, gg = swiftstn.grid_sample_backward(go, x, g, mode=mode, padding_mode=pad)
    assert gi.shape == x.shape and gg.shape == g.shape
    if mode == "bicubic" and pad != "zeros":
        # As in PyTorch: a NaN coordinate gives NaN cubic weights, and border/reflection
        # padding clamps the taps inside, so NaN reaches the input gradient.
        assert np.isnan(gi).any()
    else:
        # The taps of non-finite points are outside (zeros) or their weights finite (clamped).
        assert np.isfinite(gi).all()


def test_non_contiguous_and_foreign_byte_order_inputs():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 8, 10)).astype(np.float64)
    g = rng.uniform(-1, 1, (2, 5, 4, 2))
    strided = np.asfortranarray(x)[:, ::-1]           # neither C- nor F-contiguous after the flip
    swapped = g.astype(">f8")                         # big-endian
    out = swiftstn.grid_sample(strided, swapped, mode="bilinear")
    ref = swiftstn.grid_sample(np.ascontiguousarray(x[:, ::-1]), g)
    np.testing.assert_array_equal(out, ref)
    assert out.flags.c_contiguous and out.dtype == np.float64


def test_lists_are_accepted_as_float64():
    grid = swiftstn.affine_grid([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], (1, 1, 2, 2), align_corners=True)
    assert grid.dtype == np.float64
    np.testing.assert_array_equal(grid[0, :, :, 0], [[-1, 1], [-1, 1]])


def test_threads_give_identical_bits():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 3, 120, 97)).astype(np.float32)   # N = 1: split across space
    g = rng.uniform(-1.1, 1.1, (1, 130, 90, 2)).astype(np.float32)
    go = rng.standard_normal((1, 3, 130, 90)).astype(np.float32)
    x3 = rng.standard_normal((2, 2, 9, 10, 11)).astype(np.float32)
    g3 = rng.uniform(-1.1, 1.1, (2, 12, 10, 8, 3)).astype(np.float32)
    saved = swiftstn.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 4):
            swiftstn.set_num_threads(threads)
            assert swiftstn.get_num_threads() == threads
            r = []
            for mode in ("bilinear", "nearest", "bicubic"):
                r.append(swiftstn.grid_sample(x, g, mode=mode, padding_mode="reflection"))
                r.extend(swiftstn.grid_sample_backward(go, x, g, mode=mode, padding_mode="border"))
            r.append(swiftstn.grid_sample(x3, g3))
            r.append(swiftstn.affine_grid(rng.standard_normal((4, 2, 3)).astype(np.float32) * 0 + 1, (4, 1, 200, 150)))
            results.append(r)
    finally:
        swiftstn.set_num_threads(saved)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert a.tobytes() == b.tobytes()


def test_empty_batch_and_empty_output():
    out = swiftstn.grid_sample(np.zeros((0, 2, 3, 3), np.float32), np.zeros((0, 4, 4, 2), np.float32))
    assert out.shape == (0, 2, 4, 4)
    x = np.ones((1, 1, 3, 3), np.float32)
    gi, gg = swiftstn.grid_sample_backward(np.zeros((1, 1, 0, 2), np.float32), x, np.zeros((1, 0, 2, 2), np.float32))
    np.testing.assert_array_equal(gi, np.zeros_like(x))
    assert gg.shape == (1, 0, 2, 2)


def test_input_requires_grad_false_skips_the_input_gradient():
    x = np.ones((2, 1, 4, 4), np.float32)
    g = np.zeros((2, 3, 3, 2), np.float32)
    gi, gg = swiftstn.grid_sample_backward(np.ones((2, 1, 3, 3), np.float32), x, g, input_requires_grad=False)
    assert gi is None and gg.shape == g.shape


def test_identity_transform_reproduces_the_input():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 7, 9)).astype(np.float64)
    theta = np.tile(np.eye(2, 3), (3, 1, 1))
    for ac in (False, True):
        out = swiftstn.grid_sample(x, swiftstn.affine_grid(theta, x.shape, align_corners=ac), align_corners=ac)
        np.testing.assert_allclose(out, x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("pad", ["border", "reflection"])
def test_where_pytorch_crashes_the_result_is_the_clamped_forward(pad):
    """PyTorch's 2-D bilinear backward segfaults on NaN grids with border/reflection padding (and
    ±Inf with reflection). swiftstn clamps such coordinates to pixel 0 as its (and PyTorch's)
    forward does: the sample reads pixel 0, the input gradient goes there, the grid gradient is 0."""
    x = np.arange(12, dtype=np.float64).reshape(1, 1, 3, 4) + 1
    for bad in (np.nan, np.inf, -np.inf):
        g = np.array([[[[bad, -1.0]]]])
        out = swiftstn.grid_sample(x, g, padding_mode=pad, align_corners=True)
        gi, gg = swiftstn.grid_sample_backward(np.ones_like(out), x, g, padding_mode=pad, align_corners=True)
        if pad == "border" and bad == np.inf:
            expected_col = 3
        elif pad == "border" and bad == -np.inf:
            expected_col = 0
        else:
            expected_col = 0
        assert out[0, 0, 0, 0] == x[0, 0, 0, expected_col]
        assert gi[0, 0, 0, expected_col] == 1 and gi.sum() == 1
        assert gg[0, 0, 0, 0] == 0


def test_refused_inputs_are_not_copied_first():
    """Shapes are validated on the caller's arrays before strided ones are made contiguous: a huge
    broadcast view with a wrong shape is a ValueError, not an attempt to allocate terabytes."""
    huge = np.broadcast_to(np.float64(1), (1, 1, 2**20, 2**20))       # 8 TiB if it were copied
    with pytest.raises(ValueError, match="same batch size"):
        swiftstn.grid_sample(huge, np.zeros((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="last dimension"):
        swiftstn.grid_sample_backward(np.zeros((1, 1, 2, 2)), huge, np.zeros((1, 2, 2, 3)))
    with pytest.raises(ValueError, match="grad_output of shape"):
        swiftstn.grid_sample_backward(huge, np.zeros((1, 1, 4, 4)), np.zeros((1, 2, 2, 2)))


@pytest.mark.parametrize("channels", [16, 32])
@pytest.mark.parametrize("ac", [False, True])
@pytest.mark.parametrize("fill", [None, "fill"])
def test_channel_multiples_of_16_equal_each_channel_alone(channels, ac, fill):
    """float32, a multiple of 16 channels: on AVX-512 builds the bilinear forward and the
    input-gradient scatter work on a pixel-major copy, 16 channels per vector, while one channel
    alone takes a plane path. Every channel's output and input gradient must come out bit for
    bit the same (zeros and fill padding, taps across the border, a partial block and tile)."""
    rng = np.random.default_rng(channels + ac)
    x = rng.standard_normal((2, channels, 11, 23)).astype(np.float32)
    theta = np.array([[[1.1, -0.25, 0.05], [0.2, 1.05, -0.02]],
                      [[0.8, 0.3, -0.1], [-0.28, 0.9, 0.04]]], np.float32)
    grid = swiftstn.affine_grid(theta, (2, channels, 13, 21), align_corners=ac)
    go = rng.standard_normal((2, channels, 13, 21)).astype(np.float32)
    fills = rng.standard_normal(channels).astype(np.float32) if fill else None
    pad = "fill" if fill else "zeros"
    out = swiftstn.grid_sample(x, grid, "bilinear", pad, ac, fill=fills)
    gi, _ = swiftstn.grid_sample_backward(go, x, grid, "bilinear", pad, ac, fill=fills)
    for c in range(channels):
        def one(a):
            return np.ascontiguousarray(a[:, c:c + 1])  # noqa: B023 (used in this iteration only)

        f = None if fills is None else fills[c:c + 1]
        alone = swiftstn.grid_sample(one(x), grid, "bilinear", pad, ac, fill=f)
        gi_alone, _ = swiftstn.grid_sample_backward(one(go), one(x), grid, "bilinear", pad, ac, fill=f)
        assert np.array_equal(out[:, c:c + 1].view(np.uint32), alone.view(np.uint32)), c
        assert np.array_equal(gi[:, c:c + 1].view(np.uint32), gi_alone.view(np.uint32)), c


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("pad", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("ac", [False, True])
def test_many_channels_equal_each_channel_sampled_alone(dims, pad, ac):
    """float32 with 9 channels and a smooth (affine) grid: on AVX-512 builds most 16-output chunks
    read their taps from row windows shared by the channels (8 or more), while one channel alone
    takes the per-position or gathered path. Every channel must come out bit for bit the same."""
    rng = np.random.default_rng(dims * 10 + ac)
    if dims == 2:
        x = rng.standard_normal((2, 9, 30, 41)).astype(np.float32)
        theta = np.array([[[0.9, -0.15, 0.05], [0.15, 0.9, -0.02]],
                          [[1.05, 0.2, -0.1], [-0.18, 0.95, 0.04]]], np.float32)
        size, modes = (2, 9, 27, 37), ["bilinear", "nearest"]
    else:
        x = rng.standard_normal((2, 9, 7, 20, 33)).astype(np.float32)
        theta = np.array([[[0.9, -0.1, 0.0, 0.05], [0.1, 0.9, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]],
                          [[1.05, 0.15, 0.02, -0.1], [-0.12, 0.95, 0.0, 0.03], [0.0, 0.05, 0.9, 0.02]]], np.float32)
        size, modes = (2, 9, 6, 19, 35), ["bilinear"]
    grid = swiftstn.affine_grid(theta, size, align_corners=ac)
    for mode in modes:
        out = swiftstn.grid_sample(x, grid, mode, pad, ac)
        for c in range(9):
            alone = swiftstn.grid_sample(np.ascontiguousarray(x[:, c:c + 1]), grid, mode, pad, ac)
            assert np.array_equal(out[:, c:c + 1].view(np.uint32), alone.view(np.uint32)), (mode, c)
