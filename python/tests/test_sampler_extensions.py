"""The sampler beyond PyTorch: fused warps (bit for bit the two-step path), fill padding (against a
padded-image reference) and tricubic sampling (against a direct NumPy 64-tap sum)."""
import itertools

import numpy as np
import pytest

import swiftstn

MODES = ["bilinear", "nearest", "bicubic"]
PADDINGS = ["zeros", "border", "reflection", "fill"]
DTYPES = [np.float32, np.float64]


def same_bits(a, b):
    return a is None and b is None or (a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes())


@pytest.fixture(autouse=True)
def restore_threads():
    saved = swiftstn.get_num_threads()
    yield
    swiftstn.set_num_threads(saved)


# ---- fused warps ------------------------------------------------------------------------------

WARP_SHAPES = [
    # (N, C, H, W, Ho, Wo): rows shorter and longer than a block of 64, partial blocks, N < and
    # ≥ 2 × threads (the fused and split backward schedules), many channels.
    (1, 2, 5, 7, 3, 4),
    (2, 3, 9, 11, 7, 13),
    (5, 1, 5, 4, 3, 70),
    (4, 6, 6, 6, 65, 3),
]


def warp_inputs(shape, dtype, seed, non_finite):
    n, c, h, w, ho, wo = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    theta = (np.tile(np.eye(2, 3), (n, 1, 1)) + 0.3 * rng.standard_normal((n, 2, 3))).astype(dtype)
    H = (np.tile(np.eye(3), (n, 1, 1)) + 0.2 * rng.standard_normal((n, 3, 3))).astype(dtype)
    if non_finite:
        specials = [np.nan, np.inf, -np.inf, 1e30]
        for k in range(n):
            i, j = rng.integers(0, 2), rng.integers(0, 3)
            theta[k, i, j] = specials[k % 4]
            H[k, rng.integers(0, 3), j] = specials[(k + 1) % 4]
    go = rng.standard_normal((n, c, ho, wo)).astype(dtype)
    fill = rng.standard_normal(c).astype(dtype)
    return x, theta, H, go, fill


def two_step(kind, x, m, go, size, mode, pad, ac, fill, requires):
    if kind == "affine":
        grid = swiftstn.affine_grid(m, size, align_corners=ac)
    else:
        grid = swiftstn.perspective_grid(m, size, align_corners=ac)
    y = swiftstn.grid_sample(x, grid, mode, pad, ac, fill=fill)
    gi, gg = swiftstn.grid_sample_backward(go, x, grid, mode, pad, ac, input_requires_grad=requires, fill=fill)
    if kind == "affine":
        gm = swiftstn.affine_grid_backward(gg, size, align_corners=ac)
    else:
        gm = swiftstn.perspective_grid_backward(gg, m, size, align_corners=ac)
    return y, gi, gm


def fused(kind, x, m, go, out_size, mode, pad, ac, fill, requires):
    if kind == "affine":
        y = swiftstn.warp_affine(x, m, out_size, mode, pad, ac, fill=fill)
        gi, gm = swiftstn.warp_affine_backward(go, x, m, out_size, mode, pad, ac, input_requires_grad=requires,
                                               fill=fill)
    else:
        y = swiftstn.warp_perspective(x, m, out_size, mode, pad, ac, fill=fill)
        gi, gm = swiftstn.warp_perspective_backward(go, x, m, out_size, mode, pad, ac, input_requires_grad=requires,
                                                    fill=fill)
    return y, gi, gm


