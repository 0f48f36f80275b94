"""Models pickle (and deepcopy) with their parameters, run state and mode; predict/evaluate honour
batch_size; every model method treats integer (uint8) images the same way."""
import copy
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import swiftstn
from swiftstn import nn

from conftest import toy_data

# Where the swiftstn under test was imported from (installed, or built in place), so a child
# interpreter imports the same package.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(swiftstn.__file__)))


def small_model(log_softmax=False):
    """A spatial transformer, both dropouts and a classifier on 12×12 images (3 classes)."""
    layers = [
        nn.SpatialTransformer(
            nn.Sequential(nn.Conv2d(1, 4, 5), nn.MaxPool2d(2), nn.ReLU()),
            nn.Sequential(nn.Linear(4 * 4 * 4, 8), nn.ReLU(), nn.Linear(8, 6))),
        nn.Conv2d(1, 6, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout2d(0.25), nn.Flatten(),
        nn.Linear(6 * 5 * 5, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3)]
    if log_softmax:
        layers.append(nn.LogSoftmax(dim=1))
    return nn.Sequential(*layers)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_parameters(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert same_bits(sa[k], sb[k]), k


def assert_same_training_state(a, b):
    ta, tb = a.training_state(), b.training_state()
    assert set(ta) == set(tb)
    for k in ta:
        if isinstance(ta[k], np.ndarray):
            assert same_bits(ta[k], tb[k]), k
        else:
            assert ta[k] == tb[k], k


def roundtrip(model):
    return pickle.loads(pickle.dumps(model))


FIT = {"epochs": 1, "batch_size": 16, "lr": 0.05, "progress": False}


# ---- pickling ----------------------------------------------------------------------------------

def test_an_uncompiled_model_pickles_and_compiles_like_the_original():
    m = small_model()
    b = roundtrip(m)
    assert type(b) is nn.Sequential and repr(b) == repr(m) and b.training is m.training
    assert "_net" not in b.__dict__
    assert_same_parameters(m.build(seed=3), b.build(seed=3))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_a_compiled_model_predicts_bit_for_bit_the_same_after_pickling(protocol):
    x, _ = toy_data(20)
    m = small_model(log_softmax=True).build(seed=1).eval()
    b = pickle.loads(pickle.dumps(m, protocol=protocol))
    assert b is not m and b.spec == m.spec and not b.training
    assert_same_parameters(m, b)
    assert same_bits(m.predict(x), b.predict(x))
    assert same_bits(m.forward(x), b.forward(x))
    assert same_bits(m.stn(x), b.stn(x)) and same_bits(m.theta(x), b.theta(x))
    assert m.training_state()["optimizer"] is None and b.training_state()["optimizer"] is None


def test_a_composite_model_pickles():
    x = np.random.default_rng(0).normal(size=(4, 1, 28, 28)).astype(np.float32)
    m = swiftstn.models.blog_net(seed=0)
    b = roundtrip(m)
    assert type(b) is swiftstn.models.BlogNet and list(b.state_dict()) == list(m.state_dict())
    assert same_bits(m.predict(x), b.predict(x)) and same_bits(m.theta(x), b.theta(x))


@pytest.mark.parametrize("optimizer, momentum, seed", [("sgd", 0.9, 5), ("adam", 0.0, None)])
def test_training_continues_the_same_run_after_pickling(optimizer, momentum, seed):
    x, y = toy_data()
    settings = dict(FIT, optimizer=optimizer, momentum=momentum, seed=seed)
    a = small_model().build(seed=2)
    a.fit(x, y, **settings)
    b = roundtrip(a)
    assert_same_parameters(a, b)
    assert_same_training_state(a, b)
    assert b.training_state()["optimizer"]["name"] == optimizer and b.training_state()["epoch"] == 1
    ha = a.fit(x, y, **settings)
    hb = b.fit(x, y, **settings)
    assert ha["epoch"] == hb["epoch"] == [2]
    assert ha["train_loss"] == hb["train_loss"] and ha["train_accuracy"] == hb["train_accuracy"]
    assert_same_parameters(a, b)
    assert_same_training_state(a, b)


def test_mode_and_dropout_step_seed_survive_pickling():
    x, y = toy_data(8)
    a = small_model().build(seed=4)  # training mode: dropout active
    a.forward(x)
    a.loss_and_grad(x, y)  # both advance the dropout step seed
    b = roundtrip(a)
    assert b.training and b.__dict__["_step_seed"] == a.__dict__["_step_seed"] == 2
    assert same_bits(a.forward(x), b.forward(x))  # the same dropout masks
    la, ga = a.loss_and_grad(x, y)
    lb, gb = b.loss_and_grad(x, y)
    assert la == lb and all(same_bits(ga[k], gb[k]) for k in ga)
    assert not roundtrip(a.eval()).training


def test_train_step_runs_continue_after_pickling():
    x, y = toy_data(16)
    a = small_model().build(seed=6)
    a.train_step(x, y, lr=0.05, momentum=0.9)
    b = roundtrip(a)
    assert a.train_step(x, y, lr=0.05, momentum=0.9) == b.train_step(x, y, lr=0.05, momentum=0.9)
    assert_same_parameters(a, b)


def test_deepcopy_gives_an_independent_model():
    x, y = toy_data()
    a = small_model().build(seed=8)
    a.fit(x, y, **dict(FIT, seed=1, momentum=0.9))
    b = copy.deepcopy(a)
    assert_same_parameters(a, b)
    assert_same_training_state(a, b)
    assert b.__dict__["_net"] is not a.__dict__["_net"] and b.__dict__["_trainer"] is not a.__dict__["_trainer"]
    assert b[0] is not a[0] and b._transformers[0] is b[0]  # the copy's own module tree
    before, state_before = a.state_dict(), a.training_state()
    b.fit(x, y, **dict(FIT, seed=1, momentum=0.9))
    b.load_state_dict({k: v + 1 for k, v in b.state_dict().items()})
    after = a.state_dict()
    assert all(same_bits(before[k], after[k]) for k in before)  # training the copy leaves a alone
    assert a.training_state()["step"] == state_before["step"]
    assert not same_bits(a.predict(x), b.predict(x))


def test_a_pickled_model_loads_in_a_fresh_interpreter(tmp_path):
    """Unpickled in another process (as multiprocessing's spawn does): same predictions, bit for
    bit, and fit() continues the same run there."""
    x, y = toy_data()
    a = small_model().build(seed=9)
    settings = dict(FIT, seed=3, momentum=0.9)
    a.fit(x, y, **settings)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(a))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    code = textwrap.dedent(f"""
        import pickle, numpy as np
        with open("model.pkl", "rb") as f:
            m = pickle.load(f)
        x, y = np.load("x.npy"), np.load("y.npy")
        np.save("pred.npy", m.predict(x))
        h = m.fit(x, y, **{settings!r})
        np.save("loss.npy", np.array(h["train_loss"]))
        np.savez("params.npz", **m.state_dict())
    """)
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert same_bits(np.load(tmp_path / "pred.npy"), a.predict(x))
    h = a.fit(x, y, **settings)
    assert np.load(tmp_path / "loss.npy").tolist() == h["train_loss"]
    with np.load(tmp_path / "params.npz") as p:
        for k, v in a.state_dict().items():
            assert same_bits(p[k], v), k


# ---- predict / evaluate batch_size ---------------------------------------------------------------

@pytest.mark.parametrize("log_softmax", [False, True])
def test_predict_in_batches_is_bit_for_bit_the_unbatched_result(log_softmax):
    x, _ = toy_data(37)
    m = small_model(log_softmax).build(seed=10)
    whole = m.predict(x)
    for batch_size in (1, 2, 5, 16, 36, 37, 38, 1000, np.int64(7)):
        assert same_bits(m.predict(x, batch_size=batch_size), whole), batch_size
    assert m.predict(x[:0], batch_size=4).shape == (0, 3)


def test_predict_batch_size_runs_batches_of_that_size(monkeypatch):
    x, _ = toy_data(10)
    m = small_model().build(seed=11)
    sizes = []
    forward = swiftstn._model._native.network_forward

    def spy(net, xb, *args):
        sizes.append(len(xb))
        return forward(net, xb, *args)
    monkeypatch.setattr(swiftstn._model._native, "network_forward", spy)
    m.predict(x, batch_size=4)
    assert sizes == [4, 4, 2]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "4", np.float32(4)])
