"""kornia-style image warps and transform helpers on NumPy arrays (``kornia.geometry``'s names and
semantics), computed by swiftstn's fused warps.

kornia's matrices are *pixel* matrices mapping **source → destination** (``M`` N×2×3 for affine
warps, N×3×3 for homographies), with sizes given as (height, width); swiftstn's
:func:`swiftstn.warp_affine` / :func:`swiftstn.warp_perspective` take *normalised* matrices
mapping **output → input**. This module converts between the two exactly as kornia 0.9 does
(``normalize_homography`` with the call's ``align_corners``), so that

    >>> out = swiftstn.geometry.warp_affine(img, M, (h, w))          # kornia's warp_affine

gives kornia's result (within float rounding) on N×C×H×W float32/float64 arrays, and adds the
backward functions (gradients to ``src`` and to ``M``), the converters
:func:`theta_from_pixel_matrix` / :func:`pixel_matrix_from_theta`, and kornia's matrix helpers
(:func:`get_rotation_matrix2d`, :func:`get_affine_matrix2d`, :func:`get_perspective_transform`,
:func:`invert_affine_transform`, :func:`normalize_homography`, :func:`denormalize_homography`).
Conventions, the correspondence with OpenCV and what differs: docs/geometry.md.

NumPy only: kornia, PyTorch and OpenCV are needed only by the tests that compare against them.
"""
from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, SupportsIndex

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import functional, transforms

__all__ = [
    "warp_affine",
    "warp_affine_backward",
    "warp_perspective",
    "warp_perspective_backward",
    "get_rotation_matrix2d",
    "get_affine_matrix2d",
    "get_perspective_transform",
    "invert_affine_transform",
    "normal_transform_pixel",
    "normalize_homography",
    "denormalize_homography",
    "theta_from_pixel_matrix",
    "pixel_matrix_from_theta",
]

#: A result: a new array of the call's dtype (float32 or float64).
FloatArray = NDArray[np.floating[Any]]
F64 = NDArray[np.float64]
#: (height, width), kornia's order.
Size2 = Sequence[SupportsIndex]

#: kornia's ``mode`` names → swiftstn's (kornia hands them to ``F.grid_sample``, as swiftstn's
#: sampler reproduces it): every one has a counterpart.
MODES = {"bilinear": "bilinear", "nearest": "nearest", "bicubic": "bicubic"}
#: kornia's ``padding_mode`` names → swiftstn's; kornia's "fill" (with ``fill_value``) is
#: swiftstn's "fill" (with ``fill``).
PADDINGS = {"zeros": "zeros", "border": "border", "reflection": "reflection", "fill": "fill"}

# The value swiftstn's projective guard writes into the grid (docs/operators.md, projective grids).
_SENTINEL = -1e4


# ---- validation --------------------------------------------------------------------------------

def _check_bool(value: Any, name: str, op: str) -> bool:
    # bool(np.array([1, 2])) and bool("False") would silently mean something else: refuse non-bools.
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}(): expected {name} to be a bool, got {type(value).__name__} {value!r}")
    return bool(value)


def _choice(table: dict[str, str], value: Any, name: str, op: str) -> str:
    if isinstance(value, str) and value in table:
        return table[value]
    options = ", ".join(repr(k) for k in table)
    raise ValueError(f"{op}(): {name}={value!r} has no counterpart in swiftstn; expected one of {options}")


def _float_array(value: ArrayLike, name: str, op: str) -> NDArray[Any]:
    """``value`` as an array of a real floating dtype (lists of numbers become float64)."""
    a = np.asarray(value)
    if a.dtype.kind in "biu":
        a = a.astype(np.float64)
    if a.dtype.kind != "f":
        raise TypeError(f"{op}(): expected {name} to be a real floating array, got dtype {a.dtype}")
    return a


def _image(src: ArrayLike, name: str, op: str, layout: str | None = None,
           images: bool = False) -> tuple[NDArray[Any], tuple[int, int, int, int]]:
    """``src`` as an array (a batch: a single H×W×C image gains an axis) and its N×C×H×W shape.
    ``images``: uint8/float16 are accepted too (the forward warps)."""
    a = np.asarray(src)
    kinds = (np.uint8, np.float16, np.float32, np.float64) if images else (np.float32, np.float64)
    if a.dtype not in kinds:
        names = "uint8, float16, float32 or float64" if images else "float32 or float64"
        raise TypeError(f"{op}(): expected {name} to be {names}, got dtype {a.dtype}")
    if layout == "NHWC":
        if a.ndim == 3:
            a = a[None]
        if a.ndim != 4:
            raise ValueError(f"{op}(): expected channels-last {name} to be N×H×W×C or H×W×C, got shape {a.shape}")
        return a, (a.shape[0], a.shape[3], a.shape[1], a.shape[2])
    if layout not in (None, "NCHW"):
        raise ValueError(f"{op}(): layout must be 'NCHW' or 'NHWC', got {layout!r}")
    if a.ndim != 4:
        raise ValueError(f"{op}(): expected {name} to be N×C×H×W (4-D), got shape {a.shape}")
    return a, (a.shape[0], a.shape[1], a.shape[2], a.shape[3])


