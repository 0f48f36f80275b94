"""swiftstn's operators on ``torch.Tensor``s, differentiable, with ``torch.nn.functional``'s
signatures and defaults (``grid_sample``, ``affine_grid``) or swiftstn's own (the others).

Each function checks what is torch's — tensor types, dtypes, devices, ``align_corners`` — and calls
its ``torch.ops.swiftstn`` custom op (``_ops.py``), which validates shapes and modes through the
NumPy layer and computes in Swift on the tensors' memory, without copies:

- float32 and float64 are computed as they are; float16 and bfloat16 in float32, the result
  returned in the input's dtype; any other dtype is a ``TypeError``.
- CPU tensors are computed by swiftstn; ``meta`` tensors (and FakeTensors under ``torch.compile``
  or ``torch.export``) get the output's shape and dtype. On any other device (CUDA, MPS, …)
  ``grid_sample``, ``affine_grid`` and ``warp_affine`` (without ``fill``) are PyTorch's own
  operators, whose results swiftstn's match on the CPU; the rest raise a ``RuntimeError`` naming
  the device. Nothing is ever copied to the host behind your back.
- Tensors may require grad: every differentiable input gets its gradient from swiftstn's backward
  kernels (the input gradient only when it is needed). Double backward is not supported: the
  gradient of a gradient raises a ``RuntimeError``.
"""
import numbers
import operator
import warnings
from collections.abc import Sequence
from typing import Any, Optional, Union

import torch
import torch.nn.functional as _F
from torch import Tensor

from . import _ops

__all__ = ["grid_sample", "affine_grid", "warp_affine", "warp_perspective", "perspective_grid", "tps_grid"]

#: PyTorch's own operators, as they were when swiftstn.torch was imported (the fallbacks off the CPU,
#: and what patch() restores)
_TORCH_GRID_SAMPLE = _F.grid_sample
_TORCH_AFFINE_GRID = _F.affine_grid

_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_SWIFTSTN_DEVICES = ("cpu", "meta")

Fill = Union[None, float, Sequence[float], Tensor]


