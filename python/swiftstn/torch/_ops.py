"""The ``torch.library`` custom ops behind :mod:`swiftstn.torch` (namespace ``swiftstn::``).

Map of this file:
- conversions: a CPU tensor's memory goes to the NumPy functions without a copy (``_array``) and
  their result comes back the same way (``_tensor``); float16/bfloat16 are computed in float32;
- forward ops (``grid_sample``, ``affine_grid``, ``warp_affine``, ``warp_perspective``,
  ``perspective_grid``, ``tps_grid``), each with a fake kernel (output shape and dtype only, for
  FakeTensor, meta tensors, ``torch.compile`` and ``torch.export``) and an autograd formula;
- backward ops (``*_backward``), custom ops too, so that AOTAutograd traces the backward graph
  instead of breaking it; they have fake kernels and an autograd formula that refuses (no double
  backward);
- ``call``: the one entry point. The dispatcher costs ~40 µs a call (~130 µs with autograd), more
  than the sampling of a small batch, so an eager call on plain CPU tensors — nothing tracing,
  no dispatch or function mode, no functorch transform — runs the kernel directly, through a
  ``torch.autograd.Function`` carrying the same formula when a gradient is needed; everything else
  goes through the op.

The ops validate through the NumPy layer (mode, padding, fill rule, shapes: one place, one set of
messages); the public wrappers in ``functional.py`` add only what is torch's (device, dtype,
``align_corners``'s type).
"""
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from .. import functional as _npf
from .. import transforms as _npt

_HALF = (torch.float16, torch.bfloat16)
_LIB = "swiftstn"


# ---- conversions ----------------------------------------------------------------------------

def _array(t: Tensor) -> np.ndarray:
    """The tensor's memory as a NumPy array: no copy for float32/float64 (strided views stay views;
    the native layer copies those once, after validating); float16/bfloat16 widened to float32."""
    if t.dtype in _HALF:
        return t.detach().float().numpy()
    return t.detach().numpy() if t.requires_grad else t.numpy()


def _tensor(a: np.ndarray, dtype: torch.dtype) -> Tensor:
    """A NumPy result as a tensor (no copy), narrowed back to ``dtype`` when that is half precision."""
    t = torch.from_numpy(a)
    return t if t.dtype == dtype else t.to(dtype)


def _empty_like_none(t: Tensor) -> Tensor:
    """What a backward op returns in place of a gradient it was asked not to compute."""
    return t.new_empty(0)


def _fill(fill: Optional[list[float]]) -> Optional[np.ndarray]:
    return None if fill is None else np.asarray(fill, dtype=np.float64)


def _check_modes(op: str, mode: str, padding_mode: str, fill: Optional[list[float]]) -> None:
    """The NumPy layer's mode/padding/fill checks, for fake kernels (so a traced call fails as an
    eager one does)."""
    _npf._code(_npf._MODES, mode, "mode", op)
    _npf._padding(padding_mode, fill, op)


def _check_spatial(op: str, input: Tensor, grid: Tensor) -> None:
    torch._check(input.dim() in (4, 5), lambda: f"{op}(): expected 4-D or 5-D input, got {input.dim()}-D "
                 f"{tuple(input.shape)}")
    torch._check(grid.dim() == input.dim() and grid.shape[-1] == input.dim() - 2 and grid.shape[0] == input.shape[0],
                 lambda: f"{op}(): grid {tuple(grid.shape)} does not fit input {tuple(input.shape)}: expected "
                         f"N×{'D×' if input.dim() == 5 else ''}H×W×{input.dim() - 2} with N = {input.shape[0]}")


# ---- the op wrapper and its eager path ---------------------------------------------------------

def _modes_active() -> bool:
    """Whether something must see every op: compilation, tracing, a dispatch or function mode."""
    return bool(torch.compiler.is_compiling() or torch.jit.is_tracing() or torch._C._len_torch_dispatch_stack()
                or torch._C._len_torch_function_stack())


_PLAIN = (Tensor, torch.nn.Parameter)
_is_functorch = torch._C._functorch.is_functorch_wrapped_tensor


