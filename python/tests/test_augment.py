"""swiftstn.augment: RandomAffine / RandomPerspective against torchvision's semantics, sampling
(ranges, seeded determinism, per-image parameters), apply_to_points, p, and argument errors.

Comparisons with torchvision (skipped without it) use ``torchvision.transforms.v2.functional``
with the parameters swiftstn sampled, image by image. Tolerance 1e-5 (float32) on the pixels
whose bilinear footprint lies wholly inside the image (torchvision's coverage mask is 1): the
two sides compute the same grid in a different order of float32 operations (torchvision's
perspective coefficients are also rounded to float32), measured ≤ 4e-6. In the one-pixel band
along the border torchvision multiplies the zero-padded sample by its mask again; there the
exact relation ``tv = ours_zeros·mask + fill·(1 − mask)`` is checked instead.
"""
from __future__ import annotations

import numpy as np
import pytest

import swiftstn
from swiftstn.augment import (
    RandomAffine,
    RandomPerspective,
    Transforms,
    affine_matrices,
    apply_to_points,
    make_rng,
    perspective_matrices,
)

try:
    import torch
    import torchvision.transforms.v2 as T
    import torchvision.transforms.v2.functional as TF
    from torchvision.transforms import InterpolationMode
    HAVE_TV = True
except Exception:  # noqa: BLE001 - torchvision missing or built for another torch
    HAVE_TV = False

needs_tv = pytest.mark.skipif(not HAVE_TV, reason="torchvision not installed (or not loadable)")

TOL = 1e-5


def _images(n: int = 5, c: int = 2, h: int = 20, w: int = 17, dtype: type = np.float32) -> np.ndarray:
    return np.random.default_rng(123).random((n, c, h, w)).astype(dtype)


def _tv_affine(img: np.ndarray, p: dict, i: int, fill, center=None) -> np.ndarray:
    kw = dict(angle=float(p["angle"][i]), translate=[float(t) for t in p["translate"][i]],
              scale=float(p["scale"][i]), shear=[float(s) for s in p["shear"][i]],
              interpolation=InterpolationMode.BILINEAR, center=center)
    return TF.affine(torch.from_numpy(img), fill=fill, **kw).numpy(), TF.affine(
        torch.ones((1, *img.shape[-2:]), dtype=torch.from_numpy(img).dtype), fill=None, **kw).numpy()[0]


def _tv_perspective(img: np.ndarray, p: dict, i: int, fill) -> np.ndarray:
    kw = dict(startpoints=p["startpoints"][i].tolist(), endpoints=p["endpoints"][i].tolist(),
              interpolation=InterpolationMode.BILINEAR)
    return TF.perspective(torch.from_numpy(img), fill=fill, **kw).numpy(), TF.perspective(
        torch.ones((1, *img.shape[-2:]), dtype=torch.from_numpy(img).dtype), fill=None, **kw).numpy()[0]


def _check_against_tv(x, out, zeros_out, refs, fill):
    for i, (ref, mask) in enumerate(refs):
        inside = mask >= 1 - 1e-6
        assert inside.sum() > 20
        err = np.abs(out[i] - ref)[:, inside].max()
        assert err < TOL, (i, err)
        # Border band: torchvision's fill formula, from our zero-padded sample and its mask.
        np.testing.assert_allclose(zeros_out[i] * mask + fill * (1 - mask), ref, atol=TOL)


# ---- agreement with torchvision -----------------------------------------------------------------

@needs_tv
@pytest.mark.parametrize("fill", [0.0, 0.7])
def test_affine_fixed_parameters_match_torchvision(fill):
    x = _images()
    aug = RandomAffine(degrees=(30, 30), scale=(0.8, 0.8), shear=(10, 10, -5, -5), fill=fill)
    out, info = aug(x, seed=0)
    zeros_out, _ = RandomAffine(degrees=(30, 30), scale=(0.8, 0.8), shear=(10, 10, -5, -5)).apply(x, info.params)
    assert np.all(info.params["angle"] == 30) and np.all(info.params["scale"] == 0.8)
    assert np.all(info.params["shear"] == [10, -5])
    refs = [_tv_affine(x[i], info.params, i, fill) for i in range(len(x))]
    _check_against_tv(x, out, zeros_out, refs, fill)


