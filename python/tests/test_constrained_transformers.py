"""Constrained spatial transformers (attention, similarity) against the affine one they restrict."""
import numpy as np
import pytest

from swiftstn import nn

# parameters → theta (row-major 2×3), as linear maps
MAPS = {
    "attention": np.array([[1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 1]], np.float64),
    "similarity": np.array([[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], np.float64),
}


def model(transform):
    return nn.Sequential(
        nn.SpatialTransformer(nn.Sequential(nn.Conv2d(1, 4, 5), nn.MaxPool2d(2), nn.ReLU()),
                              nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, {"affine": 6, **{k: v.shape[1] for k, v in MAPS.items()}}[transform])),
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
    sd["0.regressor.2.bias"] = (sd["0.regressor.2.bias"] + rng.normal(0, 0.05, sd["0.regressor.2.bias"].shape)).astype(np.float32)
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
