"""Datasets: the IDX file format (MNIST's), the MNIST / Fashion-MNIST loaders with verified
downloads, and an embedded MNIST subset for offline use."""
from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import distortions as _distortions
from ._idx import _FILES, MNIST_MEAN, MNIST_STD, IDXError, StrPath, _embedded_root, find_idx, parse_idx, read_idx

__all__ = [
    "IDXError",
    "DownloadError",
    "MNIST_MEAN",
    "MNIST_STD",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "parse_idx",
    "read_idx",
    "find_idx",
    "download",
    "mnist",
    "fashion_mnist",
    "embedded_mnist",
    "distorted_mnist",
]

# Fashion-MNIST's training-set pixel mean and standard deviation (on [0, 1] pixels).
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530

#: (images: float32 N×1×28×28, normalised; labels: int64 N)
_Dataset = tuple[NDArray[np.float32], NDArray[np.int64]]


def _load(root: StrPath, split: str, mean: float, std: float) -> _Dataset:
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


# Where the standard files are published, and how a downloaded file is recognised: the MD5 of
# the published .gz (torchvision's list) or the SHA-256 of the decompressed IDX bytes (for mirrors
# that recompress).
_SOURCES: dict[str, dict[str, Any]] = {
    "mnist": {
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                    "https://storage.googleapis.com/cvdf-datasets/mnist/",
                    "http://yann.lecun.com/exdb/mnist/"],
        "files": {
            "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873",
                                        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
            "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432",
                                        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
            "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3",
                                       "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
            "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c",
                                       "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        },
    },
    "fashion-mnist": {
        "mirrors": ["https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
                    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "files": {
            "train-images-idx3-ubyte": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", None),
            "train-labels-idx1-ubyte": ("25c81989df183df01b3e8a0aad5dffbe", None),
            "t10k-images-idx3-ubyte": ("bef4ecab320f06d8554ea6380940ec79", None),
            "t10k-labels-idx1-ubyte": ("bb300cfdad3c16e7a12a480ee83cd310", None),
        },
    },
}


class DownloadError(OSError):
    """No mirror delivered a file with the expected checksum."""


def _verified(data: bytes, gz_md5: str, raw_sha256: str | None) -> bool:
    if hashlib.md5(data).hexdigest() == gz_md5:
        return True
    if raw_sha256 is None:
        return False
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        return False
    return hashlib.sha256(raw).hexdigest() == raw_sha256


def _fetch(url: str, progress: bool, timeout: float = 60) -> bytes:
    """The bytes at url, with a tqdm progress bar when `progress`."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        bar = None
        if progress:
            try:
                from tqdm.auto import tqdm
                bar = tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], leave=False)
            except ImportError:
                bar = None
        chunks = []
        try:
            while True:
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    data = b"".join(chunks)
    if total is not None and len(data) != total:
        raise DownloadError(f"{url}: connection closed after {len(data)} of {total} bytes")
    return data


def _write_atomically(path: str, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file in the same folder and a rename, so the
    path never holds a partial file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".swiftstn-", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def download(root: StrPath, dataset: str = "mnist", mirrors: Sequence[str] | None = None,
             progress: bool = True) -> StrPath:
    """Downloads the four standard files of ``dataset`` ("mnist" or "fashion-mnist") into
    ``root`` (skipping files already there and valid), verifying each checksum. A failed or
    partial download leaves no file behind. Returns the folder."""
    if dataset not in _SOURCES:
        raise ValueError(f"dataset must be one of {', '.join(map(repr, _SOURCES))}, got {dataset!r}")
    source = _SOURCES[dataset]
    os.makedirs(root, exist_ok=True)
    for stem, (gz_md5, raw_sha256) in source["files"].items():
        path = os.path.join(root, stem + ".gz")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                if _verified(f.read(), gz_md5, raw_sha256):
                    continue
        errors = []
        for mirror in mirrors or source["mirrors"]:
            url = mirror + stem + ".gz"
            try:
                data = _fetch(url, progress)
            except (urllib.error.URLError, OSError, ValueError) as e:
                errors.append(f"{url}: {e}")
                continue
            if not _verified(data, gz_md5, raw_sha256):
                errors.append(f"{url}: checksum mismatch ({len(data)} bytes)")
                continue
            _write_atomically(path, data)
            break
        else:
            raise DownloadError(f"could not download {stem}.gz: " + "; ".join(errors))
    return root


def mnist(root: StrPath | None = None, split: str = "train", download: bool = False) -> _Dataset:
    """MNIST as float32 N×1×28×28 normalised with mean 0.1307 and std 0.3081 (as the seed does)
    and int64 labels, from the IDX files (``.gz`` or raw) in ``root`` or its ``raw/`` folder
    (torchvision's layout). With ``download=True`` missing files are fetched and verified first.
    With ``root=None``, the embedded subset (5,000 training and 1,000 test digits) is used."""
    if root is None:
        return _load(_embedded_root(), split, MNIST_MEAN, MNIST_STD)
    if download:
        globals()["download"](root, "mnist")
    return _load(root, split, MNIST_MEAN, MNIST_STD)


def fashion_mnist(root: StrPath, split: str = "train", download: bool = False) -> _Dataset:
    """Fashion-MNIST (same file names and format as MNIST), float32 N×1×28×28 normalised with
    its training-set mean 0.2860 and std 0.3530, and int64 labels."""
    if download:
        globals()["download"](root, "fashion-mnist")
    return _load(root, split, FASHION_MNIST_MEAN, FASHION_MNIST_STD)


def embedded_mnist(split: str = "train") -> _Dataset:
    """The MNIST subset shipped inside the package (5,000 training, 1,000 test digits)."""
    return mnist(None, split)


def distorted_mnist(kind: str, root: StrPath | None = None, split: str = "train", seed: int = 0,
                    count: int | None = None, out: str | None = None) -> _Dataset:
    """Distorted MNIST of ``kind`` ("R", "RTS", "P", "E" or "cluttered"): the same as
    :func:`swiftstn.distortions.distorted_mnist` (see that module for the distortions and the
    arguments). Returns (float32 N×1×S×S normalised like MNIST, int64 labels)."""
    return _distortions.distorted_mnist(kind, root=root, split=split, seed=seed, count=count, out=out)