@needs_tv
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_affine_random_parameters_and_center_match_torchvision(dtype):
    x = _images(dtype=dtype)
    kw = dict(degrees=40, translate=(0.2, 0.1), scale=(0.7, 1.3), shear=(-10, 10, -5, 8), center=(6.0, 9.5))
    out, info = RandomAffine(**kw, fill=0.25)(x, seed=1)
    zeros_out, _ = RandomAffine(**kw).apply(x, info.params)
    assert out.dtype == dtype
    refs = [_tv_affine(x[i], info.params, i, 0.25, center=[6.0, 9.5]) for i in range(len(x))]
    _check_against_tv(x, out, zeros_out, refs, 0.25)


@needs_tv
def test_perspective_matches_torchvision():
    x = _images(n=6)
    out, info = RandomPerspective(0.6, p=1.0, fill=0.3)(x, seed=2)
    zeros_out, _ = RandomPerspective(0.6, p=1.0).apply(x, info.params)
    refs = [_tv_perspective(x[i], info.params, i, 0.3) for i in range(len(x))]
    _check_against_tv(x, out, zeros_out, refs, 0.3)


@needs_tv
def test_affine_matrix_is_torchvisions_forward_matrix():
    """Our pixel matrix = torchvision's non-inverted matrix, moved from its centred coordinates."""
    from torchvision.transforms.functional import _get_inverse_affine_matrix
    h, w = 12, 15
    m = affine_matrices([25.0], [[3, -2]], [1.2], [[7.0, -4.0]], (h, w))[0]
    tv = np.array(_get_inverse_affine_matrix([0.0, 0.0], 25.0, [3.0, -2.0], 1.2, [7.0, -4.0], inverted=False))
    c = np.array([[1, 0, (w - 1) / 2], [0, 1, (h - 1) / 2], [0, 0, 1.0]])
    np.testing.assert_allclose(m, c @ np.vstack([tv.reshape(2, 3), [0, 0, 1]]) @ np.linalg.inv(c), atol=1e-12)


@needs_tv
def test_perspective_sampling_ranges_match_torchvision_get_params(monkeypatch):
    """Each endpoint coordinate takes exactly the integer values torchvision's make_params
    produces (its endpoints captured before they become coefficients), for odd and even sizes
    and distortion_scale up to 1."""
    import torchvision.transforms.v2._geometry as G
    monkeypatch.setattr(G, "_get_perspective_coeffs", lambda start, end: (start, end))
    for h, w, d in [(20, 17, 0.5), (9, 10, 1.0), (31, 8, 0.25)]:
        ours = RandomPerspective(d, p=1.0).sample(2000, (h, w), make_rng(seed=0))
        torch.manual_seed(0)
        tvt, img = T.RandomPerspective(d, p=1.0), torch.zeros(1, h, w)
        runs = [tvt.make_params([img])["coefficients"] for _ in range(2000)]
        theirs_start = np.array([r[0] for r in runs])
        theirs = np.array([r[1] for r in runs])
        np.testing.assert_array_equal(ours["startpoints"], theirs_start)
        for k in range(4):
            for j in range(2):
                assert set(np.unique(ours["endpoints"][:, k, j])) == set(np.unique(theirs[:, k, j])), (h, w, d, k, j)


# ---- sampling -----------------------------------------------------------------------------------