@pytest.mark.parametrize("kind", ["affine", "perspective"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("non_finite", [False, True])
def test_fused_warps_equal_the_two_step_path_bit_for_bit(kind, dtype, non_finite):
    checked = 0
    for si, shape in enumerate(WARP_SHAPES):
        x, theta, H, go, fill = warp_inputs(shape, dtype, 10 * si + non_finite, non_finite)
        m = theta if kind == "affine" else H
        n, c, _, _, ho, wo = shape
        for mode, pad, ac in itertools.product(MODES, PADDINGS, [False, True]):
            f = fill if pad == "fill" else None
            ref = None
            for threads in (1, 2):
                swiftstn.set_num_threads(threads)
                if ref is None:
                    ref = two_step(kind, x, m, go, (n, c, ho, wo), mode, pad, ac, f, True)
                got = fused(kind, x, m, go, (ho, wo), mode, pad, ac, f, True)
                for name, a, b in zip(("output", "grad_input", "grad_matrix"), ref, got):
                    assert same_bits(a, b), (kind, name, dtype, shape, mode, pad, ac, threads)
                # Skipping the input gradient changes nothing else.
                gi, gm = fused(kind, x, m, go, (ho, wo), mode, pad, ac, f, False)[1:]
                assert gi is None and same_bits(gm, ref[2])
                checked += 1
    assert checked == len(WARP_SHAPES) * len(MODES) * len(PADDINGS) * 2 * 2


def test_non_finite_theta_reaches_the_output_as_in_the_two_step_path():
    x, theta, _, go, _ = warp_inputs((4, 2, 6, 6, 5, 5), np.float64, 3, True)
    y = swiftstn.warp_affine(x, theta, (5, 5))
    assert np.isnan(y).any()  # a NaN theta entry gives NaN coordinates, hence NaN bilinear weights
    assert same_bits(y, swiftstn.grid_sample(x, swiftstn.affine_grid(theta, (4, 2, 5, 5))))


def test_fused_warp_accepts_lists_and_strided_arrays():
    x, theta, H, go, _ = warp_inputs((2, 3, 8, 9, 6, 5), np.float64, 4, False)
    xs = np.asfortranarray(x)
    assert same_bits(swiftstn.warp_affine(xs, theta.tolist(), [6, 5]), swiftstn.warp_affine(x, theta, (6, 5)))
    assert same_bits(swiftstn.warp_perspective(x[:, ::-1], H, (6, 5)),
                     swiftstn.warp_perspective(np.ascontiguousarray(x[:, ::-1]), H, (6, 5)))


def test_warp_errors_name_the_argument_and_shapes():
    x = np.zeros((2, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"warp_affine: expected theta of shape \(N, 2, 3\) = \(2, 2, 3\) for input of "
                                         r"shape \(2, 1, 4, 4\), got theta of shape \(2, 3, 3\)"):
        swiftstn.warp_affine(x, np.zeros((2, 3, 3), np.float32), (3, 3))
    with pytest.raises(ValueError, match=r"warp_perspective: expected H of shape \(N, 3, 3\) = \(2, 3, 3\)"):
        swiftstn.warp_perspective(x, np.zeros((2, 2, 3), np.float32), (3, 3))
    with pytest.raises(ValueError, match=r"out_size to be \(Ho, Wo\) with positive entries, got out_size \(3, 0\)"):
        swiftstn.warp_affine(x, np.zeros((2, 2, 3), np.float32), (3, 0))
    with pytest.raises(ValueError, match=r"out_size \(3, 3, 3\)"):
        swiftstn.warp_affine(x, np.zeros((2, 2, 3), np.float32), (3, 3, 3))
    with pytest.raises(TypeError, match=r"out_size must be a sequence"):
        swiftstn.warp_affine(x, np.zeros((2, 2, 3), np.float32), 3)
    with pytest.raises(ValueError, match=r"expected 4-D input"):
        swiftstn.warp_affine(x[0], np.zeros((2, 2, 3), np.float32), (3, 3))
    with pytest.raises(TypeError, match=r"same dtype"):
        swiftstn.warp_affine(x, np.zeros((2, 2, 3), np.float64), (3, 3))
    with pytest.raises(ValueError, match=r"warp_affine_backward: expected grad_output of shape \(2, 1, 3, 3\)"):
        swiftstn.warp_affine_backward(np.zeros((2, 1, 3, 4), np.float32), x, np.zeros((2, 2, 3), np.float32), (3, 3))
    with pytest.raises(ValueError, match=r"padding_mode='fill' needs fill values"):
        swiftstn.warp_affine(x, np.zeros((2, 2, 3), np.float32), (3, 3), padding_mode="fill")


# ---- fill padding -----------------------------------------------------------------------------

def unnormalize(g, size, ac):
    return (g + 1) / 2 * (size - 1) if ac else ((g + 1) * size - 1) / 2


def normalize(px, size, ac):
    return px * 2 / (size - 1) - 1 if ac else (2 * px + 1) / size - 1


def padded_reference(x, grid, mode, ac, fill, border):
    """Fill padding as zeros padding of the image surrounded by `border` pixels of fill values,
    sampled at the correspondingly shifted coordinates (float64)."""
    n, c, h, w = x.shape
    big = np.empty((n, c, h + 2 * border, w + 2 * border))
    big[:] = np.asarray(fill, np.float64).reshape(1, -1, 1, 1) * np.ones((1, c, 1, 1))
    big[:, :, border:border + h, border:border + w] = x
    gx = normalize(unnormalize(grid[..., 0], w, ac) + border, w + 2 * border, ac)
    gy = normalize(unnormalize(grid[..., 1], h, ac) + border, h + 2 * border, ac)
    g2 = np.stack([gx, gy], axis=-1)
    out = swiftstn.grid_sample(big, g2, mode, "zeros", ac)
    return out, big, g2


def direct_fill_reference(x, grid, mode, ac, fill):
    """Direct NumPy bilinear / nearest with fill padding (float64)."""
    n, c, h, w = x.shape
    fill = np.broadcast_to(np.asarray(fill, np.float64), (c,))
    ix, iy = unnormalize(grid[..., 0], w, ac), unnormalize(grid[..., 1], h, ac)
    out = np.empty((n, c) + grid.shape[1:3])

    def tap(b, yy, xx):
        inside = (0 <= xx) & (xx < w) & (0 <= yy) & (yy < h)
        v = np.where(inside[None], x[b][:, np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], fill[:, None, None])
        return v

    for b in range(n):
        if mode == "nearest":
            out[b] = tap(b, np.rint(iy[b]).astype(int), np.rint(ix[b]).astype(int))
            continue
        x0, y0 = np.floor(ix[b]).astype(int), np.floor(iy[b]).astype(int)
        fx, fy = ix[b] - x0, iy[b] - y0
        out[b] = (tap(b, y0, x0) * (1 - fx) * (1 - fy) + tap(b, y0, x0 + 1) * fx * (1 - fy)
                  + tap(b, y0 + 1, x0) * (1 - fx) * fy + tap(b, y0 + 1, x0 + 1) * fx * fy)
    return out


def fill_case(seed, c=3, spread=1.6):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, c, 5, 6))
    grid = rng.uniform(-spread, spread, (2, 4, 7, 2))
    fill = rng.standard_normal(c)
    return x, grid, fill, rng


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ac", [False, True])
def test_fill_padding_equals_a_padded_image_with_zeros_padding(mode, ac):
    x, grid, fill, rng = fill_case(1 + MODES.index(mode) + 5 * ac)
    out = swiftstn.grid_sample(x, grid, mode, "fill", ac, fill=fill)
    ref, big, g2 = padded_reference(x, grid, mode, ac, fill, border=12)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-10)
    if mode != "bicubic":
        np.testing.assert_allclose(out, direct_fill_reference(x, grid, mode, ac, fill), rtol=0, atol=1e-12)
    # Grid gradient: the padded image's, through the chain rule of the coordinate shift.
    go = rng.standard_normal(out.shape)
    gi, gg = swiftstn.grid_sample_backward(go, x, grid, mode, "fill", ac, fill=fill)
    _, gg2 = swiftstn.grid_sample_backward(go, big, g2, mode, "zeros", ac)
    scale = np.array([(x.shape[3] - ac) / (big.shape[3] - ac), (x.shape[2] - ac) / (big.shape[2] - ac)])
    np.testing.assert_allclose(gg, gg2 * scale, rtol=0, atol=1e-9)
    # Input gradient: zeros padding's (the fill values are constants).
    gi0, _ = swiftstn.grid_sample_backward(go, x, grid, mode, "zeros", ac)
    assert same_bits(gi, gi0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channels", [3, 9])
def test_fill_padding_in_float32_on_whole_blocks(mode, channels):
    """float32 and 740 points per batch element: the samplers' vector paths (16 lanes at a time,
    the fill in the lanes of taps outside; with 9 channels, positions outer and channels inner)
    and their scalar tails."""
    rng = np.random.default_rng(40 + MODES.index(mode))
    x = rng.standard_normal((2, channels, 9, 11)).astype(np.float32)
    grid = rng.uniform(-1.3, 1.3, (2, 20, 37, 2)).astype(np.float32)
    fill = rng.standard_normal(channels).astype(np.float32)
    for ac in (False, True):
        out = swiftstn.grid_sample(x, grid, mode, "fill", ac, fill=fill)
        assert out.dtype == np.float32
        x64, g64 = x.astype(np.float64), grid.astype(np.float64)
        ref = (direct_fill_reference(x64, g64, mode, ac, fill) if mode != "bicubic"
               else padded_reference(x64, g64, mode, ac, fill.astype(np.float64), border=12)[0])
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fill_zero_is_zeros_padding_bit_for_bit(dtype):
    rng = np.random.default_rng(7)
    specials = np.array([np.nan, np.inf, -np.inf, 1e30, 3e9, 1.0, -1.0], dtype)
    for dims in (2, 3):
        x = rng.standard_normal((2, 3) + (4, 5, 6)[:dims]).astype(dtype)
        grid = rng.uniform(-1.5, 1.5, (2,) + (3, 4, 5)[:dims] + (dims,)).astype(dtype)
        grid.ravel()[rng.integers(0, grid.size, 12)] = rng.choice(specials, 12)
        go = rng.standard_normal((2, 3) + grid.shape[1:-1]).astype(dtype)
        for mode, ac in itertools.product(MODES, [False, True]):
            for fill in (0.0, [0.0, 0.0, 0.0], np.zeros(3, dtype)):
                a = swiftstn.grid_sample(x, grid, mode, "fill", ac, fill=fill)
                assert same_bits(a, swiftstn.grid_sample(x, grid, mode, "zeros", ac)), (dims, mode, ac)
                gi, gg = swiftstn.grid_sample_backward(go, x, grid, mode, "fill", ac, fill=fill)
                gi0, gg0 = swiftstn.grid_sample_backward(go, x, grid, mode, "zeros", ac)
                assert same_bits(gi, gi0) and same_bits(gg, gg0), (dims, mode, ac)


def test_scalar_fill_is_broadcast_and_far_points_read_the_fill():
    x, grid, _, _ = fill_case(3)
    out = swiftstn.grid_sample(x, grid, "bilinear", "fill", fill=2.5)
    assert same_bits(out, swiftstn.grid_sample(x, grid, "bilinear", "fill", fill=[2.5, 2.5, 2.5]))
    far = np.full((2, 1, 1, 2), 5.0)
    for mode in MODES:
        y = swiftstn.grid_sample(x, far, mode, "fill", fill=[1.0, -2.0, 3.0])
        np.testing.assert_allclose(y[:, :, 0, 0], [[1, -2, 3]] * 2, rtol=0, atol=1e-12)
    # 3-D (trilinear, nearest, tricubic) likewise.
    v = np.zeros((1, 2, 3, 3, 3))
    far3 = np.full((1, 1, 1, 1, 3), -4.0)
    for mode in MODES:
        y = swiftstn.grid_sample(v, far3, mode, "fill", fill=[0.5, 7.0])
        np.testing.assert_allclose(y.ravel(), [0.5, 7.0], rtol=0, atol=1e-12)


def test_fill_in_float32_and_dtype_conversion():
    x, grid, fill, _ = fill_case(4)
    x32, g32 = x.astype(np.float32), grid.astype(np.float32)
    y = swiftstn.grid_sample(x32, g32, "bilinear", "fill", fill=fill)   # float64 fill converted once
    assert y.dtype == np.float32
    assert same_bits(y, swiftstn.grid_sample(x32, g32, "bilinear", "fill", fill=fill.astype(np.float32)))


def test_fill_errors():
    x, grid, _, _ = fill_case(5)
    with pytest.raises(ValueError, match=r"padding_mode='fill' needs fill values"):
        swiftstn.grid_sample(x, grid, padding_mode="fill")
    with pytest.raises(ValueError, match=r"fill is only used with padding_mode='fill', got padding_mode='zeros'"):
        swiftstn.grid_sample(x, grid, fill=1.0)
    with pytest.raises(ValueError,
                       match=r"fill to have 1 value or C = 3 values .* input of shape \(2, 3, 5, 6\), got 2 values"):
        swiftstn.grid_sample(x, grid, padding_mode="fill", fill=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"fill values must be finite"):
        swiftstn.grid_sample(x, grid, padding_mode="fill", fill=[1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match=r"fill must be a number or a 1-D array"):
        swiftstn.grid_sample(x, grid, padding_mode="fill", fill=np.ones((3, 1)))
    with pytest.raises(TypeError, match=r"fill must be a number or a 1-D array of numbers"):
        swiftstn.grid_sample(x, grid, padding_mode="fill", fill="red")
    with pytest.raises(ValueError, match=r"grid_sample_backward\(\): padding_mode='fill' needs fill values"):
        swiftstn.grid_sample_backward(np.zeros((2, 3, 4, 7)), x, grid, padding_mode="fill")
    # The integer code without values is refused by the library itself.
    from swiftstn import _native
    with pytest.raises(ValueError, match=r"fill"):
        _native.grid_sample(x, grid, 0, 3, False)


# ---- tricubic ---------------------------------------------------------------------------------

def keys(d, a=-0.75):
    d = np.abs(d)
    return np.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1,
                    np.where(d < 2, ((a * d - 5 * a) * d + 8 * a) * d - 4 * a, 0.0))


def reflect(v, twice_low, twice_high):
    if twice_low == twice_high:
        return np.zeros_like(v)
    lo, span = twice_low / 2, (twice_high - twice_low) / 2
    v = np.abs(v - lo)
    extra, flips = np.fmod(v, span), np.floor(v / span)
    return np.where(flips % 2 == 0, extra + lo, span - extra + lo)


def tap_index(t, size, pad, ac):
    """Integer tap positions t → indices after padding; -1 when outside (zeros)."""
    t = t.astype(np.float64)
    if pad == "border":
        t = np.clip(t, 0, size - 1)
    elif pad == "reflection":
        t = reflect(t, 0, 2 * (size - 1)) if ac else reflect(t, -1, 2 * size - 1)
        t = np.clip(t, 0, size - 1)
    i = np.trunc(t).astype(np.int64)
    return np.where((i >= 0) & (i < size), i, -1)


def tricubic_reference(x, grid, pad, ac, fill=None):
    """The documented tricubic sample as a direct 64-tap sum in float64."""
    n, c, d, h, w = x.shape
    out = np.zeros((n, c) + grid.shape[1:4])
    fillv = np.zeros(c) if fill is None else np.broadcast_to(np.asarray(fill, np.float64), (c,))
    for b in range(n):
        coords = [unnormalize(grid[b, ..., k], size, ac) for k, size in enumerate((w, h, d))]
        floors = [np.floor(v) for v in coords]
        for k, j, i in itertools.product(range(4), repeat=3):
            tx, ty, tz = floors[0] - 1 + i, floors[1] - 1 + j, floors[2] - 1 + k
            wgt = keys(coords[0] - tx) * keys(coords[1] - ty) * keys(coords[2] - tz)
            xi, yi, zi = tap_index(tx, w, pad, ac), tap_index(ty, h, pad, ac), tap_index(tz, d, pad, ac)
            inside = (xi >= 0) & (yi >= 0) & (zi >= 0)
            vals = x[b][:, np.maximum(zi, 0), np.maximum(yi, 0), np.maximum(xi, 0)]
            vals = np.where(inside[None], vals, fillv.reshape(-1, 1, 1, 1))
            out[b] += vals * wgt[None]
    return out


def tricubic_case(seed, spread=1.4):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, 5, 6, 7))
    grid = rng.uniform(-spread, spread, (2, 3, 4, 5, 3))
    return x, grid, rng