class _Op:
    """A ``swiftstn::`` custom op built from ``impl``, callable like it: eager calls on plain CPU
    tensors run ``impl`` directly (through ``function``, a ``torch.autograd.Function`` with the
    op's autograd formula, when a gradient is needed); every other call goes through ``op``."""

    def __init__(self, name: str, impl):
        self.name, self.impl = name, impl
        self.op = torch.library.custom_op(f"{_LIB}::{name}", impl, mutates_args=(), device_types="cpu")
        self.function: Optional[type[torch.autograd.Function]] = None

    def register_fake(self, fake):
        return self.op.register_fake(fake)

    def register_autograd(self, backward, setup_context=None):
        self.op.register_autograd(backward, setup_context=setup_context)
        if setup_context is not None:
            impl = self.impl
            self.function = type(f"{self.name}_function", (torch.autograd.Function,), {
                "forward": staticmethod(lambda *args: impl(*args)),
                "setup_context": staticmethod(setup_context),
                "backward": staticmethod(backward)})

    def __call__(self, *args):
        if _modes_active():
            return self.op(*args)
        grad = False
        for a in args:
            if isinstance(a, Tensor):
                if type(a) not in _PLAIN or not a.is_cpu or _is_functorch(a):
                    return self.op(*args)
                grad = grad or a.requires_grad
        if grad and torch.is_grad_enabled():
            return self.op(*args) if self.function is None else self.function.apply(*args)
        return self.impl(*args)


def _define(name: str):
    """Decorator: the function becomes the CPU kernel of the custom op ``swiftstn::name``."""
    return lambda impl: _Op(name, impl)


# ---- grid_sample ----------------------------------------------------------------------------

@_define("grid_sample")
def grid_sample(input: Tensor, grid: Tensor, mode: str, padding_mode: str, align_corners: bool,
                fill: Optional[list[float]]) -> Tensor:
    out = _npf.grid_sample(_array(input), _array(grid), mode, padding_mode, align_corners, _fill(fill))
    return _tensor(out, input.dtype)


@grid_sample.register_fake
def _(input, grid, mode, padding_mode, align_corners, fill):
    _check_modes("grid_sample", mode, padding_mode, fill)
    _check_spatial("grid_sample", input, grid)
    return input.new_empty((input.shape[0], input.shape[1]) + tuple(grid.shape[1:-1]))


@_define("grid_sample_backward")
def grid_sample_backward(grad_output: Tensor, input: Tensor, grid: Tensor, mode: str, padding_mode: str,
                         align_corners: bool, fill: Optional[list[float]],
                         input_requires_grad: bool) -> tuple[Tensor, Tensor]:
    gi, gg = _npf.grid_sample_backward(_array(grad_output), _array(input), _array(grid), mode, padding_mode,
                                       align_corners, input_requires_grad, _fill(fill))
    return (_empty_like_none(input) if gi is None else _tensor(gi, input.dtype)), _tensor(gg, grid.dtype)


@grid_sample_backward.register_fake
def _(grad_output, input, grid, mode, padding_mode, align_corners, fill, input_requires_grad):
    _check_modes("grid_sample_backward", mode, padding_mode, fill)
    return (torch.empty_like(input) if input_requires_grad else _empty_like_none(input)), torch.empty_like(grid)


def _grid_sample_setup(ctx, inputs, output):
    input, grid, mode, padding_mode, align_corners, fill = inputs
    ctx.save_for_backward(input, grid)
    ctx.options = (mode, padding_mode, align_corners, fill)


def _grid_sample_grad(ctx, grad):
    input, grid = ctx.saved_tensors
    need_input = ctx.needs_input_grad[0]
    gi, gg = grid_sample_backward(grad.contiguous(), input, grid, *ctx.options, need_input)
    return (gi if need_input else None), gg, None, None, None, None


grid_sample.register_autograd(_grid_sample_grad, setup_context=_grid_sample_setup)


# ---- affine_grid ----------------------------------------------------------------------------

def _grid_shape(op: str, params: Tensor, size: list[int], rows: int) -> tuple:
    """N×H×W×2 (or N×D×H×W×3) for generator parameters of N×rows×… and ``size``."""
    torch._check(len(size) in (4, 5), lambda: f"{op}(): size must have 4 or 5 entries, got {list(size)}")
    torch._check(params.dim() == 3 and params.shape[0] == size[0] and params.shape[1] == rows,
                 lambda: f"{op}(): parameters {tuple(params.shape)} do not fit size {list(size)}")
    return (size[0],) + tuple(size[2:]) + (len(size) - 2,)


@_define("affine_grid")
def affine_grid(theta: Tensor, size: list[int], align_corners: bool) -> Tensor:
    return _tensor(_npf.affine_grid(_array(theta), tuple(size), align_corners), theta.dtype)


@affine_grid.register_fake
def _(theta, size, align_corners):
    rows = len(size) - 2 if len(size) in (4, 5) else -1
    shape = _grid_shape("affine_grid", theta, size, rows)
    torch._check(theta.shape[2] == rows + 1, lambda: f"affine_grid(): theta {tuple(theta.shape)} must be "
                 f"N×{rows}×{rows + 1} for size {list(size)}")
    return theta.new_empty(shape)