def test_affine_sampled_ranges():
    aug = RandomAffine(degrees=(-10, 25), translate=(0.1, 0.3), scale=(0.5, 2.0), shear=(-5, 5, 1, 3))
    p = aug.sample(4000, (20, 30), make_rng(seed=3))
    assert p["angle"].min() >= -10 and p["angle"].max() < 25 and np.ptp(p["angle"]) > 30
    assert np.all(p["translate"] == np.rint(p["translate"]))
    assert np.abs(p["translate"][:, 0]).max() == 3 and np.abs(p["translate"][:, 1]).max() == 6
    assert p["scale"].min() >= 0.5 and p["scale"].max() < 2.0
    assert p["shear"][:, 0].min() >= -5 and p["shear"][:, 0].max() < 5
    assert p["shear"][:, 1].min() >= 1 and p["shear"][:, 1].max() < 3
    p1 = RandomAffine(degrees=7, shear=4).sample(2000, (8, 8), make_rng(seed=4))
    assert -7 <= p1["angle"].min() < -6 and 6 < p1["angle"].max() <= 7
    assert np.all(p1["shear"][:, 1] == 0) and np.abs(p1["shear"][:, 0]).max() <= 4
    assert np.all(p1["translate"] == 0) and np.all(p1["scale"] == 1)


def test_seeded_determinism_and_per_image_parameters():
    x = _images(n=8)
    for aug in (RandomAffine(30, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=10), RandomPerspective(0.5, p=1.0)):
        a, ia = aug(x, seed=11)
        b, ib = aug(x, np.random.default_rng(11))
        c, _ = aug(x, seed=12)
        assert a.tobytes() == b.tobytes()
        np.testing.assert_array_equal(ia.matrices, ib.matrices)
        assert not np.array_equal(a, c)
        flat = ia.matrices.reshape(len(x), -1)
        assert len({row.tobytes() for row in flat}) == len(x)  # every image its own transform
        # Same image content, different outputs: identical inputs are warped differently.
        same = np.repeat(x[:1], 4, axis=0)
        o, _ = aug(same, seed=1)
        assert all(not np.array_equal(o[0], o[k]) for k in range(1, 4))


def test_generator_advances_and_batch_transform():
    x = _images(n=3)
    aug = RandomAffine(20)
    f = aug.batch_transform(seed=5)
    y = np.arange(3)
    x1, y1 = f(x, y)
    x2, y2 = f(x, y)
    assert y1 is y and y2 is y and not np.array_equal(x1, x2)
    g = aug.batch_transform(seed=5)
    assert g(x, y)[0].tobytes() == x1.tobytes() and g(x, y)[0].tobytes() == x2.tobytes()
    gen = np.random.default_rng(5)
    assert aug(x, gen)[0].tobytes() == x1.tobytes() and aug(x, gen)[0].tobytes() == x2.tobytes()


def test_perspective_p():
    x = _images(n=10)
    out, info = RandomPerspective(0.8, p=0.0)(x, seed=0)
    assert out.tobytes() == x.tobytes() and not info.params["applied"].any()
    np.testing.assert_array_equal(info.matrices, np.broadcast_to(np.eye(3), (10, 3, 3)))
    out, info = RandomPerspective(0.8, p=1.0)(x, seed=0)
    assert info.params["applied"].all()
    assert all(not np.allclose(out[i], x[i]) for i in range(10))
    applied = RandomPerspective(0.5, p=0.3).sample(5000, (10, 10), make_rng(seed=1))["applied"]
    assert 0.27 < applied.mean() < 0.33
    out, info = RandomPerspective(0.5, p=0.5)(x, seed=3)
    a = info.params["applied"]
    assert a.any() and not a.all()
    assert out[~a].tobytes() == x[~a].tobytes()


