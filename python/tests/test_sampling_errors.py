"""Bad input raises a clear Python exception naming the argument and the shapes — never a crash."""
import numpy as np
import pytest

import swiftstn

F32 = np.float32


def theta2(n=2, dtype=F32):
    return np.tile(np.eye(2, 3, dtype=dtype), (n, 1, 1))


def test_wrong_dtype_is_a_type_error():
    with pytest.raises(TypeError, match=r"theta must have dtype float32 or float64, got int64"):
        swiftstn.affine_grid(np.zeros((1, 2, 3), dtype=np.int64), (1, 1, 4, 4))
    with pytest.raises(TypeError, match=r"input must have dtype uint8, float16, float32 or float64, got int16"):
        swiftstn.grid_sample(np.zeros((1, 1, 4, 4), np.int16), np.zeros((1, 2, 2, 2), F32))
    with pytest.raises(TypeError, match=r"grid must be float32 for uint8 input"):
        swiftstn.grid_sample(np.zeros((1, 1, 4, 4), np.uint8), np.zeros((1, 2, 2, 2), np.float64))
    with pytest.raises(TypeError, match=r"same dtype, got float32 and float64"):
        swiftstn.grid_sample(np.zeros((1, 1, 4, 4), F32), np.zeros((1, 2, 2, 2), np.float64))
    with pytest.raises(TypeError, match=r"grad_output must be a float32 or float64 array|grad_output must have dtype"):
        swiftstn.grid_sample_backward("nope", np.zeros((1, 1, 4, 4), F32), np.zeros((1, 2, 2, 2), F32))


def test_wrong_ndim():
    with pytest.raises(ValueError, match=r"4-D or 5-D input and grid.*\(1, 4, 4\).*\(1, 2, 2, 2\)"):
        swiftstn.grid_sample(np.zeros((1, 4, 4), F32), np.zeros((1, 2, 2, 2), F32))
    with pytest.raises(ValueError, match=r"4-D or 5-D"):
        swiftstn.grid_sample(np.zeros((1, 1, 4, 4), F32), np.zeros((1, 2, 2, 2, 3), F32))


def test_mismatched_batch_sizes():
    with pytest.raises(ValueError, match=r"same batch size.*\(2, 1, 4, 4\).*\(3, 2, 2, 2\)"):
        swiftstn.grid_sample(np.zeros((2, 1, 4, 4), F32), np.zeros((3, 2, 2, 2), F32))


def test_grid_last_dimension():
    with pytest.raises(ValueError, match=r"size 2 in its last dimension.*\(1, 2, 2, 3\)"):
        swiftstn.grid_sample(np.zeros((1, 1, 4, 4), F32), np.zeros((1, 2, 2, 3), F32))


