"""Type stub of ``swiftstn._native``, the CPython extension over libswiftstn's C ABI.

Every function the C code defines (the ``PyMethodDef`` tables of ``_native.c``,
``_native_network.c`` and ``_native_generators.c``), with its ``PyArg_ParseTuple`` format:
arguments are positional-only; ``p`` arguments take any object's truth value (typed ``bool``).

Sampling arrays: any array-like of dtype float32 or float64 (one dtype per call; another dtype is
a ``TypeError``); results are new C-contiguous arrays of the call's dtype. The samplers' forward
functions (``grid_sample``, ``warp_affine``, ``warp_perspective``) also take a 4-D uint8 or float16
image (with a float32 grid or matrices), and two last optional arguments: ``layout`` (0
channels-first, 1 channels-last) and ``float32_output`` (a float32 result for a uint8/float16
image). Sizes are sequences of
ints (anything with ``__index__``). Mode and padding codes are ``functional._MODES`` /
``_PADDINGS``'s values. The forward operators and the grid generators' backward functions take a
last optional ``out``: None, or an ndarray of exactly the result's shape and the call's dtype
(native order, C-contiguous, aligned, writeable, not sharing memory with the arguments), written
into and returned itself. The public wrappers (``swiftstn.functional``, ``swiftstn.transforms``,
``swiftstn.nn``) are the documented API; this module is private.
"""

from collections.abc import Callable, Sequence
from typing import Any, Literal, SupportsIndex, TypeVar, overload, type_check_only

import numpy as np
from numpy.typing import ArrayLike, NDArray

_F = TypeVar("_F", np.float32, np.float64)
_Size = Sequence[SupportsIndex]
_AnyFloat = NDArray[np.floating[Any]]
_Fill = ArrayLike | None
_Out = NDArray[Any] | None
_Image = NDArray[Any]  # a sampler's result: the image's dtype (uint8, float16, float32, float64) or float32

@type_check_only
class Network:
    """A compiled network: a ``PyCapsule`` named ``swiftstn.Network`` at runtime (opaque)."""

@type_check_only
class Trainer:
    """A network's trainer (optimiser state, step counter): a ``PyCapsule`` named
    ``swiftstn.Trainer`` at runtime (opaque)."""

# ---- _native.c: affine_grid, grid_sample, threads, version ------------------------------------

@overload
def affine_grid(
    theta: NDArray[_F], size: _Size, align_corners: bool, out: NDArray[_F] | None = None, /
) -> NDArray[_F]: ...
@overload
def affine_grid(theta: ArrayLike, size: _Size, align_corners: bool, out: _Out = None, /) -> _AnyFloat: ...
@overload
def affine_grid_backward(
    grad_grid: NDArray[_F], size: _Size, align_corners: bool, out: NDArray[_F] | None = None, /
) -> NDArray[_F]: ...
@overload
def affine_grid_backward(grad_grid: ArrayLike, size: _Size, align_corners: bool, out: _Out = None, /) -> _AnyFloat: ...
@overload
def grid_sample(
    input: NDArray[_F], grid: NDArray[_F], mode: int, padding: int, align_corners: bool, fill: _Fill = None,
    out: NDArray[_F] | None = None, /,
) -> NDArray[_F]: ...
@overload
def grid_sample(
    input: ArrayLike, grid: ArrayLike, mode: int, padding: int, align_corners: bool, fill: _Fill = None,
    out: _Out = None, layout: int = 0, float32_output: bool = False, /,
) -> _Image: ...
@overload
def grid_sample_backward(
    grad_output: NDArray[_F],
    input: NDArray[_F],
    grid: NDArray[_F],
    mode: int,
    padding: int,
    align_corners: bool,
    input_requires_grad: bool,
    fill: _Fill = None,
    /,
) -> tuple[NDArray[_F] | None, NDArray[_F]]: ...
@overload
def grid_sample_backward(
    grad_output: ArrayLike,
    input: ArrayLike,
    grid: ArrayLike,
    mode: int,
    padding: int,
    align_corners: bool,
    input_requires_grad: bool,
    fill: _Fill = None,
    /,
) -> tuple[_AnyFloat | None, _AnyFloat]: ...
def set_num_threads(n: int, /) -> None:
    """Sets the number of threads the engine uses (1 ≤ n < 2**31)."""