def test_identity_parameters_give_input_back():
    x = _images()
    out, info = RandomAffine(0)(x, seed=0)
    np.testing.assert_allclose(info.matrices, np.broadcast_to(np.eye(3), (5, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(out, x, atol=1e-5)


# ---- points -------------------------------------------------------------------------------------

def _blob(h: int, w: int, cx: float, cy: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 1.2 ** 2))


def _centroid(img: np.ndarray) -> np.ndarray:
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    m = img * (img > 0.2 * img.max())
    return np.array([(xx * m).sum() / m.sum(), (yy * m).sum() / m.sum()])


@pytest.mark.parametrize("aug", [RandomAffine(45, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=(-10, 10, -10, 10)),
                                 RandomPerspective(0.5, p=1.0),
                                 RandomAffine(30, center=(10.0, 20.0))])
def test_apply_to_points_follows_a_bright_spot(aug):
    h, w, n = 48, 40, 6
    pts = np.array([[[14.0, 20.0]], [[25.0, 30.0]], [[20.0, 24.0]], [[12.0, 30.0]], [[27.0, 16.0]], [[19.5, 23.5]]])
    x = np.stack([_blob(h, w, *p[0])[None] for p in pts]).astype(np.float32)
    out, info = aug(x, seed=7)
    moved = apply_to_points(info.matrices, pts)
    for i in range(n):
        assert np.linalg.norm(_centroid(out[i, 0]) - moved[i, 0]) < 0.5, (i, _centroid(out[i, 0]), moved[i, 0])


def test_apply_to_points_shapes_and_dtypes():
    m = np.broadcast_to(np.eye(3), (2, 3, 3))
    p32 = np.ones((2, 3, 2), np.float32)
    assert apply_to_points(m, p32).dtype == np.float32
    assert apply_to_points(m[:, :2], np.ones((2, 3, 2), np.int64)).dtype == np.float64
    with pytest.raises(ValueError, match="points must be N×K×2"):
        apply_to_points(m, np.ones((3, 3, 2)))
    with pytest.raises(ValueError, match="matrices must be"):
        apply_to_points(np.eye(3), p32)


def test_perspective_matrices_map_corners():
    start = [[0, 0], [9, 0], [9, 7], [0, 7]]
    end = [[1, 2], [8, 0], [9, 6], [0, 7]]
    m = perspective_matrices([start], [end])
    # torchvision's coordinates put pixel i's centre at i + 0.5: corners shift by half a pixel.
    got = apply_to_points(m, np.array([start], float) - 0.5)[0] + 0.5
    np.testing.assert_allclose(got, end, atol=1e-9)


# ---- the batch goes through one fused warp ------------------------------------------------------

def test_one_warp_call(monkeypatch):
    import swiftstn.augment as A
    calls = []
    real = A.warp_affine

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(A, "warp_affine", spy)
    x = _images(n=7)
    out, info = RandomAffine(10, fill=(0.5, 0.25))(x, seed=0)
    assert calls == [x.shape] and isinstance(info, Transforms) and info.theta.shape == (7, 2, 3)
    # The same θ through swiftstn.warp_affine directly gives the same pixels.
    ref = swiftstn.warp_affine(x, info.theta.astype(np.float32), (20, 17), padding_mode="fill", fill=[0.5, 0.25])
    assert out.tobytes() == ref.tobytes()


# ---- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(degrees=-1), ValueError, "degrees"),
    (dict(degrees=(10, -10)), ValueError, "degrees"),
    (dict(degrees=(1, 2, 3)), ValueError, "degrees"),
    (dict(degrees="5"), TypeError, "degrees"),
    (dict(degrees=5, translate=(0.1,)), ValueError, "translate"),
    (dict(degrees=5, translate=(0.1, 1.5)), ValueError, "translate"),
    (dict(degrees=5, scale=(0.0, 1.0)), ValueError, "scale"),
    (dict(degrees=5, scale=(1.2, 0.8)), ValueError, "scale"),
    (dict(degrees=5, shear=(1, 2, 3)), ValueError, "shear"),
    (dict(degrees=5, shear=-3), ValueError, "shear"),
    (dict(degrees=5, shear=(0, 95)), ValueError, "shear"),
    (dict(degrees=5, interpolation="area"), ValueError, "interpolation"),
    (dict(degrees=5, fill=float("nan")), ValueError, "fill"),
    (dict(degrees=5, center=(1.0,)), ValueError, "center"),
])
def test_affine_argument_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        RandomAffine(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(distortion_scale=1.5), "distortion_scale"), (dict(distortion_scale=-0.1), "distortion_scale"),
    (dict(p=1.1), "p must be"), (dict(p=-0.5), "p must be"), (dict(interpolation="lanczos"), "interpolation"),
])
def test_perspective_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandomPerspective(**kwargs)


