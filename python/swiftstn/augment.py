"""Random geometric augmentation of N×C×H×W batches: :class:`RandomAffine` and
:class:`RandomPerspective`, with torchvision's parameter semantics and per-image parameters.

Parameters are drawn per image from a NumPy :class:`numpy.random.Generator` (``rng=`` a
Generator or an int seed, or ``seed=``), and the whole batch is warped in ONE call of
swiftstn's fused warp (:func:`swiftstn.warp_affine` with per-image θ, or
:func:`swiftstn.warp_perspective` with per-image H; ``align_corners=False``, as torchvision).

Calling an augmentation returns the warped batch and a :class:`Transforms` record: the
per-image pixel matrices (source → destination, N×3×3, pixel centres at integer coordinates:
``x`` = column, ``y`` = row, as kornia and OpenCV), the normalised matrices handed to the warp,
and the sampled parameters. :func:`apply_to_points` moves N×K×2 keypoints with those matrices.

    >>> import numpy as np
    >>> from swiftstn.augment import RandomAffine, apply_to_points
    >>> aug = RandomAffine(degrees=15, translate=(0.1, 0.1), scale=(0.9, 1.1))
    >>> x = np.zeros((4, 1, 28, 28), np.float32)
    >>> x_aug, info = aug(x, seed=0)
    >>> pts = apply_to_points(info.matrices, np.full((4, 1, 2), 13.5))

Parameter semantics are torchvision's (``torchvision.transforms.v2.RandomAffine`` /
``RandomPerspective``) with two deliberate differences: parameters are per image rather than
one set per call, and fill padding follows swiftstn's ``padding_mode="fill"`` (bilinear
interpolation of the image extended by the constant), where torchvision multiplies the
zero-padded sample by its coverage mask once more (the one-pixel band along the border differs;
the interior is the same). See docs/augment.md.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .functional import warp_affine
from .transforms import warp_perspective

__all__ = ["RandomAffine", "RandomPerspective", "Transforms", "apply_to_points", "affine_matrices",
           "perspective_matrices", "make_rng"]

F64 = NDArray[np.float64]
FloatArray = NDArray[np.floating[Any]]
#: ``rng``: a NumPy Generator, an int seed, or None (a fresh, unseeded Generator).
RngLike = Union[np.random.Generator, int, None]
#: ``fill``: a number or one number per channel.
FillLike = Union[float, Sequence[float]]

_INTERPOLATIONS = ("bilinear", "nearest", "bicubic")


@dataclass(frozen=True)
class Transforms:
    """What an augmentation did to a batch of N images.

    ``matrices``: N×3×3 float64 pixel matrices, source → destination (a source pixel at
    (x, y) lands at ``matrices[i] @ (x, y, 1)``, divided by the last component for a perspective);
    ``theta``: the normalised output → input matrices given to the warp (N×2×3 θ for
    :func:`swiftstn.warp_affine`, N×3×3 H for :func:`swiftstn.warp_perspective`;
    ``align_corners=False``); ``params``: the sampled per-image parameters (arrays whose first
    axis is N; see :meth:`RandomAffine.sample` and :meth:`RandomPerspective.sample`).
    """

    matrices: F64
    theta: F64
    params: dict[str, NDArray[Any]] = field(default_factory=dict)


# ---- argument checks ----------------------------------------------------------------------------

def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _finite_floats(v: Any, name: str, sizes: tuple[int, ...], owner: str) -> list[float]:
    want = " or ".join(str(s) for s in sizes)
    if isinstance(v, (str, bytes)) or not isinstance(v, (Sequence, np.ndarray)):
        raise TypeError(f"{owner}: {name} must be a sequence of {want} numbers, got {v!r}")
    vals = list(v)
    if len(vals) not in sizes:
        raise ValueError(f"{owner}: {name} must be a sequence of {want} numbers, got {len(vals)}: {v!r}")
    if not all(_is_number(t) for t in vals):
        raise TypeError(f"{owner}: {name} must hold numbers, got {v!r}")
    out = [float(t) for t in vals]
    if not all(math.isfinite(t) for t in out):
        raise ValueError(f"{owner}: {name} must be finite, got {v!r}")
    return out


def _angle_range(v: Any, name: str, sizes: tuple[int, ...], owner: str) -> list[float]:
    """torchvision's ``_setup_angle``: a number d ≥ 0 means (−d, d); else a sequence of ``sizes``
    values, taken in (min, max) pairs (min ≤ max is required here)."""
    if _is_number(v):
        d = float(v)
        if not math.isfinite(d) or d < 0:
            raise ValueError(f"{owner}: {name} as a single number must be finite and ≥ 0 (the range (-{name}, "
                             f"+{name})), got {v!r}")
        return [-d, d]
    vals = _finite_floats(v, name, sizes, owner)
    for lo, hi in zip(vals[0::2], vals[1::2]):
        if lo > hi:
            raise ValueError(f"{owner}: {name} ranges must be (min, max) with min ≤ max, got {v!r}")
    return vals


def _check_fill(fill: Any, owner: str) -> float | list[float]:
    if _is_number(fill):
        f = float(fill)
        if not math.isfinite(f):
            raise ValueError(f"{owner}: fill must be finite, got {fill!r}")
        return f
    if isinstance(fill, (str, bytes)) or not isinstance(fill, (Sequence, np.ndarray)) or len(fill) == 0:
        raise TypeError(f"{owner}: fill must be a number or a non-empty sequence of numbers (one per channel), "
                        f"got {fill!r}")
    return _finite_floats(fill, "fill", (len(fill),), owner)


def _check_interpolation(interpolation: Any, owner: str) -> str:
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"{owner}: interpolation must be one of {', '.join(map(repr, _INTERPOLATIONS))}, "
                         f"got {interpolation!r}")
    return str(interpolation)


def _check_p(p: Any, owner: str) -> float:
    if not _is_number(p) or not (0.0 <= float(p) <= 1.0):
        raise ValueError(f"{owner}: p must be a probability in [0, 1], got {p!r}")
    return float(p)


def _images(x: ArrayLike, owner: str, layout: str | None) -> tuple[NDArray[Any], tuple[int, int], int]:
    """``x`` as an array, its (H, W) and its channel count."""
    a = np.asarray(x)
    if a.dtype not in (np.uint8, np.float16, np.float32, np.float64):
        raise TypeError(f"{owner}: x must be uint8, float16, float32 or float64, got {a.dtype}")
    if layout not in (None, "NCHW", "NHWC"):
        raise ValueError(f"{owner}: layout must be 'NCHW' or 'NHWC', got {layout!r}")
    last = layout == "NHWC"
    if a.ndim != 4:
        raise ValueError(f"{owner}: x must be an {'N×H×W×C' if last else 'N×C×H×W'} batch, got shape {a.shape}")
    (h, w, c) = (a.shape[1], a.shape[2], a.shape[3]) if last else (a.shape[2], a.shape[3], a.shape[1])
    if h < 1 or w < 1 or c < 1:
        raise ValueError(f"{owner}: x must have C, H, W ≥ 1, got shape {a.shape}")
    return a, (int(h), int(w)), int(c)


def _compute_dtype(x: NDArray[Any]) -> type:
    """The type matrices and fill values of a warp of ``x`` have (float32 for uint8/float16)."""
    return np.float64 if x.dtype == np.float64 else np.float32


def make_rng(rng: RngLike = None, seed: int | None = None) -> np.random.Generator:
    """The Generator for ``rng`` (a Generator is used as is, and advanced; an int is a seed) or
    ``seed``; with neither, a fresh unseeded Generator. Passing both is a ValueError."""
    if rng is not None and seed is not None:
        raise ValueError("pass either rng or seed, not both")
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        rng = seed
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, (int, np.integer))):
        raise TypeError(f"rng must be a numpy.random.Generator or an int seed, got {rng!r}")
    return np.random.default_rng(rng)


def _fill_kwargs(fill: float | list[float], channels: int, owner: str) -> dict[str, Any]:
    """Zeros padding for a zero fill; else swiftstn's fill padding (one value, or one per channel)."""
    if isinstance(fill, list):
        if len(fill) == 1:
            fill = fill[0]
        elif len(fill) != channels:
            raise ValueError(f"{owner}: fill has {len(fill)} values but x has {channels} channels")
    if not isinstance(fill, list) and fill == 0.0:
        return {"padding_mode": "zeros"}
    if isinstance(fill, list) and all(f == 0.0 for f in fill):
        return {"padding_mode": "zeros"}
    return {"padding_mode": "fill", "fill": fill}


