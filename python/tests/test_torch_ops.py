"""swiftstn.torch: the custom ops against PyTorch's own operators, torch.library.opcheck,
gradcheck, dtypes, devices, argument errors, zero copy and the patch() switch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

import swiftstn  # noqa: E402
import swiftstn.torch as st  # noqa: E402
from swiftstn.torch import _ops  # noqa: E402


class OpLog(TorchDispatchMode):
    """Records the names of the operators dispatched inside the block."""

    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(str(func))
        return func(*args, **(kwargs or {}))


def rand(rng, shape, dtype=torch.float64, low=None, high=None, grad=False):
    a = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return torch.tensor(a, dtype=dtype, requires_grad=grad)


# ---- parity with PyTorch, forward and backward through autograd ------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dims", [2, 3])
def test_grid_sample_matches_pytorch_through_autograd(dtype, dims):
    rng = np.random.default_rng(10 + dims)
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    modes = ("bilinear", "nearest", "bicubic")
    for mode in modes:
        for pad in ("zeros", "border", "reflection"):
            for ac in (False, True):
                x = rand(rng, (2, 3) + (5,) * dims, dtype, grad=True)
                g = rand(rng, (2,) + (4,) * dims + (dims,), dtype, -1.2, 1.2, grad=True)
                xr, gr = x.detach().clone().requires_grad_(), g.detach().clone().requires_grad_()
                out = st.grid_sample(x, g, mode=mode, padding_mode=pad, align_corners=ac)
                ref = F.grid_sample(xr, gr, mode=mode, padding_mode=pad, align_corners=ac)
                go = rand(rng, tuple(ref.shape), dtype)
                out.backward(go)
                ref.backward(go)
                what = f"{dims}-D {mode} {pad} ac={ac}"
                assert out.dtype == dtype and out.shape == ref.shape, what
                torch.testing.assert_close(out, ref, atol=tol, rtol=tol, msg=what)
                torch.testing.assert_close(x.grad, xr.grad, atol=tol, rtol=tol, msg=what + " input grad")
                torch.testing.assert_close(g.grad, gr.grad, atol=tol, rtol=tol, msg=what + " grid grad")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("size", [(3, 2, 5, 7), (2, 1, 3, 4, 5)])
def test_affine_grid_matches_pytorch_through_autograd(dtype, size):
    rng = np.random.default_rng(20)
    d = len(size) - 2
    for ac in (False, True):
        theta = rand(rng, (size[0], d, d + 1), dtype, grad=True)
        ref_theta = theta.detach().clone().requires_grad_()
        grid = st.affine_grid(theta, size, align_corners=ac)
        ref = F.affine_grid(ref_theta, list(size), align_corners=ac)
        gg = rand(rng, tuple(ref.shape), dtype)
        grid.backward(gg)
        ref.backward(gg)
        torch.testing.assert_close(grid, ref)
        torch.testing.assert_close(theta.grad, ref_theta.grad)


def test_extra_ops_match_numpy_api():
    """warp_affine, warp_perspective, perspective_grid and tps_grid: the numbers of swiftstn's NumPy
    functions, forward and backward."""
    rng = np.random.default_rng(30)
    x = rand(rng, (2, 3, 9, 8), grad=True)
    theta = torch.tensor([[[0.9, 0.2, 0.1], [-0.1, 1.1, 0.0]]] * 2, dtype=torch.float64, requires_grad=True)
    H = torch.tensor([[[1.0, 0.1, 0.05], [0.0, 0.9, 0.0], [0.1, -0.05, 1.0]]] * 2, dtype=torch.float64,
                     requires_grad=True)
    d = rand(rng, (2, 9, 2), low=-0.2, high=0.2, grad=True)
    for mode, pad, fill in (("bilinear", "zeros", None), ("bicubic", "fill", [0.5, -1.0, 2.0]),
                            ("nearest", "reflection", None)):
        for fn, np_fn, np_bwd, mat in ((st.warp_affine, swiftstn.warp_affine, swiftstn.warp_affine_backward, theta),
                                       (st.warp_perspective, swiftstn.warp_perspective,
                                        swiftstn.warp_perspective_backward, H)):
            x.grad = mat.grad = None
            out = fn(x, mat, (6, 7), mode=mode, padding_mode=pad, align_corners=True, fill=fill)
            ref = np_fn(x.detach().numpy(), mat.detach().numpy(), (6, 7), mode, pad, True, fill)
            np.testing.assert_array_equal(out.detach().numpy(), ref)
            go = rng.standard_normal(ref.shape)
            out.backward(torch.tensor(go))
            gi, gm = np_bwd(go, x.detach().numpy(), mat.detach().numpy(), (6, 7), mode, pad, True, True, fill)
            np.testing.assert_array_equal(x.grad.numpy(), gi)
            np.testing.assert_array_equal(mat.grad.numpy(), gm)
    grid = st.perspective_grid(H, (2, 3, 5, 4))
    np.testing.assert_array_equal(grid.detach().numpy(), swiftstn.perspective_grid(H.detach().numpy(), (2, 3, 5, 4)))
    gg = rng.standard_normal(tuple(grid.shape))
    H.grad = None
    grid.backward(torch.tensor(gg))
    np.testing.assert_array_equal(H.grad.numpy(),
                                  swiftstn.perspective_grid_backward(gg, H.detach().numpy(), (2, 3, 5, 4)))
    grid = st.tps_grid(d, (2, 3, 5, 4), align_corners=True)
    np.testing.assert_array_equal(grid.detach().numpy(),
                                  swiftstn.tps_grid(d.detach().numpy(), (2, 3, 5, 4), align_corners=True))
    grid.backward(torch.tensor(gg))
    np.testing.assert_array_equal(d.grad.numpy(), swiftstn.tps_grid_backward(gg, (2, 3, 5, 4), 9, True))


# ---- torch.library.opcheck and gradcheck -------------------------------------------------------

def _opcheck_cases():
    rng = np.random.default_rng(40)
    cases = []
    for dtype in (torch.float32, torch.float64):
        for mode, pad, fill in (("bilinear", "zeros", None), ("nearest", "border", None),
                                ("bicubic", "reflection", None), ("bilinear", "fill", [0.25, -0.5])):
            for ac in (False, True):
                x = rand(rng, (2, 2, 6, 5), dtype, grad=True)
                g = rand(rng, (2, 4, 3, 2), dtype, -1.1, 1.1, grad=True)
                cases.append(("grid_sample", (x, g, mode, pad, ac, fill)))
                theta = rand(rng, (2, 2, 3), dtype, -1, 1, grad=True)
                cases.append(("warp_affine", (x, theta, [4, 3], mode, pad, ac, fill)))
                H = torch.eye(3, dtype=dtype).repeat(2, 1, 1) + rand(rng, (2, 3, 3), dtype, -0.1, 0.1)
                cases.append(("warp_perspective", (x, H.requires_grad_(), [4, 3], mode, pad, ac, fill)))
        x3 = rand(rng, (1, 2, 4, 5, 3), dtype, grad=True)
        g3 = rand(rng, (1, 2, 3, 2, 3), dtype, -1.1, 1.1, grad=True)
        cases.append(("grid_sample", (x3, g3, "bilinear", "border", False, None)))
        cases.append(("grid_sample", (x3, g3, "bicubic", "zeros", True, None)))
        for size in ([3, 1, 4, 5], [2, 2, 3, 4, 2]):
            d = len(size) - 2
            cases.append(("affine_grid", (rand(rng, (size[0], d, d + 1), dtype, grad=True), size, bool(d % 2))))
        cases.append(("perspective_grid", (torch.eye(3, dtype=dtype).repeat(2, 1, 1).requires_grad_(), [2, 1, 3, 4],
                                           False)))
        cases.append(("tps_grid", (rand(rng, (2, 4, 2), dtype, -0.2, 0.2, grad=True), [2, 1, 5, 3], None, True)))
        points = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [0.0, 1.0], [0.2, 0.1], [-0.5, 0.4]], dtype=torch.float64)
        cases.append(("tps_grid", (rand(rng, (1, 5, 2), dtype, -0.2, 0.2, grad=True), [1, 1, 4, 4], points, False)))
    cases.append(("grid_sample", (rand(rng, (1, 2, 3, 3), torch.float32, grad=True),
                                  rand(rng, (1, 2, 2, 2), torch.float32, -1, 1, grad=True),
                                  "bilinear", "zeros", False, None)))
    return cases


@pytest.mark.parametrize("case", range(len(_opcheck_cases())))
def test_opcheck(case):
    name, args = _opcheck_cases()[case]
    torch.library.opcheck(_ops.FORWARD_OPS[name], args)


def test_gradcheck_every_differentiable_input():
    rng = np.random.default_rng(50)
    kw = dict(eps=1e-6, atol=1e-5, rtol=1e-4)
    # gradcheck calls each lambda at once, so reading the loop variables late is intended (B023).
    for mode in ("bilinear", "bicubic"):
        for pad in ("zeros", "border", "reflection", "fill"):
            fill = [0.7, -0.3] if pad == "fill" else None
            for ac in (False, True):
                x = rand(rng, (2, 2, 5, 4), grad=True)
                g = rand(rng, (2, 3, 3, 2), low=-1.1, high=1.1, grad=True)
                assert torch.autograd.gradcheck(
                    lambda x, g: st.grid_sample(x, g, mode, pad, ac, fill), (x, g), **kw), (mode, pad, ac)  # noqa: B023
    # nearest: the input gradient (the grid's is zero almost everywhere)
    x = rand(rng, (1, 2, 5, 4), grad=True)
    g = rand(rng, (1, 3, 3, 2), low=-0.9, high=0.9)
    assert torch.autograd.gradcheck(lambda x: st.grid_sample(x, g, "nearest", "zeros", False), (x,), **kw)
    x3 = rand(rng, (1, 2, 3, 4, 3), grad=True)
    g3 = rand(rng, (1, 2, 2, 2, 3), low=-1.1, high=1.1, grad=True)
    for mode in ("bilinear", "bicubic"):
        assert torch.autograd.gradcheck(lambda x, g: st.grid_sample(x, g, mode, "zeros", True),  # noqa: B023
                                        (x3, g3), **kw)
    for size in ((2, 1, 3, 4), (1, 1, 2, 3, 4)):
        d = len(size) - 2
        theta = rand(rng, (size[0], d, d + 1), grad=True)
        assert torch.autograd.gradcheck(lambda t: st.affine_grid(t, size, False), (theta,), **kw)  # noqa: B023
    H = (torch.eye(3, dtype=torch.float64).repeat(2, 1, 1) + rand(rng, (2, 3, 3), low=-0.1, high=0.1)).requires_grad_()
    assert torch.autograd.gradcheck(lambda h: st.perspective_grid(h, (2, 1, 4, 3), True), (H,), **kw)
    d = rand(rng, (2, 9, 2), low=-0.2, high=0.2, grad=True)
    assert torch.autograd.gradcheck(lambda d: st.tps_grid(d, (2, 1, 4, 5)), (d,), **kw)
    x = rand(rng, (2, 2, 6, 5), grad=True)
    theta = torch.tensor([[[0.8, 0.3, 0.1], [-0.2, 0.9, 0.05]]] * 2, dtype=torch.float64, requires_grad=True)
    for pad, fill in (("zeros", None), ("fill", 0.4)):
        assert torch.autograd.gradcheck(
            lambda x, t: st.warp_affine(x, t, (4, 3), "bilinear", pad, False, fill), (x, theta), **kw)  # noqa: B023
        assert torch.autograd.gradcheck(
            lambda x, h: st.warp_perspective(x, h, (4, 3), "bicubic", pad, True, fill), (x, H), **kw)  # noqa: B023


def test_double_backward_raises_a_clear_error():
    rng = np.random.default_rng(60)
    x = rand(rng, (1, 1, 4, 4), grad=True)
    g = rand(rng, (1, 3, 3, 2), low=-1, high=1, grad=True)
    out = st.grid_sample(x, g, align_corners=False)
    (gx,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match=r"double backward is not supported.*swiftstn::grid_sample_backward"):
        gx.sum().backward()


def test_input_gradient_skipped_when_not_needed(monkeypatch):
    seen = []
    original = swiftstn.functional.grid_sample_backward

    def spy(*args):
        seen.append(args[6])
        return original(*args)

    monkeypatch.setattr(swiftstn.functional, "grid_sample_backward", spy)
    rng = np.random.default_rng(70)
    x = rand(rng, (1, 2, 4, 4), torch.float32)
    g = rand(rng, (1, 3, 3, 2), torch.float32, -1, 1, grad=True)
    st.grid_sample(x, g, align_corners=True).sum().backward()
    assert seen == [False] and g.grad is not None and x.grad is None
    st.grid_sample(x.requires_grad_(), g, align_corners=True).sum().backward()
    assert seen == [False, True] and x.grad is not None


# ---- dtypes, devices, zero copy, errors ---------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32(dtype):
    rng = np.random.default_rng(80)
    x = rand(rng, (2, 3, 6, 6), dtype, grad=True)
    g = rand(rng, (2, 5, 4, 2), dtype, -1, 1, grad=True)
    out = st.grid_sample(x, g, align_corners=False)
    assert out.dtype == dtype
    ref = st.grid_sample(x.detach().float(), g.detach().float(), align_corners=False)
    assert torch.equal(out, ref.to(dtype))
    out.float().sum().backward()
    assert x.grad.dtype == dtype and g.grad.dtype == dtype
    theta = rand(rng, (2, 2, 3), dtype, grad=True)
    assert st.affine_grid(theta, (2, 1, 3, 3), align_corners=True).dtype == dtype


def test_zero_copy_both_ways():
    t = torch.rand(2, 3, 8, 8)
    a = _ops._array(t)
    assert a.__array_interface__["data"][0] == t.data_ptr() and a.dtype == np.float32
    out = np.ones((2, 2))
    assert _ops._tensor(out, torch.float64).data_ptr() == out.__array_interface__["data"][0]
    # a requires_grad tensor's memory is handed over as well
    p = torch.rand(4, 4, dtype=torch.float64, requires_grad=True)
    assert _ops._array(p).__array_interface__["data"][0] == p.data_ptr()


def test_meta_tensors_give_shapes():
    x = torch.empty(2, 3, 10, 9, device="meta")
    g = torch.empty(2, 4, 5, 2, device="meta")
    out = st.grid_sample(x, g, align_corners=False)
    assert out.device.type == "meta" and out.shape == (2, 3, 4, 5)
    grid = st.affine_grid(torch.empty(2, 2, 3, device="meta"), (2, 3, 4, 5), align_corners=False)
    assert grid.shape == (2, 4, 5, 2)
    assert st.warp_perspective(x, torch.empty(2, 3, 3, device="meta"), (7, 6)).shape == (2, 3, 7, 6)


def test_other_devices_fall_back_or_name_the_device():
    from swiftstn.torch import functional as tf
    assert tf._on_swiftstn("grid_sample", "cpu", True) and not tf._on_swiftstn("grid_sample", "cuda", True)
    with pytest.raises(RuntimeError, match="tps_grid.*cuda.*cpu"):
        tf._on_swiftstn("tps_grid", "cuda", False)
    with pytest.raises(RuntimeError, match="same device.*cpu.*meta"):
        st.grid_sample(torch.rand(1, 1, 3, 3), torch.empty(1, 2, 2, 2, device="meta"), align_corners=True)


def test_argument_errors_are_clear():
    x, g = torch.rand(1, 2, 5, 5), torch.rand(1, 3, 3, 2)
    with pytest.raises(TypeError, match=r"grid_sample\(\): input must be a float32.*torch.int64"):
        st.grid_sample(torch.ones(1, 2, 5, 5, dtype=torch.int64), g, align_corners=True)
    with pytest.raises(TypeError, match="same dtype.*float32 and torch.float64"):
        st.grid_sample(x, g.double(), align_corners=True)
    with pytest.raises(TypeError, match=r"align_corners must be True, False or None, got 'False' \(str\)"):
        st.grid_sample(x, g, align_corners="False")
    with pytest.raises(TypeError, match=r"warp_affine\(\): align_corners must be True or False, got 1"):
        st.warp_affine(x, torch.rand(1, 2, 3), (3, 3), align_corners=1)
    with pytest.raises(TypeError, match="input must be a torch.Tensor, got ndarray"):
        st.grid_sample(x.numpy(), g, align_corners=True)
    with pytest.raises(ValueError, match="grid"):
        st.grid_sample(x, torch.rand(2, 3, 3, 2), align_corners=True)  # batch sizes differ
    with pytest.raises(ValueError, match="theta"):
        st.affine_grid(torch.rand(2, 2, 3), (3, 1, 4, 4), align_corners=True)
    with pytest.raises(ValueError, match="mode"):
        st.grid_sample(x, g, mode="linear", align_corners=True)
    with pytest.raises(ValueError, match="fill"):
        st.grid_sample(x, g, padding_mode="fill", align_corners=True)
    with pytest.warns(UserWarning, match="align_corners=False"):
        st.grid_sample(x, g)


# ---- patch() ------------------------------------------------------------------------------------

def test_patch_routes_cpu_calls_and_passes_others_through():
    rng = np.random.default_rng(90)
    x = rand(rng, (2, 3, 7, 7), torch.float32, grad=True)
    theta = rand(rng, (2, 2, 3), torch.float32, -1, 1, grad=True)
    original = F.grid_sample
    with OpLog() as log:
        reference = F.grid_sample(x, F.affine_grid(theta, x.size(), align_corners=False), align_corners=False)
    assert not any(n.startswith("swiftstn") for n in log.names)
    with st.patch():
        assert st.is_enabled() and F.grid_sample is not original
        with OpLog() as log:
            out = F.grid_sample(x, F.affine_grid(theta, x.size(), align_corners=False), align_corners=False)
            out.sum().backward()
        assert "swiftstn.affine_grid.default" in log.names and "swiftstn.grid_sample.default" in log.names
        assert "swiftstn.grid_sample_backward.default" in log.names
        torch.testing.assert_close(out, reference)
        # integer grids are not swiftstn's: PyTorch's own function gets the call (and its error)
        with pytest.raises(RuntimeError, match="expected scalar type Float but found Long"):
            F.grid_sample(x, torch.zeros(2, 3, 3, 2, dtype=torch.int64), align_corners=False)
    assert F.grid_sample is original and not st.is_enabled()


def test_enable_disable_nest():
    original = (F.grid_sample, F.affine_grid)
    st.enable()
    with st.patch():
        pass
    assert st.is_enabled() and F.grid_sample is not original[0]
    st.disable()
    assert (F.grid_sample, F.affine_grid) == original
    st.disable()  # nothing pending: no change
    assert (F.grid_sample, F.affine_grid) == original


def test_patch_speeds_up_kornia_unmodified():
    kornia = pytest.importorskip("kornia")
    rng = np.random.default_rng(100)
    img = torch.tensor(rng.random((3, 3, 20, 24)), dtype=torch.float32)
    M = kornia.geometry.transform.get_rotation_matrix2d(torch.tensor([[12.0, 10.0]] * 3), torch.tensor([30.0] * 3),
                                                        torch.ones(3, 2))
    reference = kornia.geometry.transform.warp_affine(img, M, (20, 24), align_corners=True)
    with st.patch(), OpLog() as log:
        out = kornia.geometry.transform.warp_affine(img, M, (20, 24), align_corners=True)
    assert "swiftstn.grid_sample.default" in log.names
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_eager_path_equals_the_dispatched_op(dtype):
    """Eager CPU calls skip the dispatcher; the op (what compile, export and modes see) gives the
    same bits, forward and backward."""
    rng = np.random.default_rng(110)
    x = rand(rng, (2, 3, 6, 5), dtype)
    g = rand(rng, (2, 4, 3, 2), dtype, -1.1, 1.1)
    go = rand(rng, (2, 3, 4, 3), dtype)
    results = []
    for run in (lambda *a: _ops.grid_sample(*a), lambda *a: _ops.grid_sample.op(*a)):
        xs, gs = x.clone().requires_grad_(), g.clone().requires_grad_()
        out = run(xs, gs, "bicubic", "border", True, None)
        out.backward(go)
        results.append((out.detach(), xs.grad, gs.grad))
    for a, b in zip(*results):
        assert a.dtype == dtype and torch.equal(a, b)
