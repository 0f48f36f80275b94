import os

import numpy as np
import pytest

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
SHARED_MNIST = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "mnist"))


def load_fixture(name):
    path = os.path.join(FIXTURES, name + ".npz")
    return np.load(path)


def cases(fixture, prefix):
    """Case names (key prefixes before '__') in a fixture that start with `prefix`."""
    return sorted({k.split("__")[0] for k in fixture.files if k.startswith(prefix)})


def assert_close(actual, expected, dtype, what):
    """The parity criterion: max |a − e| / max(1, |e|) ≤ 1e-5 (float32) or 1e-10 (float64)."""
    tol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-10
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    err = (np.abs(actual.astype(np.float64) - expected.astype(np.float64))
           / np.maximum(1.0, np.abs(expected.astype(np.float64))))
    worst = float(err.max()) if err.size else 0.0
    assert worst <= tol, f"{what}: max scaled error {worst:.3g} > {tol:g}"


@pytest.fixture(scope="session")
def sampling_fixture():
    return load_fixture("sampling")


def toy_data(n=96, seed=0):
    """Three classes of 12×12 images: a bright blob in one of three places, with noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.3, (n, 1, 12, 12)).astype(np.float32)
    for i, c in enumerate(y):
        r, col = [(2, 2), (2, 8), (8, 5)][c]
        x[i, 0, r:r + 3, col:col + 3] += 2.0
    return x, y
