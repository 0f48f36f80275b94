"""Constrained spatial transformers (attention, similarity) against the affine one they restrict."""
import numpy as np
import pytest

import swiftstn
from swiftstn import nn

# parameters → theta (row-major 2×3), as linear maps
MAPS = {
    "attention": np.array([[1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 1]], np.float64),
    "similarity": np.array([[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]],
                           np.float64),
}


def model(transform):
    return nn.Sequential(
        nn.SpatialTransformer(nn.Sequential(nn.Conv2d(1, 4, 5), nn.MaxPool2d(2), nn.ReLU()),
                              nn.Sequential(nn.Linear(64, 8), nn.ReLU(),
                                            nn.Linear(8, {"affine": 6, **{k: v.shape[1] for k, v in MAPS.items()}}[
                                                transform])),
                              align_corners=True, transform=transform),
        nn.Flatten(), nn.Linear(144, 3))


def data(n=12):
    rng = np.random.default_rng(0)
    return rng.normal(0, 1, (n, 1, 12, 12)).astype(np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("kind", list(MAPS))
def test_identity_initialisation(kind):
    m = model(kind).build(seed=0)
    x, _ = data(4)
    np.testing.assert_allclose(m.theta(x), np.tile(np.eye(2, 3), (4, 1, 1)), atol=0)
    np.testing.assert_allclose(m.stn(x), x, atol=1e-5)


@pytest.mark.parametrize("kind", list(MAPS))
def test_matches_the_equivalent_affine_transformer(kind):
    """A constrained regressor with last layer (W, b) equals an affine one with (M·W, M·b); its
    gradients are Mᵀ times the affine ones."""
    M = MAPS[kind]
    rng = np.random.default_rng(1)
    c = model(kind).build(seed=3).eval()
    sd = c.state_dict()
    sd["0.regressor.2.weight"] = (rng.normal(0, 0.05, sd["0.regressor.2.weight"].shape)).astype(np.float32)
    sd["0.regressor.2.bias"] = (sd["0.regressor.2.bias"]
                                + rng.normal(0, 0.05, sd["0.regressor.2.bias"].shape)).astype(np.float32)
    c.load_state_dict(sd)
    a = model("affine").build(seed=3).eval()
    sa = dict(sd)
    sa["0.regressor.2.weight"] = (M @ sd["0.regressor.2.weight"].astype(np.float64)).astype(np.float32)
    sa["0.regressor.2.bias"] = (M @ sd["0.regressor.2.bias"].astype(np.float64)).astype(np.float32)
    a.load_state_dict(sa)
    x, y = data()
    np.testing.assert_allclose(c.theta(x), a.theta(x), atol=1e-6)
    lc, gc = c.loss_and_grad(x, y)
    la, ga = a.loss_and_grad(x, y)
    assert abs(lc - la) < 1e-5
    for k in gc:
        if k.startswith("0.regressor.2"):
            expected = M.T @ ga[k].astype(np.float64)
        else:
            expected = ga[k]
        np.testing.assert_allclose(gc[k], expected, rtol=1e-4, atol=1e-6, err_msg=k)


def test_wrong_regressor_width_names_the_transform():
    m = nn.Sequential(nn.SpatialTransformer(nn.Sequential(nn.Flatten()), nn.Sequential(nn.Linear(144, 6)),
                                            transform="similarity"))
    with pytest.raises(ValueError, match=r'transform="similarity"\): the regressor must output 4'):
        m.predict(np.zeros((1, 1, 12, 12), np.float32))


def projective_or_tps(transform, outputs):
    return nn.Sequential(
        nn.SpatialTransformer(nn.Sequential(nn.Conv2d(1, 4, 5), nn.MaxPool2d(2), nn.ReLU()),
                              nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, outputs)),
                              align_corners=False, transform=transform),
        nn.Flatten(), nn.Linear(144, 3))


