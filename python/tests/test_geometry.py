"""swiftstn.geometry: kornia's warps and helpers on NumPy arrays.

Live parity with kornia (skipped without it) for outputs, gradients and every helper; a float64
finite-difference check of grad_M that needs no kornia; empty sizes; errors; and OpenCV's
warpAffine/warpPerspective (skipped without cv2).

Parity criterion: max |ours − theirs| / max(1, max |theirs|) ≤ 1e-5 (float32) or 1e-12 (float64),
per array — gradients to M reach a few hundred on these sizes, so their tolerance scales with
their largest entry.
"""
import sys

import numpy as np
import pytest

import swiftstn
from swiftstn import geometry

TOL = {np.float32: 1e-5, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]
PADDINGS = ["zeros", "border", "reflection", "fill"]


def scaled_error(actual, expected):
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert a.shape == e.shape, (a.shape, e.shape)
    if e.size == 0:
        return 0.0
    return float(np.abs(a - e).max() / max(1.0, float(np.abs(e).max())))


def assert_parity(actual, expected, dtype, what):
    assert np.asarray(actual).dtype == dtype, f"{what}: dtype {np.asarray(actual).dtype}"
    err = scaled_error(actual, expected)
    assert err <= TOL[dtype], f"{what}: scaled error {err:.3g} > {TOL[dtype]:g}"


# ---- random cases ------------------------------------------------------------------------------
# Generic matrices: no output point may sample exactly at a pixel position (a kink of bilinear
# interpolation, where one-sided derivatives differ), which identity rows and integer scales would do.

def random_affine(rng, n, src_hw, dst_hw):
    """Pixel source → destination matrices: rotation ±40°, anisotropic scale, shear, moving the
    source centre near the destination centre."""
    (h, w), (ho, wo) = src_hw, dst_hw
    center = np.array([[(w - 1) / 2, (h - 1) / 2]] * n) + rng.uniform(-1, 1, (n, 2))
    M = geometry.get_affine_matrix2d(rng.uniform(-2, 2, (n, 2)) + [[(wo - w) / 2, (ho - h) / 2]], center,
                                     rng.uniform(0.8, 1.25, (n, 2)), rng.uniform(-40, 40, n),
                                     sx=rng.uniform(-0.2, 0.2, n), sy=rng.uniform(-0.2, 0.2, n))
    return M[:, :2, :]


def random_homography(rng, n, src_hw, dst_hw):
    """A random affine map with a mild perspective row, times a random nonzero factor (either sign:
    kornia treats every multiple alike)."""
    A = np.concatenate([random_affine(rng, n, src_hw, dst_hw), np.tile([[[0.0, 0.0, 1.0]]], (n, 1, 1))], axis=1)
    h, w = src_hw
    P = np.tile(np.eye(3), (n, 1, 1))
    P[:, 2, 0] = rng.uniform(-0.3, 0.3, n) / w          # w stays in about [0.7, 1.3] over the image
    P[:, 2, 1] = rng.uniform(-0.3, 0.3, n) / h
    scale = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(-2, 2, n)
    return (A @ P) * scale[:, None, None]


CASES = [((11, 13), (9, 12)), ((8, 10), (15, 17)), ((16, 9), (16, 9))]   # (src (H, W), dst (h, w))


def warp_inputs(rng, dtype, projective, case, n=2, c=3):
    src_hw, dst_hw = CASES[case]
    src = rng.random((n, c, *src_hw)).astype(dtype)
    M = (random_homography if projective else random_affine)(rng, n, src_hw, dst_hw).astype(dtype)
    grad = rng.standard_normal((n, c, *dst_hw)).astype(dtype)
    return src, M, dst_hw, grad


# ---- kornia ------------------------------------------------------------------------------------

@pytest.fixture
def kornia():
    """kornia, running on PyTorch's own grid_sample (swiftstn.torch.patch() left enabled by another
    test would make the comparison circular)."""
    k = pytest.importorskip("kornia")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)     # one-threaded: PyTorch's CPU reductions are then deterministic
    patched = sys.modules.get("swiftstn.torch")
    depth = 0
    while patched is not None and patched.is_enabled():
        patched.disable()
        depth += 1
    yield k
    for _ in range(depth):
        patched.enable()
    torch.set_num_threads(threads)


