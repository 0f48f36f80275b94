"""The IDX file format (MNIST's) and the standard MNIST file layout: what both
:mod:`swiftstn.datasets` and :mod:`swiftstn.distortions` need, so that neither imports the other.
The public names are re-exported there (``datasets.IDXError``, ``datasets.parse_idx``,
``datasets.read_idx``, ``datasets.find_idx``, ``datasets.MNIST_MEAN``/``MNIST_STD``,
``distortions.write_idx``)."""
from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: A filesystem path: a str or an ``os.PathLike`` such as ``pathlib.Path``.
StrPath = Union[str, "os.PathLike[str]"]

# IDX type codes → NumPy dtypes (big-endian on disk).
_IDX_TYPES: dict[int, type[np.generic] | str] = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
                                                 0x0E: ">f8"}

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081

# The standard file stems (images, labels) of each split.
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class IDXError(ValueError):
    """A file is not a valid IDX file (bad magic, dimensions or length)."""


IDXError.__module__ = "swiftstn.datasets"  # its documented home (tracebacks and pickles name it so)


def parse_idx(data: bytes, name: str = "<bytes>") -> NDArray[Any]:
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
    expected = header + math.prod(dims) * dtype.itemsize          # exact: Python integers
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise IDXError(f"{name}: {what}: {len(data)} bytes, expected {expected} for shape {dims}")
    try:
        return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))
    except ValueError as e:  # e.g. an empty array with dimensions NumPy cannot represent
        raise IDXError(f"{name}: cannot hold shape {dims} ({e})") from None


def read_idx(path: StrPath) -> NDArray[Any]:
    """Reads an IDX file, gzip-compressed (``.gz``) or raw."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise IDXError(f"{path}: corrupt gzip data ({e})") from None
    return parse_idx(data, os.fspath(path))


def find_idx(root: StrPath, stem: str) -> str:
    """The path of `stem` (or `stem.gz`) under root or root/raw or root/MNIST/raw (torchvision)."""
    for folder in (root, os.path.join(root, "raw"), os.path.join(root, "MNIST", "raw"),
                   os.path.join(root, "FashionMNIST", "raw")):
        for name in (stem, stem + ".gz"):
            p = os.path.join(folder, name)
            if os.path.isfile(p):
                return p
    raise FileNotFoundError(f"{stem}[.gz] not found in {root} (nor in its raw/ subfolder)")


def write_idx(path: str, array: ArrayLike) -> str:
    """Writes a uint8 array as an IDX file (gzip-compressed when the path ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    data = (struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
            + array.tobytes())
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(gzip.compress(data, 6, mtime=0) if path.endswith(".gz") else data)
    os.replace(tmp, path)
    return path


def _embedded_root() -> str:
    """The folder of the MNIST subset shipped inside the package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "mnist_subset")
