"""Pixel types and layouts: uint8 / float16 images and channels-last arrays in the samplers.

Each uint8/float16/channels-last result is checked against the float path on the same pixels
(float32 N×C×H×W, the reference the rest of the suite ties to PyTorch), converted the documented
way: uint8 rounds half to even (``np.rint``) and saturates, float16 rounds to nearest even
(NumPy's cast). Against OpenCV, ``swiftstn.geometry``'s warps on H×W×3 uint8 images must agree
within one grey level on at least 99.9 % of the values (OpenCV interpolates in fixed point).
"""
import tracemalloc
import warnings

import numpy as np
import pytest

import swiftstn
from swiftstn import geometry

MODES = ["bilinear", "nearest", "bicubic"]
PADDINGS = ["zeros", "border", "reflection", "fill"]


def images(rng, n=2, c=3, h=17, w=19):
    return rng.integers(0, 256, (n, c, h, w), dtype=np.uint8)


def thetas(rng, n=2):
    t = np.tile(np.eye(2, 3), (n, 1, 1)) + rng.uniform(-0.3, 0.3, (n, 2, 3))
    return t.astype(np.float32)


def homographies(rng, n=2):
    h = np.tile(np.eye(3), (n, 1, 1)) + rng.uniform(-0.15, 0.15, (n, 3, 3))
    h[:, 2, 2] = 1
    return h.astype(np.float32)


def as_uint8(x):
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def call(op, x, rng, mode, padding, **kw):
    """(op's result on x, the same op's float32 NCHW reference on x's values) for x N×C×H×W."""
    fill = [7.5, 200.25, 31.0] if padding == "fill" else None
    common = dict(mode=mode, padding_mode=padding, align_corners=bool(rng.integers(2)), fill=fill)
    layout = kw.get("layout")
    if op == "grid_sample":
        grid = swiftstn.affine_grid(thetas(rng, x.shape[0]), (x.shape[0], 3, 13, 15), common["align_corners"])
        run = lambda a, **k: swiftstn.grid_sample(a, grid, **common, **k)  # noqa: E731
    elif op == "warp_affine":
        theta = thetas(rng, x.shape[0])
        run = lambda a, **k: swiftstn.warp_affine(a, theta, (13, 15), **common, **k)  # noqa: E731
    else:
        hm = homographies(rng, x.shape[0])
        run = lambda a, **k: swiftstn.warp_perspective(a, hm, (13, 15), **common, **k)  # noqa: E731
    ref = run(x.astype(np.float32))
    got = run(nhwc(x) if layout == "NHWC" else x, **kw)
    if layout == "NHWC":
        got = got.transpose(0, 3, 1, 2)
    return got, ref