def kornia_warp(kornia, projective, src, M, dsize, grad=None, fill_value=None, **kw):
    """kornia's output and, with ``grad``, the autograd gradients of sum(out·grad) to src and M."""
    import torch

    s = torch.from_numpy(np.ascontiguousarray(src)).requires_grad_(grad is not None)
    m = torch.from_numpy(np.ascontiguousarray(M)).requires_grad_(grad is not None)
    fill = None if fill_value is None else torch.as_tensor(np.asarray(fill_value, src.dtype))
    fn = kornia.geometry.transform.warp_perspective if projective else kornia.geometry.transform.warp_affine
    out = fn(s, m, tuple(dsize), fill_value=fill, **kw)
    if grad is None:
        return out.detach().numpy()
    (out * torch.from_numpy(grad)).sum().backward()
    return out.detach().numpy(), s.grad.numpy(), m.grad.numpy()


def ours_warp(projective, *args, **kw):
    return (geometry.warp_perspective if projective else geometry.warp_affine)(*args, **kw)


def ours_backward(projective, *args, **kw):
    return (geometry.warp_perspective_backward if projective else geometry.warp_affine_backward)(*args, **kw)


def fill_for(padding, c, dtype):
    return np.linspace(0.2, 0.8, c).astype(dtype) if padding == "fill" else None


