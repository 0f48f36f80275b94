"""Distorted MNIST: shapes, determinism, IDX output readable by the loader."""
import os

import numpy as np
import pytest

from swiftstn import datasets, distortions


@pytest.mark.parametrize("kind,size", [("R", 28), ("RTS", 42), ("P", 28), ("E", 28), ("cluttered", 60)])
def test_shapes_labels_and_determinism(kind, size, tmp_path):
    x, y = datasets.distorted_mnist(kind, split="test", count=40, seed=3)
    assert x.shape == (40, 1, size, size) and x.dtype == np.float32
    _, y0 = datasets.embedded_mnist("test")
    np.testing.assert_array_equal(y, y0[:40])
    x2, _ = datasets.distorted_mnist(kind, split="test", count=40, seed=3)
    np.testing.assert_array_equal(x, x2)
    x3, _ = datasets.distorted_mnist(kind, split="test", count=40, seed=4)
    assert not np.array_equal(x, x3)
    # written as IDX files that the ordinary loader reads back identically
    xi, yi = datasets.distorted_mnist(kind, split="train", count=30, seed=1, out=str(tmp_path))
    xr, yr = datasets.mnist(str(tmp_path), "train")
    np.testing.assert_array_equal(xr, xi)
    np.testing.assert_array_equal(yr, yi)
    assert sorted(os.listdir(tmp_path)) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


def test_distortions_move_the_ink():
    digits = datasets.read_idx(datasets.find_idx(datasets._embedded_root(), "t10k-images-idx3-ubyte"))[:50]
    for kind in ("R", "P", "E"):
        out = distortions.distort(digits, kind, seed=0)
        assert out.dtype == np.uint8 and out.shape == digits.shape
        # ink is kept roughly (bilinear resampling) but moved
        assert 0.5 < out.astype(float).sum() / digits.astype(float).sum() < 1.5
        assert np.abs(out.astype(int) - digits.astype(int)).mean() > 5
    rts = distortions.distort(digits, "RTS", seed=0)
    ink_rows = (rts > 0).any(axis=2)
    assert ink_rows.any(axis=1).all()                   # every digit is visible
    clutter = distortions.distort(digits, "cluttered", seed=0)
    assert ((clutter > 0).sum(axis=(1, 2)) > (digits > 0).sum(axis=(1, 2))).mean() > 0.9


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind must be one of"):
        distortions.distort(np.zeros((1, 28, 28), np.uint8), "X")
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        distortions.distort(np.zeros((1, 20, 20), np.uint8), "R")
    with pytest.raises(ValueError, match="split"):
        datasets.distorted_mnist("R", split="val")