def test_theta_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"theta of shape \(N, 2, 3\) = \(2, 2, 3\) for size \(2, 1, 4, 4\), "
                                         r"got theta of shape \(2, 3, 3\)"):
        swiftstn.affine_grid(np.zeros((2, 3, 3), F32), (2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"got theta of shape \(3, 2, 3\)"):
        swiftstn.affine_grid(theta2(3), (2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"\(N, 3, 4\)"):
        swiftstn.affine_grid(theta2(1), (1, 1, 4, 4, 4))


def test_bad_size():
    with pytest.raises(ValueError, match=r"size must have 4 elements"):
        swiftstn.affine_grid(theta2(1), (1, 4, 4))
    with pytest.raises(ValueError, match=r"positive output size"):
        swiftstn.affine_grid(theta2(1), (1, 1, 0, 4))
    with pytest.raises(TypeError, match=r"size must contain ints"):
        swiftstn.affine_grid(theta2(1), (1, 1, 4.5, 4))
    with pytest.raises(TypeError, match=r"size must be a sequence"):
        swiftstn.affine_grid(theta2(1), 7)
    # numpy integers are fine
    assert swiftstn.affine_grid(theta2(1), np.array([1, 1, 3, 2])).shape == (1, 3, 2, 2)


def test_overflowing_sizes_are_refused():
    with pytest.raises(ValueError, match=r"more elements than fit in 64 bits"):
        swiftstn.affine_grid(theta2(1), (1, 1, 2**40, 2**40))
    with pytest.raises(ValueError, match=r"does not fit in 64 bits"):
        swiftstn.affine_grid(theta2(1), (1, 1, 2**70, 2))


def test_bad_mode_and_padding():
    x, g = np.zeros((1, 1, 4, 4), F32), np.zeros((1, 2, 2, 2), F32)
    with pytest.raises(ValueError, match=r"mode to be one of 'bilinear', 'nearest', 'bicubic', got 'linear'"):
        swiftstn.grid_sample(x, g, mode="linear")
    with pytest.raises(ValueError,
                       match=r"padding_mode to be one of 'zeros', 'border', 'reflection', 'fill', got 'wrap'"):
        swiftstn.grid_sample(x, g, padding_mode="wrap")
    # 5-D bicubic (tricubic) is supported; an unknown padding still is not, in 3-D too.
    with pytest.raises(ValueError, match=r"padding_mode to be one of .* got 'constant'"):
        swiftstn.grid_sample(np.zeros((1, 1, 2, 2, 2), F32), np.zeros((1, 1, 1, 1, 3), F32), mode="bicubic",
                             padding_mode="constant")


def test_empty_spatial_input():
    with pytest.raises(ValueError, match=r"non-empty spatial dimensions.*dimension 2 empty"):
        swiftstn.grid_sample(np.zeros((1, 1, 0, 4), F32), np.zeros((1, 2, 2, 2), F32))


def test_grad_output_of_the_wrong_shape():
    x, g = np.zeros((1, 2, 4, 4), F32), np.zeros((1, 3, 5, 2), F32)
    with pytest.raises(ValueError,
                       match=r"grad_output of shape \(1, 2, 3, 5\).*got grad_output of shape \(1, 2, 5, 3\)"):
        swiftstn.grid_sample_backward(np.zeros((1, 2, 5, 3), F32), x, g)
    with pytest.raises(ValueError, match=r"grad_grid of shape \(1, 4, 4, 2\)"):
        swiftstn.affine_grid_backward(np.zeros((1, 4, 5, 2), F32), (1, 1, 4, 4))


def test_errors_leave_inputs_untouched():
    x = np.arange(16, dtype=F32).reshape(1, 1, 4, 4)
    g = np.full((2, 2, 2, 2), 0.5, F32)
    x0, g0 = x.copy(), g.copy()
    with pytest.raises(ValueError):
        swiftstn.grid_sample(x, g)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(g, g0)


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match="positive"):
        swiftstn.set_num_threads(0)
    with pytest.raises(TypeError):
        swiftstn.set_num_threads("two")


# ---- align_corners must be a bool ------------------------------------------------------------------

def _align_corners_calls(ac):
    """Every NumPy operator, called with align_corners=ac on valid arrays."""
    from swiftstn import nn
    x, g = np.zeros((1, 1, 4, 4), F32), np.zeros((1, 3, 3, 2), F32)
    th, H, d = theta2(1), np.eye(3, dtype=F32)[None], np.zeros((1, 4, 2), F32)
    go = np.zeros((1, 1, 3, 3), F32)
    return {
        "affine_grid": lambda: swiftstn.affine_grid(th, (1, 1, 3, 3), align_corners=ac),
        "affine_grid_backward": lambda: swiftstn.affine_grid_backward(g, (1, 1, 3, 3), align_corners=ac),
        "grid_sample": lambda: swiftstn.grid_sample(x, g, align_corners=ac),
        "grid_sample_backward": lambda: swiftstn.grid_sample_backward(go, x, g, align_corners=ac),
        "warp_affine": lambda: swiftstn.warp_affine(x, th, (3, 3), align_corners=ac),
        "warp_affine_backward": lambda: swiftstn.warp_affine_backward(go, x, th, (3, 3), align_corners=ac),
        "perspective_grid": lambda: swiftstn.perspective_grid(H, (1, 1, 3, 3), align_corners=ac),
        "perspective_grid_backward": lambda: swiftstn.perspective_grid_backward(g, H, (1, 1, 3, 3),
                                                                                align_corners=ac),
        "warp_perspective": lambda: swiftstn.warp_perspective(x, H, (3, 3), align_corners=ac),
        "warp_perspective_backward": lambda: swiftstn.warp_perspective_backward(go, x, H, (3, 3), align_corners=ac),
        "tps_grid": lambda: swiftstn.tps_grid(d, (1, 1, 3, 3), align_corners=ac),
        "tps_grid_backward": lambda: swiftstn.tps_grid_backward(g, (1, 1, 3, 3), control_points=4, align_corners=ac),
        "SpatialTransformer": lambda: nn.SpatialTransformer(nn.Sequential(nn.Flatten()),
                                                            nn.Sequential(nn.Linear(16, 6)), align_corners=ac),
    }


@pytest.mark.parametrize("value", ["False", "True", 0, 1, None, 1.0, np.int64(0), [True]])
def test_align_corners_must_be_a_bool(value):
    import re
    for op, call in _align_corners_calls(value).items():
        with pytest.raises(TypeError, match=rf"^{op}\(\): align_corners must be a bool \(True or False\), "
                                            rf"got {re.escape(repr(value))} \({type(value).__name__}\)$"):
            call()


def test_align_corners_accepts_python_and_numpy_bools():
    for ac in (True, False, np.True_, np.False_, np.bool_(True)):
        for call in _align_corners_calls(ac).values():
            call()  # no error
    # a NumPy bool means what the Python bool means (bool("False") would have been True)
    x = np.arange(16, dtype=F32).reshape(1, 1, 4, 4)
    g = np.random.default_rng(0).uniform(-1, 1, (1, 3, 3, 2)).astype(F32)
    for ac in (True, False):
        a = swiftstn.grid_sample(x, g, align_corners=ac)
        assert a.tobytes() == swiftstn.grid_sample(x, g, align_corners=np.bool_(ac)).tobytes()
    assert not swiftstn.grid_sample(x, g, align_corners=True).tobytes() == \
        swiftstn.grid_sample(x, g, align_corners=False).tobytes()
    from swiftstn import nn
    stn = nn.SpatialTransformer(nn.Sequential(), nn.Sequential(nn.Linear(16, 6)), align_corners=np.True_)
    assert stn.align_corners is True


@pytest.mark.parametrize("value", ["False", 0, None])
def test_input_requires_grad_must_be_a_bool(value):
    """bool("False") is True: the backward functions refuse non-bools instead of guessing."""
    x = np.zeros((1, 1, 3, 3), np.float32)
    g = np.zeros((1, 2, 2, 2), np.float32)
    go = np.zeros((1, 1, 2, 2), np.float32)
    theta = np.eye(2, 3, dtype=np.float32)[None]
    H = np.eye(3, dtype=np.float32)[None]
    calls = [
        ("grid_sample_backward", lambda: swiftstn.grid_sample_backward(go, x, g, input_requires_grad=value)),
        ("warp_affine_backward",
         lambda: swiftstn.warp_affine_backward(go, x, theta, (2, 2), input_requires_grad=value)),
        ("warp_perspective_backward",
         lambda: swiftstn.warp_perspective_backward(go, x, H, (2, 2), input_requires_grad=value)),
    ]
    for name, call in calls:
        with pytest.raises(TypeError, match=rf"{name}\(\): input_requires_grad must be a bool"):
            call()
