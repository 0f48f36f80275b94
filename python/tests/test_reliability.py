"""Reliability: memory and reference leaks, concurrency, size limits.

- Leaks: many calls of every public entry point (the four operators, network forward /
  loss_and_grad / fit / evaluate on a tiny model, model creation, and their error paths) keep the
  resident set size stable after a warm-up, and failing calls leave the reference counts of their
  arguments unchanged. The in-suite run makes 20k operator calls per entry point (a few seconds in
  all); SWIFTSTN_LONG_RELIABILITY=1 makes it 100k (and 100k network calls instead of 2k).
- Concurrency: 4 Python threads running operators and training separate models give the results of
  serial calls, bit for bit, also while another thread keeps changing the thread count.
- Size limits: element counts that overflow 64 bits and allocations that cannot succeed are
  refused with ValueError / MemoryError / OverflowError. Cases that once crashed the process run
  in a subprocess, so a regression fails the test instead of killing the suite.

No test asserts a timing.
"""
import gc
import json
import os
import subprocess
import sys
import textwrap
import threading
import tracemalloc

import numpy as np
import pytest

import swiftstn
from swiftstn import _native, checkpoint, nn

LONG = os.environ.get("SWIFTSTN_LONG_RELIABILITY") == "1"
SANITIZED = bool(os.environ.get("SWIFTSTN_SANITIZED"))  # set by scripts/sanitize.sh
# Under the sanitizers calls are ~10x slower and RSS is not checked: fewer calls.
OP_CALLS = 100_000 if LONG else (2_000 if SANITIZED else 20_000)
NET_CALLS = 100_000 if LONG else (500 if SANITIZED else 2_000)
# Outputs are a few KiB, so leaking one per call would grow the RSS by tens of MiB; the bound
# leaves room for allocator noise only.
RSS_BOUND = 6 * 2**20

F32 = np.float32
RNG = np.random.default_rng(1234)
X = RNG.uniform(-1, 1, (1, 4, 16, 16)).astype(F32)
THETA = np.tile(np.array([[0.9, -0.2, 0.05], [0.2, 0.9, -0.1]], F32), (1, 1, 1))
GRID = swiftstn.affine_grid(THETA, X.shape, align_corners=False)
OUT = swiftstn.grid_sample(X, GRID)
GO = RNG.uniform(-1, 1, OUT.shape).astype(F32)


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def tiny_model(seed=0):
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 3 * 3, 3),
                         nn.LogSoftmax()).build(seed)


TX = RNG.uniform(-1, 1, (4, 1, 8, 8)).astype(F32)
TY = np.array([0, 1, 2, 1])


