"""swiftstn.nn and the training API: building models, validation, determinism, training."""
import numpy as np
import pytest

import swiftstn
from swiftstn import nn

from conftest import toy_data


def small_model():
    return nn.Sequential(
        nn.SpatialTransformer(
            nn.Sequential(nn.Conv2d(1, 4, 5), nn.MaxPool2d(2), nn.ReLU()),
            nn.Sequential(nn.Linear(4 * 4 * 4, 8), nn.ReLU(), nn.Linear(8, 6)),
            align_corners=False),
        nn.Conv2d(1, 6, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout2d(0.25), nn.Flatten(),
        nn.Linear(6 * 5 * 5, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def test_parameter_names_follow_torch_sequential():
    m = small_model().build(seed=0)
    assert list(m.state_dict()) == [
        "0.localization.0.weight", "0.localization.0.bias", "0.regressor.0.weight", "0.regressor.0.bias",
        "0.regressor.2.weight", "0.regressor.2.bias", "1.weight", "1.bias", "6.weight", "6.bias",
        "9.weight", "9.bias"]
    assert [k for k, _ in m.named_parameters()] == list(m.state_dict())


def test_training_reduces_the_loss_and_learns_the_toy_task():
    x, y = toy_data()
    m = small_model().build(seed=1)
    before, _ = m.evaluate(x, y)
    h = m.fit(x, y, epochs=15, batch_size=16, lr=0.05, momentum=0.9, seed=2, progress=False, validation_data=(x, y))
    assert set(h) >= {"epoch", "train_loss", "train_accuracy", "seconds", "images_per_second", "val_loss",
                      "val_accuracy"}
    assert h["epoch"] == list(range(1, 16))
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0]
    after, acc = m.evaluate(x, y)
    assert after < before and acc >= 0.9


def test_predict_returns_log_probabilities_without_a_logsoftmax_layer():
    x, _ = toy_data(10)
    p = small_model().build(seed=0).predict(x)
    assert p.shape == (10, 3)
    np.testing.assert_allclose(np.exp(p).sum(axis=1), 1, rtol=1e-5)


def test_training_is_deterministic_and_thread_count_independent():
    x, y = toy_data(80)
    results = []
    saved = swiftstn.get_num_threads()
    try:
        for threads in (1, 2, 1):
            swiftstn.set_num_threads(threads)
            m = small_model().build(seed=7)
            m.fit(x, y, epochs=2, batch_size=40, seed=11, progress=False)
            results.append(m.state_dict())
    finally:
        swiftstn.set_num_threads(saved)
    for other in results[1:]:
        for k in results[0]:
            assert results[0][k].tobytes() == other[k].tobytes(), k


def test_eval_mode_is_deterministic_and_training_mode_applies_dropout():
    x, y = toy_data(32)
    m = small_model().build(seed=0)
    m.eval()
    np.testing.assert_array_equal(m(x), m(x))
    m.train()
    assert not np.array_equal(m(x), m(x))
    l1, g1 = m.eval().loss_and_grad(x, y)
    l2, g2 = m.loss_and_grad(x, y)
    assert l1 == l2 and all(np.array_equal(g1[k], g2[k]) for k in g1)


def test_train_step_in_eval_mode_matches_gradient_descent():
    x, y = toy_data(24)
    m = small_model().build(seed=4).eval()
    w0 = m.state_dict()
    _, g = m.loss_and_grad(x, y)
    m.train_step(x, y, lr=0.1)
    for k, w in m.state_dict().items():
        np.testing.assert_allclose(w, w0[k] - 0.1 * g[k], rtol=0, atol=1e-6)


# ---- bad input: a clear exception, and the model unchanged --------------------------------------

@pytest.fixture
def model_and_data():
    x, y = toy_data(16)
    return small_model().build(seed=0), x, y


def assert_unchanged(m, before):
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_labels_out_of_range(model_and_data):
    m, x, y = model_and_data
    before = m.state_dict()
    y = y.copy()
    y[5] = 3
    with pytest.raises(ValueError, match=r"label 3 at index 5 is out of range for 3 classes"):
        m.fit(x, y, progress=False)
    with pytest.raises(ValueError, match="out of range"):
        m.loss_and_grad(x, -y - 1)
    assert_unchanged(m, before)


def test_wrong_image_shape(model_and_data):
    m, x, y = model_and_data
    before = m.state_dict()
    with pytest.raises(ValueError,
                       match=r"Conv2d\(1, 4\) expects inputs of shape \(N, 1, H, W\), got \(N, 3, 12, 12\)"):
        m.fit(np.zeros((16, 3, 12, 12), np.float32), y, progress=False)
    with pytest.raises(ValueError, match=r"Linear\(64, 8\) expects 64 input features"):
        m.predict(np.zeros((2, 1, 14, 14), np.float32))
    with pytest.raises(ValueError, match=r"y must have shape \(16,\)"):
        m.fit(x, y[:10], progress=False)
    with pytest.raises(TypeError, match="integer array"):
        m.fit(x, y.astype(np.float32), progress=False)
    assert_unchanged(m, before)


def test_nan_in_the_data(model_and_data):
    m, x, y = model_and_data
    before = m.state_dict()
    x = x.copy()
    x[3, 0, 4, 4] = np.nan
    with pytest.raises(ValueError, match="non-finite value"):
        m.fit(x, y, progress=False)
    with pytest.raises(ValueError, match="non-finite value"):
        m.predict(x)
    assert_unchanged(m, before)


def test_state_dict_errors_leave_the_model_unchanged(model_and_data):
    m, _, _ = model_and_data
    before = m.state_dict()
    bad = dict(before)
    del bad["1.bias"]
    with pytest.raises(KeyError, match=r"missing keys: 1\.bias"):
        m.load_state_dict(bad)
    bad = dict(before)
    bad["extra"] = np.zeros(1)
    with pytest.raises(KeyError, match="unexpected keys: extra"):
        m.load_state_dict(bad)
    bad = dict(before)
    bad["6.weight"] = np.zeros((16, 149), np.float32)
    with pytest.raises(ValueError, match=r"6\.weight has shape \(16, 149\), the model expects \(16, 150\)"):
        m.load_state_dict(bad)
    bad = dict(before)
    bad["1.weight"] = np.full((6, 1, 3, 3), np.inf, np.float32)
    with pytest.raises(ValueError, match="non-finite"):
        m.load_state_dict(bad)
    assert_unchanged(m, before)
    # and a good one round-trips
    m2 = small_model().build(seed=9)
    m2.load_state_dict(before)
    assert_unchanged(m2, before)


def test_declaration_errors():
    with pytest.raises(ValueError, match="dropout probability"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="in_channels must be a positive int"):
        nn.Conv2d(0, 3, 3)
    with pytest.raises(TypeError, match="not a swiftstn.nn.Module"):
        nn.Sequential(nn.ReLU(), "relu")
    with pytest.raises(ValueError, match="transform must be one of"):
        nn.SpatialTransformer(nn.Sequential(), nn.Sequential(), transform="tps-ish")
    m = nn.Sequential(nn.SpatialTransformer(nn.Sequential(nn.Flatten()), nn.Sequential(nn.Linear(144, 4))))
    with pytest.raises(ValueError, match="6 affine parameters"):
        m.predict(np.zeros((1, 1, 12, 12), np.float32))
    with pytest.raises(ValueError, match="optimizer must be one of"):
        small_model().fit(*toy_data(8), optimizer="rmsprop", progress=False)


def test_callback_can_stop_training_and_sees_progress():
    x, y = toy_data(64)
    m = small_model().build(seed=0)
    seen = []

    def cb(epoch, batch, batches, samples, loss, correct):
        seen.append((epoch, batch, batches, samples))
        return batch < 2

    h = m.fit(x, y, epochs=3, batch_size=8, progress=False, callback=cb, seed=1)
    assert h["epoch"] == [1] and seen[-1][1] == 2 and seen[0][2] == 8


def test_callback_exception_propagates():
    x, y = toy_data(32)
    m = small_model().build(seed=0)

    def cb(*args):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        m.fit(x, y, batch_size=8, progress=False, callback=cb)


def test_a_single_layer_model_builds_twice():
    """The compiled model's parameter names must not shadow Module._param_names() (a single Linear
    is both the model and the layer that owns the parameters)."""
    layer = nn.Linear(3, 2).build(0)
    first = layer.state_dict()
    layer.build(1)
    assert list(layer.state_dict()) == ["weight", "bias"] == list(first)
    assert not np.array_equal(layer.state_dict()["weight"], first["weight"])