def test_input_errors():
    aug = RandomAffine(5)
    with pytest.raises(ValueError, match="N×C×H×W"):
        aug(np.zeros((3, 8, 8), np.float32), seed=0)
    with pytest.raises(TypeError, match="uint8, float16, float32 or float64, got int32"):
        aug(np.zeros((1, 1, 8, 8), np.int32), seed=0)
    with pytest.raises(ValueError, match="layout must be"):
        aug(np.zeros((1, 1, 8, 8), np.float32), seed=0, layout="HWC")
    with pytest.raises(ValueError, match="fill has 3 values"):
        RandomAffine(5, fill=(1, 2, 3))(np.zeros((1, 2, 8, 8), np.float32), seed=0)
    with pytest.raises(ValueError, match="either rng or seed"):
        aug(np.zeros((1, 1, 8, 8), np.float32), 1, seed=2)
    with pytest.raises(TypeError, match="rng must be"):
        aug(np.zeros((1, 1, 8, 8), np.float32), "seed")
    with pytest.raises(ValueError, match="at least 2×2"):
        RandomPerspective(p=1.0)(np.zeros((1, 1, 1, 8), np.float32), seed=0)
    _, info = aug(np.zeros((2, 1, 8, 8), np.float32), seed=0)
    with pytest.raises(ValueError, match="params describe 2 images"):
        aug.apply(np.zeros((3, 1, 8, 8), np.float32), info.params)


def test_degenerate_perspective_draws_are_left_unwarped():
    """distortion_scale=1 on tiny images can put three corners on a line (torchvision raises an
    error there): those images are copied, marked not applied; the rest are warped."""
    x = np.random.default_rng(0).random((400, 1, 3, 3)).astype(np.float32)
    out, info = RandomPerspective(1.0, p=1.0)(x, seed=0)
    a = info.params["applied"]
    assert 0 < a.mean() < 1 and np.isfinite(out).all() and np.isfinite(info.matrices).all()
    assert out[~a].tobytes() == x[~a].tobytes()
    bad = {k: v.copy() for k, v in info.params.items()}
    bad["applied"][:] = True
    bad["endpoints"][0] = [[0, 0], [1, 1], [2, 2], [0, 2]]
    with pytest.raises(ValueError, match="degenerate corners"):
        RandomPerspective(1.0, p=1.0).apply(x, bad)


@pytest.mark.parametrize("cls,kwargs", [(RandomAffine, dict(degrees=30, translate=(0.1, 0.1), scale=(0.8, 1.2),
                                                             shear=10, fill=(10, 200, 30))),
                                        (RandomPerspective, dict(distortion_scale=0.4, p=1.0))])
def test_uint8_channels_last_batches_are_the_float_results_rounded(cls, kwargs):
    rng = np.random.default_rng(11)
    x = rng.integers(0, 256, (4, 3, 20, 24), dtype=np.uint8)
    aug = cls(**kwargs)
    ref, t_ref = aug(x.astype(np.float32), seed=5)
    got, t_got = aug(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), seed=5, layout="NHWC")
    assert got.dtype == np.uint8 and got.shape == (4, 20, 24, 3)
    assert np.array_equal(t_got.matrices, t_ref.matrices)
    assert np.array_equal(got.transpose(0, 3, 1, 2), np.clip(np.rint(ref), 0, 255).astype(np.uint8))
