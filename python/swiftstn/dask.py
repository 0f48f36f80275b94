"""The warps and model inference on Dask arrays (needs ``dask[array]``; ``import swiftstn`` does not
import this module or Dask).

Every function takes a 4-D ``dask.array.Array`` ``x`` (N×C×H×W; :func:`grid_sample` also takes
5-D N×C×D×H×W) **chunked along N only** — each block holds whole images — and returns a lazy
Dask array with the same chunks along N, the right dtype and a NumPy ``meta``; nothing is
computed until ``.compute()``/``.persist()``/``.store()``. Each block runs the in-memory function
of the same name (:func:`swiftstn.warp_affine`, :func:`swiftstn.warp_perspective`,
:func:`swiftstn.grid_sample`, ``model.predict``) on that block, so the result is bit for bit the
in-memory call's on the whole array.

- ``x`` chunked along C, H or W (or D) is a ``ValueError`` telling how to rechunk it
  (``x.rechunk({1: -1, 2: -1, 3: -1})``): rechunking moves data, so it is left for the caller
  to do, or to avoid by chunking the source along N only.
- ``x`` with unknown chunk sizes (after boolean indexing, say) is a ``ValueError`` (call
  ``x.compute_chunk_sizes()`` first).
- The per-image parameters (``theta``, ``H``, ``grid``) may be NumPy arrays (anything
  array-like) or Dask arrays; they are rechunked to ``x``'s chunks along N (and one chunk along
  their other axes).
- Arguments are checked when the graph is built, not when it runs: each function first makes
  the in-memory call on zero images (which checks dtypes, shapes, ``mode``, ``padding_mode``,
  ``fill`` and ``align_corners`` and gives the result's ``meta``).

Threads: the engine uses up to :func:`swiftstn.get_num_threads` threads per call (default: all
online CPUs) *inside* each task, and a Dask worker runs ``threads_per_worker`` tasks at once, so
workers × threads per worker × engine threads should not exceed the cores; with one Dask thread
per core, set the engine to one thread on every worker: ``client.run(swiftstn.set_num_threads, 1)``.
Results do not depend on the engine's thread count. See ``docs/dask.md``.
"""
from __future__ import annotations

import math
from typing import Any, Protocol

import dask.array as da
import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import functional, transforms
from .functional import Fill, FloatArray, Size

__all__ = ["warp_affine", "warp_perspective", "grid_sample", "predict"]


class Predictor(Protocol):
    """What :func:`predict` needs of a model: ``predict(x, batch_size)`` (every swiftstn model)."""

    def predict(self, x: ArrayLike, batch_size: int | None = None) -> NDArray[np.float32]: ...


def _check_x(x: Any, op: str, ndims: tuple[int, ...] = (4,)) -> da.Array:
    """``x`` as checked by every function: a Dask array of an accepted rank, with known chunk
    sizes, chunked along N only."""
    if not isinstance(x, da.Array):
        raise TypeError(f"swiftstn.dask.{op}(): x must be a dask.array.Array, got {type(x).__name__} "
                        f"(wrap a NumPy array with dask.array.from_array(x, chunks=(n, -1, -1, -1)), "
                        f"or call swiftstn.{op} on it directly)")
    if x.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"swiftstn.dask.{op}(): expected {want} x (N, C, ...), got shape {x.shape}")
    if any(math.isnan(c) for dim in x.chunks for c in dim):
        raise ValueError(f"swiftstn.dask.{op}(): x has unknown chunk sizes {x.chunks}; call "
                         f"x = x.compute_chunk_sizes() first")
    split = [i for i in range(1, x.ndim) if len(x.chunks[i]) > 1]
    if split:
        names = ", ".join("NCDHW"[i] if x.ndim == 5 else "NCHW"[i] for i in split)
        rechunk = "{" + ", ".join(f"{i}: -1" for i in range(1, x.ndim)) + "}"
        raise ValueError(f"swiftstn.dask.{op}(): x must be chunked along N only (each block whole images), but it "
                         f"is chunked along {names}: chunks {x.chunks}. Rechunk it first, e.g. "
                         f"x = x.rechunk({rechunk}), or chunk the source along N only")
    return x


def _along(p: Any, x: da.Array, name: str, op: str) -> da.Array:
    """The per-image parameter ``p`` as a Dask array chunked like ``x`` along N and in one chunk
    along its other axes."""
    a = p if isinstance(p, da.Array) else np.asarray(p)
    if a.ndim < 1 or a.shape[0] != x.shape[0]:
        raise ValueError(f"swiftstn.dask.{op}(): {name} must have one entry per image ({x.shape[0]} along its "
                         f"first axis), got shape {a.shape}")
    want = (x.chunks[0],) + tuple((s,) for s in a.shape[1:])
    if not isinstance(a, da.Array):
        return da.from_array(a, chunks=want)
    return a if a.chunks == want else a.rechunk(want)


def _empty(a: da.Array) -> NDArray[Any]:
    """A zero-length NumPy array with ``a``'s trailing shape and dtype."""
    return np.zeros((0,) + a.shape[1:], dtype=a.dtype)


