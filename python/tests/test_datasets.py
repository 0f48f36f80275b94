"""IDX parsing, MNIST loading, the embedded subset and verified downloads (from a local server)."""
import functools
import gzip
import hashlib
import http.server
import os
import struct
import threading

import numpy as np
import pytest

from swiftstn import datasets

from conftest import SHARED_MNIST


def idx_bytes(array, type_code=0x08):
    array = np.asarray(array)
    header = struct.pack(">HBB", 0, type_code, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    dtype = {0x08: ">u1", 0x0D: ">f4", 0x0C: ">i4"}[type_code]
    return header + array.astype(dtype).tobytes()


def write_mnist_like(folder, n=20, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    os.makedirs(folder, exist_ok=True)
    for stem, arr in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels),
                      ("t10k-images-idx3-ubyte", images[:5]), ("t10k-labels-idx1-ubyte", labels[:5])):
        data = idx_bytes(arr)
        path = os.path.join(folder, stem + (".gz" if gz else ""))
        with open(path, "wb") as f:
            f.write(gzip.compress(data) if gz else data)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_reads_what_it_was_given_and_normalises_like_the_seed(tmp_path, gz):
    images, labels = write_mnist_like(str(tmp_path), gz=gz)
    x, y = datasets.mnist(str(tmp_path), "train")
    assert x.shape == (20, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(x[:, 0], (images / 255.0 - 0.1307) / 0.3081, rtol=1e-6, atol=1e-6)
    xt, yt = datasets.mnist(str(tmp_path), "test")
    assert xt.shape == (5, 1, 28, 28)
    xf, _ = datasets.fashion_mnist(str(tmp_path), "train")
    np.testing.assert_allclose(xf[:, 0], (images / 255.0 - 0.2860) / 0.3530, rtol=1e-6, atol=1e-6)


def test_torchvision_raw_layout(tmp_path):
    write_mnist_like(str(tmp_path / "MNIST" / "raw"))
    assert datasets.mnist(str(tmp_path), "train")[0].shape == (20, 1, 28, 28)


def test_other_idx_types_round_trip(tmp_path):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    p = tmp_path / "f.idx"
    p.write_bytes(idx_bytes(a, 0x0D))
    np.testing.assert_array_equal(datasets.read_idx(str(p)), a)


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d[:-1], "truncated"),
    (lambda d: d + b"\0", "trailing bytes"),
    (lambda d: b"\x01\x02" + d[2:], "not an IDX file"),
    (lambda d: d[:2] + b"\x07" + d[3:], "not an IDX file"),
    (lambda d: d[:6], "truncated header"),
    (lambda d: d[:2], "too short"),
])
def test_corrupt_idx_files_are_refused(tmp_path, mutate, message):
    p = tmp_path / "bad"
    p.write_bytes(mutate(idx_bytes(np.zeros((3, 28, 28), np.uint8))))
    with pytest.raises(datasets.IDXError, match=message):
        datasets.read_idx(str(p))


def test_corrupt_gzip_and_truncated_dataset(tmp_path):
    write_mnist_like(str(tmp_path))
    path = tmp_path / "train-images-idx3-ubyte.gz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(datasets.IDXError, match="corrupt gzip|truncated"):
        datasets.mnist(str(tmp_path), "train")


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.mnist(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        datasets.mnist(str(tmp_path))
    with pytest.raises(ValueError, match="split"):
        datasets.mnist(str(tmp_path), "validation")


def test_embedded_subset():
    x, y = datasets.embedded_mnist("train")
    xt, yt = datasets.mnist(None, "test")
    assert x.shape == (5000, 1, 28, 28) and xt.shape == (1000, 1, 28, 28)
    assert set(np.unique(y)) == set(range(10))
    assert abs(float(x.mean()) - 0.0) < 0.1  # normalised


@pytest.mark.skipif(not os.path.isdir(SHARED_MNIST), reason="real MNIST not present")
def test_real_mnist_and_the_embedded_subset_is_its_prefix():
    x, y = datasets.mnist(SHARED_MNIST, "train")
    xt, yt = datasets.mnist(SHARED_MNIST, "test")
    assert x.shape == (60000, 1, 28, 28) and xt.shape == (10000, 1, 28, 28)
    assert np.bincount(y).min() > 5000
    ex, ey = datasets.embedded_mnist("train")
    np.testing.assert_array_equal(ex, x[:5000])
    np.testing.assert_array_equal(ey, y[:5000])


# ---- downloads, served from this machine ----------------------------------------------------------

class _Handler(http.server.SimpleHTTPRequestHandler):
    truncate = False

    def log_message(self, *args):
        pass

    def copyfile(self, source, outputfile):
        data = source.read()
        outputfile.write(data[: len(data) // 2] if self.truncate else data)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(_Handler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    _Handler.truncate = False


def serve_fake_dataset(root, monkeypatch):
    """Writes four small IDX files to the mirror and registers their checksums."""
    write_mnist_like(str(root))
    files = {}
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        files[stem] = (hashlib.md5((root / (stem + ".gz")).read_bytes()).hexdigest(), None)
    monkeypatch.setitem(datasets._SOURCES, "mnist", {"mirrors": [], "files": files})


def test_download_verifies_and_loads(server, tmp_path, monkeypatch):
    root, url = server
    serve_fake_dataset(root, monkeypatch)
    dest = tmp_path / "data"
    datasets.download(str(dest), "mnist", mirrors=["http://127.0.0.1:9/", url], progress=False)
    x, y = datasets.mnist(str(dest), "train")
    assert x.shape == (20, 1, 28, 28)
    assert sorted(os.listdir(dest)) == sorted(f + ".gz" for f in datasets._SOURCES["mnist"]["files"])


def test_interrupted_download_leaves_nothing_behind(server, tmp_path, monkeypatch):
    root, url = server
    serve_fake_dataset(root, monkeypatch)
    _Handler.truncate = True
    dest = tmp_path / "data"
    with pytest.raises(datasets.DownloadError, match="could not download"):
        datasets.download(str(dest), "mnist", mirrors=[url], progress=False)
    assert os.listdir(dest) == []


def test_checksum_mismatch_is_refused(server, tmp_path, monkeypatch):
    root, url = server
    serve_fake_dataset(root, monkeypatch)
    (root / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"tampered"))
    dest = tmp_path / "data"
    with pytest.raises(datasets.DownloadError, match="checksum mismatch"):
        datasets.download(str(dest), "mnist", mirrors=[url], progress=False)
    assert "train-images-idx3-ubyte.gz" not in os.listdir(dest)


@pytest.mark.skipif(not os.path.isdir(SHARED_MNIST), reason="real MNIST not present")
def test_real_files_pass_the_official_checksums(tmp_path):
    # The shared copies are recompressed: they verify by the SHA-256 of their contents.
    for stem, (md5, sha) in datasets._SOURCES["mnist"]["files"].items():
        data = open(os.path.join(SHARED_MNIST, stem + ".gz"), "rb").read()
        assert datasets._verified(data, md5, sha), stem
