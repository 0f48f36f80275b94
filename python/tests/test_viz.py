"""Pictures: make_grid's layout, and the seed's side-by-side figure checked on its pixels."""
import io
import subprocess
import sys

import numpy as np
import pytest

plt = pytest.importorskip("matplotlib.pyplot")
import matplotlib.image as mpimg  # noqa: E402

import swiftstn  # noqa: E402
from swiftstn import checkpoint as ckpt  # noqa: E402
from swiftstn import datasets, viz  # noqa: E402


def test_make_grid_layout_matches_torchvision():
    x = np.arange(10 * 1 * 5 * 4, dtype=np.float32).reshape(10, 1, 5, 4)
    g = viz.make_grid(x, nrow=4, padding=2)
    # torchvision: 3 rows of 4, each cell (h + padding) × (w + padding), plus one padding border
    assert g.shape == (3, 3 * 7 + 2, 4 * 6 + 2)
    np.testing.assert_array_equal(g[0, 2:7, 2:6], x[0, 0])
    np.testing.assert_array_equal(g[1, 2 + 7:7 + 7, 2 + 6:6 + 6], x[5, 0])
    assert (g[:, 0, :] == 0).all() and (g[:, :, 0] == 0).all()
    assert viz.make_grid(np.zeros((64, 1, 28, 28))).shape == (3, 242, 242)
    with pytest.raises(ValueError, match="N×C×H×W"):
        viz.make_grid(np.zeros((2, 2)))


def test_to_image_undoes_the_normalisation():
    pixels = np.linspace(0, 1, 12, dtype=np.float32).reshape(1, 3, 4)
    normalised = (pixels - datasets.MNIST_MEAN) / datasets.MNIST_STD
    np.testing.assert_allclose(viz.to_image(normalised)[..., 0], pixels[0], atol=1e-6)


def panels(png_bytes):
    """The two image panels of a side-by-side PNG: the longest run of non-white rows in each half."""
    img = mpimg.imread(io.BytesIO(png_bytes))[..., :3]
    h, w, _ = img.shape
    crops = []
    for half in (img[:, : w // 2], img[:, w // 2:]):
        dark = (half < 0.95).any(axis=2)
        rows = dark.sum(axis=1) > 0.3 * half.shape[1]
        runs, start = [], None
        for i, r in enumerate(list(rows) + [False]):
            if r and start is None:
                start = i
            elif not r and start is not None:
                runs.append((i - start, start, i))
                start = None
        _, r0, r1 = max(runs)
        cols = np.nonzero(dark[r0:r1].sum(axis=0) > 0.5 * (r1 - r0))[0]
        crops.append(half[r0:r1, cols[0]:cols[-1] + 1])
    a, b = crops
    hh, ww = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return a[:hh, :ww], b[:hh, :ww]


# The panels are rendered at different sub-pixel offsets, so even identical images differ a little
# after matplotlib's resampling: measured 0.016 mean absolute difference for an identity model
# against 0.13 after three epochs of training. The thresholds sit between the two.
SAME, DIFFERENT = 0.03, 0.06


def figure_png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


X_TEST = datasets.embedded_mnist("test")[0][:32]


def test_identity_model_shows_the_same_digits():
    model = swiftstn.models.blog_net(seed=0)      # regressor starts at the identity
    left, right = panels(figure_png(viz.visualize_stn(model, X_TEST)))
    assert left.shape[0] > 100 and left.shape[1] > 100
    assert np.abs(left - right).mean() < SAME


def test_trained_model_shows_transformed_digits():
    x, y = datasets.embedded_mnist("train")
    model = swiftstn.models.blog_net(seed=0)
    model.fit(x, y, epochs=3, lr=0.02, momentum=0.9, seed=0, progress=False)
    assert np.abs(model.theta(X_TEST) - np.eye(2, 3)).max() > 0.05
    left, right = panels(figure_png(viz.visualize_stn(model, X_TEST)))
    assert np.abs(left - right).mean() > DIFFERENT


def test_cli_visualize_pixels(tmp_path):
    identity = ckpt.save(str(tmp_path / "identity.ckpt"), swiftstn.models.blog_net(seed=0))
    out = tmp_path / "identity.png"
    subprocess.run([sys.executable, "-m", "swiftstn", "visualize", "--checkpoint", identity, "--out", str(out)],
                   check=True, capture_output=True)
    left, right = panels(out.read_bytes())
    assert np.abs(left - right).mean() < SAME
    trained = tmp_path / "trained.ckpt"
    subprocess.run([sys.executable, "-m", "swiftstn", "train", "--epochs", "3", "--lr", "0.02", "--momentum", "0.9",
                    "--seed", "0", "--checkpoint", str(trained)], check=True, capture_output=True)
    out = tmp_path / "trained.png"
    subprocess.run([sys.executable, "-m", "swiftstn", "visualize", "--checkpoint", str(trained), "--out", str(out)],
                   check=True, capture_output=True)
    left, right = panels(out.read_bytes())
    assert np.abs(left - right).mean() > DIFFERENT


def test_other_plots_draw():
    h = {"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [0.9, 0.6], "train_accuracy": [0.5, 0.8],
         "val_accuracy": [0.6, 0.85]}
    assert len(viz.plot_history(h).axes) == 2
    ax = viz.plot_sampling_grid(X_TEST[0, 0], [[0.8, -0.2, 0.1], [0.2, 0.8, 0.0]])
    assert ax.get_title()
    plt.close("all")
