"""The sampling operators, with the signatures of their ``torch.nn.functional`` namesakes.

Arrays may be float32 or float64 (all arrays of one call share the dtype); C-contiguous arrays
pass to the Swift engine without a copy, anything else (views with strides, other byte orders,
lists) is converted once. Results are new C-contiguous arrays of the same dtype (or ``out``, below).

The forward operators (:func:`affine_grid`, :func:`grid_sample`, :func:`warp_affine`, and
:mod:`swiftstn.transforms`' ``perspective_grid``, ``tps_grid`` and ``warp_perspective``) and the
backward functions with one result (:func:`affine_grid_backward`, ``perspective_grid_backward``,
``tps_grid_backward``) take ``out=``: a preallocated NumPy array (an ``np.memmap`` too) to write
the result into, returned itself (``result is out``). It must be exactly what the result would
be — the output shape and the call's dtype, in native byte order — and C-contiguous, aligned and
writeable, and must not share memory with the arguments (its byte range may not meet theirs, as
``np.may_share_memory`` tests): otherwise the call raises a ``TypeError`` (not an ndarray, wrong
dtype) or ``ValueError`` (wrong shape, flags, overlap) naming ``out``, before computing anything,
and ``out`` is left untouched. Every element of ``out`` is overwritten; the result is bit for bit
the one without ``out``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional, SupportsIndex

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _native

__all__ = ["affine_grid", "affine_grid_backward", "grid_sample", "grid_sample_backward", "warp_affine",
           "warp_affine_backward"]

#: A result: a new C-contiguous array of the call's dtype, float32 or float64.
FloatArray = NDArray[np.floating[Any]]
#: A size such as (N, C, H, W): a sequence of ints (anything with ``__index__``).
Size = Sequence[SupportsIndex]
#: ``fill``: None, a number, or one number per channel.
Fill = Optional[ArrayLike]
#: ``out``: None (a new array), or the array to write the result into (see the module docstring).
Out = Optional[FloatArray]

_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
_PADDINGS = {"zeros": 0, "border": 1, "reflection": 2, "fill": 3}


def _code(table: Mapping[str, int], value: Any, what: str, op: str) -> int:
    try:
        return table[value]
    except (KeyError, TypeError):
        options = ", ".join(repr(k) for k in table)
        raise ValueError(f"{op}(): expected {what} to be one of {options}, got {value!r}") from None


def _flag(value: Any, op: str, name: str) -> bool:
    """A boolean argument as a bool. Only ``True``/``False`` (NumPy bools too) are accepted: any
    other value — ``"False"``, ``0``, ``None`` — is a ``TypeError`` naming ``op``, the argument and
    the value, rather than its truth value (``bool("False")`` is True)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{op}(): {name} must be a bool (True or False), got {value!r} ({type(value).__name__})")


def _align_corners(value: Any, op: str) -> bool:
    """``align_corners`` as a bool (see :func:`_flag`)."""
    return _flag(value, op, "align_corners")


def _padding(padding_mode: str, fill: Fill, op: str) -> int:
    """The padding code, with ``fill`` checked against it: required for ``"fill"``, refused
    otherwise."""
    p = _code(_PADDINGS, padding_mode, "padding_mode", op)
    if p == _PADDINGS["fill"] and fill is None:
        raise ValueError(f"{op}(): padding_mode='fill' needs fill values: pass fill=<number or one value per channel>")
    if p != _PADDINGS["fill"] and fill is not None:
        raise ValueError(f"{op}(): fill is only used with padding_mode='fill', got padding_mode={padding_mode!r}")
    return p


def affine_grid(theta: ArrayLike, size: Size, align_corners: bool = False, *, out: Out = None) -> FloatArray:
    """Sampling grid of the affine transforms ``theta`` for an output of ``size``.

    ``theta`` is N×2×3 with ``size`` = (N, C, H, W), giving an N×H×W×2 grid, or N×3×4 with
    ``size`` = (N, C, D, H, W), giving N×D×H×W×3. Grid entries are (x, y[, z]) in normalised
    coordinates: −1 and 1 are the centres of the corner pixels with ``align_corners=True``, and
    their outer edges with ``align_corners=False`` (PyTorch's default). With ``out``, the grid is
    written into it and ``out`` is returned (see the module docstring).
    """
    ac = _align_corners(align_corners, "affine_grid")
    return _native.affine_grid(theta, size, ac, out)


def affine_grid_backward(grad_grid: ArrayLike, size: Size, align_corners: bool = False, *,
                         out: Out = None) -> FloatArray:
    """Gradient of a loss with respect to ``theta`` given its gradient ``grad_grid`` with respect to
    the grid (N×H×W×2 or N×D×H×W×3, as :func:`affine_grid` returned for ``size``): N×2×3 or
    N×3×4, like ``theta`` (written into ``out`` when given, which is returned)."""
    ac = _align_corners(align_corners, "affine_grid_backward")
    return _native.affine_grid_backward(grad_grid, size, ac, out)


