"""``out=`` on the forward operators and the grid generators' backward functions: the result is
written into a preallocated array (an ``np.memmap`` too), bit for bit the result without ``out``,
and ``out`` itself is returned; an ``out`` that cannot take the result as it is (shape, dtype,
byte order, layout, read-only, overlap with an argument) is refused before anything is computed,
and left untouched."""
import re

import numpy as np
import pytest

import swiftstn

DTYPES = [np.float32, np.float64]
SENTINEL = 7.25


def _case_affine_grid(dtype, rng):
    theta = (np.eye(2, 3) + 0.2 * rng.standard_normal((2, 2, 3))).astype(dtype)
    return swiftstn.affine_grid, {"theta": theta}, {"size": (2, 3, 5, 6), "align_corners": False}


def _case_grid_sample(dtype, rng):
    x = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    grid = rng.uniform(-1.2, 1.2, (2, 4, 5, 2)).astype(dtype)
    return swiftstn.grid_sample, {"input": x, "grid": grid}, {"mode": "bilinear", "padding_mode": "zeros"}


def _case_grid_sample_fill(dtype, rng):
    x = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    grid = rng.uniform(-1.5, 1.5, (2, 4, 5, 2)).astype(dtype)
    fill = np.array([0.5, -1.0, 2.0], dtype)
    return (swiftstn.grid_sample, {"input": x, "grid": grid, "fill": fill},
            {"mode": "bicubic", "padding_mode": "fill", "align_corners": True})


def _case_grid_sample_3d(dtype, rng):
    x = rng.standard_normal((1, 2, 4, 5, 6)).astype(dtype)
    grid = rng.uniform(-1.1, 1.1, (1, 3, 4, 2, 3)).astype(dtype)
    return swiftstn.grid_sample, {"input": x, "grid": grid}, {"mode": "nearest", "padding_mode": "reflection"}


def _case_warp_affine(dtype, rng):
    x = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    theta = (np.eye(2, 3) + 0.2 * rng.standard_normal((2, 2, 3))).astype(dtype)
    return swiftstn.warp_affine, {"input": x, "theta": theta}, {"out_size": (4, 5), "padding_mode": "border"}


def _case_warp_affine_fill(dtype, rng):
    x = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    theta = (np.eye(2, 3) + 0.4 * rng.standard_normal((2, 2, 3))).astype(dtype)
    fill = np.array([1.0, 2.0, 3.0], dtype)
    return (swiftstn.warp_affine, {"input": x, "theta": theta, "fill": fill},
            {"out_size": (5, 4), "padding_mode": "fill"})


def _homographies(dtype, rng, n=2):
    h = np.tile(np.eye(3), (n, 1, 1)) + 0.05 * rng.standard_normal((n, 3, 3))
    h[:, 2, 2] = 1.0
    return h.astype(dtype)


def _case_warp_perspective(dtype, rng):
    x = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    return (swiftstn.warp_perspective, {"input": x, "H": _homographies(dtype, rng)},
            {"out_size": (4, 5), "mode": "bicubic", "align_corners": True})


def _case_perspective_grid(dtype, rng):
    return swiftstn.perspective_grid, {"H": _homographies(dtype, rng)}, {"size": (2, 3, 5, 6)}


def _case_tps_grid(dtype, rng):
    d = (0.1 * rng.standard_normal((2, 4, 2))).astype(dtype)
    return swiftstn.tps_grid, {"displacements": d}, {"size": (2, 1, 5, 6)}


def _case_tps_grid_points(dtype, rng):
    d = (0.1 * rng.standard_normal((2, 5, 2))).astype(dtype)
    points = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1], [0.2, 0.1]], np.float64)
    return (swiftstn.tps_grid, {"displacements": d, "control_points": points},
            {"size": (2, 1, 5, 6), "align_corners": True})


def _case_affine_grid_backward(dtype, rng):
    gg = rng.standard_normal((2, 5, 6, 2)).astype(dtype)
    return swiftstn.affine_grid_backward, {"grad_grid": gg}, {"size": (2, 3, 5, 6), "align_corners": True}


def _case_perspective_grid_backward(dtype, rng):
    gg = rng.standard_normal((2, 5, 6, 2)).astype(dtype)
    return (swiftstn.perspective_grid_backward, {"grad_grid": gg, "H": _homographies(dtype, rng)},
            {"size": (2, 3, 5, 6)})


