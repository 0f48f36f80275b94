"""Grid generators beyond PyTorch's: projective (``perspective_grid``) and thin-plate-spline
(``tps_grid``) warps, with their backward passes, and the fused projective warp
(``warp_perspective``).

Both produce an N×H×W×2 grid in the normalised coordinates :func:`swiftstn.grid_sample` reads,
from the same base coordinates as :func:`swiftstn.affine_grid` (``align_corners`` means the same
thing, and must be a bool: anything else is a ``TypeError``). Arrays are float32 or float64
(one dtype per call; anything else is a ``TypeError``); shape errors are ``ValueError``s naming
the argument and the shapes. The GIL is released during the computation. The forward functions
and the backward functions of the grid generators take ``out=``, an array to write the result into
(returned itself), as described in :mod:`swiftstn.functional`.
"""
from __future__ import annotations

import numbers
from typing import Any, Union

from numpy.typing import ArrayLike, NDArray

from . import _native
from .functional import _MODES, Fill, FloatArray, Layout, Out, Size, _align_corners, _code, _flag, _padding, _warp

__all__ = ["perspective_grid", "perspective_grid_backward", "tps_grid", "tps_grid_backward", "warp_perspective",
           "warp_perspective_backward"]

#: ``control_points``: a K×2 array, an int K (the default grid of K points), or None.
ControlPoints = Union[ArrayLike, int, None]


def perspective_grid(H: ArrayLike, size: Size, align_corners: bool = False, *, out: Out = None) -> FloatArray:
    """Sampling grid of the homographies ``H`` (N×3×3) for an output of ``size`` (N, C, H, W).

    Each output position's normalised coordinate (x, y) — ``affine_grid``'s — maps to
    (u/w, v/w) with (u, v, w) = H·(x, y, 1). The identity gives ``affine_grid``'s identity grid
    exactly, and any H with last row (0, 0, 1) gives ``affine_grid`` of its first two rows.

    Guard: where w ≤ 1e-6·max(|u|, |v|, 1) — the point is behind the projection or mapped
    through infinity (w ≤ 0), or lands beyond 1e6 — or where u, v or w is not finite (NaN/Inf or
    overflowing entries of H), the grid holds the sentinel (−1e4, −1e4), which samples as out of
    range (0 with zeros padding). The grid never contains NaN. Note that H and −H therefore
    differ: scale H so that w > 0 over the image (e.g. H[2, 2] > 0 for mild perspective).
    """
    ac = _align_corners(align_corners, "perspective_grid")
    return _native.perspective_grid(H, size, ac, out)


def perspective_grid_backward(grad_grid: ArrayLike, H: ArrayLike, size: Size, align_corners: bool = False, *,
                              out: Out = None) -> FloatArray:
    """Gradient of a loss with respect to ``H`` given its gradient with respect to the grid
    (quotient rule; guarded points contribute nothing). Returns an N×3×3 array (``out`` when
    given)."""
    ac = _align_corners(align_corners, "perspective_grid_backward")
    return _native.perspective_grid_backward(grad_grid, H, size, ac, out)


def warp_perspective(input: ArrayLike, H: ArrayLike, out_size: Size, mode: str = "bilinear",
                     padding_mode: str = "zeros", align_corners: bool = False, fill: Fill = None, *,
                     out: Out = None, layout: Layout = None, out_dtype: Any = None) -> NDArray[Any]:
    """``grid_sample(input, perspective_grid(H, (N, C, Ho, Wo)), ...)`` in one pass.

    ``input`` is N×C×H×W, ``H`` N×3×3, ``out_size`` (Ho, Wo); returns N×C×Ho×Wo. The grid (with
    its guard and sentinel) is generated a block of points at a time and never stored; the result
    is bit for bit the two-step path's, for every mode, padding (``fill`` included) and
    ``align_corners``. uint8/float16 images, ``layout="NHWC"`` and ``out_dtype`` as in
    :func:`swiftstn.warp_affine`.
    """
    return _warp(_native.warp_perspective, "warp_perspective", input, H, out_size, mode, padding_mode,
                 align_corners, fill, out, layout, out_dtype, 3)


def warp_perspective_backward(grad_output: ArrayLike, input: ArrayLike, H: ArrayLike, out_size: Size,
                              mode: str = "bilinear", padding_mode: str = "zeros", align_corners: bool = False,
                              input_requires_grad: bool = True, fill: Fill = None
                              ) -> tuple[FloatArray | None, FloatArray]:
    """Gradients of :func:`warp_perspective`: returns ``(grad_input or None, grad_H)``, bit for bit
    ``grid_sample_backward`` followed by ``perspective_grid_backward``."""
    ac = _align_corners(align_corners, "warp_perspective_backward")
    m = _code(_MODES, mode, "mode", "warp_perspective_backward")
    p = _padding(padding_mode, fill, "warp_perspective_backward")
    need = _flag(input_requires_grad, "warp_perspective_backward", "input_requires_grad")
    return _native.warp_perspective_backward(grad_output, input, H, out_size, m, p, ac, need, fill)


def _control_points(control_points: ControlPoints) -> tuple[ArrayLike | None, int]:
    """(points or None, default count or -1) for the native functions."""
    if isinstance(control_points, numbers.Integral) and not isinstance(control_points, bool):
        return None, int(control_points)
    return control_points, -1


def tps_grid(displacements: ArrayLike, size: Size, control_points: ControlPoints = None,
             align_corners: bool = False, *, out: Out = None) -> FloatArray:
    """Thin-plate-spline sampling grid for an output of ``size`` (N, C, H, W).

    ``displacements`` (N×K×2) move K control points c_k to c_k + d_k; the grid is the thin-plate
    interpolant f(p) = Σ_k w_k U(|p − c_k|²) + a0 + a1·x + a2·y, U(r²) = r²·log r², with
    f(c_k) = c_k + d_k, evaluated at ``affine_grid``'s base coordinates. Zero displacements give
    the identity grid exactly.

    ``control_points`` is a K×2 array (any integer or floating dtype, used as float64; K ≥ 3,
    distinct and not all on one line), or ``None`` for the default: a √K×√K grid over [−1, 1]²
    (row-major, y outer: point i·√K + j is (x_j, y_i)), which needs K to be a perfect square
    ≥ 4. An int K also selects the default grid of K points.

    The (K+3)×(K+3) system is solved once per control-point set, output size and
    ``align_corners`` (float64, partial pivoting) and cached. A non-finite grid value
    (non-finite displacements) is written as the sentinel (−1e4, −1e4).
    """
    ac = _align_corners(align_corners, "tps_grid")
    points, count = _control_points(control_points)
    return _native.tps_grid(displacements, size, points, count, ac, out)


def tps_grid_backward(grad_grid: ArrayLike, size: Size, control_points: ControlPoints = None,
                      align_corners: bool = False, *, out: Out = None) -> FloatArray:
    """Gradient of a loss with respect to ``displacements`` (N×K×2) given its gradient with
    respect to the grid. The map is linear, so only the control points are needed: pass the same
    K×2 array as to :func:`tps_grid`, or the number K of default control points (``None`` is
    refused here, since K cannot be inferred from the grid). With ``out``, the gradient is written
    into it and ``out`` is returned."""
    ac = _align_corners(align_corners, "tps_grid_backward")
    points, count = _control_points(control_points)
    return _native.tps_grid_backward(grad_grid, size, points, count, ac, out)