def assert_stable_rss(fn, calls, what):
    """RSS (everything: Swift, C and NumPy allocations) stays within RSS_BOUND over `calls` calls
    after a warm-up, and the Python-visible heap (tracemalloc, which NumPy reports its buffers to)
    grows by less than 64 bytes per call over a tenth of them."""
    for _ in range(max(200, calls // 10)):  # warm-up: caches, allocator pools, planned buffers
        fn()
    gc.collect()
    before = rss()
    for _ in range(calls):
        fn()
    gc.collect()
    grown = rss() - before
    if not SANITIZED:  # ASan's quarantine holds freed memory (up to 256 MiB): RSS says nothing there
        assert grown < RSS_BOUND, f"{what}: RSS grew by {grown / 2**20:.1f} MiB over {calls} calls"
    traced_calls = max(100, calls // 10)
    tracemalloc.start()
    try:
        fn()
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(traced_calls):
            fn()
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert traced < 64 * traced_calls, f"{what}: traced heap grew by {traced} bytes over {traced_calls} calls"
    print(f"[leak] {what}: {calls} calls, RSS {grown / 2**10:+.0f} KiB; {traced_calls} traced calls, "
          f"heap {traced:+d} B")


def failing(fn, exc=(ValueError, TypeError)):
    def call():
        try:
            fn()
        except exc:
            return
        raise AssertionError("expected the call to fail")
    return call


OPS = {
    "affine_grid": lambda: swiftstn.affine_grid(THETA, X.shape, align_corners=True),
    "affine_grid_backward": lambda: swiftstn.affine_grid_backward(GRID, X.shape),
    "grid_sample": lambda: swiftstn.grid_sample(X, GRID, padding_mode="border"),
    "grid_sample_bicubic": lambda: swiftstn.grid_sample(X, GRID, mode="bicubic"),
    "grid_sample_backward": lambda: swiftstn.grid_sample_backward(GO, X, GRID),
    "grid_sample_backward_grid_only": lambda: swiftstn.grid_sample_backward(GO, X, GRID, input_requires_grad=False),
    "strided_input": lambda: swiftstn.grid_sample(X[:, ::2], GRID),  # converted once per call
    # error paths: after the first array conversion, after all conversions, in Swift
    "error_dtype": failing(lambda: swiftstn.grid_sample(X, GRID.astype(np.float64))),
    "error_shape": failing(lambda: swiftstn.grid_sample(X, GRID[:, :, :, :1])),
    "error_size": failing(lambda: swiftstn.affine_grid(THETA, (1, 1, 0, 4))),
    "error_grad_output": failing(lambda: swiftstn.grid_sample_backward(GO[:, :, 1:], X, GRID)),
    "error_affine_backward": failing(lambda: swiftstn.affine_grid_backward(GRID[:, 1:], X.shape)),
    "error_mode": failing(lambda: swiftstn.grid_sample(X, GRID, mode="area")),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_operators_do_not_leak_memory(name):
    assert_stable_rss(OPS[name], OP_CALLS, name)


def test_network_calls_do_not_leak_memory():
    model = tiny_model()
    x64 = np.random.default_rng(5).normal(size=(64, 1, 8, 8))  # float64: converted (a 16 KiB copy) per call
    y64 = np.arange(64) % 3
    calls = {
        "forward": lambda: model.predict(TX),
        "forward_converted": lambda: model.predict(x64),
        "loss_and_grad_converted": lambda: model.loss_and_grad(x64, y64.astype(np.int32)),
        "loss_and_grad": lambda: model.loss_and_grad(TX, TY),
        "evaluate": lambda: model.evaluate(TX, TY, batch_size=2),
        "train_step": lambda: model.train_step(TX, TY, lr=1e-3),
        "error_nonfinite": failing(lambda: model.predict(np.full_like(TX, np.nan))),
        "error_labels": failing(lambda: model.loss_and_grad(TX, TY[:2])),
        "error_label_range": failing(lambda: model.loss_and_grad(TX, TY + 5)),
        "error_shape": failing(lambda: model.predict(TX[:, :, :4, :4])),
    }
    for name, fn in calls.items():
        assert_stable_rss(fn, NET_CALLS, name)


def test_fit_and_model_creation_do_not_leak_memory():
    def fit_once():
        m = tiny_model(seed=7)
        m.fit(TX, TY, epochs=1, batch_size=2, progress=False, seed=1)
    assert_stable_rss(fit_once, NET_CALLS // 10, "build + fit")
    assert_stable_rss(lambda: _native.network_create("seq(flatten,linear(64,3,1))", 1), NET_CALLS, "network_create")
    assert_stable_rss(failing(lambda: _native.network_create("seq(conv(1,2,3,3,1,1,0,0,1),bogus)", 1)), NET_CALLS,
                      "network_create (error)")


# ---- reference counts ------------------------------------------------------------------------

def refcounts(objs):
    return [sys.getrefcount(o) for o in objs]


def assert_refcounts_unchanged(fn, args, calls=2_000):
    fn(*args)  # first call may cache things
    before = refcounts(args)
    for _ in range(calls):
        fn(*args)
    assert refcounts(args) == before


def _raises(fn, exc=(ValueError, TypeError)):
    def call(*args):
        try:
            fn(*args)
        except exc:
            return
        raise AssertionError("expected the call to fail")
    return call


def test_failing_calls_leave_argument_refcounts_unchanged():
    x64 = X.astype(np.float64)
    bad_grid = GRID[:, :, :, :1].copy()
    strided = X[:, ::2]
    size_list = list(X.shape)
    cases = [
        (_raises(lambda t, s: swiftstn.affine_grid(t, s)), (THETA, (1, 1, 0, 4))),
        (_raises(lambda t, s: swiftstn.affine_grid(t, s)), (THETA.astype(np.int32), size_list)),
        (_raises(lambda t, s: swiftstn.affine_grid(t, s)), (THETA[:, :1], size_list)),
        (_raises(lambda g, s: swiftstn.affine_grid_backward(g, s)), (bad_grid, size_list)),
        (_raises(lambda x, g: swiftstn.grid_sample(x, g)), (X, GRID.astype(np.float64))),
        (_raises(lambda x, g: swiftstn.grid_sample(x, g)), (x64, GRID)),
        (_raises(lambda x, g: swiftstn.grid_sample(x, g)), (X, bad_grid)),
        (_raises(lambda x, g: swiftstn.grid_sample(x, g)), (strided, bad_grid)),
        (_raises(lambda x, g: swiftstn.grid_sample(x, g, mode="bicubic")), (X[None], GRID[None])),
        (_raises(lambda go, x, g: swiftstn.grid_sample_backward(go, x, g)), (GO[:, :, 1:], X, GRID)),
        (_raises(lambda go, x, g: swiftstn.grid_sample_backward(go, x, g)), (GO, X, bad_grid)),
        (_raises(lambda go, x, g: swiftstn.grid_sample_backward(go, x, g)), (GO, x64, GRID)),
        (_raises(lambda go, x, g: swiftstn.grid_sample_backward(go, x, g, padding_mode="x")), (GO, X, GRID)),
    ]
    for fn, args in cases:
        assert_refcounts_unchanged(fn, args)


def test_successful_calls_leave_argument_refcounts_unchanged():
    strided = X[:, ::2]
    grid2 = GRID.copy()
    for fn, args in [
        (lambda t, s: swiftstn.affine_grid(t, s), (THETA, list(X.shape))),
        (lambda x, g: swiftstn.grid_sample(x, g), (strided, grid2)),
        (lambda go, x, g: swiftstn.grid_sample_backward(go, x, g), (GO, X, GRID)),
        (lambda go, x, g: swiftstn.grid_sample_backward(go, x, g, input_requires_grad=False), (GO, X, GRID)),
    ]:
        assert_refcounts_unchanged(fn, args)


def test_network_calls_leave_refcounts_unchanged():
    model = tiny_model()
    x64 = TX.astype(np.float64)
    y32 = TY.astype(np.int32)
    for fn, args in [
        (lambda x: model.predict(x), (TX,)),
        (lambda x: model.predict(x), (x64,)),
        (lambda x, y: model.loss_and_grad(x, y), (x64, y32)),
        (lambda x, y: model.evaluate(x, y, batch_size=3), (TX, TY)),
        (lambda x, y: model.train_step(x, y, lr=1e-3), (TX, TY)),
    ]:
        assert_refcounts_unchanged(fn, args, calls=300)


def test_network_error_paths_leave_refcounts_unchanged():
    model = tiny_model()
    net = model._compiled()
    nan_x = np.full_like(TX, np.nan)
    short_y = TY[:2]
    float_y = TY.astype(np.float64)
    wrong_x = TX[:, :, :4, :4]
    big_y = TY + 5

    def callback_raises(*a):
        raise KeyError("stop")

    cases = [
        (_raises(lambda x: model.predict(x)), (nan_x,)),
        (_raises(lambda x: model.predict(x)), (wrong_x,)),
        (_raises(lambda x, y: model.loss_and_grad(x, y)), (TX, short_y)),
        (_raises(lambda x, y: model.loss_and_grad(x, y)), (TX, float_y)),
        (_raises(lambda x, y: model.loss_and_grad(x, y)), (TX, big_y)),
        (_raises(lambda x, y: model.evaluate(x, y, batch_size=0)), (TX, TY)),
        (_raises(lambda x, y: model.fit(x, y, progress=False, seed=1)), (TX, big_y)),
        (_raises(lambda x, y, cb: model.fit(x, y, progress=False, seed=1, batch_size=2, callback=cb), KeyError),
         (TX, TY, callback_raises)),
        (_raises(lambda n, p: _native.network_set_parameters(n, p)), (net, np.zeros(3, F32))),
        (_raises(lambda x: model.stn(x)), (TX,)),
    ]
    for fn, args in cases:
        assert_refcounts_unchanged(fn, args, calls=300)


# ---- concurrency -------------------------------------------------------------------------------

def run_threads(targets):
    errors, results = [], [None] * len(targets)

    def wrap(i, fn):
        try:
            results[i] = fn()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i, fn)) for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def op_workload(seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (3, 2, 20, 24)).astype(F32)
    theta = (np.eye(2, 3)[None] + rng.normal(0, 0.2, (3, 2, 3))).astype(F32)
    out = []
    for i in range(15):
        align = bool(i % 2)
        grid = swiftstn.affine_grid(theta, (3, 2, 18, 22), align_corners=align)
        y = swiftstn.grid_sample(x, grid, mode=["bilinear", "nearest", "bicubic"][i % 3],
                                 padding_mode=["zeros", "border", "reflection"][i % 3], align_corners=align)
        gi, gg = swiftstn.grid_sample_backward(np.ones_like(y), x, grid, align_corners=align)
        gt = swiftstn.affine_grid_backward(gg, (3, 2, 18, 22), align_corners=align)
        out.append((grid, y, gi, gg, gt))
    return out


def train_workload(seed):
    model = tiny_model(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 1, 8, 8)).astype(F32)
    y = rng.integers(0, 3, 40)
    model.fit(x, y, epochs=2, batch_size=8, progress=False, seed=seed, optimizer=["sgd", "adam"][seed % 2],
              momentum=0.5 if seed % 2 == 0 else 0.0)
    return model.state_dict(), model.predict(x)


def assert_same(a, b):
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for p, q in zip(a, b):
            assert_same(p, q)
    else:
        assert a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_four_threads_of_operators_match_serial_calls():
    serial = [op_workload(s) for s in range(4)]
    concurrent = run_threads([lambda s=s: op_workload(s) for s in range(4)])
    assert_same(serial, concurrent)


def test_four_threads_training_separate_models_match_serial_training():
    serial = [train_workload(s) for s in range(4)]
    concurrent = run_threads([lambda s=s: train_workload(s) for s in range(4)])
    assert_same(serial, concurrent)


def test_threads_sharing_one_model_match_serial_calls():
    model = tiny_model(3)
    xs = [np.random.default_rng(s).normal(size=(37, 1, 8, 8)).astype(F32) for s in range(4)]
    serial = [(model.predict(x), model.loss_and_grad(x, np.arange(37) % 3)[1]) for x in xs]
    concurrent = run_threads([lambda x=x: (model.predict(x), model.loss_and_grad(x, np.arange(37) % 3)[1])
                              for x in xs])
    assert_same(serial, concurrent)


def test_changing_the_thread_count_during_calls_is_safe():
    before = swiftstn.get_num_threads()
    try:
        swiftstn.set_num_threads(2)
        expected_ops = [op_workload(s) for s in range(3)]
        expected_train = train_workload(5)
        stop = threading.Event()
        counts = []

        def churn():
            k = 0
            while not stop.is_set():
                swiftstn.set_num_threads(1 + k % 4)
                k += 1
            counts.append(k)

        churner = threading.Thread(target=churn)
        churner.start()
        try:
            got = run_threads([lambda s=s: op_workload(s) for s in range(3)] + [lambda: train_workload(5)])
        finally:
            stop.set()
            churner.join()
        assert_same(expected_ops, got[:3])
        assert_same(expected_train, got[3])
        assert counts and counts[0] > 0
        # and between calls
        for n in (1, 3, 2, 4, 1):
            swiftstn.set_num_threads(n)
            assert swiftstn.get_num_threads() == n
            assert_same(expected_ops[0], op_workload(0))
    finally:
        swiftstn.set_num_threads(before)


# ---- size limits ---------------------------------------------------------------------------------

BIG = 2**24  # 2^24 · 2^24 float32 elements = 1 PiB: never allocatable, whatever the overcommit policy


@pytest.mark.parametrize("size, exc, match", [
    ((1, 1, 2**31, 2**31), ValueError, "address space|64 bits"),
    ((1, 1, 2**40, 2**40), ValueError, "64 bits"),
    ((2**62, 1, 2, 2), ValueError, "theta|64 bits"),
    ((1, 1, 2**21, 2**21, 2**21), ValueError, "64 bits|address space|theta"),
    ((1, 1, 2**63 - 1, 2), ValueError, "64 bits|address space"),
    ((1, 1, 2**63, 2), ValueError, "64 bits"),
    ((1, 1, 2**64 + 3, 2), ValueError, "64 bits"),
    ((1, 1, -(2**63), 2), ValueError, "positive"),
    ((1, 1, BIG, BIG), MemoryError, None),
])
def test_affine_grid_with_huge_sizes_is_refused(size, exc, match):
    theta = np.zeros((1, 2, 3) if len(size) == 4 else (1, 3, 4), F32)
    with pytest.raises(exc, match=match):
        swiftstn.affine_grid(theta, size)
    with pytest.raises((exc, ValueError)):
        swiftstn.affine_grid_backward(np.zeros((1, 2, 2, 2), F32), size)


def test_grid_sample_with_huge_broadcast_arrays_is_refused():
    # Zero-stride views look enormous but cost nothing; swiftstn converts them to C-contiguous
    # arrays once (documented), and that conversion is refused with a MemoryError.
    x = np.broadcast_to(F32(1), (1, 1, BIG, BIG))
    small_grid = np.zeros((1, 2, 2, 2), F32)
    with pytest.raises(MemoryError):
        swiftstn.grid_sample(x, small_grid)
    big_grid = np.broadcast_to(F32(0), (1, BIG, BIG, 2))
    with pytest.raises(MemoryError):
        swiftstn.grid_sample(np.zeros((1, 1, 2, 2), F32), big_grid)
    with pytest.raises(MemoryError):
        swiftstn.grid_sample_backward(np.broadcast_to(F32(1), (1, 1, BIG, BIG)), np.zeros((1, 1, 2, 2), F32),
                                      big_grid)
    # 3-D output (1, 1, 2^20, 2^20, 2^20) from a broadcast grid: refused before any work
    g3 = np.broadcast_to(F32(0), (1, 2**16, 2**16, 2**16, 3))
    with pytest.raises((MemoryError, ValueError)):
        swiftstn.grid_sample(np.zeros((1, 1, 2, 2, 2), F32), g3)
    # numpy itself refuses shapes whose element count overflows, so those never reach swiftstn
    with pytest.raises(ValueError):
        np.broadcast_to(F32(0), (2**40, 2**40, 2**40, 2))


def test_thread_count_limits():
    before = swiftstn.get_num_threads()
    try:
        for bad, exc in [(0, ValueError), (-1, ValueError), (2**31, ValueError), (2**40, ValueError),
                         (2**100, OverflowError), (1.5, TypeError), ("2", TypeError)]:
            with pytest.raises(exc):
                swiftstn.set_num_threads(bad)
            assert swiftstn.get_num_threads() == before
        swiftstn.set_num_threads(2**31 - 1)  # accepted: work is split into at most that many tasks
        assert swiftstn.get_num_threads() == 2**31 - 1
        out = swiftstn.grid_sample(X, GRID)
        assert out.shape == OUT.shape and out.tobytes() == OUT.tobytes()
    finally:
        swiftstn.set_num_threads(before)


def test_training_size_limits_are_refused():
    model = tiny_model()
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(TX, TY, batch_size=2**40, progress=False, seed=1)
    with pytest.raises(OverflowError):
        model.fit(TX, TY, batch_size=2**64, progress=False, seed=1)
    with pytest.raises(OverflowError):
        model.evaluate(TX, TY, batch_size=2**64)
    with pytest.raises(ValueError):
        _native.network_create("linear(1e15,1,1)", 0)  # the spec parser's integer bound


def run_isolated(code):
    """Runs code in a fresh interpreter (a crash must not take the test run down with it)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, cwd=os.path.dirname(os.path.abspath(__file__)))


def assert_refused_cleanly(result, expected=("MemoryError", "ValueError", "OverflowError")):
    assert result.returncode == 0, (f"process died with status {result.returncode}:\n"
                                    + result.stderr[-2000:])
    assert result.stdout.strip().split(":")[0] in expected, result.stdout + result.stderr[-2000:]


def test_unallocatable_model_is_refused_with_memory_error():
    assert_refused_cleanly(run_isolated("""
        from swiftstn import nn
        try:
            nn.Sequential(nn.Linear(10**7, 10**7)).build(0)
            print("built")
        except Exception as e:
            print(type(e).__name__ + ":", e)
    """))


def test_parameter_count_overflow_is_refused():
    assert_refused_cleanly(run_isolated("""
        from swiftstn import nn
        try:
            nn.Sequential(nn.Linear(10**14, 10**14)).build(0)
            print("built")
        except Exception as e:
            print(type(e).__name__ + ":", e)
    """))


def test_model_over_the_parameter_limit_raises_memory_error_naming_the_layer():
    # The spec a fuzzer reached (fuzz/RESULTS.md, 10): 2·10^9 parameters, under the old fixed
    # 2^31 bound, so the engine tried to allocate 8 GB. The default limit is a quarter of this
    # machine's memory in float32 values; the spec is refused before any allocation.
    r = run_isolated("""
        import resource
        from swiftstn import nn, _native
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))   # an 8 GB allocation would fail
        limit = nn.get_max_parameters()
        try:
            _native.network_create("conv(1e3,1e3,1e3,2,1,1,0,0,1)", 0)
            print("built")
        except Exception as e:
            print(type(e).__name__ + ":", limit, e)
    """)
    assert_refused_cleanly(r, expected=("MemoryError",))
    _, limit, message = r.stdout.split(" ", 2)
    pages, page = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    assert int(limit) == max(1 << 20, min(1 << 31, pages * page // 16))
    assert "layer `conv(1000,1000,1000,2,1,1,0,0,1)` has 2000001000 parameters" in message, message
    assert f"the limit is {limit}" in message, message


def test_set_max_parameters_applies_to_later_models_and_validates():
    old = nn.get_max_parameters()
    try:
        nn.set_max_parameters(100)
        assert nn.get_max_parameters() == 100
        # 10·5+5 + 5·4+4 = 79 fit; the last Linear's 4·6+6 = 30 bring the network to 109
        model = nn.Sequential(nn.Flatten(), nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 4), nn.Linear(4, 6))
        with pytest.raises(MemoryError, match=r"layer `linear\(4,6,1\)` has 30 parameters, which brings "
                                              r"the network to 109 .*the limit is 100"):
            model.build(0)
        nn.Sequential(nn.Flatten(), nn.Linear(10, 5)).build(0)   # 55 parameters: built
        for bad in (0, -3, 1.5, True, "7"):
            with pytest.raises(ValueError, match="set_max_parameters"):
                nn.set_max_parameters(bad)
        half = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 8
        with pytest.raises(ValueError, match=f"max_parameters must be at most {half} "):
            nn.set_max_parameters(half + 1)
        nn.set_max_parameters(half)
        assert nn.get_max_parameters() == half
        nn.set_max_parameters(100)
        assert nn.get_max_parameters() == 100   # refused values change nothing
    finally:
        nn.set_max_parameters(old)
    assert nn.get_max_parameters() == old


def test_model_whose_activations_cannot_be_allocated_raises_memory_error():
    # 3·10^6 parameters, within the limit, but a 28×28 input makes the 1×1 convolution's output
    # 10^6×28×28 floats per sample: chunk buffers of ~50 GB each. This aborted the process
    # ("failed to allocate 50176000000 bytes") before planning refused it.
    r = run_isolated("""
        import numpy as np
        from swiftstn import nn, _native
        model = nn.Sequential(nn.Conv2d(1, 10**6, 1), nn.MaxPool2d(28), nn.Flatten(), nn.Linear(10**6, 2),
                              nn.LogSoftmax(dim=1))
        print("output shape", _native.network_output_shape(model.build(0)._compiled(), [1, 28, 28]))
        for call in (lambda: model.predict(np.zeros((1, 1, 28, 28), np.float32)),
                     lambda: model.fit(np.zeros((2, 1, 28, 28), np.float32), np.array([0, 1]), progress=False)):
            try:
                call()
                print("ran")
            except Exception as e:
                print(type(e).__name__ + ":", e)
    """)
    assert r.returncode == 0, f"process died with status {r.returncode}:\n" + r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3, r.stdout
    assert lines[0] == "output shape (2,)", lines[0]   # planning alone allocates nothing: allowed
    for line in lines[1:]:
        assert line.startswith("MemoryError: per-sample input (1, 28, 28) needs an estimated"), line
        assert "the largest layer is `conv(1,1000000,1,1,1,1,0,0,1)` with output (1000000, 28, 28)" in line, line


def test_batch_whose_gradient_accumulators_cannot_be_allocated_raises_memory_error():
    # One gradient accumulator per chunk of 16 samples: 4·10^6 parameters × 2^16 chunks would be
    # 1 TB. Refused with the batch and parameter counts before anything is allocated.
    r = run_isolated("""
        import numpy as np
        from swiftstn import nn, _native
        net = nn.Sequential(nn.Flatten(), nn.Linear(4, 10**6), nn.Linear(10**6, 2),
                            nn.LogSoftmax(dim=1)).build(0)._compiled()
        n = 16 * 2**16
        try:
            _native.network_loss_and_grad(net, np.zeros((n, 1, 2, 2), np.float32), np.zeros(n, np.int64), False, 0,
                                          True)
            print("ran")
        except Exception as e:
            print(type(e).__name__ + ":", e)
    """)
    assert r.returncode == 0, f"process died with status {r.returncode}:\n" + r.stderr[-2000:]
    assert r.stdout.startswith(f"MemoryError: a batch of {16 * 2**16} samples needs 65536 per-chunk gradients of "
                               f"{4 * 10**6 + 10**6 + 2 * 10**6 + 2} parameters"), r.stdout


def test_inconsistent_adam_state_is_refused():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.LogSoftmax()).build(0)
    net = model._compiled()
    trainer = _native.trainer_create(net, 1, 0.01, 0.0, 0.0, 0.0, False, 0.9, 0.999, 1e-8, 1)
    count = _native.network_get_parameters(net).size
    with pytest.raises(ValueError):
        _native.trainer_set_state(trainer, np.zeros(count, F32), np.zeros(0, F32), 1)


def test_checkpoint_with_inconsistent_adam_state_is_refused(tmp_path):
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.LogSoftmax()).build(0)
    x, y = np.ones((4, 1, 2, 2), F32), np.array([0, 1, 2, 0])
    model.fit(x, y, optimizer="adam", progress=False, seed=1)
    path = str(tmp_path / "c.npz")
    checkpoint.save(path, model)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    arrays["optimizer/state2"] = np.zeros(0, F32)
    meta["sha256"] = checkpoint._digest(arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    fresh = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.LogSoftmax()).build(0)
    with pytest.raises((checkpoint.CheckpointError, ValueError)):
        checkpoint.load(path).restore(fresh)