def _case_tps_grid_backward(dtype, rng):
    gg = rng.standard_normal((2, 5, 6, 2)).astype(dtype)
    return swiftstn.tps_grid_backward, {"grad_grid": gg}, {"size": (2, 1, 5, 6), "control_points": 9}


def _case_tps_grid_backward_points(dtype, rng):
    gg = rng.standard_normal((2, 5, 6, 2)).astype(dtype)
    points = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1], [0.2, 0.1]], np.float64)
    return (swiftstn.tps_grid_backward, {"grad_grid": gg, "control_points": points},
            {"size": (2, 1, 5, 6), "align_corners": True})


CASES = {
    "affine_grid": _case_affine_grid,
    "grid_sample": _case_grid_sample,
    "grid_sample_fill": _case_grid_sample_fill,
    "grid_sample_3d": _case_grid_sample_3d,
    "warp_affine": _case_warp_affine,
    "warp_affine_fill": _case_warp_affine_fill,
    "warp_perspective": _case_warp_perspective,
    "perspective_grid": _case_perspective_grid,
    "tps_grid": _case_tps_grid,
    "tps_grid_points": _case_tps_grid_points,
    "affine_grid_backward": _case_affine_grid_backward,
    "perspective_grid_backward": _case_perspective_grid_backward,
    "tps_grid_backward": _case_tps_grid_backward,
    "tps_grid_backward_points": _case_tps_grid_backward_points,
}


def _case(name, dtype):
    fn, arrays, options = CASES[name](np.dtype(dtype).type, np.random.default_rng(len(name)))
    return fn, arrays, options


def _call(fn, arrays, options, **extra):
    return fn(**arrays, **options, **extra)


def _op(fn):
    return fn.__name__


def _expected(name, dtype):
    fn, arrays, options = _case(name, dtype)
    return fn, arrays, options, _call(fn, arrays, options)


def _sentinel(shape, dtype):
    return np.full(shape, SENTINEL, dtype)


def _untouched(out):
    assert np.all(np.asarray(out) == SENTINEL), "out was written to although the call was refused"


def _shape_text(shape):
    return re.escape(str(tuple(shape)))


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


# ---- the result --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_out_is_returned_and_bitwise_equal(name, dtype):
    fn, arrays, options, expected = _expected(name, dtype)
    assert expected.dtype == dtype
    out = np.full(expected.shape, np.nan, dtype)
    result = _call(fn, arrays, options, out=out)
    assert result is out
    np.testing.assert_array_equal(_bits(out), _bits(expected))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_out_none_is_a_new_array(name, dtype):
    fn, arrays, options, expected = _expected(name, dtype)
    result = _call(fn, arrays, options, out=None)
    np.testing.assert_array_equal(_bits(result), _bits(expected))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["affine_grid", "grid_sample", "grid_sample_fill", "warp_affine",
                                  "warp_perspective", "perspective_grid", "tps_grid"])
def test_out_memmap(name, dtype, tmp_path):
    fn, arrays, options, expected = _expected(name, dtype)
    path = tmp_path / f"{name}.dat"
    mm = np.memmap(path, dtype=dtype, mode="w+", shape=expected.shape)
    result = _call(fn, arrays, options, out=mm)
    assert result is mm
    mm.flush()
    del mm, result
    back = np.memmap(path, dtype=dtype, mode="r", shape=expected.shape)
    np.testing.assert_array_equal(_bits(np.asarray(back)), _bits(expected))
    raw = np.fromfile(path, dtype=dtype).reshape(expected.shape)
    np.testing.assert_array_equal(_bits(raw), _bits(expected))


def test_out_reused_across_calls():
    fn, arrays, options, expected = _expected("warp_affine", np.float32)
    out = np.empty_like(expected)
    for _ in range(3):
        assert _call(fn, arrays, options, out=out) is out
        np.testing.assert_array_equal(_bits(out), _bits(expected))


def test_out_positional_native_argument():
    """The native functions take out as their last positional argument."""
    x = np.ones((1, 1, 3, 3), np.float32)
    grid = np.zeros((1, 2, 2, 2), np.float32)
    out = np.empty((1, 1, 2, 2), np.float32)
    assert swiftstn._native.grid_sample(x, grid, 0, 0, False, None, out) is out
    np.testing.assert_array_equal(out, 1.0)