# ---- matrices -----------------------------------------------------------------------------------

def _normal(h: int, w: int) -> F64:
    """Pixel index (x, y) → the normalised coordinate of ``align_corners=False``."""
    return np.array([[2.0 / w, 0.0, 1.0 / w - 1.0], [0.0, 2.0 / h, 1.0 / h - 1.0], [0.0, 0.0, 1.0]])


def _translation(tx: F64, ty: F64) -> F64:
    m = np.zeros((*np.shape(tx), 3, 3))
    m[..., 0, 0] = m[..., 1, 1] = m[..., 2, 2] = 1.0
    m[..., 0, 2] = tx
    m[..., 1, 2] = ty
    return m


def affine_matrices(angle: ArrayLike, translate: ArrayLike, scale: ArrayLike, shear: ArrayLike,
                    size: tuple[int, int], center: Sequence[float] | None = None) -> F64:
    """Pixel matrices (N×3×3, source → destination, pixel centres at integers) of torchvision's
    ``F.affine(img, angle, translate, scale, shear, center)`` for images of ``size`` (H, W).

    ``angle`` (N,) degrees (positive is clockwise on screen, as torchvision's ``affine``),
    ``translate`` N×2 pixels, ``scale`` (N,), ``shear`` N×2 degrees (x, y), ``center`` (x, y) in
    torchvision's coordinates (origin at the top-left image corner, so pixel i's centre is at
    i + 0.5); default the image centre. torchvision's matrix is T·C·R(a)·S(s)·SHy(sy)·SHx(sx)·C⁻¹
    (``_get_inverse_affine_matrix`` with ``inverted=False``)."""
    h, w = size
    a = np.radians(np.asarray(angle, np.float64).reshape(-1))
    t = np.asarray(translate, np.float64).reshape(-1, 2)
    s = np.asarray(scale, np.float64).reshape(-1)
    sh = np.radians(np.asarray(shear, np.float64).reshape(-1, 2))
    sx, sy = sh[:, 0], sh[:, 1]
    # torchvision's "RSS without scaling" entries, then scaled.
    m = np.zeros((a.shape[0], 3, 3))
    m[:, 0, 0] = np.cos(a - sy) / np.cos(sy)
    m[:, 0, 1] = -np.cos(a - sy) * np.tan(sx) / np.cos(sy) - np.sin(a)
    m[:, 1, 0] = np.sin(a - sy) / np.cos(sy)
    m[:, 1, 1] = -np.sin(a - sy) * np.tan(sx) / np.cos(sy) + np.cos(a)
    m[:, :2, :2] *= s[:, None, None]
    m[:, 2, 2] = 1.0
    # Centre of rotation in pixel-index coordinates: torchvision's centre minus half a pixel.
    cx, cy = ((w - 1) / 2.0, (h - 1) / 2.0) if center is None else (center[0] - 0.5, center[1] - 0.5)
    c = _translation(np.full(a.shape, cx), np.full(a.shape, cy))
    c_inv = _translation(np.full(a.shape, -cx), np.full(a.shape, -cy))
    return np.asarray(_translation(t[:, 0], t[:, 1]) @ c @ m @ c_inv, np.float64)