def grid_sample(input: ArrayLike, grid: ArrayLike, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool = False, fill: Fill = None, *, out: Out = None) -> FloatArray:
    """Samples ``input`` (N×C×H×W or N×C×D×H×W) at ``grid`` (N×Ho×Wo×2 or N×Do×Ho×Wo×3).

    ``mode`` is ``"bilinear"`` (trilinear on 5-D input), ``"nearest"`` (halves round to even) or
    ``"bicubic"`` (Keys cubic, A = −0.75: 4×4 taps on 4-D input, tricubic 4×4×4 on 5-D input);
    ``padding_mode`` is ``"zeros"``, ``"border"``, ``"reflection"`` or ``"fill"``. With ``"fill"``,
    ``fill`` (a number, or one value per channel; finite) is what every tap outside the input
    reads instead of 0 — each of the bilinear corners, the nearest pixel, each bicubic tap — taps
    being located as with ``"zeros"``; ``fill=0`` gives exactly ``"zeros"``'s result. ``fill`` is
    an error with any other padding. The output is N×C×Ho×Wo (or N×C×Do×Ho×Wo); with ``out`` it
    is written into ``out``, which is returned (see the module docstring).
    """
    ac = _align_corners(align_corners, "grid_sample")
    m = _code(_MODES, mode, "mode", "grid_sample")
    p = _padding(padding_mode, fill, "grid_sample")
    return _native.grid_sample(input, grid, m, p, ac, fill, out)


def grid_sample_backward(grad_output: ArrayLike, input: ArrayLike, grid: ArrayLike, mode: str = "bilinear",
                         padding_mode: str = "zeros", align_corners: bool = False, input_requires_grad: bool = True,
                         fill: Fill = None) -> tuple[FloatArray | None, FloatArray]:
    """Gradients of :func:`grid_sample`: returns ``(grad_input, grad_grid)``.

    With ``input_requires_grad=False`` the input gradient is not computed at all (``None`` is
    returned in its place): a spatial transformer needs only the grid's gradient. With fill
    padding the input gradient is zeros padding's (the fill values are constants) and the grid
    gradient includes the fill values read by outside taps.
    """
    ac = _align_corners(align_corners, "grid_sample_backward")
    m = _code(_MODES, mode, "mode", "grid_sample_backward")
    p = _padding(padding_mode, fill, "grid_sample_backward")
    need = _flag(input_requires_grad, "grid_sample_backward", "input_requires_grad")
    if fill is None:
        return _native.grid_sample_backward(grad_output, input, grid, m, p, ac, need)
    return _native.grid_sample_backward(grad_output, input, grid, m, p, ac, need, fill)


def warp_affine(input: ArrayLike, theta: ArrayLike, out_size: Size, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool = False, fill: Fill = None, *,
                out: Out = None) -> FloatArray:
    """``grid_sample(input, affine_grid(theta, (N, C, Ho, Wo)), ...)`` in one pass.

    ``input`` is N×C×H×W, ``theta`` N×2×3, ``out_size`` (Ho, Wo); returns N×C×Ho×Wo. The grid is
    generated a block of points at a time and never stored, and the result is bit for bit the
    two-step path's, for every mode, padding (``fill`` included) and ``align_corners``. With
    ``out``, the result is written into it and ``out`` is returned (see the module docstring).
    """
    ac = _align_corners(align_corners, "warp_affine")
    m = _code(_MODES, mode, "mode", "warp_affine")
    p = _padding(padding_mode, fill, "warp_affine")
    return _native.warp_affine(input, theta, out_size, m, p, ac, fill, out)


def warp_affine_backward(grad_output: ArrayLike, input: ArrayLike, theta: ArrayLike, out_size: Size,
                         mode: str = "bilinear", padding_mode: str = "zeros", align_corners: bool = False,
                         input_requires_grad: bool = True, fill: Fill = None) -> tuple[FloatArray | None, FloatArray]:
    """Gradients of :func:`warp_affine`: returns ``(grad_input or None, grad_theta)``, bit for bit
    ``grid_sample_backward`` followed by ``affine_grid_backward``."""
    ac = _align_corners(align_corners, "warp_affine_backward")
    m = _code(_MODES, mode, "mode", "warp_affine_backward")
    p = _padding(padding_mode, fill, "warp_affine_backward")
    need = _flag(input_requires_grad, "warp_affine_backward", "input_requires_grad")
    return _native.warp_affine_backward(grad_output, input, theta, out_size, m, p, ac, need, fill)