def test_out_with_empty_result():
    x = np.ones((0, 2, 3, 3), np.float64)
    grid = np.zeros((0, 2, 2, 2), np.float64)
    out = np.empty((0, 2, 2, 2), np.float64)
    assert swiftstn.grid_sample(x, grid, out=out) is out


def test_out_with_strided_inputs():
    """Inputs that need a conversion still write into out (the converted copies are read)."""
    fn, arrays, options, expected = _expected("grid_sample", np.float64)
    x = np.asfortranarray(arrays["input"])
    grid = np.repeat(arrays["grid"], 2, axis=-1)[..., ::2]
    out = np.empty_like(expected)
    assert swiftstn.grid_sample(x, grid, **options, out=out) is out
    np.testing.assert_array_equal(out, expected)


# ---- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_wrong_shape_refused(name, dtype):
    fn, arrays, options, expected = _expected(name, dtype)
    for shape in [expected.shape[:-1] + (expected.shape[-1] + 1,), expected.shape[::-1], expected.shape[1:],
                  (1,) + expected.shape]:
        if shape == expected.shape:
            continue
        out = _sentinel(shape, dtype)
        pattern = rf"{_op(fn)}\(\): out .*{_shape_text(expected.shape)}.*{_shape_text(shape)}"
        with pytest.raises(ValueError, match=pattern):
            _call(fn, arrays, options, out=out)
        _untouched(out)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_wrong_dtype_refused(name, dtype):
    fn, arrays, options, expected = _expected(name, dtype)
    want = np.dtype(dtype).name
    other = np.float64 if dtype == np.float32 else np.float32
    for bad in [other, np.int32, np.complex128, np.dtype(dtype).newbyteorder()]:
        out = np.full(expected.shape, SENTINEL).astype(bad)
        before = out.copy()
        got = str(np.dtype(bad))
        with pytest.raises(TypeError, match=rf"{_op(fn)}\(\): out .*dtype {want}.*got {re.escape(got)}"):
            _call(fn, arrays, options, out=out)
        assert out.tobytes() == before.tobytes()


@pytest.mark.parametrize("name", sorted(CASES))
def test_non_contiguous_refused(name):
    fn, arrays, options, expected = _expected(name, np.float32)
    strided = _sentinel(expected.shape[:-1] + (2 * expected.shape[-1],), np.float32)[..., ::2]
    fortran = np.asfortranarray(_sentinel(expected.shape, np.float32))
    for out in [strided, fortran]:
        with pytest.raises(ValueError, match=rf"{_op(fn)}\(\): out must be C-contiguous.*not C-contiguous"):
            _call(fn, arrays, options, out=out)
        _untouched(out)


@pytest.mark.parametrize("name", sorted(CASES))
def test_read_only_refused(name):
    fn, arrays, options, expected = _expected(name, np.float64)
    out = _sentinel(expected.shape, np.float64)
    out.flags.writeable = False
    with pytest.raises(ValueError, match=rf"{_op(fn)}\(\): out must be .*writeable.*read-only"):
        _call(fn, arrays, options, out=out)
    _untouched(out)


def test_read_only_memmap_refused(tmp_path):
    fn, arrays, options, expected = _expected("warp_perspective", np.float32)
    path = tmp_path / "ro.dat"
    _sentinel(expected.shape, np.float32).tofile(path)
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=expected.shape)
    with pytest.raises(ValueError, match=r"warp_perspective\(\): out .*read-only"):
        _call(fn, arrays, options, out=mm)
    _untouched(np.fromfile(path, np.float32))


def test_unaligned_refused():
    fn, arrays, options, expected = _expected("grid_sample", np.float64)
    buf = bytearray(expected.nbytes + 1)
    out = np.frombuffer(buf, np.float64, count=expected.size, offset=1).reshape(expected.shape)
    assert not out.flags.aligned
    out[...] = SENTINEL
    with pytest.raises(ValueError, match=r"grid_sample\(\): out must be .*aligned.*not aligned"):
        _call(fn, arrays, options, out=out)
    _untouched(out)