@pytest.mark.parametrize("transform,outputs", [("projective", 8), ("tps", 8), ("tps", 18)])
def test_projective_and_tps_start_at_the_identity_and_match_their_generators(transform, outputs):
    import swiftstn
    m = projective_or_tps(transform, outputs).build(seed=0)
    x, y = data(6)
    np.testing.assert_allclose(m.stn(x), x, atol=1e-5)
    with pytest.raises(ValueError, match="not affine"):
        m.theta(x)
    # perturb the regressor's output layer; stn(x) must equal the standalone generator + sampler
    sd = m.state_dict()
    rng = np.random.default_rng(2)
    sd["0.regressor.2.bias"] = (sd["0.regressor.2.bias"] + rng.normal(0, 0.1, outputs)).astype(np.float32)
    m.load_state_dict(sd)
    params = np.tile(sd["0.regressor.2.bias"].astype(np.float32), (6, 1))   # weight is zero: params = bias
    if transform == "projective":
        H = np.concatenate([params, np.ones((6, 1), np.float32)], 1).reshape(6, 3, 3)
        grid = swiftstn.perspective_grid(H, x.shape)
    else:
        grid = swiftstn.tps_grid(params.reshape(6, outputs // 2, 2), x.shape)
    np.testing.assert_array_equal(m.stn(x), swiftstn.grid_sample(x, grid))
    # the engine's gradient with respect to the regressor bias equals the generator's backward
    m.eval()
    loss, grads = m.loss_and_grad(x, y)
    assert np.isfinite(loss) and np.abs(grads["0.regressor.2.bias"]).max() > 0


@pytest.mark.parametrize("transform,outputs", [("affine", 6), ("projective", 8), ("tps", 8), ("tps", 18)])
def test_engine_gradient_equals_the_composed_operator_gradients(transform, outputs):
    """The model is transformer → Flatten → Linear with cross-entropy, so d(loss)/d(regressor bias)
    can be composed from the public operators: the linear layer's adjoint in NumPy, then
    grid_sample_backward, then the grid generator's backward, summed over the batch."""
    import swiftstn
    m = projective_or_tps(transform, outputs).build(seed=1).eval()
    sd = m.state_dict()
    rng = np.random.default_rng(5)
    sd["0.regressor.2.bias"] = (sd["0.regressor.2.bias"] + rng.normal(0, 0.05, outputs)).astype(np.float32)
    m.load_state_dict(sd)
    x, y = data(8)
    n = len(x)
    bias = sd["0.regressor.2.bias"].astype(np.float64)
    params = np.tile(bias, (n, 1))                       # the regressor's last weight is zero
    xd = x.astype(np.float64)
    if transform == "affine":
        grid = swiftstn.affine_grid(params.reshape(n, 2, 3), x.shape)
    elif transform == "projective":
        grid = swiftstn.perspective_grid(np.concatenate([params, np.ones((n, 1))], 1).reshape(n, 3, 3), x.shape)
    else:
        grid = swiftstn.tps_grid(params.reshape(n, outputs // 2, 2), x.shape)
    out = swiftstn.grid_sample(xd, grid)
    W, b = sd["2.weight"].astype(np.float64), sd["2.bias"].astype(np.float64)
    logits = out.reshape(n, -1) @ W.T + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(n), y] -= 1
    grad_out = ((p / n) @ W).reshape(out.shape)
    _, grad_grid = swiftstn.grid_sample_backward(grad_out, xd, grid, input_requires_grad=False)
    if transform == "affine":
        grad_params = swiftstn.affine_grid_backward(grad_grid, x.shape).reshape(n, -1)
    elif transform == "projective":
        H = np.concatenate([params, np.ones((n, 1))], 1).reshape(n, 3, 3)
        grad_params = swiftstn.perspective_grid_backward(grad_grid, H, x.shape).reshape(n, 9)[:, :8]
    else:
        grad_params = swiftstn.tps_grid_backward(grad_grid, x.shape, control_points=outputs // 2).reshape(n, -1)
    expected = grad_params.sum(0)
    _, grads = m.loss_and_grad(x, y)
    np.testing.assert_allclose(grads["0.regressor.2.bias"], expected, rtol=1e-3, atol=1e-5)


def test_tps_needs_a_square_number_of_control_points():
    m = projective_or_tps("tps", 10)
    with pytest.raises(ValueError, match=r"2K \(K = 4, 9, 16"):
        m.predict(np.zeros((1, 1, 12, 12), np.float32))


@pytest.mark.parametrize("transform", ["projective", "tps"])
def test_native_transform_gives_nan_theta_without_one(transform):
    """A homography or a spline has no theta: the C ABI's theta output is NaN, never stale memory."""
    m = projective_or_tps(transform, 8 if transform == "projective" else 18)
    x = np.random.default_rng(5).standard_normal((3, 1, 12, 12)).astype(np.float32)
    out, theta = swiftstn._native.network_transform(m._compiled(), x)
    assert out.shape == x.shape and theta.shape == (3, 2, 3)
    assert np.isnan(theta).all()