def _size2(value: Any, name: str, op: str, allow_zero: bool) -> tuple[int, int]:
    try:
        h, w = (operator.index(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{op}(): expected {name} to be (height, width), two ints, got {value!r}") from None
    if h < 0 or w < 0 or (not allow_zero and (h == 0 or w == 0)):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{op}(): expected {name} to have {kind} entries, got {(h, w)}")
    return h, w


def _matrix(M: ArrayLike, rows: int, op: str, name: str = "M") -> NDArray[Any]:
    a = _float_array(M, name, op)
    if a.ndim != 3 or a.shape[1:] != (rows, 3):
        raise ValueError(f"{op}(): expected {name} to be N×{rows}×3, got shape {a.shape}")
    return a


def _batched(a: NDArray[Any], shape: tuple[int, ...], name: str, op: str) -> NDArray[Any]:
    """Checks ``a`` is B×``shape`` (kornia's helpers take batched inputs only)."""
    if a.ndim != 1 + len(shape) or a.shape[1:] != shape:
        want = "×".join(["B", *map(str, shape)]) if shape else "B"
        raise ValueError(f"{op}(): expected {name} to be {want}, got shape {a.shape}")
    return a


def _same_batch(op: str, **arrays: NDArray[Any]) -> int:
    sizes = {k: v.shape[0] for k, v in arrays.items()}
    if len(set(sizes.values())) > 1:
        shapes = ", ".join(f"{k} of shape {v.shape}" for k, v in arrays.items())
        raise ValueError(f"{op}(): expected the same batch size, got {shapes}")
    return next(iter(sizes.values()))


def _result_dtype(*arrays: NDArray[Any]) -> np.dtype[Any]:
    """float32 when every input is float32, float64 otherwise (kornia keeps the input dtype)."""
    return np.dtype(np.float32) if all(a.dtype == np.float32 for a in arrays) else np.dtype(np.float64)


# ---- pixel ↔ normalised conversion -------------------------------------------------------------

def _normal(h: int, w: int, align_corners: bool) -> F64:
    """kornia's ``normal_transform_pixel`` (3×3, float64): pixel (x, y) → normalised."""
    if align_corners:
        # Pixel centres 0 and size−1 go to ∓1; a singleton axis maps its pixel to 0 with scale 1.
        sx, tx = (1.0, 0.0) if w == 1 else (2.0 / (w - 1.0), -1.0)
        sy, ty = (1.0, 0.0) if h == 1 else (2.0 / (h - 1.0), -1.0)
    else:
        # Half-pixel mapping (2x + 1)/size − 1: ±1 are the outer pixel edges.
        sx, tx = 2.0 / w, (1.0 - w) / w
        sy, ty = 2.0 / h, (1.0 - h) / h
    return np.array([[sx, 0.0, tx], [0.0, sy, ty], [0.0, 0.0, 1.0]])


def _inv3(a: F64, what: str, op: str) -> F64:
    """Batched 3×3 inverse by the adjugate (as kornia's closed form); exactly singular is an error."""
    r0, r1, r2 = a[..., 0, :], a[..., 1, :], a[..., 2, :]
    adj = np.stack([np.cross(r1, r2), np.cross(r2, r0), np.cross(r0, r1)], axis=-1)
    det = np.einsum("...i,...i->...", r0, adj[..., :, 0])
    if np.any(det == 0):
        bad = [int(i) for i in np.flatnonzero(det.reshape(-1) == 0)]
        raise ValueError(f"{op}(): {what} is singular (zero determinant) at batch index {bad[:8]}")
    with np.errstate(all="ignore"):  # non-finite matrices propagate NaN/Inf, as in kornia
        return np.asarray(adj / det[..., None, None], np.float64)


def _to3(M: NDArray[Any]) -> F64:
    """N×2×3 or N×3×3 → N×3×3 float64 (affine matrices get the row (0, 0, 1))."""
    m = np.asarray(M, np.float64)
    if m.shape[-2] == 3:
        return m
    last = np.broadcast_to(np.array([0.0, 0.0, 1.0]), (*m.shape[:-2], 1, 3))
    return np.concatenate([m, last], axis=-2)


def _pixel_to_theta(M3: F64, src_hw: tuple[int, int], dst_hw: tuple[int, int], align_corners: bool,
                    op: str) -> tuple[F64, F64, F64]:
    """(T, Nd, Ns⁻¹): T = (Nd·M·Ns⁻¹)⁻¹ maps normalised output to normalised input, kornia's
    ``normalize_homography`` followed by its inverse."""
    nd = _normal(*dst_hw, align_corners)
    ns_inv: F64 = np.linalg.inv(_normal(*src_hw, align_corners)).astype(np.float64)
    return _inv3(nd @ M3 @ ns_inv, "M", op), nd, ns_inv


def _projective_scale(T: F64) -> F64:
    """Per-sample positive scale with sign: divide T by it to get entries ≤ 1 in magnitude and
    w > 0 at the output's centre (swiftstn's projective guard needs w > 0; T and c·T are the
    same map for kornia)."""
    largest = np.abs(T).max(axis=(-2, -1))
    largest = np.where(np.isfinite(largest) & (largest > 0), largest, 1.0)
    return np.where(T[..., 2, 2] < 0, -largest, largest)


def _pixel_from_normalised(T: F64, src_hw: tuple[int, int], dst_hw: tuple[int, int], align_corners: bool,
                           op: str) -> F64:
    """M = Nd⁻¹·T⁻¹·Ns: the pixel source→destination matrix of a normalised output→input T."""
    nd_inv = np.linalg.inv(_normal(*dst_hw, align_corners))
    return np.asarray(nd_inv @ _inv3(T, "theta", op) @ _normal(*src_hw, align_corners), np.float64)


def _chain_to_M(grad_T: F64, T: F64, nd: F64, ns_inv: F64) -> F64:
    """dL/dM from dL/dT through T = (Nd·M·Ns⁻¹)⁻¹: dL/dA = −Tᵀ·G·Tᵀ, dL/dM = Ndᵀ·dL/dA·Ns⁻ᵀ."""
    Tt = np.swapaxes(T, -1, -2)
    grad_A = -(Tt @ grad_T @ Tt)
    return np.asarray(nd.T @ grad_A @ ns_inv.T, np.float64)


# ---- fill values --------------------------------------------------------------------------------

def _fill_per_sample(fill_value: ArrayLike, out_shape: tuple[int, int, int, int], op: str) -> F64:
    """kornia's ``fill_value`` as a B'×C array (B' = 1 or B): 0-d and 1-D values are per channel,
    others broadcast to the output (B, C, h, w) without changing it. Spatially varying fills have
    no counterpart in swiftstn's fill padding."""
    f = np.asarray(_float_array(fill_value, "fill_value", op), np.float64)
    shape: tuple[int, ...] = (1, f.shape[0], 1, 1) if f.ndim == 1 else f.shape
    fits = len(shape) <= 4 and all(s in (1, o) for s, o in zip(shape[::-1], out_shape[::-1]))
    if not fits:
        raise ValueError(f"{op}(): fill_value of shape {f.shape} does not broadcast to the output of shape "
                         f"{out_shape} without changing it; use one value, one per channel ({out_shape[1]}), "
                         "or a B×C×1×1 array")
    padded = [1] * (4 - len(shape)) + list(shape)
    if padded[2] != 1 or padded[3] != 1:
        raise ValueError(f"{op}(): fill_value of shape {f.shape} varies over the image: swiftstn's fill padding "
                         "takes one value per channel (and per sample), not per pixel")
    f2 = f.reshape(padded[0], padded[1])
    return np.ascontiguousarray(np.broadcast_to(f2, (padded[0], out_shape[1])))


def _fill_plan(padding: str, fill_value: ArrayLike | None, out_shape: tuple[int, int, int, int],
               op: str) -> tuple[str, F64 | None]:
    """(swiftstn padding, B'×C fills or None). kornia ignores fill_value unless padding is "fill",
    and fills with zeros when it is None; swiftstn's fill=0 is exactly its zeros padding."""
    if padding != "fill":
        return padding, None
    if fill_value is None:
        return "zeros", None
    return "fill", _fill_per_sample(fill_value, out_shape, op)


# ---- warps --------------------------------------------------------------------------------------

class _Warp:
    """A validated warp call: the swiftstn θ/H to apply and what the backward chain needs."""

    def __init__(self, op: str, projective: bool, src: ArrayLike, M: ArrayLike, dsize: Size2, mode: str,
                 padding_mode: str, align_corners: bool, fill_value: ArrayLike | None, layout: str | None = None,
                 out_dtype: Any = None) -> None:
        self.op = op
        self.projective = projective
        self.align_corners = _check_bool(align_corners, "align_corners", op)
        self.mode = _choice(MODES, mode, "mode", op)
        padding = _choice(PADDINGS, padding_mode, "padding_mode", op)
        self.single = layout == "NHWC" and np.ndim(src) == 3
        self.src, (B, C, H, W) = _image(src, "src", op, layout, images=not op.endswith("_backward"))
        self.layout, self.out_dtype = layout, out_dtype
        # Grids, matrices and fill values are in the type the image is computed in.
        self.dtype = np.dtype(np.float64 if self.src.dtype == np.float64 else np.float32)
        self.M = _matrix(M, 3 if projective else 2, op)
        self.dsize = _size2(dsize, "dsize", op, allow_zero=True)
        bm = self.M.shape[0]
        # kornia broadcasts a single affine matrix over a larger batch (warp_affine only).
        if not (bm == B or (not projective and bm == 1 and B > 1)):
            extra = "" if projective else " (or 1, shared by the batch)"
            raise ValueError(f"{op}(): expected M to have the batch size of src{extra}, got M of shape "
                             f"{self.M.shape} and src of shape {self.src.shape}")
        self.out_shape = (B, C, *self.dsize)
        self.empty = 0 in self.out_shape
        if self.empty:
            return  # kornia's policy: an empty output size gives an empty result (src may be anything)
        if H == 0 or W == 0:
            raise ValueError(f"{op}(): expected src to have a non-empty image, got shape {self.src.shape}")
        self.padding, self.fills = _fill_plan(padding, fill_value, self.out_shape, op)
        T, self.nd, self.ns_inv = _pixel_to_theta(_to3(self.M), (H, W), self.dsize, self.align_corners, op)
        self.scale = _projective_scale(T) if projective else np.ones(bm)
        self.T = T
        theta = T / self.scale[:, None, None]
        if bm != B:
            theta = np.broadcast_to(theta, (B, 3, 3))
        self.theta = np.ascontiguousarray(theta if projective else theta[:, :2, :], dtype=self.dtype)
        self.straddles = projective and self._straddles()

    def _straddles(self) -> bool:
        """Whether w = H[2]·(x, y, 1) is ≤ 0 somewhere over the output (w is linear: the corners of
        the base grid bound it). kornia samples such points through the projective flip; swiftstn's
        grid guards them, so forward() samples them with −H on an explicit grid."""
        h, w = self.dsize
        bx = 0.0 if w == 1 else (1.0 if self.align_corners else (w - 1.0) / w)
        by = 0.0 if h == 1 else (1.0 if self.align_corners else (h - 1.0) / h)
        corners = np.array([[-bx, -by, 1.0], [bx, -by, 1.0], [-bx, by, 1.0], [bx, by, 1.0]])
        wc = np.einsum("nj,cj->nc", np.asarray(self.theta[:, 2, :], np.float64), corners)
        return bool(np.any(wc <= 0))

    def _kwargs(self, i: int | None) -> dict[str, Any]:
        fill = None
        if self.fills is not None:
            fill = self.fills[0 if i is None or self.fills.shape[0] == 1 else i].astype(self.dtype)
        kw = {"mode": self.mode, "padding_mode": self.padding, "align_corners": self.align_corners, "fill": fill}
        if self.layout is not None or self.out_dtype is not None:
            kw.update(layout=self.layout, out_dtype=self.out_dtype)
        return kw

    def _slices(self) -> list[int | None]:
        """One native call for the batch, or one per sample when fills differ per sample."""
        if self.fills is not None and self.fills.shape[0] > 1:
            return list(range(self.src.shape[0]))
        return [None]

    def _grids(self, theta: FloatArray) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
        """The two guarded grids of θ and −θ and where the first is valid."""
        size = (self.out_shape[0], self.out_shape[1], *self.dsize)
        g_pos = transforms.perspective_grid(theta, size, self.align_corners)
        g_neg = transforms.perspective_grid(-theta, size, self.align_corners)
        valid = ~np.all(g_pos == _SENTINEL, axis=-1)
        return g_pos, g_neg, valid

    def forward(self) -> NDArray[Any]:
        out = self._forward()
        return out[0] if self.single else out

    def _forward(self) -> NDArray[Any]:
        if self.empty:
            shape = self.out_shape
            if self.layout == "NHWC":
                shape = (shape[0], shape[2], shape[3], shape[1])
            return np.zeros(shape, self.src.dtype if self.out_dtype is None else self.out_dtype)
        parts = []
        for i in self._slices():
            sl = slice(None) if i is None else slice(i, i + 1)
            src, theta, kw = self.src[sl], self.theta[sl], self._kwargs(i)
            if self.straddles:
                g_pos, g_neg, valid = self._grids(theta)
                grid = np.where(valid[..., None], g_pos, g_neg)
                parts.append(functional.grid_sample(src, grid, **kw))
            elif self.projective:
                parts.append(transforms.warp_perspective(src, theta, self.dsize, **kw))
            else:
                parts.append(functional.warp_affine(src, theta, self.dsize, **kw))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def backward(self, grad_output: ArrayLike, src_requires_grad: bool) -> tuple[FloatArray | None, FloatArray]:
        op = self.op
        g = np.asarray(grad_output)
        if g.dtype != self.src.dtype:
            raise TypeError(f"{op}(): expected grad_output to have src's dtype {self.src.dtype}, got {g.dtype}")
        if g.shape != self.out_shape:
            raise ValueError(f"{op}(): expected grad_output of shape {self.out_shape} (src's N, C and dsize), "
                             f"got {g.shape}")
        m_dtype = self.M.dtype
        if self.empty:
            grad_src = np.zeros_like(self.src) if src_requires_grad else None
            return grad_src, np.zeros(self.M.shape, m_dtype)
        src_grads: list[FloatArray | None] = []
        theta_grads: list[F64] = []
        gs: FloatArray | None
        gt: FloatArray
        for i in self._slices():
            sl = slice(None) if i is None else slice(i, i + 1)
            src, theta, gi, kw = self.src[sl], self.theta[sl], g[sl], self._kwargs(i)
            if self.straddles:
                g_pos, g_neg, valid = self._grids(theta)
                grid = np.where(valid[..., None], g_pos, g_neg)
                gs, gg = functional.grid_sample_backward(gi, src, grid, input_requires_grad=src_requires_grad, **kw)
                size = (src.shape[0], src.shape[1], *self.dsize)
                # Guarded points contribute nothing to either grid's backward, so each sees its own points;
                # the −θ grid's gradient is with respect to −θ.
                gt = (transforms.perspective_grid_backward(np.where(valid[..., None], gg, 0), theta, size,
                                                           self.align_corners)
                      - transforms.perspective_grid_backward(np.where(valid[..., None], 0, gg), -theta, size,
                                                             self.align_corners))
            elif self.projective:
                gs, gt = transforms.warp_perspective_backward(gi, src, theta, self.dsize,
                                                              input_requires_grad=src_requires_grad, **kw)
            else:
                gs, gt = functional.warp_affine_backward(gi, src, theta, self.dsize,
                                                         input_requires_grad=src_requires_grad, **kw)
            src_grads.append(gs)
            theta_grads.append(np.asarray(gt, np.float64))
        grad_theta: F64 = np.concatenate(theta_grads)
        if not self.projective:
            grad_theta = np.concatenate([grad_theta, np.zeros((grad_theta.shape[0], 1, 3))], axis=1)
        if self.M.shape[0] != grad_theta.shape[0]:
            grad_theta = grad_theta.sum(axis=0, keepdims=True)  # a shared M collects every sample's gradient
        # θ = T / scale with a constant scale (T and c·T are the same projective map).
        grad_T = grad_theta / self.scale[:, None, None]
        grad_M = _chain_to_M(grad_T, self.T, self.nd, self.ns_inv)
        if not self.projective:
            grad_M = grad_M[:, :2, :]
        grad_src = None
        if src_requires_grad:
            grad_src = src_grads[0] if len(src_grads) == 1 else np.concatenate([np.asarray(s) for s in src_grads])
        return grad_src, np.asarray(grad_M, m_dtype)


def warp_affine(src: ArrayLike, M: ArrayLike, dsize: Size2, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool = True, fill_value: ArrayLike | None = None, *, layout: str | None = None,
                out_dtype: Any = None) -> NDArray[Any]:
    """kornia's ``warp_affine``: ``dst(p) = src(M⁻¹·p)`` with ``M`` (N×2×3, or 1×2×3 shared by
    the batch) the source → destination **pixel** matrix.

    ``src`` is N×C×H×W float32/float64; ``dsize`` is (h, w); returns N×C×h×w in ``src``'s dtype.
    ``mode``: "bilinear", "nearest", "bicubic"; ``padding_mode``: "zeros", "border", "reflection",
    "fill" (with ``fill_value``: None = zeros, a number, one value per channel, or B×C×1×1).
    ``align_corners`` (default True, kornia's) picks the normalisation of both the matrix and the
    sampler, so the pixel mapping is the same either way; it matters for reflection padding and
    singleton axes. A zero in ``dsize`` (or an empty batch or channel axis) gives an empty result.
    ``M`` may have any real floating dtype; it is converted in float64.

    Image pipelines: ``src`` may be uint8 or float16 (computed in float32, stored once in its dtype
    or in ``out_dtype=np.float32``), and ``layout="NHWC"`` takes N×H×W×C or a single H×W×C image
    (OpenCV's) and returns the same layout — see docs/geometry.md for ``cv2.warpAffine`` parity.
    """
    return _Warp("warp_affine", False, src, M, dsize, mode, padding_mode, align_corners, fill_value, layout,
                 out_dtype).forward()


def warp_affine_backward(grad_output: ArrayLike, src: ArrayLike, M: ArrayLike, dsize: Size2, mode: str = "bilinear",
                         padding_mode: str = "zeros", align_corners: bool = True,
                         fill_value: ArrayLike | None = None, src_requires_grad: bool = True
                         ) -> tuple[FloatArray | None, FloatArray]:
    """Gradients of :func:`warp_affine`: ``(grad_src or None, grad_M)``. ``grad_M`` (M's shape and
    dtype) is swiftstn's θ gradient carried through the conversion and the matrix inverse; a
    shared 1×2×3 ``M`` gets the sum over the batch. No gradient to ``fill_value``."""
    w = _Warp("warp_affine_backward", False, src, M, dsize, mode, padding_mode, align_corners, fill_value)
    return w.backward(grad_output, _check_bool(src_requires_grad, "src_requires_grad", w.op))


def warp_perspective(src: ArrayLike, M: ArrayLike, dsize: Size2, mode: str = "bilinear", padding_mode: str = "zeros",
                     align_corners: bool = True, fill_value: ArrayLike | None = None, *, layout: str | None = None,
                     out_dtype: Any = None) -> NDArray[Any]:
    """kornia's ``warp_perspective``: ``dst(p) = src(π(M⁻¹·(p, 1)))`` with ``M`` (N×3×3, the same N
    as ``src``) the source → destination **pixel** homography; any nonzero multiple of ``M`` is
    the same warp. Arguments and result as :func:`warp_affine`.

    Like kornia, every output point is sampled through the projective division whatever the sign
    of its w: where the horizon crosses the output, the points beyond it (which swiftstn's
    projective guard refuses) are sampled with −H via an explicit grid instead of the fused warp.
    """
    return _Warp("warp_perspective", True, src, M, dsize, mode, padding_mode, align_corners, fill_value, layout,
                 out_dtype).forward()


def warp_perspective_backward(grad_output: ArrayLike, src: ArrayLike, M: ArrayLike, dsize: Size2,
                              mode: str = "bilinear", padding_mode: str = "zeros", align_corners: bool = True,
                              fill_value: ArrayLike | None = None, src_requires_grad: bool = True
                              ) -> tuple[FloatArray | None, FloatArray]:
    """Gradients of :func:`warp_perspective`: ``(grad_src or None, grad_M)`` (grad_M N×3×3 in M's
    dtype; orthogonal to M, since scaling M changes nothing)."""
    w = _Warp("warp_perspective_backward", True, src, M, dsize, mode, padding_mode, align_corners, fill_value)
    return w.backward(grad_output, _check_bool(src_requires_grad, "src_requires_grad", w.op))


# ---- converters ---------------------------------------------------------------------------------

def _converter_input(M: ArrayLike, name: str, op: str) -> NDArray[Any]:
    a = _float_array(M, name, op)
    if a.ndim not in (2, 3) or a.shape[-2:] not in ((2, 3), (3, 3)):
        raise ValueError(f"{op}(): expected {name} to be 2×3 or 3×3, batched (N×2×3, N×3×3) or not, "
                         f"got shape {a.shape}")
    return a


def theta_from_pixel_matrix(M: ArrayLike, src_size: Size2, dst_size: Size2, align_corners: bool = True) -> FloatArray:
    """swiftstn's normalised output → input matrix for a kornia pixel matrix ``M`` (source →
    destination), for a source of ``src_size`` and an output of ``dst_size`` ((height, width)).

    A 2×3 ``M`` gives the θ for :func:`swiftstn.warp_affine`, a 3×3 one the H for
    :func:`swiftstn.warp_perspective` (scaled so that its largest entry is ±1 and H[2, 2] ≥ 0,
    since swiftstn's projective guard needs w > 0); either gives kornia's warp when passed with
    the same ``align_corners``. Batched (N×2×3, N×3×3) or not; the result has ``M``'s shape and
    dtype (float32, else float64).
    """
    op = "theta_from_pixel_matrix"
    ac = _check_bool(align_corners, "align_corners", op)
    a = _converter_input(M, "M", op)
    src_hw = _size2(src_size, "src_size", op, allow_zero=False)
    dst_hw = _size2(dst_size, "dst_size", op, allow_zero=False)
    T, _, _ = _pixel_to_theta(_to3(a), src_hw, dst_hw, ac, op)
    out = T[..., :2, :] if a.shape[-2] == 2 else T / _projective_scale(T)[..., None, None]
    return np.asarray(out, _result_dtype(a))


def pixel_matrix_from_theta(theta: ArrayLike, src_size: Size2, dst_size: Size2, align_corners: bool = True
                            ) -> FloatArray:
    """The inverse of :func:`theta_from_pixel_matrix`: kornia's source → destination pixel matrix
    of swiftstn's normalised output → input θ (2×3) or H (3×3). A 3×3 result is scaled to
    M[2, 2] = 1 (kornia's ``get_perspective_transform`` convention) unless M[2, 2] = 0."""
    op = "pixel_matrix_from_theta"
    ac = _check_bool(align_corners, "align_corners", op)
    a = _converter_input(theta, "theta", op)
    src_hw = _size2(src_size, "src_size", op, allow_zero=False)
    dst_hw = _size2(dst_size, "dst_size", op, allow_zero=False)
    M3 = _pixel_from_normalised(_to3(a), src_hw, dst_hw, ac, op)
    if a.shape[-2] == 2:
        out = M3[..., :2, :]
    else:
        d = M3[..., 2:3, 2:3]
        out = M3 / np.where(d == 0, 1.0, d)
    return np.asarray(out, _result_dtype(a))


# ---- kornia's matrix helpers --------------------------------------------------------------------

def normal_transform_pixel(height: SupportsIndex, width: SupportsIndex, align_corners: bool = True,
                           dtype: Any = np.float64) -> FloatArray:
    """kornia's ``normal_transform_pixel``: the 1×3×3 matrix taking pixel (x, y) to normalised
    coordinates — scale 2/(size − 1), offset −1 with ``align_corners=True`` (a singleton axis:
    scale 1, offset 0), scale 2/size, offset (1 − size)/size otherwise."""
    op = "normal_transform_pixel"
    h, w = _size2((height, width), "(height, width)", op, allow_zero=False)
    return _normal(h, w, _check_bool(align_corners, "align_corners", op))[None].astype(dtype)


def _homography_input(H: ArrayLike, name: str, op: str) -> NDArray[Any]:
    a = _float_array(H, name, op)
    if a.ndim not in (2, 3) or a.shape[-2:] != (3, 3):
        raise ValueError(f"{op}(): expected {name} to be B×3×3 or 3×3, got shape {a.shape}")
    return a.reshape(-1, 3, 3)


def normalize_homography(dst_pix_trans_src_pix: ArrayLike, dsize_src: Size2, dsize_dst: Size2,
                         align_corners: bool = True) -> FloatArray:
    """kornia's ``normalize_homography``: ``N_dst · H · N_src⁻¹``, the pixel source → destination
    homography as a normalised source → destination one (B×3×3; a 3×3 input gives 1×3×3).
    Sizes are (height, width); N is :func:`normal_transform_pixel` with ``align_corners``."""
    op = "normalize_homography"
    ac = _check_bool(align_corners, "align_corners", op)
    a = _homography_input(dst_pix_trans_src_pix, "dst_pix_trans_src_pix", op)
    ns = _normal(*_size2(dsize_src, "dsize_src", op, allow_zero=False), ac)
    nd = _normal(*_size2(dsize_dst, "dsize_dst", op, allow_zero=False), ac)
    return np.asarray(nd @ np.asarray(a, np.float64) @ np.linalg.inv(ns), _result_dtype(a))


def denormalize_homography(dst_pix_trans_src_pix: ArrayLike, dsize_src: Size2, dsize_dst: Size2,
                           align_corners: bool = True) -> FloatArray:
    """kornia's ``denormalize_homography``: ``N_dst⁻¹ · H · N_src``, the inverse of
    :func:`normalize_homography` (normalised → pixel; B×3×3)."""
    op = "denormalize_homography"
    ac = _check_bool(align_corners, "align_corners", op)
    a = _homography_input(dst_pix_trans_src_pix, "dst_pix_trans_src_pix", op)
    ns = _normal(*_size2(dsize_src, "dsize_src", op, allow_zero=False), ac)
    nd = _normal(*_size2(dsize_dst, "dsize_dst", op, allow_zero=False), ac)
    return np.asarray(np.linalg.inv(nd) @ np.asarray(a, np.float64) @ ns, _result_dtype(a))


def invert_affine_transform(matrix: ArrayLike) -> FloatArray:
    """kornia's ``invert_affine_transform``: the inverse of each B×2×3 affine matrix (as 3×3
    homogeneous matrices), B×2×3 in the input's dtype."""
    op = "invert_affine_transform"
    a = _matrix(matrix, 2, op, "matrix")
    return np.asarray(_inv3(_to3(a), "matrix", op)[:, :2, :], _result_dtype(a))


def _rotation(center: F64, angle_deg: F64, scale: F64) -> F64:
    """B×3×3 float64: shift(c) · R(angle) · S(scale) · shift(−c), R = [[cos, sin], [−sin, cos]]."""
    rad = np.deg2rad(angle_deg)
    c, s = np.cos(rad), np.sin(rad)
    a00, a01 = c * scale[:, 0], s * scale[:, 1]
    a10, a11 = -s * scale[:, 0], c * scale[:, 1]
    cx, cy = center[:, 0], center[:, 1]
    out = np.zeros((len(center), 3, 3))
    out[:, 0] = np.stack([a00, a01, cx - a00 * cx - a01 * cy], axis=-1)
    out[:, 1] = np.stack([a10, a11, cy - a10 * cx - a11 * cy], axis=-1)
    out[:, 2, 2] = 1.0
    return out


def get_rotation_matrix2d(center: ArrayLike, angle: ArrayLike, scale: ArrayLike) -> FloatArray:
    """kornia's ``get_rotation_matrix2d``: the B×2×3 pixel matrix rotating by ``angle`` (B, in
    degrees; positive is counter-clockwise as displayed, y pointing down) and scaling by ``scale``
    (B×2, per axis) about ``center`` (B×2, (x, y) pixels), which it leaves fixed. The same matrix
    as OpenCV's ``getRotationMatrix2D`` for equal scales."""
    op = "get_rotation_matrix2d"
    c = _batched(_float_array(center, "center", op), (2,), "center", op)
    a = _batched(_float_array(angle, "angle", op), (), "angle", op)
    s = _batched(_float_array(scale, "scale", op), (2,), "scale", op)
    _same_batch(op, center=c, angle=a, scale=s)
    out = _rotation(np.asarray(c, np.float64), np.asarray(a, np.float64), np.asarray(s, np.float64))
    return np.asarray(out[:, :2, :], _result_dtype(c, a, s))


def get_affine_matrix2d(translations: ArrayLike, center: ArrayLike, scale: ArrayLike, angle: ArrayLike,
                        sx: ArrayLike | None = None, sy: ArrayLike | None = None) -> FloatArray:
    """kornia's ``get_affine_matrix2d``: the B×3×3 pixel matrix ``T · R(−angle) · S · Shear``
    about ``center``: rotation by ``angle`` degrees **clockwise** as displayed (kornia negates it
    for :func:`get_rotation_matrix2d`), per-axis ``scale``, then ``translations`` (B×2) added;
    with ``sx``/``sy`` (B, radians) the shear x-then-y about ``center`` (x' = x − tan(sx)·(y − cy),
    then y' = y − tan(sy)·(x' − cx)) is applied first."""
    op = "get_affine_matrix2d"
    t = _batched(_float_array(translations, "translations", op), (2,), "translations", op)
    c = _batched(_float_array(center, "center", op), (2,), "center", op)
    s = _batched(_float_array(scale, "scale", op), (2,), "scale", op)
    a = _batched(_float_array(angle, "angle", op), (), "angle", op)
    shears = {k: _batched(_float_array(v, k, op), (), k, op) for k, v in (("sx", sx), ("sy", sy)) if v is not None}
    n = _same_batch(op, translations=t, center=c, scale=s, angle=a, **shears)
    c64 = np.asarray(c, np.float64)
    out = _rotation(c64, -np.asarray(a, np.float64), np.asarray(s, np.float64))
    out[:, :2, 2] += np.asarray(t, np.float64)
    if shears:
        tx = np.tan(np.asarray(shears["sx"], np.float64)) if "sx" in shears else np.zeros(n)
        ty = np.tan(np.asarray(shears["sy"], np.float64)) if "sy" in shears else np.zeros(n)
        x, y = c64[:, 0], c64[:, 1]
        shear = np.zeros((n, 3, 3))
        shear[:, 0] = np.stack([np.ones(n), -tx, tx * y], axis=-1)
        shear[:, 1] = np.stack([-ty, 1.0 + tx * ty, ty * (x - tx * y)], axis=-1)
        shear[:, 2, 2] = 1.0
        out = out @ shear
    return np.asarray(out, _result_dtype(t, c, s, a, *shears.values()))


def _hartley(p: F64) -> tuple[F64, F64]:
    """(T, T·p): the similarity moving each sample's points to centroid 0 and mean distance √2,
    which keeps the 8×8 system well conditioned whatever the image size (Hartley's normalisation)."""
    c = p.mean(axis=1, keepdims=True)
    d = np.sqrt(((p - c) ** 2).sum(axis=-1)).mean(axis=1)
    s = np.sqrt(2.0) / np.where(d > 0, d, 1.0)       # coincident points: left to the rank check
    T = np.zeros((len(p), 3, 3))
    T[:, 0, 0] = T[:, 1, 1] = s
    T[:, :2, 2] = -s[:, None] * c[:, 0]
    T[:, 2, 2] = 1.0
    return T, np.asarray(s[:, None, None] * (p - c), np.float64)


def _triangle_areas(q: F64) -> F64:
    """B×4: twice the signed area of each of the four triangles of a quadrilateral's corners."""
    out = []
    for i, j, k in ((0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)):
        e1, e2 = q[:, j] - q[:, i], q[:, k] - q[:, i]
        out.append(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    return np.stack(out, axis=1)


def get_perspective_transform(points_src: ArrayLike, points_dst: ArrayLike) -> FloatArray:
    """kornia's ``get_perspective_transform``: the B×3×3 homography (H[2, 2] = 1) mapping the four
    ``points_src`` (B×4×2, (x, y) pixels) onto ``points_dst`` — the source → destination matrix
    :func:`warp_perspective` takes. Solves the 8×8 linear system in float64 (batched, on
    Hartley-normalised points); the result has the inputs' dtype. Three collinear points in
    either set are a ValueError (kornia returns inf/NaN there)."""
    op = "get_perspective_transform"
    ps = _batched(_float_array(points_src, "points_src", op), (4, 2), "points_src", op)
    pd = _batched(_float_array(points_dst, "points_dst", op), (4, 2), "points_dst", op)
    n = _same_batch(op, points_src=ps, points_dst=pd)
    Ts, qs = _hartley(np.asarray(ps, np.float64))
    Td, qd = _hartley(np.asarray(pd, np.float64))
    x, y, u, v = qs[..., 0], qs[..., 1], qd[..., 0], qd[..., 1]
    one, zero = np.ones_like(x), np.zeros_like(x)
    # u·(h31 x + h32 y + 1) = h11 x + h12 y + h13, and v likewise: two rows per point pair.
    rows_u = np.stack([x, y, one, zero, zero, zero, -x * u, -y * u], axis=-1)
    rows_v = np.stack([zero, zero, zero, x, y, one, -x * v, -y * v], axis=-1)
    A = np.concatenate([rows_u, rows_v], axis=1)                     # B×8×8
    b = np.concatenate([u, v], axis=1)[..., None]                    # B×8×1
    for name, q in (("points_src", qs), ("points_dst", qd)):
        # Three collinear points (on the normalised scale) leave no invertible homography.
        bad = np.flatnonzero(np.any(np.abs(_triangle_areas(q)) <= 1e-12, axis=1))
        if len(bad):
            raise ValueError(f"{op}(): three of the {name} are collinear (or coincide) at batch index "
                             f"{[int(i) for i in bad[:8]]}: no homography maps the quadrilaterals onto each other")
    h = np.linalg.solve(A, b)[..., 0] if n else np.zeros((0, 8))
    Hn = np.concatenate([h, np.ones((n, 1))], axis=1).reshape(n, 3, 3)
    out = np.linalg.inv(Td) @ Hn @ Ts
    d = out[:, 2:, 2:]
    out = out / np.where(d == 0, 1.0, d)     # H[2, 2] = 1, unless pixel (0, 0) maps to infinity
    return np.asarray(out, _result_dtype(ps, pd))