@pytest.mark.parametrize("projective", [False, True], ids=["affine", "perspective"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_warp_matches_kornia(kornia, projective, mode, padding, align_corners, dtype):
    rng = np.random.default_rng([int(projective), len(mode), len(padding), int(align_corners), dtype().itemsize])
    for case in range(len(CASES)):
        src, M, dsize, _ = warp_inputs(rng, dtype, projective, case)
        kw = dict(mode=mode, padding_mode=padding, align_corners=align_corners,
                  fill_value=fill_for(padding, src.shape[1], dtype))
        assert_parity(ours_warp(projective, src, M, dsize, **kw), kornia_warp(kornia, projective, src, M, dsize, **kw),
                      dtype, f"case {case}")


@pytest.mark.parametrize("projective", [False, True], ids=["affine", "perspective"])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gradients_match_kornia_autograd(kornia, projective, mode, padding, align_corners, dtype):
    rng = np.random.default_rng([7, int(projective), len(mode), len(padding), int(align_corners), dtype().itemsize])
    for case in range(len(CASES)):
        src, M, dsize, grad = warp_inputs(rng, dtype, projective, case)
        kw = dict(mode=mode, padding_mode=padding, align_corners=align_corners,
                  fill_value=fill_for(padding, src.shape[1], dtype))
        out, k_src, k_M = kornia_warp(kornia, projective, src, M, dsize, grad=grad, **kw)
        g_src, g_M = ours_backward(projective, grad, src, M, dsize, **kw)
        assert_parity(g_src, k_src, dtype, f"grad_src case {case}")
        if projective and dtype == np.float32:
            # float32 rounding, not a convention: kornia's own float32 grad_M is up to 3.5e-5 from its
            # float64 one on these cases and ours up to 1.9e-5 (measured), both summing ~300 products
            # with cancellation. So: against float64 kornia within 5e-5, against float32 within 1e-4.
            _, _, k64_M = kornia_warp(kornia, projective, *(a.astype(np.float64) for a in (src, M)), dsize,
                                      grad=grad.astype(np.float64), **kw)
            assert scaled_error(g_M, k64_M) <= 5e-5, scaled_error(g_M, k64_M)
            assert scaled_error(g_M, k_M) <= 1e-4, scaled_error(g_M, k_M)
        else:
            assert_parity(g_M, k_M, dtype, f"grad_M case {case}")
        none, g_M2 = ours_backward(projective, grad, src, M, dsize, src_requires_grad=False, **kw)
        assert none is None
        np.testing.assert_array_equal(g_M2, g_M)


@pytest.mark.parametrize("dtype", DTYPES)
def test_shared_affine_matrix_broadcasts_like_kornia(kornia, dtype):
    rng = np.random.default_rng(3)
    src, M, dsize, grad = warp_inputs(rng, dtype, False, 0, n=3)
    M1 = M[:1]
    out, k_src, k_M = kornia_warp(kornia, False, src, M1, dsize, grad=grad)
    assert_parity(geometry.warp_affine(src, M1, dsize), out, dtype, "output")
    g_src, g_M = geometry.warp_affine_backward(grad, src, M1, dsize)
    assert g_M.shape == (1, 2, 3)
    assert_parity(g_src, k_src, dtype, "grad_src")
    assert_parity(g_M, k_M, dtype, "grad_M (summed over the batch)")


@pytest.mark.parametrize("projective", [False, True], ids=["affine", "perspective"])
@pytest.mark.parametrize("fill_shape", ["scalar", "one", "per_channel", "per_sample", "per_sample_scalar"])
def test_fill_values_like_kornia(kornia, projective, fill_shape):
    dtype = np.float64
    rng = np.random.default_rng(5)
    src, M, dsize, grad = warp_inputs(rng, dtype, projective, 1)
    n, c = src.shape[:2]
    fill = {"scalar": np.array(0.6), "one": np.array([0.6]), "per_channel": rng.random(c),
            "per_sample": rng.random((n, c, 1, 1)), "per_sample_scalar": rng.random((n, 1, 1, 1))}[fill_shape]
    kw = dict(padding_mode="fill", fill_value=fill)
    out, k_src, k_M = kornia_warp(kornia, projective, src, M, dsize, grad=grad, **kw)
    assert_parity(ours_warp(projective, src, M, dsize, **kw), out, dtype, "output")
    g_src, g_M = ours_backward(projective, grad, src, M, dsize, **kw)
    assert_parity(g_src, k_src, dtype, "grad_src")
    assert_parity(g_M, k_M, dtype, "grad_M")


def test_fill_value_is_ignored_without_fill_padding_and_zero_by_default():
    rng = np.random.default_rng(6)
    src, M, dsize, _ = warp_inputs(rng, np.float32, False, 1)
    zeros = geometry.warp_affine(src, M, dsize)
    np.testing.assert_array_equal(geometry.warp_affine(src, M, dsize, fill_value=np.ones(3)), zeros)  # as kornia
    np.testing.assert_array_equal(geometry.warp_affine(src, M, dsize, padding_mode="fill"), zeros)


@pytest.mark.parametrize("padding", ["zeros", "border", "fill"])
@pytest.mark.parametrize("align_corners", [True, False])
def test_horizon_across_the_output_matches_kornia(kornia, padding, align_corners):
    """A homography whose horizon (w = 0) crosses the output: kornia samples the points beyond it
    through the projective division, which swiftstn's guard refuses, so geometry samples them with
    −H. float64 only: near the horizon the coordinates are huge and float32 rounding moves them by
    whole pixels (for the same reason reflection padding, which folds those coordinates back, is
    left out)."""
    dtype = np.float64
    rng = np.random.default_rng(8)
    src = rng.random((2, 2, 10, 12))
    grad = rng.standard_normal((2, 2, 15, 17))
    T = np.eye(3) + rng.uniform(-0.1, 0.1, (2, 3, 3))
    T[:, 2] = [0.9, 0.1, 0.25]                          # w = 0.9x + 0.1y + 0.25: changes sign at x ≈ −0.3
    M = geometry.pixel_matrix_from_theta(T, (10, 12), (15, 17), align_corners) * -2.5
    kw = dict(padding_mode=padding, align_corners=align_corners, fill_value=0.4 if padding == "fill" else None)
    out, k_src, k_M = kornia_warp(kornia, True, src, M, (15, 17), grad=grad, **kw)
    assert_parity(geometry.warp_perspective(src, M, (15, 17), **kw), out, dtype, "output")
    g_src, g_M = geometry.warp_perspective_backward(grad, src, M, (15, 17), **kw)
    assert_parity(g_src, k_src, dtype, "grad_src")
    assert_parity(g_M, k_M, dtype, "grad_M")


@pytest.mark.parametrize("projective", [False, True], ids=["affine", "perspective"])
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_singleton_axes_match_kornia(kornia, projective, align_corners, dtype):
    """kornia maps a 1-pixel axis to 0 with scale 1 under align_corners=True (and grid_sample then
    reads the one pixel whatever the coordinate)."""
    rng = np.random.default_rng(9)
    for src_hw, dst_hw in [((1, 7), (5, 6)), ((6, 1), (4, 1)), ((5, 6), (1, 1)), ((1, 1), (3, 2))]:
        src = rng.random((2, 2, *src_hw)).astype(dtype)
        M = (random_homography if projective else random_affine)(rng, 2, (6, 7), (6, 7)).astype(dtype)
        kw = dict(align_corners=align_corners, padding_mode="border")
        theirs = kornia_warp(kornia, projective, src, M, dst_hw, **kw)
        assert_parity(ours_warp(projective, src, M, dst_hw, **kw), theirs, dtype, f"{src_hw} → {dst_hw}")


# ---- helpers against kornia --------------------------------------------------------------------

def to_torch(*arrays):
    import torch

    return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]


@pytest.mark.parametrize("dtype", DTYPES)
def test_rotation_and_affine_matrices_match_kornia(kornia, dtype):
    rng = np.random.default_rng(10)
    n = 5
    center, scale, trans = rng.uniform(-20, 20, (n, 2)), rng.uniform(0.5, 2, (n, 2)), rng.uniform(-5, 5, (n, 2))
    angle, sx, sy = rng.uniform(-180, 180, n), rng.uniform(-0.5, 0.5, n), rng.uniform(-0.5, 0.5, n)
    c, s, t, a, x, y = (v.astype(dtype) for v in (center, scale, trans, angle, sx, sy))
    kt = kornia.geometry.transform
    assert_parity(geometry.get_rotation_matrix2d(c, a, s), kt.get_rotation_matrix2d(*to_torch(c, a, s)).numpy(),
                  dtype, "get_rotation_matrix2d")
    assert_parity(geometry.get_affine_matrix2d(t, c, s, a), kt.get_affine_matrix2d(*to_torch(t, c, s, a)).numpy(),
                  dtype, "get_affine_matrix2d")
    for shear in [dict(sx=x), dict(sy=y), dict(sx=x, sy=y)]:
        theirs = kt.get_affine_matrix2d(*to_torch(t, c, s, a), **{k: to_torch(v)[0] for k, v in shear.items()})
        assert_parity(geometry.get_affine_matrix2d(t, c, s, a, **shear), theirs.numpy(), dtype, f"shear {list(shear)}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_perspective_transform_and_affine_inverse_match_kornia(kornia, dtype):
    rng = np.random.default_rng(11)
    square = np.array([[0.0, 0.0], [31.0, 0.0], [31.0, 23.0], [0.0, 23.0]])
    kt = kornia.geometry.transform
    for size in (np.array([31.0, 23.0]), np.array([639.0, 479.0])):     # a small and a VGA image
        ps = (square * size / [31, 23] + rng.uniform(-0.1, 0.1, (6, 4, 2)) * size).astype(dtype)
        pd = (square * size / [31, 23] + rng.uniform(-0.1, 0.1, (6, 4, 2)) * size).astype(dtype)
        H = geometry.get_perspective_transform(ps, pd)
        assert_parity(H, kt.get_perspective_transform(*to_torch(ps, pd)).numpy(), dtype, f"{size}")
        mapped = np.einsum("nij,nkj->nki", H.astype(np.float64), np.concatenate([ps, np.ones((6, 4, 1))], axis=-1))
        np.testing.assert_allclose(mapped[..., :2] / mapped[..., 2:], pd, rtol=0,
                                   atol=(1e-5 if dtype == np.float32 else 1e-12) * size.max())
    M = random_affine(rng, 6, (20, 30), (20, 30)).astype(dtype)
    assert_parity(geometry.invert_affine_transform(M), kt.invert_affine_transform(*to_torch(M)).numpy(), dtype,
                  "invert_affine_transform")


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_normalisation_matches_kornia(kornia, align_corners, dtype):
    rng = np.random.default_rng(12)
    kc = kornia.geometry.conversions
    torch_dtype = to_torch(np.zeros(0, dtype))[0].dtype
    for (h, w) in [(1, 1), (1, 9), (7, 1), (12, 17)]:
        theirs = kc.normal_transform_pixel(h, w, align_corners=align_corners, dtype=torch_dtype).numpy()
        assert_parity(geometry.normal_transform_pixel(h, w, align_corners, dtype=dtype), theirs, dtype,
                      f"normal_transform_pixel {h, w}")
    H = random_homography(rng, 4, (12, 17), (9, 20)).astype(dtype)
    for src_hw, dst_hw in [((12, 17), (9, 20)), ((1, 5), (6, 1))]:
        for fn in ("normalize_homography", "denormalize_homography"):
            ours = getattr(geometry, fn)(H, src_hw, dst_hw, align_corners=align_corners)
            theirs = getattr(kc, fn)(*to_torch(H), src_hw, dst_hw, align_corners=align_corners).numpy()
            assert_parity(ours, theirs, dtype, f"{fn} {src_hw} {dst_hw}")
    assert geometry.normalize_homography(H[0], (12, 17), (9, 20)).shape == (1, 3, 3)   # unbatched → 1×3×3
    back = geometry.denormalize_homography(geometry.normalize_homography(H, (12, 17), (9, 20), align_corners),
                                           (12, 17), (9, 20), align_corners)
    assert_parity(back, H, dtype, "round trip")


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_converters_match_kornia_normalisation(kornia, align_corners, dtype):
    """theta_from_pixel_matrix is kornia's normalize_homography followed by the inverse (for 3×3 up
    to the positive scale that gives H[2, 2] > 0 and max |entry| = 1)."""
    import torch

    rng = np.random.default_rng(13)
    src_hw, dst_hw = (12, 17), (9, 20)
    kc = kornia.geometry.conversions
    for M in (random_affine(rng, 3, src_hw, dst_hw), random_homography(rng, 3, src_hw, dst_hw)):
        M = M.astype(dtype)
        M3 = np.concatenate([M, np.tile([[[0, 0, 1]]], (3, 1, 1)).astype(dtype)], axis=1) if M.shape[1] == 2 else M
        ref = torch.linalg.inv(kc.normalize_homography(torch.from_numpy(M3).double(), src_hw, dst_hw,
                                                       align_corners=align_corners)).numpy()
        theta = geometry.theta_from_pixel_matrix(M, src_hw, dst_hw, align_corners)
        if M.shape[1] == 2:
            assert theta.shape == (3, 2, 3)
            assert_parity(theta, ref[:, :2], dtype, "affine theta")
        else:
            assert np.all(theta[:, 2, 2] > 0) and np.allclose(np.abs(theta).max(axis=(1, 2)), 1)
            ref = ref / (np.abs(ref).max(axis=(1, 2)) * np.sign(ref[:, 2, 2]))[:, None, None]
            assert_parity(theta, ref, dtype, "homography")


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_converters_round_trip_and_drive_swiftstn_warps(align_corners, dtype):
    rng = np.random.default_rng(14)
    src_hw, dst_hw = (12, 17), (9, 20)
    M = random_affine(rng, 3, src_hw, dst_hw).astype(dtype)
    theta = geometry.theta_from_pixel_matrix(M, src_hw, dst_hw, align_corners)
    assert_parity(geometry.pixel_matrix_from_theta(theta, src_hw, dst_hw, align_corners), M, dtype, "affine")
    assert_parity(geometry.theta_from_pixel_matrix(M[0], src_hw, dst_hw, align_corners), theta[0], dtype, "unbatched")
    H = random_homography(rng, 3, src_hw, dst_hw)
    H = (H / H[:, 2:, 2:]).astype(dtype)                                  # M[2, 2] = 1: the returned scale
    Ht = geometry.theta_from_pixel_matrix(H, src_hw, dst_hw, align_corners)
    assert_parity(geometry.pixel_matrix_from_theta(Ht, src_hw, dst_hw, align_corners), H, dtype, "homography")
    # swiftstn's own warps with the converted matrices are geometry's warps.
    src = rng.random((3, 2, *src_hw)).astype(dtype)
    np.testing.assert_array_equal(swiftstn.warp_affine(src, theta, dst_hw, align_corners=align_corners),
                                  geometry.warp_affine(src, M, dst_hw, align_corners=align_corners))
    assert_parity(swiftstn.warp_perspective(src, Ht, dst_hw, align_corners=align_corners),
                  geometry.warp_perspective(src, H, dst_hw, align_corners=align_corners), dtype, "warp_perspective")


# ---- finite differences (no kornia) ------------------------------------------------------------

@pytest.mark.parametrize("projective", [False, True], ids=["affine", "perspective"])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("align_corners", [True, False])
def test_grad_M_matches_finite_differences(projective, mode, padding, align_corners):
    rng = np.random.default_rng([21, int(projective), len(mode), len(padding), int(align_corners)])
    src, M, dsize, grad = warp_inputs(rng, np.float64, projective, 0)
    kw = dict(mode=mode, padding_mode=padding, align_corners=align_corners, fill_value=fill_for(padding, 3, np.float64))
    _, g_M = ours_backward(projective, grad, src, M, dsize, **kw)
    fd = np.zeros_like(M)
    for idx in np.ndindex(*M.shape):
        # Steps relative to M's scale; the perspective row multiplies pixel coordinates, so smaller there.
        eps = 1e-6 * np.abs(M[idx[0]]).max() / (max(src.shape[2:]) if idx[1] == 2 and idx[2] < 2 else 1.0)
        Mp, Mm = M.copy(), M.copy()
        Mp[idx] += eps
        Mm[idx] -= eps
        fd[idx] = np.sum((ours_warp(projective, src, Mp, dsize, **kw) - ours_warp(projective, src, Mm, dsize, **kw))
                         * grad) / (2 * eps)
    err = scaled_error(g_M, fd)
    assert err <= 1e-6, err
    if projective:   # scaling M changes nothing, so the gradient is orthogonal to M
        assert abs(np.sum(g_M * M, axis=(1, 2))).max() <= 1e-8 * np.abs(g_M).max() * np.abs(M).max()


# ---- empty sizes -------------------------------------------------------------------------------

@pytest.mark.parametrize("projective", [False, True], ids=["affine", "perspective"])
@pytest.mark.parametrize("shape,dsize", [((2, 3, 5, 6), (0, 4)), ((2, 3, 5, 6), (4, 0)), ((0, 3, 5, 6), (4, 4)),
                                         ((2, 0, 5, 6), (4, 4)), ((2, 3, 0, 0), (0, 0))])
def test_empty_sizes_give_empty_results(projective, shape, dsize):
    src = np.zeros(shape, np.float32)
    M = np.tile(np.eye(3) if projective else np.eye(2, 3), (shape[0], 1, 1)).astype(np.float32)
    out = ours_warp(projective, src, M, dsize)
    assert out.shape == (shape[0], shape[1], *dsize) and out.dtype == np.float32
    g_src, g_M = ours_backward(projective, out, src, M, dsize, padding_mode="fill", fill_value=1.0)
    assert g_src.shape == src.shape and not g_src.any()
    assert g_M.shape == M.shape and g_M.dtype == M.dtype and not g_M.any()


def test_empty_sizes_match_kornia_shapes(kornia):
    src = np.zeros((2, 3, 5, 6))
    for dsize in [(0, 4), (4, 0)]:
        for projective in (False, True):
            M = np.tile(np.eye(3) if projective else np.eye(2, 3), (2, 1, 1))
            assert ours_warp(projective, src, M, dsize).shape == kornia_warp(kornia, projective, src, M, dsize).shape


# ---- errors ------------------------------------------------------------------------------------

def test_errors_name_the_argument_and_shapes():
    src = np.zeros((2, 1, 5, 6), np.float32)
    M = np.tile(np.eye(2, 3, dtype=np.float32), (2, 1, 1))
    H = np.tile(np.eye(3, dtype=np.float32), (2, 1, 1))
    with pytest.raises(TypeError, match=r"warp_affine\(\): expected align_corners to be a bool, got int 1"):
        geometry.warp_affine(src, M, (4, 4), align_corners=1)
    with pytest.raises(TypeError, match=r"theta_from_pixel_matrix\(\): expected align_corners to be a bool, got str"):
        geometry.theta_from_pixel_matrix(M, (5, 6), (4, 4), align_corners="True")
    with pytest.raises(TypeError, match=r"expected src_requires_grad to be a bool"):
        geometry.warp_affine_backward(np.zeros((2, 1, 4, 4), np.float32), src, M, (4, 4), src_requires_grad=None)
    with pytest.raises(TypeError, match=r"expected src to be uint8, float16, float32 or float64, got dtype int64"):
        geometry.warp_affine(src.astype(np.int64), M, (4, 4))
    with pytest.raises(TypeError, match=r"expected src to be float32 or float64, got dtype uint8"):
        geometry.warp_affine_backward(np.zeros((2, 1, 4, 4), np.float32), src.astype(np.uint8), M, (4, 4))
    with pytest.raises(TypeError, match=r"expected M to be a real floating array, got dtype complex128"):
        geometry.warp_affine(src, M.astype(complex), (4, 4))
    with pytest.raises(ValueError, match=r"expected src to be N×C×H×W \(4-D\), got shape \(1, 5, 6\)"):
        geometry.warp_affine(src[0], M, (4, 4))
    with pytest.raises(ValueError, match=r"expected M to be N×2×3, got shape \(2, 3, 3\)"):
        geometry.warp_affine(src, H, (4, 4))
    with pytest.raises(ValueError, match=r"expected M to be N×3×3, got shape \(2, 2, 3\)"):
        geometry.warp_perspective(src, M, (4, 4))
    with pytest.raises(ValueError, match=r"expected M to have the batch size of src \(or 1, shared by the batch\), "
                                         r"got M of shape \(3, 2, 3\) and src of shape \(2, 1, 5, 6\)"):
        geometry.warp_affine(src, np.tile(M[:1], (3, 1, 1)), (4, 4))
    with pytest.raises(ValueError, match=r"warp_perspective\(\): expected M to have the batch size of src, got M of "
                                         r"shape \(1, 3, 3\)"):
        geometry.warp_perspective(src, H[:1], (4, 4))
    with pytest.raises(ValueError, match=r"expected dsize to have non-negative entries, got \(-1, 4\)"):
        geometry.warp_affine(src, M, (-1, 4))
    with pytest.raises(ValueError, match=r"expected dsize to be \(height, width\), two ints, got \(4, 4, 4\)"):
        geometry.warp_affine(src, M, (4, 4, 4))
    with pytest.raises(ValueError, match=r"mode='area' has no counterpart in swiftstn; expected one of 'bilinear', "
                                         r"'nearest', 'bicubic'"):
        geometry.warp_affine(src, M, (4, 4), mode="area")
    with pytest.raises(ValueError, match=r"padding_mode='wrap' has no counterpart in swiftstn"):
        geometry.warp_perspective(src, H, (4, 4), padding_mode="wrap")
    with pytest.raises(ValueError, match=r"fill_value of shape \(2, 1, 4, 4\) varies over the image"):
        geometry.warp_affine(src, M, (4, 4), padding_mode="fill", fill_value=np.zeros((2, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"fill_value of shape \(3,\) does not broadcast to the output of shape "
                                         r"\(2, 1, 4, 4\)"):
        geometry.warp_affine(src, M, (4, 4), padding_mode="fill", fill_value=np.zeros(3))
    with pytest.raises(ValueError, match=r"expected src to have a non-empty image, got shape \(2, 1, 0, 6\)"):
        geometry.warp_affine(np.zeros((2, 1, 0, 6), np.float32), M, (4, 4))
    with pytest.raises(ValueError, match=r"warp_affine\(\): M is singular \(zero determinant\) at batch index \[1\]"):
        geometry.warp_affine(src, np.stack([M[0], np.zeros((2, 3), np.float32)]), (4, 4))
    with pytest.raises(ValueError, match=r"expected grad_output of shape \(2, 1, 4, 4\) \(src's N, C and dsize\), "
                                         r"got \(2, 1, 4, 5\)"):
        geometry.warp_affine_backward(np.zeros((2, 1, 4, 5), np.float32), src, M, (4, 4))
    with pytest.raises(TypeError, match=r"expected grad_output to have src's dtype float32, got float64"):
        geometry.warp_perspective_backward(np.zeros((2, 1, 4, 4)), src, H, (4, 4))


def test_helper_errors():
    with pytest.raises(ValueError, match=r"get_rotation_matrix2d\(\): expected center to be B×2, got shape \(2,\)"):
        geometry.get_rotation_matrix2d([1.0, 2.0], [30.0], [[1.0, 1.0]])
    with pytest.raises(ValueError, match=r"expected the same batch size, got center of shape \(1, 2\), angle of "
                                         r"shape \(2,\), scale of shape \(1, 2\)"):
        geometry.get_rotation_matrix2d([[1.0, 2.0]], [30.0, 40.0], [[1.0, 1.0]])
    square = [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]]
    line = [[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0]]]
    with pytest.raises(ValueError, match=r"three of the points_dst are collinear \(or coincide\) at batch index \[1\]"):
        geometry.get_perspective_transform(square * 2, square + line)
    with pytest.raises(ValueError, match=r"three of the points_src are collinear"):
        geometry.get_perspective_transform(line, square)
    with pytest.raises(ValueError, match=r"expected points_dst to be B×4×2, got shape \(1, 3, 2\)"):
        geometry.get_perspective_transform(square, [[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]])
    with pytest.raises(ValueError, match=r"expected matrix to be N×2×3, got shape \(2, 3\)"):
        geometry.invert_affine_transform(np.eye(2, 3))
    with pytest.raises(ValueError, match=r"expected dst_pix_trans_src_pix to be B×3×3 or 3×3, got shape \(2, 3\)"):
        geometry.normalize_homography(np.eye(2, 3), (4, 4), (4, 4))
    with pytest.raises(ValueError, match=r"expected dsize_src to have positive entries, got \(0, 4\)"):
        geometry.denormalize_homography(np.eye(3), (0, 4), (4, 4))
    with pytest.raises(ValueError, match=r"expected theta to be 2×3 or 3×3"):
        geometry.pixel_matrix_from_theta(np.eye(4), (4, 4), (4, 4))
    with pytest.raises(ValueError, match=r"theta is singular"):
        geometry.pixel_matrix_from_theta(np.zeros((2, 3)), (4, 4), (4, 4))


def test_helpers_keep_float32_and_widen_the_rest():
    c32, a32, s32 = np.zeros((1, 2), np.float32), np.zeros(1, np.float32), np.ones((1, 2), np.float32)
    assert geometry.get_rotation_matrix2d(c32, a32, s32).dtype == np.float32
    assert geometry.get_rotation_matrix2d([[0, 0]], [0], [[1, 1]]).dtype == np.float64
    np.testing.assert_array_equal(geometry.get_rotation_matrix2d([[0, 0]], [0], [[1, 1]]), [np.eye(2, 3)])
    assert geometry.invert_affine_transform(np.eye(2, 3, dtype=np.float32)[None]).dtype == np.float32


# ---- OpenCV ------------------------------------------------------------------------------------
# cv2.warpAffine(img, M, (W, H)) samples dst(x, y) = img(M⁻¹·(x, y)) with pixel centres at integer
# coordinates: kornia's pixel matrix exactly (any align_corners: the normalisation cancels).
# OpenCV 4 interpolates float32 images at coordinates quantised to 1/32 pixel (INTER_BITS = 5):
# each axis is off by up to 1/64 pixel, and bilinear interpolation moves by at most the image's
# range per pixel, so a faithful implementation is within range/32 of it. (OpenCV 5.1 measures
# ≤ 3e-6 here.)

@pytest.mark.parametrize("channels", [1, 3])
def test_warp_affine_matches_opencv(channels):
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(30)
    img = rng.random((23, 29, channels)).astype(np.float32)
    tol = float(img.max() - img.min()) / 32
    M = cv2.getRotationMatrix2D((14.0, 11.0), 33.0, 1.15)
    M[:, 2] += [1.3, -2.1]
    x = np.ascontiguousarray(img.transpose(2, 0, 1)[None])            # 1×C×H×W
    value = [0.7, 0.2, 0.5][:channels]
    borders = [  # OpenCV border → (padding_mode, align_corners, fill_value)
        (cv2.BORDER_CONSTANT, "zeros", True, None),
        (cv2.BORDER_CONSTANT, "fill", True, value),
        (cv2.BORDER_REPLICATE, "border", True, None),
        (cv2.BORDER_REFLECT_101, "reflection", True, None),   # gfedcb|abcdefgh: mirror at the edge pixels' centres
        (cv2.BORDER_REFLECT, "reflection", False, None),      # fedcba|abcdefgh: mirror at the outer edges
    ]
    for border, padding, ac, fill in borders:
        ref = cv2.warpAffine(img, M, (31, 27), flags=cv2.INTER_LINEAR, borderMode=border,
                             borderValue=(value + [0]) if fill else 0).reshape(27, 31, channels)
        ours = geometry.warp_affine(x, M[None], (27, 31), padding_mode=padding, align_corners=ac, fill_value=fill)
        err = np.abs(ours[0].transpose(1, 2, 0) - ref).max()
        assert err <= tol, (border, padding, ac, err)
    # WARP_INVERSE_MAP: M is already destination → source.
    ref = cv2.warpAffine(img, M, (31, 27), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP).reshape(27, 31, channels)
    ours = geometry.warp_affine(x, geometry.invert_affine_transform(M[None]), (27, 31))
    assert np.abs(ours[0].transpose(1, 2, 0) - ref).max() <= tol
    # The mismatched reflections differ visibly: the correspondence above is not vacuous.
    ref = cv2.warpAffine(img, M, (31, 27), borderMode=cv2.BORDER_REFLECT_101).reshape(27, 31, channels)
    ours = geometry.warp_affine(x, M[None], (27, 31), padding_mode="reflection", align_corners=False)
    assert np.abs(ours[0].transpose(1, 2, 0) - ref).max() > 0.1


def test_warp_perspective_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(31)
    img = rng.random((23, 29)).astype(np.float32)
    H = np.array([[1.1, 0.1, -2.0], [0.05, 0.9, 1.0], [0.002, -0.001, 1.0]])
    ref = cv2.warpPerspective(img, H, (31, 27), flags=cv2.INTER_LINEAR)
    ours = geometry.warp_perspective(img[None, None], H[None], (27, 31))[0, 0]
    assert np.abs(ours - ref).max() <= float(img.max() - img.min()) / 32
