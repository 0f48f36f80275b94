"""Pictures: image grids, the seed's side-by-side view of what a spatial transformer does,
training curves, and sampling grids over an image. The figures need matplotlib (``pip install
.[viz]``); ``side_by_side`` and ``write_png`` (the picture of ``swiftstn demo``) need only NumPy."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import datasets

if TYPE_CHECKING:
    from ._model import ModelMixin

__all__ = ["make_grid", "to_image", "visualize_stn", "side_by_side", "write_png", "plot_history",
           "plot_sampling_grid"]


def _plt() -> Any:
    """``matplotlib.pyplot``, or an ImportError saying how to install it."""
    try:
        import matplotlib.pyplot as plt  # headless machines fall back to the Agg backend
    except ImportError:
        raise ImportError("swiftstn.viz needs matplotlib: pip install 'swiftstn[viz]' "
                          "(or pip install matplotlib)") from None
    return plt


def make_grid(images: ArrayLike, nrow: int = 8, padding: int = 2, pad_value: float = 0.0) -> NDArray[Any]:
    """Tiles an N×C×H×W batch into one C×H'×W' image like ``torchvision.utils.make_grid``:
    ``nrow`` images per row, ``padding`` pixels of ``pad_value`` around and between them;
    single-channel batches become 3-channel (grey) as torchvision does."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise ValueError(f"make_grid: expected an N×C×H×W batch, got shape {x.shape}")
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    n, c, h, w = x.shape
    ncol = min(nrow, n)
    nrows = int(np.ceil(n / ncol)) if n else 0
    hp, wp = h + padding, w + padding
    grid = np.full((c, nrows * hp + padding, ncol * wp + padding), pad_value, dtype=x.dtype)
    for k in range(n):
        r, col = divmod(k, ncol)
        grid[:, r * hp + padding:r * hp + padding + h, col * wp + padding:col * wp + padding + w] = x[k]
    return grid


def to_image(grid: ArrayLike, mean: float = datasets.MNIST_MEAN, std: float = datasets.MNIST_STD
             ) -> NDArray[np.float64]:
    """C×H×W (normalised) → H×W×C in [0, 1] for imshow, undoing the dataset's normalisation."""
    img = np.transpose(np.asarray(grid, dtype=np.float64), (1, 2, 0)) * std + mean
    return np.clip(img, 0.0, 1.0)


def visualize_stn(model: ModelMixin, images: ArrayLike, mean: float = datasets.MNIST_MEAN,
                  std: float = datasets.MNIST_STD, nrow: int = 8) -> Any:
    """The seed's figure: a batch ("Dataset Images") beside the same batch after the model's
    spatial transformer ("Transformed Images"). ``mean``/``std`` are the dataset's normalisation
    (MNIST's by default; ``datasets.FASHION_MNIST_MEAN``/``_STD`` for Fashion-MNIST). Returns the
    matplotlib figure."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.4))
    for ax, picture, title in zip(axes, _before_after(model, images, mean, std, nrow),
                                  ("Dataset Images", "Transformed Images")):
        ax.imshow(picture)
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    return fig


def _before_after(model: ModelMixin, images: ArrayLike, mean: float, std: float, nrow: int
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The seed's two pictures (H×W×3 in [0, 1]): the batch's grid and the grid of the same batch
    after the model's spatial transformer."""
    images = np.asarray(images, dtype=np.float32)
    return (to_image(make_grid(images, nrow=nrow), mean, std),
            to_image(make_grid(model.stn(images), nrow=nrow), mean, std))


def side_by_side(model: ModelMixin, images: ArrayLike, mean: float = datasets.MNIST_MEAN,
                 std: float = datasets.MNIST_STD, nrow: int = 8, gap: int = 8) -> NDArray[np.uint8]:
    """The seed's figure as an H×W×3 uint8 image, without matplotlib: the batch (left) and the
    same batch after the model's spatial transformer (right), ``gap`` white columns apart. Write
    it with :func:`write_png`."""
    left, right = _before_after(model, images, mean, std, nrow)
    picture = np.concatenate([left, np.ones((left.shape[0], gap, 3)), right], axis=1)
    return np.round(picture * 255).astype(np.uint8)


def write_png(path: str, image: ArrayLike) -> None:
    """Writes an H×W (grey) or H×W×3 (RGB) uint8 image as a PNG file (zlib only, no imaging
    library)."""
    import struct
    import zlib

    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"write_png: expected an H×W or H×W×3 uint8 image, got {img.dtype} {img.shape}")
    h, w = img.shape[:2]
    colour = 2 if img.ndim == 3 else 0
    rows = np.ascontiguousarray(img).reshape(h, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
                + chunk(b"IEND", b""))


def plot_history(history: Mapping[str, Sequence[float]]) -> Any:
    """Loss and accuracy per epoch from ``fit()``'s history (or the CLI's JSON lines); returns the
    matplotlib figure."""
    plt = _plt()
    epochs = history["epoch"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, history["train_loss"], "o-", label="train")
    if "val_loss" in history:
        ax1.plot(epochs, history["val_loss"], "o-", label="test")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.legend()
    ax1.grid(alpha=0.3)
    if "train_accuracy" in history:
        ax2.plot(epochs, [100 * a for a in history["train_accuracy"]], "o-", label="train")
    if "val_accuracy" in history:
        ax2.plot(epochs, [100 * a for a in history["val_accuracy"]], "o-", label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy (%)")
    ax2.legend()
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_sampling_grid(image: ArrayLike, theta: ArrayLike, align_corners: bool = False, every: int = 3,
                       ax: Any = None) -> Any:
    """Draws the points ``affine_grid(theta)`` samples over ``image`` (H×W): which way a theta
    (2×3) moves the picture. Arrows go from each output pixel's own position to where it reads
    from (every ``every``-th pixel). Draws into the matplotlib axes ``ax`` (a new figure's by
    default) and returns them."""
    from . import affine_grid
    plt = _plt()
    image = np.asarray(image, dtype=np.float64)
    h, w = image.shape
    grid = affine_grid(np.asarray(theta, np.float64).reshape(1, 2, 3), (1, 1, h, w), align_corners=align_corners)[0]
    ident = affine_grid(np.eye(2, 3)[None], (1, 1, h, w), align_corners=align_corners)[0]

    def to_px(g: NDArray[Any], size: int) -> NDArray[Any]:
        return ((g + 1) / 2 * (size - 1)) if align_corners else ((g + 1) * size - 1) / 2

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(image, cmap="gray", extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    sl = (slice(None, None, every), slice(None, None, every))
    gx, gy = to_px(grid[..., 0], w)[sl], to_px(grid[..., 1], h)[sl]
    ix, iy = to_px(ident[..., 0], w)[sl], to_px(ident[..., 1], h)[sl]
    ax.quiver(ix, iy, gx - ix, gy - iy, angles="xy", scale_units="xy", scale=1, color="tab:orange", width=0.004)
    ax.plot(gx, gy, ".", color="tab:red", markersize=3)
    ax.set_xlim(-0.5 - w * 0.25, w - 0.5 + w * 0.25)
    ax.set_ylim(h - 0.5 + h * 0.25, -0.5 - h * 0.25)
    ax.set_title("sampling points of theta")
    return ax