@pytest.mark.parametrize("op", ["grid_sample", "warp_affine", "warp_perspective"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("layout", [None, "NHWC"])
def test_uint8_is_the_float_result_rounded_half_to_even_and_saturated(op, mode, padding, layout):
    rng = np.random.default_rng(abs(hash((op, mode, padding, layout))) % 2**32)
    x = images(rng)
    got, ref = call(op, x, rng, mode, padding, layout=layout)
    assert got.dtype == np.uint8
    assert np.array_equal(got, as_uint8(ref))
    # The float32 result of the uint8 image is the float path's, bit for bit.
    got32, ref32 = call(op, x, np.random.default_rng(rng.integers(2**32)), mode, padding, layout=layout,
                        out_dtype=np.float32)
    assert got32.dtype == np.float32
    assert np.array_equal(got32.view(np.uint32), ref32.view(np.uint32))


@pytest.mark.parametrize("op", ["grid_sample", "warp_affine", "warp_perspective"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("layout", [None, "NHWC"])
def test_float16_is_the_float_result_rounded_to_nearest_even(op, mode, layout):
    rng = np.random.default_rng(abs(hash((op, mode, layout, 16))) % 2**32)
    x = (rng.standard_normal((2, 3, 11, 12)) * 3).astype(np.float16)
    got, ref = call(op, x, rng, mode, "zeros", layout=layout)
    assert got.dtype == np.float16
    assert np.array_equal(got.view(np.uint16), ref.astype(np.float16).view(np.uint16))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["grid_sample", "warp_affine", "warp_perspective"])
@pytest.mark.parametrize("mode", MODES)
def test_channels_last_floats_are_the_channels_first_bits(dtype, op, mode):
    rng = np.random.default_rng(abs(hash((op, mode, str(dtype)))) % 2**32)
    x = rng.standard_normal((2, 3, 10, 9)).astype(dtype)
    theta, hm = thetas(rng).astype(dtype), homographies(rng).astype(dtype)
    if op == "grid_sample":
        grid = swiftstn.affine_grid(theta, (2, 3, 8, 7))
        a, b = swiftstn.grid_sample(x, grid, mode), swiftstn.grid_sample(nhwc(x), grid, mode, layout="NHWC")
    elif op == "warp_affine":
        a, b = swiftstn.warp_affine(x, theta, (8, 7), mode), swiftstn.warp_affine(nhwc(x), theta, (8, 7), mode,
                                                                                  layout="NHWC")
    else:
        a = swiftstn.warp_perspective(x, hm, (8, 7), mode)
        b = swiftstn.warp_perspective(nhwc(x), hm, (8, 7), mode, layout="NHWC")
    assert b.shape == (2, 8, 7, 3) and b.dtype == dtype
    assert np.array_equal(b.transpose(0, 3, 1, 2), a)


def test_a_single_hwc_image_and_a_2x3_theta():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    theta = thetas(rng, 1)
    batch = swiftstn.warp_affine(img[None], theta, (16, 18), layout="NHWC")
    one = swiftstn.warp_affine(img, theta[0], (16, 18), layout="NHWC")
    assert one.shape == (16, 18, 3) and np.array_equal(one, batch[0])
    out = np.empty((16, 18, 3), np.uint8)
    assert swiftstn.warp_affine(img, theta[0], (16, 18), layout="NHWC", out=out) is out
    assert np.array_equal(out, one)


def test_uint8_input_is_read_in_place_without_a_float_copy():
    rng = np.random.default_rng(6)
    x = rng.integers(0, 256, (16, 224, 224, 3), dtype=np.uint8)          # 2.4 MB; a float32 copy: 9.6 MB
    theta = thetas(rng, 16)
    out = np.empty_like(x)
    swiftstn.warp_affine(x, theta, (224, 224), layout="NHWC", out=out)     # warm-up
    tracemalloc.start()
    try:
        swiftstn.warp_affine(x, theta, (224, 224), layout="NHWC", out=out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes // 4, f"peak allocation {peak} bytes for a {x.nbytes}-byte uint8 input"


def test_channels_last_looking_input_warns_unless_the_layout_is_given():
    x = np.zeros((2, 32, 32, 3), np.float32)
    theta = thetas(np.random.default_rng(7))
    with pytest.warns(UserWarning, match=r"layout='NHWC'"):
        swiftstn.warp_affine(x, theta, (8, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        swiftstn.warp_affine(x, theta, (8, 8), layout="NCHW")
        swiftstn.warp_affine(x, theta, (8, 8), layout="NHWC")


def test_bad_image_arguments_are_clear_errors():
    rng = np.random.default_rng(8)
    theta = thetas(rng)
    with pytest.raises(ValueError, match=r"layout.*'NCHW'.*'NHWC'"):
        swiftstn.warp_affine(np.zeros((2, 3, 4, 4), np.uint8), theta, (4, 4), layout="CHW")
    with pytest.raises(TypeError, match=r"out_dtype must be None, the input's dtype \(float32\) or float32 for a "
                                        r"uint8/float16 input, got float64"):
        swiftstn.warp_affine(np.zeros((2, 3, 4, 4), np.float32), theta, (4, 4), out_dtype=np.float64)
    with pytest.raises(TypeError, match=r"theta must be float32 for uint8 input"):
        swiftstn.warp_affine(np.zeros((2, 3, 4, 4), np.uint8), theta.astype(np.float64), (4, 4))
    with pytest.raises(ValueError, match=r"uint8 input must be a 4-D image batch.*\(1, 1, 2, 4, 4\)"):
        swiftstn.grid_sample(np.zeros((1, 1, 2, 4, 4), np.uint8), np.zeros((1, 2, 2, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"channels-last input to be 4-D \(N, H, W, C\)"):
        swiftstn.grid_sample(np.zeros((1, 1, 2, 4, 4), np.float32), np.zeros((1, 2, 2, 2, 3), np.float32),
                             layout="NHWC")
    with pytest.raises(TypeError, match=r"input must have dtype uint8, float16, float32 or float64, got int32"):
        swiftstn.warp_affine(np.zeros((2, 3, 4, 4), np.int32), theta, (4, 4))


def test_geometry_warps_take_images_and_layouts():
    rng = np.random.default_rng(9)
    img = rng.integers(0, 256, (2, 15, 17, 3), dtype=np.uint8)
    M = np.array([[[1.1, 0.2, -2.0], [-0.15, 0.9, 1.5]]] * 2)
    ref = geometry.warp_affine(img.transpose(0, 3, 1, 2).astype(np.float32), M, (12, 14))
    got = geometry.warp_affine(img, M, (12, 14), layout="NHWC")
    assert got.dtype == np.uint8 and np.array_equal(got.transpose(0, 3, 1, 2), as_uint8(ref))
    H = np.tile(np.eye(3), (2, 1, 1)) + rng.uniform(-0.002, 0.002, (2, 3, 3))
    ref = geometry.warp_perspective(img.transpose(0, 3, 1, 2).astype(np.float32), H, (12, 14))
    got = geometry.warp_perspective(img, H, (12, 14), layout="NHWC", out_dtype=np.float32)
    assert np.array_equal(got.transpose(0, 3, 1, 2), ref)


# ---- OpenCV ------------------------------------------------------------------------------------

CV_MODES = [("INTER_LINEAR", "bilinear"), ("INTER_NEAREST", "nearest"), ("INTER_CUBIC", "bicubic")]
CV_BORDERS = [("BORDER_CONSTANT", "zeros"), ("BORDER_REPLICATE", "border"), ("BORDER_REFLECT_101", "reflection")]


@pytest.mark.parametrize("cv_mode,mode", CV_MODES)
@pytest.mark.parametrize("cv_border,padding", CV_BORDERS)
@pytest.mark.parametrize("projective", [False, True])
def test_geometry_warps_match_opencv_within_one_grey_level(cv_mode, mode, cv_border, padding, projective):
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(abs(hash((cv_mode, cv_border, projective))) % 2**32)
    img = rng.integers(0, 256, (61, 83, 3), dtype=np.uint8)
    img = cv2.GaussianBlur(img, (0, 0), 1.0)                 # photographs are smoother than noise
    M = cv2.getRotationMatrix2D((40.5, 30.25), float(rng.uniform(-40, 40)), float(rng.uniform(0.8, 1.25)))
    M[:, 2] += rng.uniform(-5, 5, 2)
    flags, border = getattr(cv2, cv_mode), getattr(cv2, cv_border)
    if projective:
        Hm = np.vstack([M, [rng.uniform(-4e-4, 4e-4), rng.uniform(-4e-4, 4e-4), 1.0]])
        ref = cv2.warpPerspective(img, Hm, (77, 59), flags=flags, borderMode=border)
        got = geometry.warp_perspective(img, Hm[None], (59, 77), mode=mode, padding_mode=padding, layout="NHWC")
    else:
        ref = cv2.warpAffine(img, M, (77, 59), flags=flags, borderMode=border)
        got = geometry.warp_affine(img, M[None], (59, 77), mode=mode, padding_mode=padding, layout="NHWC")
    assert got.shape == ref.shape and got.dtype == np.uint8
    d = np.abs(got.astype(np.int16) - ref.astype(np.int16))
    assert (d <= 1).mean() >= 0.999, f"{(d > 1).mean():.4%} of values differ by more than 1 (max {d.max()})"


def test_opencv_border_constant_value_is_fill_padding():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(10)
    img = cv2.GaussianBlur(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8), (0, 0), 1.0)
    M = cv2.getRotationMatrix2D((25, 20), 30, 0.8)
    ref = cv2.warpAffine(img, M, (50, 40), borderMode=cv2.BORDER_CONSTANT, borderValue=(10, 120, 250))
    got = geometry.warp_affine(img, M[None], (40, 50), padding_mode="fill", fill_value=[10, 120, 250],
                               layout="NHWC")
    d = np.abs(got.astype(np.int16) - ref.astype(np.int16))
    assert (d <= 1).mean() >= 0.999, f"max difference {d.max()}"
