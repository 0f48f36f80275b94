"""perspective_grid and tps_grid against independent NumPy references (and kornia when installed)."""
import threading

import numpy as np
import pytest

import swiftstn

SENTINEL = -1e4
TOL = {np.float64: 1e-12, np.float32: 1e-6}          # perspective forward
TPS_TOL = {np.float64: 1e-10, np.float32: 1e-5}


def max_scaled_error(actual, expected):
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert a.shape == e.shape, (a.shape, e.shape)
    return float((np.abs(a - e) / np.maximum(1.0, np.abs(e))).max()) if e.size else 0.0


def base_coordinates(steps, align_corners):
    """affine_grid's base coordinates: linspace(-1, 1), shrunk by (steps - 1)/steps without
    align_corners."""
    if steps <= 1:
        return np.zeros(1)
    v = np.linspace(-1.0, 1.0, steps)
    return v if align_corners else v * (steps - 1) / steps


def base_points(h, w, align_corners):
    """(H·W)×2 points (x, y), row-major over (h, w)."""
    ys, xs = np.meshgrid(base_coordinates(h, align_corners), base_coordinates(w, align_corners), indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def identity_grid(size, dtype, align_corners):
    theta = np.tile(np.eye(2, 3, dtype=dtype), (size[0], 1, 1))
    return swiftstn.affine_grid(theta, size, align_corners=align_corners)


# ---- perspective_grid references -------------------------------------------------------------

def perspective_reference(H, size, align_corners):
    """The documented formula in float64: (u/w, v/w), guarded points at the sentinel."""
    n, _, h, w = size
    p = base_points(h, w, align_corners)
    hom = np.concatenate([p, np.ones((len(p), 1))], axis=1)            # P×3
    H = np.asarray(H, np.float64)
    with np.errstate(all="ignore"):
        uvw = np.einsum("nij,pj->npi", H, hom)                          # N×P×3
        u, v, s = uvw[..., 0], uvw[..., 1], uvw[..., 2]
        valid = (np.isfinite(u) & np.isfinite(v) & np.isfinite(s)
                 & (s > 1e-6 * np.maximum(np.maximum(abs(u), abs(v)), 1)))
        grid = np.where(valid[..., None], np.stack([u / s, v / s], axis=-1), SENTINEL)
    return grid.reshape(n, h, w, 2), valid


def perspective_backward_reference(grad_grid, H, size, align_corners):
    n, _, h, w = size
    p = base_points(h, w, align_corners)
    hom = np.concatenate([p, np.ones((len(p), 1))], axis=1)
    uvw = np.einsum("nij,pj->npi", np.asarray(H, np.float64), hom)
    u, v, s = uvw[..., 0], uvw[..., 1], uvw[..., 2]
    _, valid = perspective_reference(H, size, align_corners)
    g = np.asarray(grad_grid, np.float64).reshape(n, -1, 2) * valid[..., None]
    a, b = g[..., 0] / s, g[..., 1] / s
    c = -(a * u / s + b * v / s)
    return np.stack([np.einsum("np,pj->nj", a, hom), np.einsum("np,pj->nj", b, hom),
                     np.einsum("np,pj->nj", c, hom)], axis=1)


def random_homographies(rng, n, scale=0.2):
    """Identity plus noise: w stays in [0.5, 1.5] over [-1, 1]²."""
    return np.eye(3) + rng.uniform(-scale, scale, (n, 3, 3))


# ---- tps_grid references ---------------------------------------------------------------------

def default_control_points(k):
    side = int(round(np.sqrt(k)))
    ys, xs = np.meshgrid(np.linspace(-1, 1, side), np.linspace(-1, 1, side), indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def tps_kernel(r2):
    """U(r²) = r²·log r², 0 at r = 0."""
    safe = np.where(r2 > 0, r2, 1.0)
    return np.where(r2 > 0, r2 * np.log(safe), 0.0)


def tps_system(cp):
    k = len(cp)
    L = np.zeros((k + 3, k + 3))
    L[:k, :k] = tps_kernel(((cp[:, None, :] - cp[None, :, :]) ** 2).sum(-1))
    P = np.concatenate([np.ones((k, 1)), cp], axis=1)
    L[:k, k:] = P
    L[k:, :k] = P.T
    return L


def tps_reference(displacements, size, cp, align_corners):
    """Solves L·[w; a] = [c + d; 0] per batch element with np.linalg.solve, then evaluates
    f(p) = Σ w_k U(|p − c_k|²) + a0 + a1 x + a2 y at the base points."""
    n, _, h, w = size
    d = np.asarray(displacements, np.float64)
    k = len(cp)
    L = tps_system(cp)
    p = base_points(h, w, align_corners)
    Q = np.concatenate([tps_kernel(((p[:, None, :] - cp[None, :, :]) ** 2).sum(-1)),
                        np.ones((len(p), 1)), p], axis=1)                 # P×(K+3)
    out = np.empty((n, len(p), 2))
    for i in range(n):
        rhs = np.zeros((k + 3, 2))
        rhs[:k] = cp + d[i]
        out[i] = Q @ np.linalg.solve(L, rhs)
    return out.reshape(n, h, w, 2), Q, L


def tps_backward_reference(grad_grid, size, cp, align_corners):
    n, _, h, w = size
    k = len(cp)
    _, Q, L = tps_reference(np.zeros((n, k, 2)), size, cp, align_corners)
    E = np.zeros((k + 3, k))
    E[:k] = np.eye(k)
    M = Q @ np.linalg.solve(L, E)                                         # P×K
    return np.einsum("pk,npc->nkc", M, np.asarray(grad_grid, np.float64).reshape(n, -1, 2))


SCATTERED = np.array([[-0.9, -0.7], [0.8, -0.85], [0.1, 0.05], [-0.6, 0.9], [0.95, 0.7], [0.3, -0.4]])


# ---- perspective_grid ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(2, 1, 7, 9), (1, 3, 1, 5), (3, 1, 16, 4)])
def test_perspective_matches_numpy_reference(dtype, align_corners, size):
    rng = np.random.default_rng(sum(size) + align_corners)
    H = random_homographies(rng, size[0]).astype(dtype)
    grid = swiftstn.perspective_grid(H, size, align_corners=align_corners)
    ref, valid = perspective_reference(H, size, align_corners)
    assert grid.dtype == dtype and grid.shape == (size[0], size[2], size[3], 2)
    assert valid.all()
    err = max_scaled_error(grid, ref)
    assert err <= TOL[dtype], err

    gg = rng.standard_normal(grid.shape).astype(dtype)
    gH = swiftstn.perspective_grid_backward(gg, H, size, align_corners=align_corners)
    assert gH.dtype == dtype and gH.shape == H.shape
    bref = perspective_backward_reference(gg, H, size, align_corners)
    assert max_scaled_error(gH, bref) <= (1e-10 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_perspective_guarded_points(dtype):
    # w = 0.3 + x: the left part of the image is behind the projection.
    H = np.array([[[1.1, 0.2, -0.1], [0.1, 0.9, 0.05], [1.0, 0.05, 0.3]]], dtype)
    size = (1, 2, 6, 8)
    grid = swiftstn.perspective_grid(H, size)
    ref, valid = perspective_reference(H, size, False)
    assert 0 < valid.sum() < valid.size
    assert max_scaled_error(grid, ref) <= TOL[dtype]
    bad = ~valid.reshape(6, 8)
    assert (grid[0][bad] == SENTINEL).all()
    # They sample as out of range: zeros padding reads 0, and nothing is NaN.
    x = np.random.default_rng(0).uniform(1, 2, (1, 2, 6, 8)).astype(dtype)
    for mode in ["bilinear", "nearest", "bicubic"]:
        out = swiftstn.grid_sample(x, grid, mode=mode, padding_mode="zeros")
        assert np.isfinite(out).all()
        assert (out[:, :, bad] == 0).all()
    # No gradient flows from them.
    gg = np.zeros_like(grid)
    gg[0][bad] = 5.0
    np.testing.assert_array_equal(swiftstn.perspective_grid_backward(gg, H, size), np.zeros_like(H))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_perspective_non_finite_H_is_out_of_range_never_nan(dtype):
    H = np.tile(np.eye(3, dtype=dtype), (5, 1, 1))
    H[0, 0, 0] = np.nan
    H[1, 2, 2] = np.inf
    H[2, 1, 2] = -np.inf
    H[3] = -np.eye(3)                       # w = -1 everywhere: behind the projection
    H[4, 2, 2] = 1e-9                       # |w| tiny: beyond 1e6
    size = (5, 1, 4, 6)
    grid = swiftstn.perspective_grid(H, size)
    assert np.isfinite(grid).all()
    assert (grid == SENTINEL).all()
    gH = swiftstn.perspective_grid_backward(np.ones_like(grid), H, size)
    assert np.isfinite(gH).all() and (gH == 0).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("align_corners", [False, True])
def test_perspective_identity_is_affine_identity_exactly(dtype, align_corners):
    for size in [(2, 1, 5, 7), (1, 1, 1, 4), (1, 2, 28, 28)]:
        H = np.tile(np.eye(3, dtype=dtype), (size[0], 1, 1))
        np.testing.assert_array_equal(swiftstn.perspective_grid(H, size, align_corners=align_corners),
                                      identity_grid(size, dtype, align_corners))
        # Any affine H (last row 0, 0, 1) is affine_grid of its first two rows, bit for bit.
        theta = np.random.default_rng(1).uniform(-1, 1, (size[0], 2, 3)).astype(dtype)
        H[:, :2] = theta
        np.testing.assert_array_equal(swiftstn.perspective_grid(H, size, align_corners=align_corners),
                                      swiftstn.affine_grid(theta, size, align_corners=align_corners))


# ---- tps_grid --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("case", ["k4", "k9", "k16", "k36", "scattered"])
def test_tps_matches_numpy_reference(dtype, align_corners, case):
    rng = np.random.default_rng(len(case) * 7 + align_corners)
    if case == "scattered":
        cp, arg = SCATTERED, SCATTERED
    else:
        k = int(case[1:])
        cp, arg = default_control_points(k), None
    size = (3, 2, 11, 13)
    d = rng.uniform(-0.25, 0.25, (size[0], len(cp), 2)).astype(dtype)
    grid = swiftstn.tps_grid(d, size, control_points=arg, align_corners=align_corners)
    assert grid.dtype == dtype and grid.shape == (3, 11, 13, 2)
    ref, _, _ = tps_reference(d, size, cp, align_corners)
    err = max_scaled_error(grid, ref)
    assert err <= TPS_TOL[dtype], err

    gg = rng.standard_normal(grid.shape).astype(dtype)
    gd = swiftstn.tps_grid_backward(gg, size, control_points=len(cp) if arg is None else arg,
                                    align_corners=align_corners)
    assert gd.dtype == dtype and gd.shape == d.shape
    bref = tps_backward_reference(gg, size, cp, align_corners)
    assert max_scaled_error(gd, bref) <= TPS_TOL[dtype]


def test_tps_control_points_move_by_their_displacements():
    # align_corners=True on a 4×4 output: the base points are exactly the 16 default points.
    d = np.random.default_rng(3).uniform(-0.3, 0.3, (2, 16, 2))
    grid = swiftstn.tps_grid(d, (2, 1, 4, 4), align_corners=True)
    np.testing.assert_allclose(grid.reshape(2, 16, 2), default_control_points(16) + d, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("align_corners", [False, True])
def test_tps_zero_displacement_is_affine_identity_exactly(dtype, align_corners):
    for size in [(2, 1, 5, 7), (1, 1, 1, 4), (1, 2, 28, 28)]:
        expected = identity_grid(size, dtype, align_corners)
        for k in [4, 9, 25]:
            np.testing.assert_array_equal(
                swiftstn.tps_grid(np.zeros((size[0], k, 2), dtype), size, align_corners=align_corners), expected)
        np.testing.assert_array_equal(
            swiftstn.tps_grid(np.zeros((size[0], 6, 2), dtype), size, SCATTERED, align_corners=align_corners), expected)


def test_tps_control_points_accept_ints_lists_and_float32():
    d = np.random.default_rng(5).uniform(-0.2, 0.2, (1, 4, 2))
    corners = [[-1, -1], [1, -1], [-1, 1], [1, 1]]
    a = swiftstn.tps_grid(d, (1, 1, 6, 6), control_points=np.array(corners))
    b = swiftstn.tps_grid(d, (1, 1, 6, 6), control_points=np.array(corners, np.float32))
    c = swiftstn.tps_grid(d, (1, 1, 6, 6), control_points=corners)
    e = swiftstn.tps_grid(d, (1, 1, 6, 6))                 # the default 2×2 grid is the corners
    f = swiftstn.tps_grid(d, (1, 1, 6, 6), control_points=4)
    for other in (b, c, e, f):
        np.testing.assert_array_equal(a, other)


def test_tps_cache_is_thread_safe():
    rng = np.random.default_rng(8)
    jobs = [((1, 1, 9 + i % 5, 10 + i % 3), rng.uniform(-0.2, 0.2, (1, 9, 2))) for i in range(24)]
    expected = [swiftstn.tps_grid(d, size) for size, d in jobs]
    results = [None] * len(jobs)

    def work(i):
        size, d = jobs[i]
        results[i] = swiftstn.tps_grid(d, size)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r, e in zip(results, expected):
        np.testing.assert_array_equal(r, e)


def test_tps_non_finite_displacements_are_out_of_range():
    d = np.zeros((2, 4, 2), np.float32)
    d[0, 1, 0] = np.nan
    grid = swiftstn.tps_grid(d, (2, 1, 3, 5))
    assert np.isfinite(grid).all()
    assert (grid[0] == SENTINEL).all()
    np.testing.assert_array_equal(grid[1], identity_grid((1, 1, 3, 5), np.float32, False)[0])


# ---- kornia ----------------------------------------------------------------------------------

def pixel_from_normalised(w, h):
    """align_corners=True: pixel = (g + 1)/2 · (size − 1), an exact affine map."""
    return np.array([[(w - 1) / 2, 0, (w - 1) / 2], [0, (h - 1) / 2, (h - 1) / 2], [0, 0, 1]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_perspective_matches_kornia_warp_perspective(dtype):
    kornia = pytest.importorskip("kornia")
    import torch

    rng = np.random.default_rng(11)
    n, c, h_in, w_in, h_out, w_out = 3, 2, 12, 15, 10, 13
    x = rng.standard_normal((n, c, h_in, w_in)).astype(dtype)
    H = random_homographies(rng, n, scale=0.15)                   # normalised output → input
    # kornia's matrix maps source pixels to destination pixels: the inverse of ours, conjugated
    # by the pixel ↔ normalised maps of the input and output.
    A_in, A_out = pixel_from_normalised(w_in, h_in), pixel_from_normalised(w_out, h_out)
    M = np.stack([A_out @ np.linalg.inv(Hi) @ np.linalg.inv(A_in) for Hi in H])
    ours = swiftstn.grid_sample(x, swiftstn.perspective_grid(H.astype(dtype), (n, c, h_out, w_out), align_corners=True),
                                mode="bilinear", padding_mode="zeros", align_corners=True)
    theirs = kornia.geometry.transform.warp_perspective(
        torch.from_numpy(x), torch.from_numpy(M.astype(dtype)), (h_out, w_out), mode="bilinear",
        padding_mode="zeros", align_corners=True).numpy()
    err = max_scaled_error(ours, theirs)
    assert err <= 1e-5, err


# ---- errors ----------------------------------------------------------------------------------

def test_wrong_dtypes_are_type_errors():
    with pytest.raises(TypeError, match=r"perspective_grid\(\): H must have dtype float32 or float64, got int64"):
        swiftstn.perspective_grid(np.zeros((1, 3, 3), np.int64), (1, 1, 4, 4))
    with pytest.raises(TypeError, match=r"same dtype, got float32 and float64"):
        swiftstn.perspective_grid_backward(np.zeros((1, 4, 4, 2), np.float32), np.eye(3)[None], (1, 1, 4, 4))
    with pytest.raises(TypeError, match=r"displacements must have dtype float32 or float64, got float16"):
        swiftstn.tps_grid(np.zeros((1, 4, 2), np.float16), (1, 1, 4, 4))
    with pytest.raises(TypeError, match=r"control_points must have an integer or floating dtype, got complex128"):
        swiftstn.tps_grid(np.zeros((1, 4, 2)), (1, 1, 4, 4), control_points=np.zeros((4, 2), complex))
    with pytest.raises(TypeError, match=r"grad_grid must have dtype"):
        swiftstn.tps_grid_backward(np.zeros((1, 4, 4, 2), np.int32), (1, 1, 4, 4), control_points=4)


def test_bad_shapes_are_value_errors_naming_argument_and_shapes():
    with pytest.raises(ValueError, match=r"expected H of shape \(N, 3, 3\) = \(2, 3, 3\) for size \(2, 1, 4, 4\), "
                                         r"got H of shape \(2, 2, 3\)"):
        swiftstn.perspective_grid(np.zeros((2, 2, 3)), (2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"size must have 4 elements"):
        swiftstn.perspective_grid(np.zeros((1, 3, 3)), (1, 1, 4, 4, 4))
    with pytest.raises(ValueError, match=r"grad_grid of shape \(1, 4, 4, 2\) for size \(1, 1, 4, 4\), "
                                         r"got grad_grid of shape \(1, 4, 5, 2\)"):
        swiftstn.perspective_grid_backward(np.zeros((1, 4, 5, 2)), np.eye(3)[None], (1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"displacements of shape \(N, K, 2\) with N = 2 for size \(2, 1, 4, 4\), "
                                         r"got displacements of shape \(3, 4, 2\)"):
        swiftstn.tps_grid(np.zeros((3, 4, 2)), (2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"\(N, K, 2\) = \(1, 6, 2\).*control_points of shape \(6, 2\), "
                                         r"got displacements of shape \(1, 4, 2\)"):
        swiftstn.tps_grid(np.zeros((1, 4, 2)), (1, 1, 4, 4), control_points=SCATTERED)
    with pytest.raises(ValueError,
                       match=r"control_points of shape \(K, 2\) with K ≥ 3, got control_points of shape \(4, 3\)"):
        swiftstn.tps_grid(np.zeros((1, 4, 2)), (1, 1, 4, 4), control_points=np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"grad_grid of shape \(1, 4, 4, 2\).*\(1, 4, 5, 2\)"):
        swiftstn.tps_grid_backward(np.zeros((1, 4, 5, 2)), (1, 1, 4, 4), control_points=9)


def test_default_control_points_need_a_perfect_square():
    for k in [2, 3, 5, 8]:
        with pytest.raises(ValueError,
                           match=rf"perfect square ≥ 4, got K = {k} \(displacements of shape \(1, {k}, 2\)\)"):
            swiftstn.tps_grid(np.zeros((1, k, 2)), (1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"perfect square ≥ 4, got K = 6"):
        swiftstn.tps_grid_backward(np.zeros((1, 4, 4, 2)), (1, 1, 4, 4), control_points=6)
    with pytest.raises(ValueError, match=r"control_points must be given"):
        swiftstn.tps_grid_backward(np.zeros((1, 4, 4, 2)), (1, 1, 4, 4))


def test_singular_control_points_are_value_errors():
    d = np.zeros((1, 4, 2))
    with pytest.raises(ValueError, match=r"control points 1 and 3 are both \(1\.0, -1\.0\).*singular"):
        swiftstn.tps_grid(d, (1, 1, 4, 4), control_points=[[-1, -1], [1, -1], [0, 1], [1, -1]])
    with pytest.raises(ValueError, match=r"all control points lie on one line"):
        swiftstn.tps_grid(d, (1, 1, 4, 4), control_points=[[0, 0], [0.1, 0.3], [0.2, 0.6], [-0.5, -1.5]])
    with pytest.raises(ValueError, match=r"singular or too ill-conditioned"):
        swiftstn.tps_grid(d, (1, 1, 4, 4), control_points=[[-1, -1], [1, -1], [0.5, 0.5], [0.5, 0.5 + 1e-15]])
    with pytest.raises(ValueError, match=r"control_points must be finite"):
        swiftstn.tps_grid(d, (1, 1, 4, 4), control_points=[[-1, -1], [1, -1], [np.nan, 0], [0, 1]])
    with pytest.raises(ValueError, match=r"tps_grid_backward: all control points lie on one line"):
        swiftstn.tps_grid_backward(np.zeros((1, 4, 4, 2)), (1, 1, 4, 4),
                                   control_points=[[0, 0], [1, 1], [2, 2], [3, 3]])