def get_num_threads() -> int:
    """The number of threads the engine uses."""

def version() -> str:
    """The Swift library's version (``Sources/SwiftSTNC/Entry.swift``)."""

# ---- _native_generators.c: perspective_grid, tps_grid -----------------------------------------

@overload
def perspective_grid(
    H: NDArray[_F], size: _Size, align_corners: bool, out: NDArray[_F] | None = None, /
) -> NDArray[_F]: ...
@overload
def perspective_grid(H: ArrayLike, size: _Size, align_corners: bool, out: _Out = None, /) -> _AnyFloat: ...
@overload
def perspective_grid_backward(
    grad_grid: NDArray[_F], H: NDArray[_F], size: _Size, align_corners: bool, out: NDArray[_F] | None = None, /
) -> NDArray[_F]: ...
@overload
def perspective_grid_backward(
    grad_grid: ArrayLike, H: ArrayLike, size: _Size, align_corners: bool, out: _Out = None, /
) -> _AnyFloat: ...

# control_points: a (K, 2) integer or floating array (used as float64), or None with
# default_count the K of the default grid (or -1: K from the displacements; refused by the backward).
@overload
def tps_grid(
    displacements: NDArray[_F], size: _Size, control_points: ArrayLike | None, default_count: int,
    align_corners: bool, out: NDArray[_F] | None = None, /,
) -> NDArray[_F]: ...
@overload
def tps_grid(
    displacements: ArrayLike, size: _Size, control_points: ArrayLike | None, default_count: int,
    align_corners: bool, out: _Out = None, /,
) -> _AnyFloat: ...
@overload
def tps_grid_backward(
    grad_grid: NDArray[_F], size: _Size, control_points: ArrayLike | None, default_count: int,
    align_corners: bool, out: NDArray[_F] | None = None, /,
) -> NDArray[_F]: ...
@overload
def tps_grid_backward(
    grad_grid: ArrayLike, size: _Size, control_points: ArrayLike | None, default_count: int,
    align_corners: bool, out: _Out = None, /,
) -> _AnyFloat: ...

# ---- _native_generators.c: fused warps --------------------------------------------------------

@overload
def warp_affine(
    input: NDArray[_F], theta: NDArray[_F], out_size: _Size, mode: int, padding: int, align_corners: bool,
    fill: _Fill = None, out: NDArray[_F] | None = None, /,
) -> NDArray[_F]: ...
@overload
def warp_affine(
    input: ArrayLike, theta: ArrayLike, out_size: _Size, mode: int, padding: int, align_corners: bool,
    fill: _Fill = None, out: _Out = None, layout: int = 0, float32_output: bool = False, /,
) -> _Image: ...
@overload
def warp_affine_backward(
    grad_output: NDArray[_F], input: NDArray[_F], theta: NDArray[_F], out_size: _Size, mode: int, padding: int,
    align_corners: bool, input_requires_grad: bool, fill: _Fill = None, /,
) -> tuple[NDArray[_F] | None, NDArray[_F]]: ...
@overload
def warp_affine_backward(
    grad_output: ArrayLike, input: ArrayLike, theta: ArrayLike, out_size: _Size, mode: int, padding: int,
    align_corners: bool, input_requires_grad: bool, fill: _Fill = None, /,
) -> tuple[_AnyFloat | None, _AnyFloat]: ...
@overload
def warp_perspective(
    input: NDArray[_F], H: NDArray[_F], out_size: _Size, mode: int, padding: int, align_corners: bool,
    fill: _Fill = None, out: NDArray[_F] | None = None, /,
) -> NDArray[_F]: ...
@overload
def warp_perspective(
    input: ArrayLike, H: ArrayLike, out_size: _Size, mode: int, padding: int, align_corners: bool,
    fill: _Fill = None, out: _Out = None, layout: int = 0, float32_output: bool = False, /,
) -> _Image: ...
@overload
def warp_perspective_backward(
    grad_output: NDArray[_F], input: NDArray[_F], H: NDArray[_F], out_size: _Size, mode: int, padding: int,
    align_corners: bool, input_requires_grad: bool, fill: _Fill = None, /,
) -> tuple[NDArray[_F] | None, NDArray[_F]]: ...
@overload
def warp_perspective_backward(
    grad_output: ArrayLike, input: ArrayLike, H: ArrayLike, out_size: _Size, mode: int, padding: int,
    align_corners: bool, input_requires_grad: bool, fill: _Fill = None, /,
) -> tuple[_AnyFloat | None, _AnyFloat]: ...

