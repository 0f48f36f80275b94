"""Distorted MNIST, following the spatial transformer paper (Jaderberg et al., 2015, §4.1), plus
cluttered MNIST. Every variant is deterministic for a seed and can be written as IDX files.

Kinds (source digits are 28×28 MNIST images; warps use swiftstn's bilinear sampler with zero
padding, in pixel units mapped with align_corners=False):

- ``R``: rotation by an angle uniform in [−90°, 90°] about the centre; 28×28.
- ``RTS``: rotation uniform in [−45°, 45°], scale uniform in [0.7, 1.2], and the digit placed at a
  uniformly random position inside a 42×42 image (fully inside).
- ``P``: projective: the digit is scaled by 0.75 and each of the four image corners is moved by
  Gaussian noise of standard deviation 0.1 (in normalised [−1, 1] units); 28×28.
- ``E``: elastic (Simard et al., 2003): a random displacement field, uniform in [−1, 1] per pixel
  and axis, smoothed with a Gaussian of σ = 4 px and scaled by α = 34 px; 28×28.
- ``cluttered``: the digit at a uniformly random position in a 60×60 image, with 6 distractor
  fragments of 8×8 pixels cropped at random from other digits and placed at random (pixel-wise
  maximum), as DeepMind's public mnist-cluttered generator does (its defaults, scaled to 60×60).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._idx import _FILES, MNIST_MEAN, MNIST_STD, StrPath, _embedded_root, find_idx, read_idx, write_idx
from .functional import grid_sample

__all__ = ["KINDS", "SIZES", "distort", "distorted_mnist", "write_idx"]

_Floats = NDArray[np.floating[Any]]

KINDS = ("R", "RTS", "P", "E", "cluttered")
SIZES = {"R": 28, "RTS": 42, "P": 28, "E": 28, "cluttered": 60}


def _pixel_to_normalised(p: _Floats, size: int) -> _Floats:
    """Pixel coordinate (centres at 0 … size−1) → grid coordinate, align_corners=False."""
    return (2 * p + 1) / size - 1


def _sample(images: _Floats, src_x: _Floats, src_y: _Floats) -> _Floats:
    """Reads images (N×h×w, float in [0, 1]) at source pixel coordinates src_x/src_y (N×H×W)."""
    n, h, w = images.shape
    grid = np.stack([_pixel_to_normalised(src_x, w), _pixel_to_normalised(src_y, h)], axis=-1)
    out = grid_sample(images[:, None].astype(np.float32), grid.astype(np.float32), mode="bilinear",
                      padding_mode="zeros", align_corners=False)
    return out[:, 0]


def _output_pixels(n: int, size: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    ys, xs = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64), indexing="ij")
    return np.broadcast_to(xs, (n, size, size)), np.broadcast_to(ys, (n, size, size))


def _rotate_scale_place(images: _Floats, angles: _Floats, scales: _Floats, centres: _Floats, size: int) -> _Floats:
    """Output pixel → source pixel for a rotation+scale about the digit centre placed at `centres`."""
    n = len(images)
    xo, yo = _output_pixels(n, size)
    c, s = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
    dx, dy = xo - centres[:, 0, None, None], yo - centres[:, 1, None, None]
    k = 1.0 / scales[:, None, None]
    src_x = k * (c * dx + s * dy) + 13.5
    src_y = k * (-s * dx + c * dy) + 13.5
    return _sample(images, src_x, src_y)


def _gaussian_blur(field: _Floats, sigma: float) -> _Floats:
    """Separable Gaussian blur over the last two axes (zero boundary), in NumPy."""
    radius = int(np.ceil(3 * sigma))
    x = np.arange(-radius, radius + 1)
    k = np.exp(-x ** 2 / (2 * sigma ** 2))
    k /= k.sum()
    out = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), -1, field)
    return np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), -2, out)


def _homographies(src: _Floats, dst: _Floats) -> NDArray[np.float64]:
    """3×3 matrices mapping src points (N×4×2) onto dst points (N×4×2)."""
    n = len(src)
    H = np.empty((n, 3, 3))
    for i in range(n):
        rows, rhs = [], []
        for (x, y), (u, v) in zip(src[i], dst[i]):
            rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
            rhs.append(u)
            rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
            rhs.append(v)
        h = np.linalg.solve(np.array(rows), np.array(rhs))
        H[i] = np.append(h, 1).reshape(3, 3)
    return H


def distort(images: ArrayLike, kind: str, seed: int = 0, others: ArrayLike | None = None) -> NDArray[np.uint8]:
    """Applies distortion `kind` to uint8 28×28 digits (N×28×28); returns uint8 N×S×S.
    `others` (uint8 digits) supplies the clutter fragments (default: the images themselves)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected digits of shape (N, 28, 28), got {images.shape}")
    rng = np.random.default_rng(seed)
    n = len(images)
    x = images.astype(np.float32) / 255.0
    size = SIZES[kind]
    if kind == "R":
        out = _rotate_scale_place(x, rng.uniform(-np.pi / 2, np.pi / 2, n), np.ones(n), np.full((n, 2), 13.5), size)
    elif kind == "RTS":
        angles = rng.uniform(-np.pi / 4, np.pi / 4, n)
        scales = rng.uniform(0.7, 1.2, n)
        half = 14 * scales
        centres = np.stack([rng.uniform(half - 0.5, size - half - 0.5), rng.uniform(half - 0.5, size - half - 0.5)], 1)
        out = _rotate_scale_place(x, angles, scales, centres, size)
    elif kind == "P":
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)
        dst = 0.75 * corners[None] + rng.normal(0, 0.1, (n, 4, 2))          # where the digit's corners land
        H = _homographies(dst, np.broadcast_to(corners, (n, 4, 2)))          # output → source, normalised
        xo, yo = _output_pixels(n, size)
        gx, gy = _pixel_to_normalised(xo, size), _pixel_to_normalised(yo, size)
        u = H[:, 0, 0, None, None] * gx + H[:, 0, 1, None, None] * gy + H[:, 0, 2, None, None]
        v = H[:, 1, 0, None, None] * gx + H[:, 1, 1, None, None] * gy + H[:, 1, 2, None, None]
        w = H[:, 2, 0, None, None] * gx + H[:, 2, 1, None, None] * gy + H[:, 2, 2, None, None]
        w = np.where(np.abs(w) < 1e-6, 1e-6, w)
        src_x, src_y = ((u / w + 1) * 28 - 1) / 2, ((v / w + 1) * 28 - 1) / 2
        out = _sample(x, src_x, src_y)
    elif kind == "E":
        alpha, sigma = 34.0, 4.0
        dx = _gaussian_blur(rng.uniform(-1, 1, (n, size, size)), sigma) * alpha
        dy = _gaussian_blur(rng.uniform(-1, 1, (n, size, size)), sigma) * alpha
        xo, yo = _output_pixels(n, size)
        out = _sample(x, xo + dx, yo + dy)
    else:  # cluttered
        canvas = np.zeros((n, size, size), np.float32)
        pool = (np.asarray(others) if others is not None else images).astype(np.float32) / 255.0
        for i in range(n):
            for _ in range(6):
                src = pool[rng.integers(len(pool))]
                sy, sx = rng.integers(0, 28 - 8 + 1, 2)
                ty, tx = rng.integers(0, size - 8 + 1, 2)
                canvas[i, ty:ty + 8, tx:tx + 8] = np.maximum(canvas[i, ty:ty + 8, tx:tx + 8],
                                                             src[sy:sy + 8, sx:sx + 8])
            ty, tx = rng.integers(0, size - 28 + 1, 2)
            canvas[i, ty:ty + 28, tx:tx + 28] = np.maximum(canvas[i, ty:ty + 28, tx:tx + 28], x[i])
        out = canvas
    return np.clip(np.rint(out * 255), 0, 255).astype(np.uint8)