def test_predict_and_evaluate_refuse_bad_batch_sizes(bad):
    x, y = toy_data(4)
    m = small_model().build(seed=12)
    with pytest.raises(ValueError, match=r"predict\(\): batch_size must be a positive int"):
        m.predict(x, batch_size=bad)
    with pytest.raises(ValueError, match=r"evaluate\(\): batch_size must be a positive int"):
        m.evaluate(x, y, batch_size=bad)


def test_evaluate_batch_size_does_not_change_the_result():
    x, y = toy_data(37)
    m = small_model(log_softmax=True).build(seed=13)
    m.fit(x, y, **dict(FIT, seed=0))
    whole = m.evaluate(x, y, batch_size=1000)
    for batch_size in (1, 5, 16, 37, np.int64(8)):
        assert m.evaluate(x, y, batch_size=batch_size) == whole, batch_size
    # predict agrees with evaluate
    loss = -m.predict(x)[np.arange(len(y)), y].astype(np.float64).mean()
    assert abs(loss - whole[0]) < 1e-5 and whole[1] == (m.predict(x).argmax(axis=1) == y).mean()


# ---- integer images ------------------------------------------------------------------------------

def calls(model, x, y):
    return {
        "fit": lambda: model.fit(x, y, progress=False, seed=0),
        "train_step": lambda: model.train_step(x, y),
        "predict": lambda: model.predict(x),
        "evaluate": lambda: model.evaluate(x, y),
        "forward": lambda: model.forward(x),
        "loss_and_grad": lambda: model.loss_and_grad(x, y),
        "stn": lambda: model.stn(x),
        "theta": lambda: model.theta(x),
    }


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.bool_])
def test_integer_images_are_refused_the_same_way_by_every_method(dtype):
    xf, y = toy_data(8)
    x = np.clip(xf * 100 + 50, 0, 255).astype(dtype)
    m = small_model().build(seed=14)
    m.fit(xf, y, **dict(FIT, seed=0))
    params, state = m.state_dict(), m.training_state()
    for name, call in calls(m, x, y).items():
        with pytest.raises(TypeError, match=rf"{name}\(\): x has dtype {np.dtype(dtype)}; .*float32 or float64 "
                                            r".*\(x / 255 - 0\.1307\) / 0\.3081"):
            call()
    with pytest.raises(TypeError, match=r"fit\(\): validation_data x has dtype uint8"):
        m.fit(xf, y, progress=False, seed=0, validation_data=(x.astype(np.uint8), y))
    # refused calls change nothing: not the parameters, not the run
    after = m.state_dict()
    assert all(same_bits(params[k], after[k]) for k in params)
    assert_same_training_state_dicts(state, m.training_state())
    # lists of ints are integer images too
    with pytest.raises(TypeError, match=r"predict\(\): x has dtype int"):
        m.predict(x.astype(np.int64).tolist())
    with pytest.raises(TypeError, match=r"fit\(\): x has dtype int"):
        m.fit(x.astype(np.int64).tolist(), y, progress=False)


def assert_same_training_state_dicts(ta, tb):
    for k in ta:
        assert same_bits(ta[k], tb[k]) if isinstance(ta[k], np.ndarray) else ta[k] == tb[k], k


def test_other_dtypes_are_refused_by_every_method_too():
    xf, y = toy_data(8)
    m = small_model().build(seed=15)
    for name, call in calls(m, xf.astype(np.float16), y).items():
        with pytest.raises(TypeError, match=rf"{name}\(\): x must have dtype float32 or float64, got float16"):
            call()


def test_normalised_pixels_are_taken_by_every_method():
    """The conversion the error message suggests works everywhere, float32 and float64."""
    xf, y = toy_data(8)
    pixels = np.clip(xf * 100 + 50, 0, 255).astype(np.uint8)
    m = small_model().build(seed=16)
    for x in ((pixels / 255 - 0.1307) / 0.3081, ((pixels / 255 - 0.1307) / 0.3081).astype(np.float32)):
        for call in calls(m, x, y).values():
            call()