def _homographies(src: F64, dst: F64) -> F64:
    """N×3×3 homographies taking the 4 points ``src`` (N×4×2) to ``dst`` ([2, 2] = 1), solved
    exactly; where the 8×8 system is singular (a degenerate quadrilateral, which torchvision
    refuses with an error), its least-squares solution."""
    n = src.shape[0]
    a = np.zeros((n, 8, 8))
    b = np.zeros((n, 8))
    x, y = src[..., 0], src[..., 1]
    u, v = dst[..., 0], dst[..., 1]
    a[:, 0::2, 0], a[:, 0::2, 1], a[:, 0::2, 2] = x, y, 1.0
    a[:, 0::2, 6], a[:, 0::2, 7] = -u * x, -u * y
    a[:, 1::2, 3], a[:, 1::2, 4], a[:, 1::2, 5] = x, y, 1.0
    a[:, 1::2, 6], a[:, 1::2, 7] = -v * x, -v * y
    b[:, 0::2], b[:, 1::2] = u, v
    try:
        coeffs = np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:  # a degenerate quadrilateral: least squares for that one
        coeffs = np.empty((n, 8))
        for i in range(n):
            try:
                coeffs[i] = np.linalg.solve(a[i], b[i])
            except np.linalg.LinAlgError:
                coeffs[i] = np.linalg.lstsq(a[i], b[i], rcond=None)[0]
    return np.concatenate([coeffs, np.ones((n, 1))], axis=1).reshape(n, 3, 3)