@pytest.mark.parametrize("name", ["affine_grid", "grid_sample", "warp_affine", "warp_perspective",
                                  "perspective_grid", "tps_grid"])
def test_not_an_array_refused(name):
    fn, arrays, options, expected = _expected(name, np.float32)
    for out in [expected.tolist(), memoryview(np.empty_like(expected)), 3.0]:
        with pytest.raises(TypeError, match=rf"{_op(fn)}\(\): out must be a numpy.ndarray"):
            _call(fn, arrays, options, out=out)


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_arguments_reported_before_out(name):
    """A call whose arguments are invalid reports them (not out) and leaves out untouched."""
    fn, arrays, options, expected = _expected(name, np.float32)
    first = next(iter(arrays))
    bad = dict(arrays)
    bad[first] = arrays[first][0]
    out = _sentinel(expected.shape, np.float32)
    with pytest.raises(ValueError) as info:
        _call(fn, bad, options, out=out)
    assert not re.search(r"\bout (must|overlaps|has)", str(info.value)), str(info.value)
    _untouched(out)


def test_failure_during_call_leaves_out_untouched():
    """Errors found by the computation itself (here: a wrong number of fill values, and collinear
    control points) are raised before anything is written."""
    fn, arrays, options, expected = _expected("grid_sample_fill", np.float32)
    out = _sentinel(expected.shape, np.float32)
    with pytest.raises(ValueError, match="fill"):
        _call(fn, {**arrays, "fill": np.ones(5, np.float32)}, options, out=out)
    _untouched(out)
    d = np.zeros((1, 3, 2), np.float64)
    line = np.array([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]])
    out = _sentinel((1, 4, 4, 2), np.float64)
    with pytest.raises(ValueError):
        swiftstn.tps_grid(d, (1, 1, 4, 4), control_points=line, out=out)
    _untouched(out)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_overlap_with_each_argument_refused(name, dtype):
    """out may not share memory with any array argument (the kernels read them while writing):
    an out whose memory meets an argument's by one element is refused; the adjacent one is fine."""
    fn, arrays, options, expected = _expected(name, dtype)
    for arg, value in arrays.items():
        n_arg, n_out = value.size, expected.size
        if value.dtype != np.dtype(dtype):
            continue  # control points are float64 whatever the call's dtype: only a float64 out can meet them
        buf = np.full(n_arg + n_out + 1, SENTINEL, value.dtype)
        view = buf[:n_arg].reshape(value.shape)
        view[...] = value
        overlapping = buf[n_arg - 1:n_arg - 1 + n_out].reshape(expected.shape)
        with pytest.raises(ValueError, match=rf"{_op(fn)}\(\): out overlaps {arg}\b"):
            _call(fn, {**arrays, arg: view}, options, out=overlapping)
        np.testing.assert_array_equal(view, value)
        assert buf[n_arg] == SENTINEL and buf[-1] == SENTINEL
        adjacent = buf[n_arg:n_arg + n_out].reshape(expected.shape)
        assert _call(fn, {**arrays, arg: view}, options, out=adjacent) is adjacent
        np.testing.assert_array_equal(_bits(adjacent), _bits(expected))
        np.testing.assert_array_equal(view, value)


def test_out_is_the_input_refused():
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    theta = np.array([[[0.5, 0.1, 0.0], [0.0, 0.8, 0.1]]])
    before = x.copy()
    with pytest.raises(ValueError, match=r"^warp_affine\(\): out overlaps input"):
        swiftstn.warp_affine(x, theta, (4, 4), out=x)
    np.testing.assert_array_equal(x, before)
    grid = swiftstn.affine_grid(theta, (1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"^grid_sample\(\): out overlaps input"):
        swiftstn.grid_sample(x, grid, out=x)
    np.testing.assert_array_equal(x, before)


def test_overlap_through_a_strided_view_refused():
    """An input view with strides inside out's memory is refused too, though it would be copied."""
    buf = np.zeros((1, 2, 4, 8))
    x = buf[..., ::2]
    out = buf.reshape(-1)[:32].reshape(1, 2, 4, 4)
    grid = swiftstn.affine_grid(np.array([[[1.0, 0, 0], [0, 1, 0]]]), (1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"grid_sample\(\): out overlaps input"):
        swiftstn.grid_sample(x, grid, out=out)
