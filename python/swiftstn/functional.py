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

Images (the forward samplers :func:`grid_sample`, :func:`warp_affine` and ``warp_perspective``):
``input`` may also be a uint8 or float16 image batch (4-D; the grid or matrices are then
float32), read as it is — no float copy — and ``layout="NHWC"`` reads and writes channels-last
N×H×W×C arrays (a single H×W×C image too) in place. Each value is computed as for the float32
image of the same pixels and stored once in the input's dtype (uint8: rounded half to even and
saturated to [0, 255]; float16: rounded to nearest even), or in float32 with
``out_dtype=np.float32``. docs/operators.md ("Pixel types and layouts") has the details.
"""
from __future__ import annotations

import warnings
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

#: ``layout``: None or ``"NCHW"`` (channels-first) or ``"NHWC"`` (channels-last).
Layout = Optional[str]

_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
_LAYOUTS = {"NCHW": 0, "NHWC": 1}
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


def _image(input: ArrayLike, layout: Layout, out_dtype: Any, op: str) -> tuple[Any, int, bool, bool]:
    """A sampler's image argument: (the array to pass, the layout code, whether the result is
    float32 for a uint8/float16 image, whether a single H×W×C image was given)."""
    code = 0 if layout is None else _code(_LAYOUTS, layout, "layout", op)
    x = input if isinstance(input, np.ndarray) else np.asarray(input)
    single = code == 1 and x.ndim == 3
    if single:
        x = x[None]
    elif layout is None and x.ndim == 4 and x.shape[3] in (1, 3, 4) and x.shape[1] > 4:
        warnings.warn(f"{op}(): input of shape {x.shape} is read as N×C×H×W with C = {x.shape[1]}; if it is a "
                      "channels-last N×H×W×C image batch, pass layout='NHWC' (layout='NCHW' silences this)",
                      stacklevel=3)
    f32 = False
    if out_dtype is not None:
        want = np.dtype(out_dtype)
        if want != x.dtype:
            if want != np.float32 or x.dtype not in (np.uint8, np.float16):
                raise TypeError(f"{op}(): out_dtype must be None, the input's dtype ({x.dtype}) or float32 for a "
                                f"uint8/float16 input, got {want}")
            f32 = True
    return x, code, f32, single


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
                align_corners: bool = False, fill: Fill = None, *, out: Out = None, layout: Layout = None,
                out_dtype: Any = None) -> NDArray[Any]:
    """Samples ``input`` (N×C×H×W or N×C×D×H×W) at ``grid`` (N×Ho×Wo×2 or N×Do×Ho×Wo×3).

    ``mode`` is ``"bilinear"`` (trilinear on 5-D input), ``"nearest"`` (halves round to even) or
    ``"bicubic"`` (Keys cubic, A = −0.75: 4×4 taps on 4-D input, tricubic 4×4×4 on 5-D input);
    ``padding_mode`` is ``"zeros"``, ``"border"``, ``"reflection"`` or ``"fill"``. With ``"fill"``,
    ``fill`` (a number, or one value per channel; finite) is what every tap outside the input
    reads instead of 0 — each of the bilinear corners, the nearest pixel, each bicubic tap — taps
    being located as with ``"zeros"``; ``fill=0`` gives exactly ``"zeros"``'s result. ``fill`` is
    an error with any other padding. The output is N×C×Ho×Wo (or N×C×Do×Ho×Wo); with ``out`` it
    is written into ``out``, which is returned (see the module docstring). uint8/float16 images,
    ``layout="NHWC"`` (output N×Ho×Wo×C) and ``out_dtype``: see the module docstring.
    """
    ac = _align_corners(align_corners, "grid_sample")
    m = _code(_MODES, mode, "mode", "grid_sample")
    p = _padding(padding_mode, fill, "grid_sample")
    x, code, f32, single = _image(input, layout, out_dtype, "grid_sample")
    if single:
        grid = np.asarray(grid)[None]
    r = _native.grid_sample(x, grid, m, p, ac, fill, None if single else out, code, f32)
    return _single(r, out) if single else r


def _single(result: NDArray[Any], out: Out) -> NDArray[Any]:
    """The one image of a batch of one, written into ``out`` when given."""
    if out is None:
        return result[0]
    np.copyto(out, result[0], casting="no")
    return out


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
                out: Out = None, layout: Layout = None, out_dtype: Any = None) -> NDArray[Any]:
    """``grid_sample(input, affine_grid(theta, (N, C, Ho, Wo)), ...)`` in one pass.

    ``input`` is N×C×H×W, ``theta`` N×2×3, ``out_size`` (Ho, Wo); returns N×C×Ho×Wo. The grid is
    generated a block of points at a time and never stored, and the result is bit for bit the
    two-step path's, for every mode, padding (``fill`` included) and ``align_corners``. With
    ``out``, the result is written into it and ``out`` is returned (see the module docstring).
    uint8/float16 images, ``layout="NHWC"`` (N×H×W×C in, N×Ho×Wo×C out; a single H×W×C image
    with a 2×3 theta) and ``out_dtype``: see the module docstring.
    """
    return _warp(_native.warp_affine, "warp_affine", input, theta, out_size, mode, padding_mode, align_corners,
                 fill, out, layout, out_dtype, 2)


def _warp(native: Any, op: str, input: ArrayLike, matrices: ArrayLike, out_size: Size, mode: str,
          padding_mode: str, align_corners: bool, fill: Fill, out: Out, layout: Layout, out_dtype: Any,
          rows: int) -> NDArray[Any]:
    """The forward warps: validation of the settings, images, and the call."""
    ac = _align_corners(align_corners, op)
    m = _code(_MODES, mode, "mode", op)
    p = _padding(padding_mode, fill, op)
    x, code, f32, single = _image(input, layout, out_dtype, op)
    if single:
        matrices = np.asarray(matrices)
        if matrices.shape == (rows, 3):
            matrices = matrices[None]
        r = native(x, matrices, out_size, m, p, ac, fill, None, code, f32)
        return _single(r, out)
    return native(x, matrices, out_size, m, p, ac, fill, out, code, f32)


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