def perspective_matrices(startpoints: ArrayLike, endpoints: ArrayLike) -> F64:
    """Pixel matrices (N×3×3, source → destination, pixel centres at integers) of torchvision's
    ``F.perspective(img, startpoints, endpoints)``: N×4×2 corner lists (top-left, top-right,
    bottom-right, bottom-left) in torchvision's coordinates, where pixel i's centre is at i + 0.5
    (so its default start corners (0, 0) … (W−1, H−1) are not quite the pixel centres). Scaled to
    [2, 2] = 1 unless that entry is 0 (a folded quadrilateral sending pixel (0, 0) to infinity)."""
    src = np.asarray(startpoints, np.float64).reshape(-1, 4, 2)
    dst = np.asarray(endpoints, np.float64).reshape(-1, 4, 2)
    p = _homographies(src, dst)  # torchvision coordinates
    half = _translation(np.full(p.shape[0], 0.5), np.full(p.shape[0], 0.5))
    m = np.linalg.inv(half) @ p @ half
    d = m[:, 2:3, 2:3]
    return np.asarray(m / np.where(d == 0, 1.0, d), np.float64)


def _theta(matrices: F64, size: tuple[int, int]) -> F64:
    """Normalised output → input matrices (N×3×3) of pixel source → destination matrices."""
    nrm = _normal(*size)
    return np.asarray(nrm @ np.linalg.inv(matrices) @ np.linalg.inv(nrm), np.float64)


