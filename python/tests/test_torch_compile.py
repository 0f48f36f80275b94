"""swiftstn.torch under torch.compile (fullgraph), torch.export and TorchScript: the blog's Net
with swiftstn's ops, and verbatim inside patch()."""
import os
import sys

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import swiftstn.torch as st  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from make_reference import Net  # noqa: E402  (the blog's network, verbatim)


class STNet(Net):
    """The blog's Net with its stn() written on swiftstn.torch's operators."""

    def stn(self, x):
        theta = self.fc_loc(self.flatten(self.localization(x))).view(-1, 2, 3)
        grid = st.affine_grid(theta, x.size(), align_corners=True)
        return st.grid_sample(x, grid, align_corners=True)


class GraphRecorder:
    """A torch.compile backend that keeps the FX graphs Dynamo hands it, then runs them eagerly."""

    def __init__(self):
        self.targets = []

    def __call__(self, gm, example_inputs):
        self.targets += [str(n.target) for n in gm.graph.nodes if n.op == "call_function"]
        return gm.forward


def _inputs(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def _net(cls=STNet):
    torch.manual_seed(3)
    net = cls()
    with torch.no_grad():  # a non-identity transform, so the sampler's gradient matters
        net.fc_loc[2].weight.normal_(0, 0.05)
    return net.eval()


def _loss_and_grads(net, x, y):
    net.zero_grad()
    loss = F.nll_loss(net(x), y)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in net.parameters()]


def test_compile_fullgraph_inductor_matches_eager():
    net = _net()
    x, y = _inputs()
    eager_out = net(x)
    eager_loss, eager_grads = _loss_and_grads(net, x, y)
    compiled = torch.compile(net, fullgraph=True)
    torch.testing.assert_close(compiled(x), eager_out, atol=1e-5, rtol=1e-5)
    loss, grads = _loss_and_grads(compiled, x, y)
    torch.testing.assert_close(loss, eager_loss, atol=1e-5, rtol=1e-5)
    for g, e in zip(grads, eager_grads):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-4)


def test_compile_sees_swiftstn_ops_in_verbatim_net_under_patch():
    net = _net(Net)
    x, _ = _inputs()
    reference = net(x)
    recorder = GraphRecorder()
    with st.patch():
        out = torch.compile(net, backend=recorder, fullgraph=True)(x)
    assert "swiftstn.affine_grid.default" in recorder.targets and "swiftstn.grid_sample.default" in recorder.targets
    torch.testing.assert_close(out, reference, atol=1e-6, rtol=1e-6)


def test_export_with_a_dynamic_batch():
    net = _net()
    x, _ = _inputs(4)
    batch = torch.export.Dim("batch", min=2, max=1024)
    program = torch.export.export(net, (x,), dynamic_shapes={"x": {0: batch}})
    code = program.graph_module.code
    assert "torch.ops.swiftstn.affine_grid.default" in code and "torch.ops.swiftstn.grid_sample.default" in code
    x9, _ = _inputs(9, seed=1)
    torch.testing.assert_close(program.module()(x9), net(x9))


def test_torchscript_trace_and_scripted_ops():
    net = _net()
    x, _ = _inputs()
    with pytest.warns(Warning):  # PyTorch's tracer deprecation and shape warnings
        traced = torch.jit.trace(net, (x,))
    assert "swiftstn::grid_sample" in str(traced.inlined_graph)
    torch.testing.assert_close(traced(x), net(x))

    def sample(a, g):
        return torch.ops.swiftstn.grid_sample(a, g, "bilinear", "zeros", True, None)

    with pytest.warns(FutureWarning):
        scripted = torch.jit.script(sample)
    g = torch.rand(6, 5, 4, 2) * 2 - 1
    torch.testing.assert_close(scripted(x, g), st.grid_sample(x, g, align_corners=True))
