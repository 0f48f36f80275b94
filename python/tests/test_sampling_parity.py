"""Parity of affine_grid / grid_sample (forward and backward) with PyTorch's committed outputs."""
import numpy as np
import pytest

import swiftstn

from conftest import assert_close, cases, load_fixture

SAMPLING = load_fixture("sampling")
GS_CASES = cases(SAMPLING, "gs")
AG_CASES = cases(SAMPLING, "ag_")


def parse(case):
    _, mode, pad, ac, dname, _ = case.split("_")
    return mode, pad, ac == "ac1", np.float32 if dname == "f32" else np.float64


def test_fixture_covers_the_cross_product():
    # 2-D: 3 modes, 3D: 2 modes; × 3 paddings × 2 align_corners × 2 dtypes × 2 shapes
    assert len(GS_CASES) == (3 + 2) * 3 * 2 * 2 * 2
    assert len(AG_CASES) == 5 * 2 * 2


@pytest.mark.parametrize("case", GS_CASES)
def test_grid_sample_forward(case):
    mode, pad, ac, dtype = parse(case)
    def f(k):
        return SAMPLING[f"{case}__{k}"]

    out = swiftstn.grid_sample(f("input"), f("grid"), mode=mode, padding_mode=pad, align_corners=ac)
    assert_close(out, f("output"), dtype, case)


@pytest.mark.parametrize("case", GS_CASES)
def test_grid_sample_backward(case):
    mode, pad, ac, dtype = parse(case)
    def f(k):
        return SAMPLING[f"{case}__{k}"]

    gi, gg = swiftstn.grid_sample_backward(f("grad_output"), f("input"), f("grid"), mode=mode,
                                           padding_mode=pad, align_corners=ac)
    assert_close(gi, f("grad_input"), dtype, case + " grad_input")
    assert_close(gg, f("grad_grid"), dtype, case + " grad_grid")
    gi2, gg2 = swiftstn.grid_sample_backward(f("grad_output"), f("input"), f("grid"), mode=mode,
                                             padding_mode=pad, align_corners=ac, input_requires_grad=False)
    assert gi2 is None
    np.testing.assert_array_equal(gg2, gg)


@pytest.mark.parametrize("case", AG_CASES)
def test_affine_grid(case):
    dtype = np.float32 if case.endswith("f32") else np.float64
    ac = "_ac1_" in case
    def f(k):
        return SAMPLING[f"{case}__{k}"]

    size = tuple(int(v) for v in f("size"))
    grid = swiftstn.affine_grid(f("theta"), size, align_corners=ac)
    assert_close(grid, f("grid"), dtype, case)
    gt = swiftstn.affine_grid_backward(f("grad_grid"), size, align_corners=ac)
    assert_close(gt, f("grad_theta"), dtype, case + " grad_theta")


@pytest.mark.parametrize("ac", [0, 1])
def test_seed_stn(ac):
    """The blog's stn(): theta from its localisation net, then affine_grid + grid_sample."""
    seed = load_fixture("seed_stn")
    x, theta = seed["input"], seed["theta"]
    grid = swiftstn.affine_grid(theta, x.shape, align_corners=bool(ac))
    # Issue 2's criterion for the seed's op: 1e-6 max abs error.
    np.testing.assert_allclose(grid, seed[f"grid_ac{ac}"], rtol=0, atol=1e-6)
    out = swiftstn.grid_sample(x, grid, align_corners=bool(ac))
    np.testing.assert_allclose(out, seed[f"output_ac{ac}"], rtol=0, atol=1e-6)
    if ac:
        np.testing.assert_allclose(out, seed["stn_output"], rtol=0, atol=1e-6)


BLOCKS = load_fixture("blocks")
BK_CASES = cases(BLOCKS, "bk_")


def test_blocks_fixture_covers_the_cross_product():
    # float32: 3 modes, float64: bilinear; × 3 paddings × 2 align_corners × 2 grids
    assert len(BK_CASES) == (3 + 1) * 3 * 2 * 2
    assert len(cases(BLOCKS, "bk3d_")) == 2 * 3 * 2 * 2  # 3-D: 2 dtypes × paddings × ac × grids


@pytest.mark.parametrize("case", BK_CASES)
def test_grid_sample_on_whole_blocks(case):
    """Grids of 493 points per batch element: the vector paths (whole blocks, 16-lane chunks,
    pairs of taps inside, masked taps across the border) and the scalar tail."""
    _, mode, pad, ac, dname, gname = case.split("_")
    dtype = np.float32 if dname == "f32" else np.float64
    def f(k):
        return BLOCKS[f"{case}__{k}"]

    x, g = BLOCKS[f"input_{dname}"], BLOCKS[f"grid_{dname}_{gname}"]
    out = swiftstn.grid_sample(x, g, mode=mode, padding_mode=pad, align_corners=ac == "ac1")
    if mode != "bicubic":  # bilinear and nearest reproduce PyTorch's float operations exactly
        np.testing.assert_array_equal(out, f("output"), err_msg=case)
    gi, gg = swiftstn.grid_sample_backward(f("grad_output"), x, g, mode=mode, padding_mode=pad,
                                           align_corners=ac == "ac1")
    for name, actual in (("output", out), ("grad_input", gi), ("grad_grid", gg)):
        if mode == "bicubic":
            assert_close_or_as_accurate(actual, f(name), f(name + "_f64"), dtype, f"{case} {name}")
        elif name != "output":
            assert_close(actual, f(name), dtype, f"{case} {name}")


def scaled_error(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float((np.abs(a - b) / np.maximum(1.0, np.abs(b))).max())


def assert_close_or_as_accurate(actual, torch32, torch64, dtype, what):
    """Within the parity tolerance of PyTorch's float32 result, or else no further from the
    float64 result than PyTorch's float32 result is. (Bicubic gradients sum 16 taps × channels
    with strong cancellation: on the random grid with reflection padding both float32 results are
    ~2.6e-4 from the float64 one and 1.2e-5 from each other, i.e. the order of float32 rounding,
    not a bug on either side.)"""
    if scaled_error(actual, torch32) <= (1e-5 if np.dtype(dtype) == np.float32 else 1e-10):
        return
    ours, theirs = scaled_error(actual, torch64), scaled_error(torch32, torch64)
    assert ours <= 1.1 * theirs, f"{what}: {ours:.3g} from the float64 result, PyTorch float32 {theirs:.3g}"


BK3D_CASES = cases(BLOCKS, "bk3d_")


@pytest.mark.parametrize("case", BK3D_CASES)
def test_trilinear_on_whole_blocks(case):
    """3-D trilinear on 135 points per batch element (the block kernel's whole blocks and tail):
    bit for bit PyTorch's output."""
    _, mode, pad, ac, dname, gname = case.split("_")
    out = swiftstn.grid_sample(BLOCKS[f"input3d_{dname}"], BLOCKS[f"grid3d_{dname}_{gname}"], mode=mode,
                               padding_mode=pad, align_corners=ac == "ac1")
    np.testing.assert_array_equal(out, BLOCKS[f"{case}__output"], err_msg=case)