@_define("affine_grid_backward")
def affine_grid_backward(grad_grid: Tensor, size: list[int], align_corners: bool) -> Tensor:
    return _tensor(_npf.affine_grid_backward(_array(grad_grid), tuple(size), align_corners), grad_grid.dtype)


@affine_grid_backward.register_fake
def _(grad_grid, size, align_corners):
    d = len(size) - 2
    return grad_grid.new_empty((size[0], d, d + 1))


def _affine_grid_setup(ctx, inputs, output):
    _, size, align_corners = inputs
    ctx.options = (list(size), align_corners)


def _affine_grid_grad(ctx, grad):
    return affine_grid_backward(grad.contiguous(), *ctx.options), None, None


affine_grid.register_autograd(_affine_grid_grad, setup_context=_affine_grid_setup)


# ---- perspective_grid -----------------------------------------------------------------------

@_define("perspective_grid")
def perspective_grid(H: Tensor, size: list[int], align_corners: bool) -> Tensor:
    return _tensor(_npt.perspective_grid(_array(H), tuple(size), align_corners), H.dtype)


@perspective_grid.register_fake
def _(H, size, align_corners):
    torch._check(len(size) == 4, lambda: f"perspective_grid(): size must be (N, C, H, W), got {list(size)}")
    shape = _grid_shape("perspective_grid", H, size, 3)
    torch._check(H.shape[2] == 3, lambda: f"perspective_grid(): H must be N×3×3, got {tuple(H.shape)}")
    return H.new_empty(shape)


@_define("perspective_grid_backward")
def perspective_grid_backward(grad_grid: Tensor, H: Tensor, size: list[int], align_corners: bool) -> Tensor:
    return _tensor(_npt.perspective_grid_backward(_array(grad_grid), _array(H), tuple(size), align_corners), H.dtype)


@perspective_grid_backward.register_fake
def _(grad_grid, H, size, align_corners):
    return torch.empty_like(H)


def _perspective_grid_setup(ctx, inputs, output):
    H, size, align_corners = inputs
    ctx.save_for_backward(H)
    ctx.options = (list(size), align_corners)


def _perspective_grid_grad(ctx, grad):
    (H,) = ctx.saved_tensors
    return perspective_grid_backward(grad.contiguous(), H, *ctx.options), None, None


perspective_grid.register_autograd(_perspective_grid_grad, setup_context=_perspective_grid_setup)


# ---- tps_grid -------------------------------------------------------------------------------

def _control_points(control_points: Optional[Tensor], count: int):
    """The NumPy layer's control-point argument: a K×2 array, or the default grid's K."""
    return count if control_points is None else control_points.detach().to(torch.float64).numpy()


@_define("tps_grid")
def tps_grid(displacements: Tensor, size: list[int], control_points: Optional[Tensor], align_corners: bool) -> Tensor:
    points = None if control_points is None else _control_points(control_points, -1)
    return _tensor(_npt.tps_grid(_array(displacements), tuple(size), points, align_corners), displacements.dtype)


@tps_grid.register_fake
def _(displacements, size, control_points, align_corners):
    torch._check(len(size) == 4, lambda: f"tps_grid(): size must be (N, C, H, W), got {list(size)}")
    torch._check(displacements.dim() == 3 and displacements.shape[0] == size[0] and displacements.shape[2] == 2,
                 lambda: f"tps_grid(): displacements must be N×K×2 with N = {size[0]}, got "
                         f"{tuple(displacements.shape)}")
    return displacements.new_empty((size[0], size[2], size[3], 2))


@_define("tps_grid_backward")
def tps_grid_backward(grad_grid: Tensor, size: list[int], control_points: Optional[Tensor], count: int,
                      align_corners: bool) -> Tensor:
    points = _control_points(control_points, count)
    return _tensor(_npt.tps_grid_backward(_array(grad_grid), tuple(size), points, align_corners), grad_grid.dtype)


@tps_grid_backward.register_fake
def _(grad_grid, size, control_points, count, align_corners):
    k = count if control_points is None else control_points.shape[0]
    return grad_grid.new_empty((size[0], k, 2))


def _tps_grid_setup(ctx, inputs, output):
    displacements, size, control_points, align_corners = inputs
    if control_points is not None:
        ctx.save_for_backward(control_points)
    ctx.options = (list(size), control_points is not None, displacements.shape[1], align_corners)


