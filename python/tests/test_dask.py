"""swiftstn.dask: the warps and model.predict on Dask arrays chunked along N, on a two-process
LocalCluster reading a memory-mapped dataset of 100,000 MNIST-sized images, bit for bit the
in-memory calls; plus the argument checks (on the synchronous scheduler)."""
import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import swiftstn  # noqa: E402
import swiftstn.dask as sd  # noqa: E402

# Where the swiftstn under test was imported from (installed, or built in place), so a child
# interpreter imports the same package.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(swiftstn.__file__)))

N_IMAGES = 100_000  # float32 N×1×28×28: 314 MB on disk
CHUNK = 10_000
IMAGE = (1, 28, 28)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def random_theta(n, seed):
    """Per-image affine transforms near the identity (rotation, scale, shear, translation)."""
    rng = np.random.default_rng(seed)
    return (np.eye(2, 3) + rng.normal(0, 0.15, (n, 2, 3))).astype(np.float32)


# ---- the dataset: a memmap on disk, read by the workers by path ---------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A float32 N×1×28×28 memmap file: the 5,000 embedded MNIST training digits repeated, each
    repetition shifted by a small constant so that the copies differ."""
    path = str(tmp_path_factory.mktemp("dask") / "images.f32")
    digits = swiftstn.datasets.embedded_mnist("train")[0]
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(N_IMAGES,) + IMAGE)
    for rep, start in enumerate(range(0, N_IMAGES, len(digits))):
        stop = min(start + len(digits), N_IMAGES)
        mm[start:stop] = digits[:stop - start] + np.float32(0.001 * rep)
    mm.flush()
    del mm
    yield path
    os.remove(path)


def open_images(path):
    return np.memmap(path, dtype=np.float32, mode="r", shape=(N_IMAGES,) + IMAGE)


def lazy_images(path, n=N_IMAGES, chunk=CHUNK):
    """The file's first ``n`` images as a Dask array chunked along N: one task per chunk that maps
    that chunk of the file (np.memmap with an offset) on the worker, so that only the path — not
    the data — is in the graph. (``da.from_array(np.memmap(...))`` would put the whole memmap in
    the graph, and a memmap pickles as its data: 314 MB through the scheduler.)"""
    item = int(np.prod(IMAGE)) * 4
    blocks = []
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        load = dask.delayed(np.memmap, pure=True)(path, dtype=np.float32, mode="r", offset=start * item,
                                                  shape=(rows,) + IMAGE)
        blocks.append(da.from_delayed(load, (rows,) + IMAGE, dtype=np.float32,
                                      meta=np.empty((0,) + IMAGE, np.float32)))
    return da.concatenate(blocks)


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes; the engine at one thread per worker (two workers ×
    the engine's default of one thread per core would run four threads on two cores)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = distributed.Client(cluster)
    try:
        c.run(swiftstn.set_num_threads, 1)
        assert set(c.run(swiftstn.get_num_threads).values()) == {1}
        yield c
    finally:
        c.close()
        cluster.close()


def compare_blocks(client, result, reference):
    """Computes ``result``'s blocks on the cluster (timed until all are done), then fetches them
    one at a time and checks each against ``reference(start, stop)`` bit for bit, releasing it
    afterwards (the client never holds the whole result). Returns the compute time in seconds."""
    starts = np.cumsum((0,) + result.chunks[0])
    t0 = time.perf_counter()
    futures = client.compute([result.blocks[i] for i in range(result.numblocks[0])])
    distributed.wait(futures)
    elapsed = time.perf_counter() - t0
    for i, fut in enumerate(futures):
        block = fut.result()
        expected = reference(int(starts[i]), int(starts[i + 1]))
        assert same_bits(block, expected), f"block {i} (images {starts[i]}:{starts[i + 1]}) differs"
        fut.release()
        del block, expected
    return elapsed


def test_graph_does_not_hold_the_data(dataset):
    x = lazy_images(dataset)
    assert x.chunks[0] == (CHUNK,) * (N_IMAGES // CHUNK) and x.chunks[1:] == ((1,), (28,), (28,))
    assert len(pickle.dumps(dict(x.__dask_graph__()))) < 100_000


def test_warp_affine_on_cluster(client, dataset):
    x = lazy_images(dataset)
    theta = random_theta(N_IMAGES, seed=1)
    result = sd.warp_affine(x, theta, (28, 28), align_corners=False)
    assert result.shape == (N_IMAGES,) + IMAGE and result.dtype == np.float32
    assert result.chunks == x.chunks and type(result._meta) is np.ndarray

    images = open_images(dataset)

    def reference(s, e):
        # The in-memory call on a window that straddles the Dask block's edges (batches differ
        # from the blocks'), sliced to the block.
        lo, hi = max(0, s - 777), min(N_IMAGES, e + 777)
        return swiftstn.warp_affine(np.asarray(images[lo:hi]), theta[lo:hi], (28, 28))[s - lo:e - lo]

    elapsed = compare_blocks(client, result, reference)
    print(f"\nswiftstn.dask.warp_affine: {N_IMAGES} 28×28 images in {elapsed:.2f} s on 2 workers × 1 thread: "
          f"{N_IMAGES / elapsed:,.0f} images/s")


def test_predict_on_cluster(client, dataset):
    n = 20_000
    model = swiftstn.models.blog_net(seed=3)
    x = lazy_images(dataset, n=n, chunk=5_000)
    result = sd.predict(model, x, batch_size=1_000)
    assert result.shape == (n, 10) and result.dtype == np.float32 and result.chunks == (x.chunks[0], (10,))

    images = open_images(dataset)
    expected = model.predict(np.asarray(images[:n]))  # unbatched, all at once: batching is bit for bit
    elapsed = compare_blocks(client, result, lambda s, e: expected[s:e])
    print(f"\nswiftstn.dask.predict (blog_net): {n} images in {elapsed:.2f} s: {n / elapsed:,.0f} images/s")


def test_warp_affine_then_predict_on_cluster(client, dataset):
    """The two chained in one graph (the warp's output never leaves the workers)."""
    n = 4_000
    model = swiftstn.models.blog_net(seed=4)
    theta = da.from_array(random_theta(n, seed=5), chunks=700)  # rechunked to x's chunks
    x = lazy_images(dataset, n=n, chunk=1_000)
    result = sd.predict(model, sd.warp_affine(x, theta, (28, 28), mode="bicubic", padding_mode="border"))
    images = np.asarray(open_images(dataset)[:n])
    expected = model.predict(swiftstn.warp_affine(images, theta.compute(), (28, 28), mode="bicubic",
                                                  padding_mode="border"))
    compare_blocks(client, result, lambda s, e: expected[s:e])


# ---- small arrays, synchronous scheduler ---------------------------------------------------------
def small(n=37, c=2, h=9, w=11, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, (n, c, h, w)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_warps_match_in_memory(dtype):
    x = small(dtype=dtype)
    n = len(x)
    dx = da.from_array(x, chunks=(10, -1, -1, -1))
    rng = np.random.default_rng(1)
    theta = (np.eye(2, 3) + rng.normal(0, 0.2, (n, 2, 3))).astype(dtype)
    H = np.tile(np.eye(3), (n, 1, 1)).astype(dtype)
    H[:, :2] += rng.normal(0, 0.2, (n, 2, 3))
    H[:, 2, :2] = rng.normal(0, 0.1, (n, 2))
    grid = rng.uniform(-1.2, 1.2, (n, 5, 4, 2)).astype(dtype)
    kw = dict(mode="bicubic", padding_mode="fill", fill=[0.5, -1.0], align_corners=True)
    cases = [
        (sd.warp_affine(dx, theta, (7, 8), **kw), swiftstn.warp_affine(x, theta, (7, 8), **kw)),
        (sd.warp_affine(dx, da.from_array(theta, chunks=4), (6, 5)), swiftstn.warp_affine(x, theta, (6, 5))),
        (sd.warp_perspective(dx, H, (7, 8), mode="nearest", padding_mode="reflection"),
         swiftstn.warp_perspective(x, H, (7, 8), mode="nearest", padding_mode="reflection")),
        (sd.grid_sample(dx, da.from_array(grid, chunks=(5, 2, 4, 2)), **kw), swiftstn.grid_sample(x, grid, **kw)),
    ]
    for lazy, expected in cases:
        assert lazy.chunks[0] == dx.chunks[0] and lazy.shape == expected.shape
        assert lazy.dtype == expected.dtype and lazy._meta.dtype == expected.dtype
        assert same_bits(lazy.compute(scheduler="sync"), expected)


def test_grid_sample_5d():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (9, 2, 4, 5, 6))
    grid = rng.uniform(-1, 1, (9, 3, 2, 4, 3))
    lazy = sd.grid_sample(da.from_array(x, chunks=(4, 2, 4, 5, 6)), grid)
    assert lazy.chunks == ((4, 4, 1), (2,), (3,), (2,), (4,))
    assert same_bits(lazy.compute(scheduler="sync"), swiftstn.grid_sample(x, grid))


def test_predict_matches_in_memory_and_compiles_first():
    """A model not yet compiled is compiled when the graph is built, so that every block (every
    worker) gets the same parameters."""
    from swiftstn import nn
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 7 * 7, 4))
    x = small(n=25, c=1, h=9, w=9, seed=3)
    lazy = sd.predict(model, da.from_array(x, chunks=(6, 1, 9, 9)), batch_size=4)
    assert lazy.chunks == ((6, 6, 6, 6, 1), (4,)) and lazy.dtype == np.float32
    assert same_bits(lazy.compute(scheduler="processes", num_workers=2), model.predict(x))