def apply_to_points(matrices: ArrayLike, points: ArrayLike) -> FloatArray:
    """Move points (N×K×2 pixel coordinates (x, y), pixel centres at integers) with per-image
    matrices (N×3×3 or N×2×3, source → destination, e.g. :attr:`Transforms.matrices`): returns
    N×K×2 in ``points``' float dtype (float64 for integer points). A perspective divides by the
    third component; points mapped to infinity come out non-finite."""
    m = np.asarray(matrices, np.float64)
    pts = np.asarray(points)
    if m.ndim != 3 or m.shape[1:] not in ((2, 3), (3, 3)):
        raise ValueError(f"apply_to_points(): matrices must be N×3×3 or N×2×3, got shape {m.shape}")
    if pts.ndim != 3 or pts.shape[2] != 2 or pts.shape[0] != m.shape[0]:
        raise ValueError(f"apply_to_points(): points must be N×K×2 with N = {m.shape[0]} (the matrices' batch), "
                         f"got shape {pts.shape}")
    p = pts.astype(np.float64)
    out = p @ m[:, :2, :2].transpose(0, 2, 1) + m[:, None, :2, 2]
    if m.shape[1] == 3:
        wz = p @ m[:, 2, :2][:, :, None] + m[:, None, 2:3, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = out / wz
    dtype = pts.dtype if pts.dtype in (np.float32, np.float64) else np.float64
    return np.asarray(out, dtype)


# ---- augmentations ------------------------------------------------------------------------------

class _Augmentation:
    """Shared call machinery: sample per-image parameters, warp the batch once."""

    name = "augmentation"
    interpolation: str
    fill: float | list[float]

    def sample(self, n: int, size: tuple[int, int], rng: np.random.Generator) -> dict[str, NDArray[Any]]:
        raise NotImplementedError

    def matrices(self, params: dict[str, NDArray[Any]], size: tuple[int, int]) -> F64:
        raise NotImplementedError

    def _warp(self, x: NDArray[Any], matrices: F64, size: tuple[int, int], channels: int,
              layout: str | None) -> tuple[NDArray[Any], F64]:
        raise NotImplementedError

    def __call__(self, x: ArrayLike, rng: RngLike = None, *, seed: int | None = None, layout: str | None = None
                 ) -> tuple[NDArray[Any], Transforms]:
        """Warp the N×C×H×W batch ``x`` (uint8, float16, float32 or float64; N×H×W×C with
        ``layout="NHWC"``) with per-image random parameters drawn from ``rng`` (a Generator,
        advanced; or an int seed) or ``seed``. Returns the warped batch (same shape, dtype and
        layout; uint8 rounded half to even) and the :class:`Transforms`."""
        owner = f"{self.name}()"
        a, size, _ = _images(x, owner, layout)
        gen = make_rng(rng, seed)
        params = self.sample(int(a.shape[0]), size, gen)
        return self.apply(a, params, layout=layout)

    def apply(self, x: ArrayLike, params: dict[str, NDArray[Any]], *, layout: str | None = None
              ) -> tuple[NDArray[Any], Transforms]:
        """Warp ``x`` with given per-image parameters (as returned by :meth:`sample`, or in
        :attr:`Transforms.params`): the deterministic half of ``__call__``."""
        a, size, channels = _images(x, f"{self.name}.apply()", layout)
        m = self.matrices(params, size)
        if m.shape[0] != a.shape[0]:
            raise ValueError(f"{self.name}.apply(): params describe {m.shape[0]} images but x has {a.shape[0]}")
        out, theta = self._warp(a, m, size, channels, layout)
        return out, Transforms(matrices=m, theta=theta, params=params)

    def batch_transform(self, rng: RngLike = None, *, seed: int | None = None
                        ) -> Callable[[ArrayLike, Any], tuple[FloatArray, Any]]:
        """A function ``f(x, y) -> (augmented x, y)`` for a training loop: each call draws new
        parameters from one Generator made here (so a seeded run is reproducible batch after
        batch). Labels ``y`` pass through unchanged."""
        gen = make_rng(rng, seed)

        def f(x: ArrayLike, y: Any) -> tuple[FloatArray, Any]:
            out, _ = self(x, gen)
            return out, y

        return f


class RandomAffine(_Augmentation):
    """Random affine transformation keeping the centre invariant, with torchvision's parameters
    (``torchvision.transforms.v2.RandomAffine``), drawn per image.

    ``degrees``: a number d ≥ 0 (the range (−d, d)) or (min, max); positive angles turn clockwise
    on screen. ``translate``: (a, b) in [0, 1]: the shift is sampled in (−a·W, a·W) × (−b·H, b·H)
    and rounded to whole pixels (as torchvision). ``scale``: (min, max), both > 0. ``shear``: a
    number s ≥ 0 (x shear in (−s, s) degrees), (min, max) (x shear) or 4 values (x range then y
    range). ``interpolation``: "bilinear" (default here; torchvision's default is "nearest"),
    "nearest" or "bicubic" (swiftstn only). ``fill``: the value (or one per channel) outside the
    image. ``center``: (x, y) in torchvision's coordinates (top-left image corner at (0, 0)),
    default the image centre.
    """

    name = "RandomAffine"

    def __init__(self, degrees: float | Sequence[float], translate: Sequence[float] | None = None,
                 scale: Sequence[float] | None = None, shear: float | Sequence[float] | None = None,
                 interpolation: str = "bilinear", fill: FillLike = 0,
                 center: Sequence[float] | None = None) -> None:
        owner = "RandomAffine()"
        self.degrees = _angle_range(degrees, "degrees", (2,), owner)
        self.translate: list[float] | None = None
        if translate is not None:
            self.translate = _finite_floats(translate, "translate", (2,), owner)
            if not all(0.0 <= t <= 1.0 for t in self.translate):
                raise ValueError(f"{owner}: translate fractions must be in [0, 1], got {translate!r}")
        self.scale: list[float] | None = None
        if scale is not None:
            self.scale = _finite_floats(scale, "scale", (2,), owner)
            if not all(s > 0 for s in self.scale):
                raise ValueError(f"{owner}: scale values must be > 0, got {scale!r}")
            if self.scale[0] > self.scale[1]:
                raise ValueError(f"{owner}: scale must be (min, max) with min ≤ max, got {scale!r}")
        self.shear: list[float] | None = None
        if shear is not None:
            self.shear = _angle_range(shear, "shear", (2, 4), owner)
            if not all(abs(v) < 90.0 for v in self.shear):
                raise ValueError(f"{owner}: shear angles must be in (-90, 90) degrees, got {shear!r}")
        self.interpolation = _check_interpolation(interpolation, owner)
        self.fill = _check_fill(fill, owner)
        self.center: list[float] | None = None
        if center is not None:
            self.center = _finite_floats(center, "center", (2,), owner)

    def __repr__(self) -> str:
        return (f"RandomAffine(degrees={self.degrees}, translate={self.translate}, scale={self.scale}, "
                f"shear={self.shear}, interpolation={self.interpolation!r}, fill={self.fill}, center={self.center})")

    def sample(self, n: int, size: tuple[int, int], rng: np.random.Generator) -> dict[str, NDArray[Any]]:
        """Per-image parameters for n images of ``size`` (H, W): ``angle`` (n,) degrees,
        ``translate`` n×2 whole pixels (float64), ``scale`` (n,), ``shear`` n×2 degrees (x, y).
        Drawn in that order, each as one vector of n uniforms (ranges as torchvision's
        ``make_params``)."""
        h, w = size
        angle = rng.uniform(self.degrees[0], self.degrees[1], n)
        translate = np.zeros((n, 2))
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * w, self.translate[1] * h
            translate[:, 0] = np.rint(rng.uniform(-max_dx, max_dx, n))
            translate[:, 1] = np.rint(rng.uniform(-max_dy, max_dy, n))
        scale = np.ones(n) if self.scale is None else rng.uniform(self.scale[0], self.scale[1], n)
        shear = np.zeros((n, 2))
        if self.shear is not None:
            shear[:, 0] = rng.uniform(self.shear[0], self.shear[1], n)
            if len(self.shear) == 4:
                shear[:, 1] = rng.uniform(self.shear[2], self.shear[3], n)
        return {"angle": angle, "translate": translate, "scale": scale, "shear": shear}

    def matrices(self, params: dict[str, NDArray[Any]], size: tuple[int, int]) -> F64:
        """Pixel source → destination matrices (N×3×3) of the parameters (see
        :func:`affine_matrices`)."""
        return affine_matrices(params["angle"], params["translate"], params["scale"], params["shear"], size,
                               self.center)

    def _warp(self, x: NDArray[Any], matrices: F64, size: tuple[int, int], channels: int,
              layout: str | None) -> tuple[NDArray[Any], F64]:
        theta = _theta(matrices, size)[:, :2, :]
        kw = _fill_kwargs(self.fill, channels, "RandomAffine()")
        out = warp_affine(x, np.ascontiguousarray(theta, _compute_dtype(x)), size, mode=self.interpolation,
                          layout=layout, **kw)
        return out, theta


class RandomPerspective(_Augmentation):
    """Random perspective transformation with probability ``p`` per image, with torchvision's
    parameters (``torchvision.transforms.v2.RandomPerspective``).

    Each corner of the image moves inwards by a whole number of pixels drawn uniformly from
    [0, int(distortion_scale·(W//2)) + 1) horizontally and [0, int(distortion_scale·(H//2)) + 1)
    vertically (torchvision's ``make_params``); ``distortion_scale`` in [0, 1], ``p`` in [0, 1].
    Images not selected (probability 1 − p) are copied unchanged (identity matrices), and so are
    those whose corners come out with three on a line (tiny images with ``distortion_scale``
    near 1; torchvision raises an error for them).
    ``interpolation``: "bilinear" (default), "nearest" or "bicubic" (swiftstn only); ``fill``:
    the value (or one per channel) outside the image. Images must be at least 2×2.
    """

    name = "RandomPerspective"

    def __init__(self, distortion_scale: float = 0.5, p: float = 0.5, interpolation: str = "bilinear",
                 fill: FillLike = 0) -> None:
        owner = "RandomPerspective()"
        if not _is_number(distortion_scale) or not (0.0 <= float(distortion_scale) <= 1.0):
            raise ValueError(f"{owner}: distortion_scale must be in [0, 1], got {distortion_scale!r}")
        self.distortion_scale = float(distortion_scale)
        self.p = _check_p(p, owner)
        self.interpolation = _check_interpolation(interpolation, owner)
        self.fill = _check_fill(fill, owner)

    def __repr__(self) -> str:
        return (f"RandomPerspective(distortion_scale={self.distortion_scale}, p={self.p}, "
                f"interpolation={self.interpolation!r}, fill={self.fill})")

    def sample(self, n: int, size: tuple[int, int], rng: np.random.Generator) -> dict[str, NDArray[Any]]:
        """Per-image parameters: ``applied`` (n,) bools (``uniform < p``, as torchvision's
        ``rand >= p`` skip), ``startpoints`` and ``endpoints`` n×4×2 (top-left, top-right,
        bottom-right, bottom-left; torchvision's coordinates and integer ranges). Images not
        applied (including degenerate draws, see the class) have endpoints = startpoints."""
        h, w = size
        if h < 2 or w < 2:
            raise ValueError(f"RandomPerspective(): images must be at least 2×2, got H×W = {h}×{w}")
        applied = rng.uniform(size=n) < self.p
        bh = int(self.distortion_scale * (h // 2)) + 1
        bw = int(self.distortion_scale * (w // 2)) + 1
        lo_x, hi_x = rng.integers(0, bw, (n, 4)), rng.integers(w - bw, w, (n, 4))
        lo_y, hi_y = rng.integers(0, bh, (n, 4)), rng.integers(h - bh, h, (n, 4))
        start = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.int64)
        end = np.empty((n, 4, 2), np.int64)
        end[:, 0] = np.stack([lo_x[:, 0], lo_y[:, 0]], 1)   # top-left
        end[:, 1] = np.stack([hi_x[:, 1], lo_y[:, 1]], 1)   # top-right
        end[:, 2] = np.stack([hi_x[:, 2], hi_y[:, 2]], 1)   # bottom-right
        end[:, 3] = np.stack([lo_x[:, 3], hi_y[:, 3]], 1)   # bottom-left
        startpoints = np.broadcast_to(start, (n, 4, 2)).copy()
        # Three collinear end corners (only possible on tiny images with distortion_scale near 1)
        # admit no homography: torchvision raises an error there; such images are left as they are.
        for k in range(4):
            a, b, c = end[:, k], end[:, (k + 1) % 4], end[:, (k + 2) % 4]
            cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
            applied &= cross != 0
        end[~applied] = start
        return {"applied": applied, "startpoints": startpoints, "endpoints": end}

    def matrices(self, params: dict[str, NDArray[Any]], size: tuple[int, int]) -> F64:
        """Pixel source → destination matrices (N×3×3, [2, 2] = 1; identity where not applied)."""
        applied = np.asarray(params["applied"], bool)
        m = np.broadcast_to(np.eye(3), (applied.shape[0], 3, 3)).copy()
        if applied.any():
            with np.errstate(all="ignore"):
                m[applied] = perspective_matrices(np.asarray(params["startpoints"])[applied],
                                                  np.asarray(params["endpoints"])[applied])
            with np.errstate(all="ignore"):
                det = np.linalg.det(m) / np.abs(m).max(axis=(1, 2)) ** 3
            bad = ~np.isfinite(det) | (np.abs(det) < 1e-12)
            if bad.any():
                raise ValueError("RandomPerspective: degenerate corners (no homography) at batch index "
                                 f"{[int(i) for i in np.flatnonzero(bad)[:8]]}")
        return m

    def _warp(self, x: NDArray[Any], matrices: F64, size: tuple[int, int], channels: int,
              layout: str | None) -> tuple[NDArray[Any], F64]:
        theta = _theta(matrices, size)
        # Scale each H so its largest entry is 1 with H[2, 2] > 0 (swiftstn's guard wants w > 0).
        sign = np.where(theta[:, 2, 2] < 0, -1.0, 1.0)
        theta = theta / (np.abs(theta).max(axis=(1, 2)) * sign)[:, None, None]
        identity = np.all(matrices == np.eye(3), axis=(1, 2))
        out = np.array(x, copy=True, order="C")
        warp = ~identity
        if warp.any():
            kw = _fill_kwargs(self.fill, channels, "RandomPerspective()")
            sub = np.ascontiguousarray(x[warp])
            out[warp] = warp_perspective(sub, np.ascontiguousarray(theta[warp], _compute_dtype(x)), size,
                                         mode=self.interpolation, layout=layout, **kw)
        return out, theta