def _tps_grid_grad(ctx, grad):
    size, has_points, count, align_corners = ctx.options
    points = ctx.saved_tensors[0] if has_points else None
    return tps_grid_backward(grad.contiguous(), size, points, count, align_corners), None, None, None


tps_grid.register_autograd(_tps_grid_grad, setup_context=_tps_grid_setup)


# ---- fused warps ----------------------------------------------------------------------------

def _warp_ops(name: str, forward_np, backward_np, rows: int):
    """The forward op, its backward op and their registrations for one fused warp (the affine and
    the projective one differ only in their NumPy functions and the matrix's shape)."""

    @_define(name)
    def warp(input: Tensor, matrix: Tensor, out_size: list[int], mode: str, padding_mode: str, align_corners: bool,
             fill: Optional[list[float]]) -> Tensor:
        out = forward_np(_array(input), _array(matrix), tuple(out_size), mode, padding_mode, align_corners,
                         _fill(fill))
        return _tensor(out, input.dtype)

    @warp.register_fake
    def _(input, matrix, out_size, mode, padding_mode, align_corners, fill):
        _check_modes(name, mode, padding_mode, fill)
        torch._check(input.dim() == 4 and len(out_size) == 2, lambda: f"{name}(): expected 4-D input and out_size "
                     f"(Ho, Wo), got {tuple(input.shape)} and {list(out_size)}")
        torch._check(matrix.dim() == 3 and matrix.shape[0] == input.shape[0] and matrix.shape[1] == rows,
                     lambda: f"{name}(): matrix {tuple(matrix.shape)} does not fit input {tuple(input.shape)}")
        return input.new_empty((input.shape[0], input.shape[1], out_size[0], out_size[1]))

    @_define(f"{name}_backward")
    def warp_backward(grad_output: Tensor, input: Tensor, matrix: Tensor, out_size: list[int], mode: str,
                      padding_mode: str, align_corners: bool, fill: Optional[list[float]],
                      input_requires_grad: bool) -> tuple[Tensor, Tensor]:
        gi, gm = backward_np(_array(grad_output), _array(input), _array(matrix), tuple(out_size), mode, padding_mode,
                             align_corners, input_requires_grad, _fill(fill))
        return (_empty_like_none(input) if gi is None else _tensor(gi, input.dtype)), _tensor(gm, matrix.dtype)

    @warp_backward.register_fake
    def _(grad_output, input, matrix, out_size, mode, padding_mode, align_corners, fill, input_requires_grad):
        gi = torch.empty_like(input) if input_requires_grad else _empty_like_none(input)
        return gi, torch.empty_like(matrix)

    def setup(ctx, inputs, output):
        input, matrix, out_size, mode, padding_mode, align_corners, fill = inputs
        ctx.save_for_backward(input, matrix)
        ctx.options = (list(out_size), mode, padding_mode, align_corners, fill)

    def grad_fn(ctx, grad):
        input, matrix = ctx.saved_tensors
        need_input = ctx.needs_input_grad[0]
        gi, gm = warp_backward(grad.contiguous(), input, matrix, *ctx.options, need_input)
        return (gi if need_input else None), gm, None, None, None, None, None

    warp.register_autograd(grad_fn, setup_context=setup)
    return warp, warp_backward


warp_affine, warp_affine_backward = _warp_ops("warp_affine", _npf.warp_affine, _npf.warp_affine_backward, 2)
warp_perspective, warp_perspective_backward = _warp_ops("warp_perspective", _npt.warp_perspective,
                                                        _npt.warp_perspective_backward, 3)


def _no_double_backward(name: str):
    def refuse(ctx, *grads):
        raise RuntimeError(f"swiftstn.torch: double backward is not supported: the gradient of {name}'s gradient "
                           f"(swiftstn::{name}_backward) was requested, e.g. by create_graph=True followed by "
                           f"another backward; compute higher derivatives with PyTorch's own operator")
    return refuse


# Backward ops are differentiable in name only: a second derivative raises a clear error.
for _name, _op in (("grid_sample", grid_sample_backward), ("affine_grid", affine_grid_backward),
                   ("perspective_grid", perspective_grid_backward), ("tps_grid", tps_grid_backward),
                   ("warp_affine", warp_affine_backward), ("warp_perspective", warp_perspective_backward)):
    _op.register_autograd(_no_double_backward(_name))

#: the forward ops by name (the tests run opcheck on each)
FORWARD_OPS = {"grid_sample": grid_sample.op, "affine_grid": affine_grid.op, "perspective_grid": perspective_grid.op,
               "tps_grid": tps_grid.op, "warp_affine": warp_affine.op, "warp_perspective": warp_perspective.op}