def test_refuses_x_chunked_along_c_h_w():
    dx = da.from_array(small(), chunks=(10, 1, 5, -1))
    theta = np.tile(np.eye(2, 3, dtype=np.float32), (len(dx), 1, 1))
    message = r"chunked along N only.*chunked along C, H.*rechunk\(\{1: -1, 2: -1, 3: -1\}\)"
    with pytest.raises(ValueError, match=message):
        sd.warp_affine(dx, theta, (4, 4))
    ok = sd.warp_affine(dx.rechunk({1: -1, 2: -1, 3: -1}), theta, (4, 4))
    assert ok.chunks[0] == (10, 10, 10, 7)


def test_argument_errors():
    x = small()
    dx = da.from_array(x, chunks=(10, -1, -1, -1))
    theta = np.tile(np.eye(2, 3, dtype=np.float32), (len(x), 1, 1))
    with pytest.raises(TypeError, match="must be a dask.array.Array"):
        sd.warp_affine(x, theta, (4, 4))
    with pytest.raises(ValueError, match="one entry per image"):
        sd.warp_affine(dx, theta[:5], (4, 4))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        sd.warp_affine(dx[dx[:, 0, 0, 0] > 0], theta, (4, 4))
    with pytest.raises(ValueError, match="expected 4-D"):
        sd.warp_perspective(dx[:, 0], theta, (4, 4))
    # the in-memory checks, made when the graph is built
    with pytest.raises(TypeError, match="same dtype"):
        sd.warp_affine(dx, theta.astype(np.float64), (4, 4))
    with pytest.raises(ValueError, match="mode"):
        sd.warp_perspective(dx, np.tile(np.eye(3, dtype=np.float32), (len(x), 1, 1)), (4, 4), mode="area")
    with pytest.raises(TypeError, match="align_corners"):
        sd.grid_sample(dx, np.zeros((len(x), 3, 3, 2), np.float32), align_corners=0)
    with pytest.raises(ValueError, match="Conv2d"):
        sd.predict(swiftstn.models.blog_net(seed=0), dx)


def test_import_swiftstn_does_not_import_dask():
    code = "import sys, swiftstn; print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