def _per_image(func: Any, op: str, x: da.Array, p: da.Array, kwargs: dict[str, Any]) -> da.Array:
    """``func(x_block, p_block, **kwargs)`` on matching blocks along N, as one blockwise layer."""
    meta = func(_empty(x), _empty(p), **kwargs)  # checks every argument; the result's meta
    # Index labels: N and C shared; x's spatial axes and the parameter's trailing axes are
    # contracted (one chunk each: concatenate=True passes the single block); the output's spatial
    # axes are new.
    out_ind: list[str] = ["n", "c"] + [f"o{i}" for i in range(meta.ndim - 2)]
    x_ind = ["n", "c"] + [f"i{i}" for i in range(x.ndim - 2)]
    p_ind = ["n"] + [f"p{i}" for i in range(p.ndim - 1)]
    return da.blockwise(
        func, tuple(out_ind), x, tuple(x_ind), p, tuple(p_ind),
        new_axes={f"o{i}": meta.shape[2 + i] for i in range(meta.ndim - 2)},
        concatenate=True, dtype=meta.dtype, meta=meta, token=f"swiftstn-{op.replace('_', '-')}", **kwargs)


def warp_affine(x: da.Array, theta: ArrayLike | da.Array, out_size: Size, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool = False, fill: Fill = None) -> da.Array:
    """:func:`swiftstn.warp_affine` on a Dask array ``x`` (N×C×H×W, chunked along N only) with
    ``theta`` (N×2×3; NumPy or Dask, rechunked to ``x``'s chunks along N): a lazy N×C×Ho×Wo Dask
    array chunked like ``x`` along N, bit for bit the in-memory result."""
    x = _check_x(x, "warp_affine")
    t = _along(theta, x, "theta", "warp_affine")
    return _per_image(functional.warp_affine, "warp_affine", x, t,
                      dict(out_size=tuple(out_size), mode=mode, padding_mode=padding_mode,
                           align_corners=align_corners, fill=fill))


def warp_perspective(x: da.Array, H: ArrayLike | da.Array, out_size: Size, mode: str = "bilinear",
                     padding_mode: str = "zeros", align_corners: bool = False, fill: Fill = None) -> da.Array:
    """:func:`swiftstn.warp_perspective` on a Dask array ``x`` (N×C×H×W, chunked along N only)
    with homographies ``H`` (N×3×3; NumPy or Dask, rechunked to ``x``'s chunks along N): a lazy
    N×C×Ho×Wo Dask array chunked like ``x`` along N, bit for bit the in-memory result."""
    x = _check_x(x, "warp_perspective")
    h = _along(H, x, "H", "warp_perspective")
    return _per_image(transforms.warp_perspective, "warp_perspective", x, h,
                      dict(out_size=tuple(out_size), mode=mode, padding_mode=padding_mode,
                           align_corners=align_corners, fill=fill))


def grid_sample(x: da.Array, grid: ArrayLike | da.Array, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool = False, fill: Fill = None) -> da.Array:
    """:func:`swiftstn.grid_sample` on a Dask array ``x`` (N×C×H×W or N×C×D×H×W, chunked along N
    only) at ``grid`` (N×Ho×Wo×2 or N×Do×Ho×Wo×3; NumPy or Dask, rechunked to ``x``'s chunks
    along N and one chunk along its other axes): a lazy N×C×Ho×Wo (N×C×Do×Ho×Wo) Dask array
    chunked like ``x`` along N, bit for bit the in-memory result."""
    x = _check_x(x, "grid_sample", (4, 5))
    g = _along(grid, x, "grid", "grid_sample")
    return _per_image(functional.grid_sample, "grid_sample", x, g,
                      dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners, fill=fill))


def _predict_block(xb: NDArray[Any], model: Predictor, batch_size: int | None) -> FloatArray:
    return model.predict(xb, batch_size=batch_size)


def predict(model: Predictor, x: da.Array, batch_size: int | None = None) -> da.Array:
    """``model.predict`` on a Dask array ``x`` (N×C×H×W, chunked along N only): a lazy
    N×classes Dask array (log-probabilities) chunked like ``x`` along N, bit for bit
    ``model.predict(x.compute())``.

    The model travels to the workers by pickle (a swiftstn model pickles with its parameters and
    is rebuilt identically; see :meth:`swiftstn.nn.Module.__getstate__`), and each block calls
    ``model.predict(block, batch_size=batch_size)``, ``batch_size`` bounding the engine's working
    memory within a block. The model is run once here on zero images, which checks ``x``'s dtype
    and shape against it, gives the number of classes, and compiles a model not yet compiled —
    so that every worker gets the same parameters rather than its own random ones.
    """
    x = _check_x(x, "predict")
    meta = model.predict(_empty(x), batch_size=batch_size)
    return da.blockwise(
        _predict_block, ("n", "k"), x, ("n", "c", "h", "w"), new_axes={"k": meta.shape[1]},
        concatenate=True, dtype=meta.dtype, meta=meta, token="swiftstn-predict", model=model, batch_size=batch_size)
