"""Fuzzes the four operators through the CPython extension (the C ABI underneath): dtypes, ranks,
shapes (zero and huge-looking broadcast dimensions included), memory layouts, raw mode / padding
codes, align_corners and arbitrary float values (NaN, ±Inf, subnormals, huge).

Contract: every call returns an array of the documented shape and dtype, or raises TypeError,
ValueError, OverflowError or MemoryError with a message; the process never crashes.
"""

import numpy as np

from _common import call, check, instrumented_import, main

with instrumented_import():
    import swiftstn
    from swiftstn import _native

DTYPES = [np.float32, np.float64, np.float16, np.int32, np.complex64]


def array(fdp, ndim_max=6):
    ndim = fdp.ConsumeIntInRange(0, ndim_max)
    shape = []
    for _ in range(ndim):
        kind = fdp.ConsumeIntInRange(0, 15)
        shape.append(2**fdp.ConsumeIntInRange(45, 60) if kind == 15 else fdp.ConsumeIntInRange(0, 5))
    dtype = DTYPES[fdp.ConsumeIntInRange(0, 4)] if fdp.ConsumeIntInRange(0, 7) == 0 else \
        (np.float32 if fdp.ConsumeBool() else np.float64)
    try:
        size = int(np.prod(shape, dtype=object))
    except OverflowError:
        size = 1 << 70
    if size > 4096:  # huge (≥ 2^45 elements): only as a zero-stride broadcast view, which swiftstn
        # must refuse (its C-contiguous copy cannot be allocated on any machine)
        try:
            with np.errstate(all="ignore"):
                value = np.asarray(fdp.ConsumeRegularFloat()).astype(dtype)
            return np.broadcast_to(value, shape)
        except ValueError:  # numpy refuses element counts beyond its limits
            return np.zeros((1,), dtype)
    vals = fdp.ConsumeFloatList(size) if size else []
    vals = (vals + [0.0] * size)[:size]
    try:
        with np.errstate(all="ignore"):
            a = np.array(vals, dtype=np.float64).astype(dtype).reshape(shape)
    except ValueError:  # an empty shape with huge dimensions: numpy refuses it
        return np.zeros((0,), dtype)
    layout = fdp.ConsumeIntInRange(0, 4)
    if a.size == 0:  # (possibly with huge dimensions: numpy refuses bigger buffers of that shape)
        return a
    if layout == 1 and a.ndim:
        a = np.asfortranarray(a)
    elif layout == 2 and a.ndim:
        big = np.zeros(tuple(2 * d for d in a.shape), dtype)
        big[tuple(slice(0, 2 * d, 2) for d in a.shape)] = a
        a = big[tuple(slice(0, 2 * d, 2) for d in a.shape)]
    elif layout == 3 and a.dtype.kind == "f":
        a = a.astype(a.dtype.newbyteorder("S"))
    return a


def size_entry(fdp):
    """Small sizes, or sizes so large that no output of them can be allocated (≥ 2^45 elements:
    beyond the address space), so a run never allocates gigabytes that do fit."""
    kind = fdp.ConsumeIntInRange(0, 15)
    if kind < 13:
        return fdp.ConsumeIntInRange(-2, 6)
    if kind == 13:
        return -fdp.ConsumeInt(9) if fdp.ConsumeBool() else -(2**63)
    return 2**fdp.ConsumeIntInRange(45, 70) + fdp.ConsumeIntInRange(-1, 1)


def size_tuple(fdp):
    return [size_entry(fdp) for _ in range(fdp.ConsumeIntInRange(0, 6))]


def matching_grad_output(x, grid):
    """A grad_output of the forward output's shape (a zero-stride view when that is huge)."""
    shape = (x.shape[:2] + grid.shape[1:-1]) if x.ndim >= 2 and grid.ndim >= 2 else (1,)
    try:
        if int(np.prod(shape, dtype=object)) <= 4096:
            return np.ones(shape, x.dtype)
        return np.broadcast_to(np.ones((), x.dtype), shape)
    except ValueError:
        return np.ones((1,), x.dtype)


def TestOneInput(data):
    import atheris
    fdp = atheris.FuzzedDataProvider(data)
    op = fdp.ConsumeIntInRange(0, 4)
    align = fdp.ConsumeBool()
    if op == 0:
        theta, size = array(fdp), size_tuple(fdp)
        out = call(_native.affine_grid, theta, size, align)
        if out is not None:
            check(out.shape == (size[0], *size[2:], len(size) - 2), f"affine_grid shape {out.shape} for {size}")
    elif op == 1:
        gg, size = array(fdp), size_tuple(fdp)
        out = call(_native.affine_grid_backward, gg, size, align)
        if out is not None:
            check(out.shape == (size[0], len(size) - 2, len(size) - 1), f"affine_grid_backward shape {out.shape}")
    elif op in (2, 3):
        mode = fdp.ConsumeIntInRange(-1, 3) if fdp.ConsumeIntInRange(0, 7) else fdp.ConsumeInt(4)
        padding = fdp.ConsumeIntInRange(-1, 3) if fdp.ConsumeIntInRange(0, 7) else fdp.ConsumeInt(4)
        x, grid = array(fdp), array(fdp)
        if op == 2:
            out = call(_native.grid_sample, x, grid, mode, padding, align)
            if out is not None:
                check(out.shape == (x.shape[0], x.shape[1], *grid.shape[1:-1]), f"grid_sample shape {out.shape}")
                check(mode in (0, 1, 2) and padding in (0, 1, 2), f"accepted mode {mode} padding {padding}")
        else:
            go = array(fdp) if fdp.ConsumeBool() else matching_grad_output(x, grid)
            requires = fdp.ConsumeBool()
            out = call(_native.grid_sample_backward, go, x, grid, mode, padding, align, requires)
            if out is not None:
                gi, gg = out
                check(gg.shape == grid.shape and (gi is None) != requires, "grid_sample_backward shapes")
                check(gi is None or gi.shape == x.shape, "grad_input shape")
    else:
        n = fdp.ConsumeIntInRange(-2, 8) if fdp.ConsumeBool() else fdp.ConsumeInt(8)
        try:
            swiftstn.set_num_threads(n)
            check(1 <= n < 2**31, f"set_num_threads accepted {n}")
        except (ValueError, OverflowError):
            pass
        finally:
            swiftstn.set_num_threads(2)


if __name__ == "__main__":
    main(TestOneInput, seeds=[bytes(range(64)), b"\x00" * 64, b"\xff" * 64])