# ---- _native_network.c: networks and trainers -------------------------------------------------
# x: a float32 or float64 batch (N, ...) with 2 to 8 dimensions, computed in float32;
# y: integer class labels of shape (N,), used as int64. Seeds are unsigned 64-bit.

def network_create(spec: str, seed: int, /) -> Network: ...
def network_set_max_parameters(n: int, /) -> None: ...
def network_get_max_parameters() -> int: ...
def network_parameter_shapes(net: Network, /) -> list[tuple[int, ...]]: ...
def network_get_parameters(net: Network, /) -> NDArray[np.float32]: ...
def network_set_parameters(net: Network, flat: ArrayLike, /) -> None: ...
def network_output_shape(net: Network, sample_shape: _Size, /) -> tuple[int, ...]: ...
def network_forward(net: Network, x: ArrayLike, training: bool, seed: int, /) -> NDArray[np.float32]: ...
def network_transform(net: Network, x: ArrayLike, /) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(the input after the first spatial transformer, its N×2×3 theta)."""

@overload
def network_loss_and_grad(
    net: Network, x: ArrayLike, y: ArrayLike, training: bool, seed: int, want_grad: Literal[True], /
) -> tuple[float, int, NDArray[np.float32]]:
    """(mean loss, correct predictions, flat gradient in engine order)."""

@overload
def network_loss_and_grad(
    net: Network, x: ArrayLike, y: ArrayLike, training: bool, seed: int, want_grad: bool, /
) -> tuple[float, int, NDArray[np.float32] | None]:
    """(mean loss, correct predictions, flat gradient in engine order or None without want_grad)."""

def network_evaluate(net: Network, x: ArrayLike, y: ArrayLike, batch: int, /) -> tuple[float, float]:
    """(mean loss, accuracy)."""

def trainer_create(
    net: Network,
    kind: int,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: int,
    beta1: float,
    beta2: float,
    eps: float,
    seed: int,
    /,
) -> Trainer:
    """kind: 0 SGD, 1 Adam (``_model._OPTIMIZERS``)."""

def trainer_epoch(
    trainer: Trainer,
    x: ArrayLike,
    y: ArrayLike,
    batch_size: int,
    shuffle: bool,
    training: bool,
    epoch: int,
    report_every: int,
    callback: Callable[[int, int, int, int, float, int], object] | None,
    /,
) -> tuple[float, float, bool]:
    """(mean loss, accuracy, completed). ``callback(epoch, batch, batches, samples, mean_loss,
    correct)`` runs every ``report_every`` batches; returning ``False`` stops after the batch."""

def trainer_step(trainer: Trainer, value: int | None = None, /) -> int:
    """The optimisation steps taken (which key the dropout masks); sets them first when ``value``
    is given."""

def trainer_get_state(trainer: Trainer, /) -> tuple[NDArray[np.float32], NDArray[np.float32], int]:
    """(state1, state2, optimizer_steps): the optimiser's buffers and its step count."""

def trainer_set_state(trainer: Trainer, state1: ArrayLike, state2: ArrayLike, optimizer_steps: int, /) -> None: ...