@pytest.mark.parametrize("pad", PADDINGS)
@pytest.mark.parametrize("ac", [False, True])
def test_tricubic_matches_a_direct_64_tap_sum(pad, ac):
    x, grid, rng = tricubic_case(20 + PADDINGS.index(pad) + 4 * ac)
    fill = rng.standard_normal(2) if pad == "fill" else None
    out = swiftstn.grid_sample(x, grid, "bicubic", pad, ac, fill=fill)
    ref = tricubic_reference(x, grid, "zeros" if pad == "fill" else pad, ac, fill)
    assert out.shape == (2, 2, 3, 4, 5)
    assert np.abs(out - ref).max() <= 1e-10
    # float32 agrees to float32 precision.
    out32 = swiftstn.grid_sample(x.astype(np.float32), grid.astype(np.float32), "bicubic", pad, ac, fill=fill)
    assert out32.dtype == np.float32 and np.abs(out32 - ref).max() <= 2e-5


@pytest.mark.parametrize("pad", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("ac", [False, True])
def test_tricubic_reduces_to_bicubic_for_a_volume_constant_along_depth(pad, ac):
    rng = np.random.default_rng(31)
    img = rng.standard_normal((2, 3, 6, 7))
    vol = np.repeat(img[:, :, None], 6, axis=2)                      # constant along D
    grid2 = rng.uniform(-1.3, 1.3, (2, 4, 5, 2))
    for zpix in (1.0, 1.37, 2.5, 2.91):                              # all four z taps inside
        z = np.full(grid2.shape[:-1] + (1,), normalize(zpix, 6, ac))
        grid3 = np.concatenate([grid2, z], axis=-1)[:, None]          # Do = 1
        out3 = swiftstn.grid_sample(vol, grid3, "bicubic", pad, ac)[:, :, 0]
        out2 = swiftstn.grid_sample(img, grid2, "bicubic", pad, ac)
        np.testing.assert_allclose(out3, out2, rtol=0, atol=1e-12)


def test_tricubic_is_separable():
    rng = np.random.default_rng(41)
    a = rng.standard_normal(7)                                        # along z
    B = rng.standard_normal((1, 1, 6, 8))                             # (y, x) plane
    vol = a[None, None, :, None, None] * B[:, :, None]
    # Coordinates keeping every tap inside, so no padding is involved.
    gx, gy = rng.uniform(-0.4, 0.4, (2, 3, 4))
    gz = rng.uniform(-0.4, 0.4, (3, 4))
    for ac in (False, True):
        grid3 = np.stack([gx, gy, gz], axis=-1)[None, None]           # 1×1×3×4×3
        out = swiftstn.grid_sample(vol, grid3, "bicubic", "zeros", ac)[0, 0, 0]
        plane = swiftstn.grid_sample(B, np.stack([gx, gy], axis=-1)[None], "bicubic", "zeros", ac)[0, 0]
        z = unnormalize(gz, 7, ac)
        fz = np.floor(z)
        line = sum(keys(z - (fz - 1 + k)) * a[(fz - 1 + k).astype(int)] for k in range(4))
        np.testing.assert_allclose(out, plane * line, rtol=0, atol=1e-12)


def test_tricubic_backward_is_the_adjoint_and_threads_do_not_change_bits():
    x, grid, rng = tricubic_case(50)
    for pad, ac in itertools.product(["zeros", "border", "reflection"], [False, True]):
        out = swiftstn.grid_sample(x, grid, "bicubic", pad, ac)
        go = rng.standard_normal(out.shape)
        gi, gg = swiftstn.grid_sample_backward(go, x, grid, "bicubic", pad, ac)
        # The output is linear in the input: <go, A x> = <Aᵀ go, x>.
        assert abs(np.vdot(go, out) - np.vdot(gi, x)) <= 1e-10 * max(1.0, abs(np.vdot(go, out)))
        assert gg.shape == grid.shape and np.abs(gg).max() > 0
        swiftstn.set_num_threads(1)
        r1 = swiftstn.grid_sample_backward(go, x, grid, "bicubic", pad, ac)
        swiftstn.set_num_threads(2)
        r2 = swiftstn.grid_sample_backward(go, x, grid, "bicubic", pad, ac)
        assert same_bits(r1[0], r2[0]) and same_bits(r1[1], r2[1])


def test_tricubic_non_finite_coordinates_follow_2d_bicubic():
    x = np.ones((1, 1, 4, 4, 4))
    grid = np.array([np.nan, 0.0, 0.0, 1e30, 0.0, 0.0, 0.0, 0.0, 0.0]).reshape(1, 1, 1, 3, 3)
    out = swiftstn.grid_sample(x, grid, "bicubic")
    assert np.isnan(out[0, 0, 0, 0, 0]) and out[0, 0, 0, 0, 1] == 0 and np.isfinite(out[0, 0, 0, 0, 2])
    go = np.ones_like(out)
    gi, gg = swiftstn.grid_sample_backward(go, x, grid, "bicubic", "border")
    assert gi.shape == x.shape


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_fill_padding_float32_smooth_grid_many_channels(mode):
    """An affine grid reaching past the border, 9 channels, float32: on AVX-512 builds most 16-lane
    chunks are read from row windows, those at the border with their outside taps masked to the
    fill. Each channel equals the same channel sampled alone (fewer than 8 channels: gathers), bit
    for bit; the grid gradient agrees with the float64 path."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 9, 30, 41)).astype(np.float32)
    theta = np.array([[[1.15, -0.2, 0.08], [0.18, 1.1, -0.05]],
                      [[1.2, 0.15, -0.1], [-0.1, 1.12, 0.06]]], np.float32)
    grid = swiftstn.affine_grid(theta, (2, 9, 27, 37))
    fill = rng.standard_normal(9).astype(np.float32)
    out = swiftstn.grid_sample(x, grid, mode, "fill", False, fill=fill)
    for c in range(9):
        alone = swiftstn.grid_sample(np.ascontiguousarray(x[:, c:c + 1]), grid, mode, "fill", False, fill=fill[c])
        assert same_bits(out[:, c:c + 1], alone), c
    # Against float64 arithmetic: float32 coordinates up to 40 px carry ~4e-6 px of rounding.
    ref = direct_fill_reference(x.astype(np.float64), grid.astype(np.float64), mode, False, fill)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-4)
    if mode == "bilinear":
        go = rng.standard_normal(out.shape).astype(np.float32)
        _, gg = swiftstn.grid_sample_backward(go, x, grid, mode, "fill", False, fill=fill)
        _, gg64 = swiftstn.grid_sample_backward(go.astype(np.float64), x.astype(np.float64),
                                                grid.astype(np.float64), mode, "fill", False,
                                                fill=fill.astype(np.float64))
        np.testing.assert_allclose(gg, gg64, rtol=0, atol=1e-5 * np.abs(gg64).max())
