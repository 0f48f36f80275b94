"""The seed's network in swiftstn against PyTorch's outputs for the same weights (blog_net.npz)."""
import numpy as np
import pytest

import swiftstn

from conftest import load_fixture

F = load_fixture("blog_net")
WEIGHTS = {k[len("weights__"):]: F[k] for k in F.files if k.startswith("weights__")}


def model():
    m = swiftstn.models.blog_net(seed=0)
    m.load_state_dict(WEIGHTS)
    return m.eval()


def test_parameter_names_and_shapes_are_pytorchs():
    sd = swiftstn.models.blog_net(seed=0).state_dict()
    assert list(sd) == list(WEIGHTS)
    for k, v in sd.items():
        assert v.shape == WEIGHTS[k].shape and v.dtype == np.float32


def test_identity_initialisation_of_the_regressor():
    sd = swiftstn.models.blog_net(seed=3).state_dict()
    np.testing.assert_array_equal(sd["fc_loc.2.weight"], 0)
    np.testing.assert_array_equal(sd["fc_loc.2.bias"], [1, 0, 0, 0, 1, 0])
    m = swiftstn.models.blog_net(seed=3)
    x = F["input"][:4]
    np.testing.assert_array_equal(m.theta(x), np.tile(np.eye(2, 3, dtype=np.float32), (4, 1, 1)))
    np.testing.assert_allclose(m.stn(x), x, atol=1e-5)


def test_pytorch_default_init_bounds():
    sd = swiftstn.models.blog_net(seed=5).state_dict()
    for name, fan_in in (("conv1", 25), ("conv2", 250), ("fc1", 320), ("localization.0", 49)):
        bound = 1 / np.sqrt(fan_in)
        w = sd[name + ".weight"]
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
        assert abs(w.mean()) < 0.2 * bound   # centred uniform
    assert not np.array_equal(swiftstn.models.blog_net(seed=5).state_dict()["conv1.weight"],
                              swiftstn.models.blog_net(seed=6).state_dict()["conv1.weight"])


def test_predict_matches_pytorch():
    np.testing.assert_allclose(model().predict(F["input"]), F["logp_eval"], rtol=0, atol=1e-5)


def test_every_gradient_matches_pytorch():
    loss, grads = model().loss_and_grad(F["input"], F["target"])
    assert abs(loss - float(F["loss_eval"])) <= 1e-5 * abs(float(F["loss_eval"]))
    assert list(grads) == list(WEIGHTS)
    for name, g in grads.items():
        ref = F["grad__" + name]
        rel = np.abs(g - ref).max() / np.abs(ref).max()
        assert rel <= 1e-4, f"{name}: relative error {rel:.2e}"


def test_one_sgd_step_matches_pytorch():
    m = model()
    m.train_step(F["input"], F["target"], lr=0.01)
    for name, w in m.state_dict().items():
        np.testing.assert_allclose(w, F["sgd_step__" + name], rtol=0, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("config,kwargs", [
    ("sgd_momentum", dict(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-3)),
    ("sgd_nesterov", dict(optimizer="sgd", lr=0.02, momentum=0.8, nesterov=True)),
    ("adam", dict(optimizer="adam", lr=1e-3, weight_decay=1e-4)),
])
def test_three_optimizer_steps_match_pytorch(config, kwargs):
    m = model()
    for _ in range(3):
        m.train_step(F["input"], F["target"], **kwargs)
    for name, w in m.state_dict().items():
        ref = F[f"{config}3__" + name]
        np.testing.assert_allclose(w, ref, rtol=0, atol=2e-5 * max(1.0, np.abs(ref).max()), err_msg=name)
