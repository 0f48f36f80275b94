"""``patch()``: ``torch.nn.functional.grid_sample`` and ``affine_grid`` routed through swiftstn.

While enabled, the two names in ``torch.nn.functional`` are wrappers that hand a call to
swiftstn when swiftstn computes exactly what PyTorch would (CPU or meta tensors of a floating
dtype, plain tensors, PyTorch's modes and paddings, a bool or None ``align_corners``) and to
PyTorch's original function otherwise — so code written for PyTorch (the seed's ``Net``, kornia's
warps) runs unmodified. Only calls made through the module attribute are routed: a function
imported by name (``from torch.nn.functional import grid_sample``) before patching is PyTorch's.
"""
import contextlib
import threading
from collections.abc import Iterator

import torch
import torch.nn.functional as _F
from torch import Tensor

from . import functional as _tf

_MODES = ("bilinear", "nearest", "bicubic")
_PADDINGS = ("zeros", "border", "reflection")

_lock = threading.Lock()
_depth = 0  # enable() calls not yet undone (patch() nests)


def _plain(*tensors) -> bool:
    """Tensors swiftstn can take: torch.Tensor (or Parameter) of one floating dtype on cpu/meta, no
    __torch_function__ subclass (those keep PyTorch's dispatch)."""
    if not all(isinstance(t, Tensor) for t in tensors) or torch.overrides.has_torch_function(tensors):
        return False
    t0 = tensors[0]
    return (t0.dtype in _tf._DTYPES and all(t.dtype == t0.dtype and t.device == t0.device for t in tensors)
            and t0.device.type in _tf._SWIFTSTN_DEVICES)


def _aligned(value) -> bool:
    return value is None or isinstance(value, bool)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    if _plain(input, grid) and mode in _MODES and padding_mode in _PADDINGS and _aligned(align_corners):
        return _tf.grid_sample(input, grid, mode, padding_mode, align_corners)
    return _tf._TORCH_GRID_SAMPLE(input, grid, mode=mode, padding_mode=padding_mode, align_corners=align_corners)


def affine_grid(theta, size, align_corners=None):
    if _plain(theta) and _aligned(align_corners):
        return _tf.affine_grid(theta, size, align_corners)
    return _tf._TORCH_AFFINE_GRID(theta, size, align_corners=align_corners)


grid_sample.__doc__ = "swiftstn.torch.patch()'s routing wrapper of:\n\n" + (_tf._TORCH_GRID_SAMPLE.__doc__ or "")
affine_grid.__doc__ = "swiftstn.torch.patch()'s routing wrapper of:\n\n" + (_tf._TORCH_AFFINE_GRID.__doc__ or "")


def enable() -> None:
    """Routes ``torch.nn.functional.grid_sample`` and ``affine_grid`` through swiftstn (see
    :func:`patch`). Calls nest: each ``enable()`` is undone by one ``disable()``."""
    global _depth
    with _lock:
        _depth += 1
        _F.grid_sample, _F.affine_grid = grid_sample, affine_grid


def disable() -> None:
    """Undoes one :func:`enable`; PyTorch's functions are back once every ``enable()`` is undone.
    Without a pending ``enable()`` it does nothing."""
    global _depth
    with _lock:
        _depth = max(0, _depth - 1)
        if _depth == 0:
            _F.grid_sample, _F.affine_grid = _tf._TORCH_GRID_SAMPLE, _tf._TORCH_AFFINE_GRID


def is_enabled() -> bool:
    """Whether ``torch.nn.functional``'s two functions are currently routed through swiftstn."""
    return _depth > 0


@contextlib.contextmanager
def patch() -> Iterator[None]:
    """Within the block, ``torch.nn.functional.grid_sample`` and ``affine_grid`` run on swiftstn for
    CPU tensors, and PyTorch's own functions run everything else (other devices, tensor subclasses,
    modes or arguments swiftstn does not take)::

        with swiftstn.torch.patch():
            loss = F.nll_loss(net(x), y)   # net calls F.affine_grid / F.grid_sample
            loss.backward()
    """
    enable()
    try:
        yield
    finally:
        disable()