def _check_tensors(op: str, **tensors: Tensor) -> str:
    """Checks the tensor arguments of one call (type, floating dtype, one dtype, one device) and
    returns their device type."""
    first: Any = None  # (name, tensor) of the first argument
    for name, t in tensors.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}(): {name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in _DTYPES:
            raise TypeError(f"{op}(): {name} must be a float32, float64, float16 or bfloat16 tensor, got {t.dtype}")
        if first is None:
            first = (name, t)
            continue
        if t.dtype != first[1].dtype:
            raise TypeError(f"{op}(): expected {first[0]} and {name} to have the same dtype, got {first[1].dtype} "
                            f"and {t.dtype}")
        if not (t.is_cpu and first[1].is_cpu) and t.device != first[1].device:
            raise RuntimeError(f"{op}(): expected {first[0]} and {name} on the same device, got {first[1].device} "
                               f"and {t.device}")
    return "cpu" if first[1].is_cpu else first[1].device.type


def _on_swiftstn(op: str, device: str, fallback_exists: bool) -> bool:
    """True when swiftstn computes this call; False when PyTorch's own operator should (another
    device, with a fallback); a RuntimeError when neither can."""
    if device in _SWIFTSTN_DEVICES:
        return True
    if fallback_exists:
        return False
    raise RuntimeError(f"{op}(): swiftstn computes on the CPU and has no {device} kernel, and PyTorch has no "
                       f"equivalent operator to fall back to; the tensors are on {device}: move them with .cpu()")


def _align_corners(op: str, value, none_means_false: bool) -> bool:
    """``align_corners`` as a bool: True/False (NumPy bools too); None as PyTorch takes it (False,
    with its warning) where PyTorch's signature allows it; anything else is a TypeError."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    if value is None and none_means_false:
        warnings.warn("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                      "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                      "grid_sample for details.", stacklevel=3)
        return False
    allowed = "True, False or None" if none_means_false else "True or False"
    raise TypeError(f"{op}(): align_corners must be {allowed}, got {value!r} ({type(value).__name__})")


def _fill_values(op: str, fill: Fill) -> Optional[list[float]]:
    """``fill`` as the ops take it: None, or a list of floats (one, or one per channel)."""
    if fill is None:
        return None
    if isinstance(fill, Tensor):
        fill = fill.detach().cpu().reshape(-1).tolist() if fill.dim() <= 1 else fill
    if isinstance(fill, numbers.Real) and not isinstance(fill, bool):
        return [float(fill)]
    try:
        values = [float(v) for v in fill]  # type: ignore[union-attr]  # (numbers returned above)
    except (TypeError, ValueError):
        raise TypeError(f"{op}(): fill must be a number or a sequence of numbers (one per channel), got "
                        f"{fill!r}") from None
    return values


def _size(op: str, name: str, size: Any) -> list[Any]:  # ints and torch.SymInts
    # SymInts stay symbolic, so torch.compile/export keep dynamic sizes dynamic.
    try:
        return [s if isinstance(s, (int, torch.SymInt)) else operator.index(s) for s in size]
    except TypeError:
        raise TypeError(f"{op}(): {name} must be a sequence of ints, got {size!r}") from None


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: Optional[bool] = None, fill: Fill = None) -> Tensor:
    """``torch.nn.functional.grid_sample``, computed by swiftstn: samples ``input`` (N×C×H×W or
    N×C×D×H×W) at ``grid`` (N×Ho×Wo×2 or N×Do×Ho×Wo×3) and returns N×C×Ho×Wo (or N×C×Do×Ho×Wo).

    ``mode`` is ``"bilinear"``, ``"nearest"`` or ``"bicubic"``; ``padding_mode`` ``"zeros"``,
    ``"border"``, ``"reflection"`` or swiftstn's ``"fill"`` (with ``fill``: a number or one value per
    channel, what outside taps read). Results match PyTorch's bit for bit or within a few ulps.
    """
    ac = _align_corners("grid_sample", align_corners, True)
    device = _check_tensors("grid_sample", input=input, grid=grid)
    if not _on_swiftstn("grid_sample", device, fill is None):
        return _TORCH_GRID_SAMPLE(input, grid, mode=mode, padding_mode=padding_mode, align_corners=ac)
    return _ops.grid_sample(input, grid, mode, padding_mode, ac, _fill_values("grid_sample", fill))


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: Optional[bool] = None) -> Tensor:
    """``torch.nn.functional.affine_grid``, computed by swiftstn: the N×H×W×2 (or N×D×H×W×3)
    sampling grid of the N×2×3 (or N×3×4) transforms ``theta`` for an output of ``size``."""
    ac = _align_corners("affine_grid", align_corners, True)
    device = _check_tensors("affine_grid", theta=theta)
    if not _on_swiftstn("affine_grid", device, True):
        return _TORCH_AFFINE_GRID(theta, list(size), align_corners=ac)
    return _ops.affine_grid(theta, _size("affine_grid", "size", size), ac)


def perspective_grid(H: Tensor, size: Sequence[int], align_corners: bool = False) -> Tensor:
    """Sampling grid (N×H×W×2) of the homographies ``H`` (N×3×3) on normalised coordinates, as
    :func:`swiftstn.perspective_grid` (guarded points get the sentinel (−1e4, −1e4))."""
    ac = _align_corners("perspective_grid", align_corners, False)
    device = _check_tensors("perspective_grid", H=H)
    _on_swiftstn("perspective_grid", device, False)
    return _ops.perspective_grid(H, _size("perspective_grid", "size", size), ac)


def tps_grid(displacements: Tensor, size: Sequence[int], control_points: Optional[Tensor] = None,
             align_corners: bool = False) -> Tensor:
    """Thin-plate-spline sampling grid (N×H×W×2) moving K control points by ``displacements``
    (N×K×2), as :func:`swiftstn.tps_grid`. ``control_points`` is a K×2 tensor or array (constants:
    no gradient), an int K, or None for the default √K×√K grid over [−1, 1]²."""
    ac = _align_corners("tps_grid", align_corners, False)
    device = _check_tensors("tps_grid", displacements=displacements)
    _on_swiftstn("tps_grid", device, False)
    if isinstance(control_points, numbers.Integral) and not isinstance(control_points, bool):
        if control_points != displacements.shape[1]:
            raise ValueError(f"tps_grid(): control_points={control_points} default points but displacements "
                             f"{tuple(displacements.shape)} move {displacements.shape[1]}")
        control_points = None
    elif control_points is not None and not isinstance(control_points, Tensor):
        control_points = torch.as_tensor(control_points)
    return _ops.tps_grid(displacements, _size("tps_grid", "size", size), control_points, ac)


def warp_affine(input: Tensor, theta: Tensor, out_size: Sequence[int], mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool = False, fill: Fill = None) -> Tensor:
    """``grid_sample(input, affine_grid(theta, (N, C, Ho, Wo)), ...)`` in one pass, as
    :func:`swiftstn.warp_affine`: ``input`` N×C×H×W, ``theta`` N×2×3 (normalised coordinates,
    output to input), ``out_size`` (Ho, Wo)."""
    ac = _align_corners("warp_affine", align_corners, False)
    device = _check_tensors("warp_affine", input=input, theta=theta)
    out_size = _size("warp_affine", "out_size", out_size)
    if not _on_swiftstn("warp_affine", device, fill is None):
        grid = _TORCH_AFFINE_GRID(theta, [input.shape[0], input.shape[1]] + out_size, align_corners=ac)
        return _TORCH_GRID_SAMPLE(input, grid, mode=mode, padding_mode=padding_mode, align_corners=ac)
    return _ops.warp_affine(input, theta, out_size, mode, padding_mode, ac, _fill_values("warp_affine", fill))


def warp_perspective(input: Tensor, H: Tensor, out_size: Sequence[int], mode: str = "bilinear",
                     padding_mode: str = "zeros", align_corners: bool = False, fill: Fill = None) -> Tensor:
    """``grid_sample(input, perspective_grid(H, (N, C, Ho, Wo)), ...)`` in one pass, as
    :func:`swiftstn.warp_perspective`: ``H`` N×3×3 on normalised coordinates, output to input."""
    ac = _align_corners("warp_perspective", align_corners, False)
    device = _check_tensors("warp_perspective", input=input, H=H)
    _on_swiftstn("warp_perspective", device, False)
    return _ops.warp_perspective(input, H, _size("warp_perspective", "out_size", out_size), mode, padding_mode, ac,
                                 _fill_values("warp_perspective", fill))