def distorted_mnist(kind: str, root: StrPath | None = None, split: str = "train", seed: int = 0,
                    count: int | None = None, out: str | None = None
                    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Distorted MNIST of `kind` (see the module docstring) from the MNIST IDX files in `root`
    (None: the embedded subset). Returns (float32 N×1×S×S normalised like MNIST, int64 labels).
    With `out`, also writes ``train-``/``t10k-images-idx3-ubyte.gz`` and the labels there (IDX),
    so `datasets.mnist(out, split)` and any IDX reader load them. Deterministic for
    (kind, split, seed, count)."""
    folder = root if root is not None else _embedded_root()
    stems = _FILES.get(split)
    if stems is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images = read_idx(find_idx(folder, stems[0]))
    labels = read_idx(find_idx(folder, stems[1])).astype(np.int64)
    if count is not None:
        images, labels = images[:count], labels[:count]
    split_key = 0 if split == "train" else 1
    warped = distort(images, kind, seed=seed * 1000 + KINDS.index(kind) * 10 + split_key, others=images)
    if out is not None:
        os.makedirs(out, exist_ok=True)
        write_idx(os.path.join(out, stems[0] + ".gz"), warped)
        write_idx(os.path.join(out, stems[1] + ".gz"), labels.astype(np.uint8))
    x = ((warped.astype(np.float32) / 255.0 - MNIST_MEAN) / MNIST_STD)[:, None]
    return x.astype(np.float32), labels
