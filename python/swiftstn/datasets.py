"""Datasets: the IDX file format (MNIST's) and the MNIST / Fashion-MNIST loaders."""
import gzip
import os
import struct

import numpy as np

# IDX type codes → NumPy dtypes (big-endian on disk).
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
# Fashion-MNIST's training-set pixel mean and standard deviation (on [0, 1] pixels).
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class IDXError(ValueError):
    """A file is not a valid IDX file (bad magic, dimensions or length)."""


def parse_idx(data, name="<bytes>"):
    """Parses the bytes of an IDX file into a NumPy array, validating the header and length."""
    if len(data) < 4:
        raise IDXError(f"{name}: {len(data)} bytes is too short for an IDX header")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in _IDX_TYPES:
        raise IDXError(f"{name}: not an IDX file (magic 0x{int.from_bytes(data[:4], 'big'):08x})")
    if ndim == 0:
        raise IDXError(f"{name}: IDX file with zero dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(f"{name}: truncated header ({len(data)} bytes, {header} needed for {ndim} dimensions)")
    dims = struct.unpack(">" + "I" * ndim, data[4:header])
    dtype = np.dtype(_IDX_TYPES[type_code])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise IDXError(f"{name}: {what}: {len(data)} bytes, expected {expected} for shape {dims}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path):
    """Reads an IDX file, gzip-compressed (``.gz``) or raw."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise IDXError(f"{path}: corrupt gzip data ({e})") from None
    return parse_idx(data, os.fspath(path))


def find_idx(root, stem):
    """The path of `stem` (or `stem.gz`) under root or root/raw or root/MNIST/raw (torchvision)."""
    for folder in (root, os.path.join(root, "raw"), os.path.join(root, "MNIST", "raw"),
                   os.path.join(root, "FashionMNIST", "raw")):
        for name in (stem, stem + ".gz"):
            p = os.path.join(folder, name)
            if os.path.isfile(p):
                return p
    raise FileNotFoundError(f"{stem}[.gz] not found in {root} (nor in its raw/ subfolder)")


def _load(root, split, mean, std):
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not os.path.isdir(root):
        raise FileNotFoundError(f"data folder {root} does not exist")
    images_name, labels_name = _FILES[split]
    images = read_idx(find_idx(root, images_name))
    labels = read_idx(find_idx(root, labels_name))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise IDXError(f"{root}: images {images.shape} and labels {labels.shape} do not form a dataset")
    x = ((images.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)[:, None]
    return x, labels.astype(np.int64)


def mnist(root, split="train"):
    """MNIST from IDX files in ``root``: float32 N×1×28×28 normalised with mean 0.1307 and std
    0.3081 (as the seed does), and int64 labels."""
    return _load(root, split, MNIST_MEAN, MNIST_STD)


def fashion_mnist(root, split="train"):
    """Fashion-MNIST (same file names and format), normalised with mean 0.2860 and std 0.3530."""
    return _load(root, split, FASHION_MNIST_MEAN, FASHION_MNIST_STD)
