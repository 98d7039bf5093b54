"""Leaks and lifetimes.

10,000 training steps, 10,000 predictions and 10,000 failed calls (each
failing after the binding converted its arrays, so a copy that is not
released would cost megabytes) leave the resident set size (RSS, from
/proc/self/statm) within RSS_TOLERANCE of its value after a warm-up, and
leave the reference counts of the arrays passed in unchanged.

A parameter view keeps its network alive: after the Model is deleted and
collected, the view (and views of the other arenas) still read and write the
arena, and the arenas are released when the last view goes.

Under .ci/sanitize (TLEARN_SANITIZED=1) AddressSanitizer keeps freed memory
in quarantine, so RSS is not checked there; the reference counts are, and
ASan checks every read and write of the views.
"""
import gc
import os
import sys

import numpy as np
import pytest

import tlearn as tl
from tlearn import layers as L

N = 10_000
RSS_TOLERANCE = 2 * 2**20  # bytes, after warm-up
SANITIZED = os.environ.get("TLEARN_SANITIZED") == "1"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def trimmed_rss():
    """RSS after glibc returned its free heap pages to the system.

    Large blocks freed by earlier tests stay resident in the heap (glibc
    raises its mmap threshold as such blocks are freed), so new arenas may
    reuse pages that are already counted and freed ones may stay counted;
    malloc_trim(0) makes RSS follow what is allocated.  Elsewhere: plain RSS."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return rss()


def check_growth(label, fn, n=N, warm=500):
    for _ in range(warm):
        fn()
    gc.collect()
    r0 = rss()
    for _ in range(n):
        fn()
    gc.collect()
    grown = rss() - r0
    print(f"\n{label}: RSS {grown / 2**20:+.2f} MB over {n} calls")
    if not SANITIZED:
        assert grown < RSS_TOLERANCE, f"{label}: RSS grew by {grown / 2**20:.2f} MB over {n} calls"
    return grown


def model(seed=0):
    x = tl.Input((64,), name="x")
    h = L.ReLU(name="r")(L.Dense(32, name="d0")(x))
    m = tl.Model(x, {"c": L.Dense(4, name="c")(h), "m": L.Dense(2, name="m")(h)}, seed=seed)
    m.compile(tl.optim.Adam(1e-3), loss={"c": "softmax_ce", "m": "mse"})
    return m


def data(B=16, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((B, 64)).astype(np.float32), rng.integers(0, 4, B).astype(np.int32),
            rng.standard_normal((B, 2)).astype(np.float32))


def refcounts(*arrays):
    return [sys.getrefcount(a) for a in arrays]


def test_training_steps_leak_nothing():
    m = model()
    net = m._net
    X, Y, T = data()
    X64, Y64 = X.astype(np.float64), Y.astype(np.int64)  # converted on every call
    rc = refcounts(X, Y, T, X64, Y64)
    lrs = np.full(4, 1e-3, np.float32)
    idx = np.arange(16)
    i = [0]

    def step():
        i[0] += 1
        if i[0] % 4 == 0:
            net.train_batches([X], [Y, T], 4, lrs, idx)
        elif i[0] % 4 == 1:
            net.train_step([X64], [Y64, T], 1e-3)
        else:
            net.train_step([X], [Y, T], 1e-3)

    check_growth("training steps", step)
    assert refcounts(X, Y, T, X64, Y64) == rc
    assert all(np.isfinite(v).all() for v in m.params.values())


def test_predictions_and_evaluations_leak_nothing():
    m = model()
    X, Y, T = data(64)
    Xf = np.asfortranarray(X.astype(np.float64))
    rc = refcounts(X, Y, T, Xf)
    i = [0]

    def call():
        i[0] += 1
        if i[0] % 3 == 0:
            m.predict(Xf, batch_size=16)
        elif i[0] % 3 == 1:
            m.predict(X, outputs=["c", "d0"])
        else:
            m.evaluate(X, {"c": Y, "m": T}, batch_size=32)

    check_growth("predictions", call)
    assert refcounts(X, Y, T, Xf) == rc


def test_failed_calls_leak_nothing():
    """Each call fails after converting a 256 KB float64 input (or more): a
    conversion not released on the error path would grow RSS by gigabytes."""
    m = model()
    net = m._net
    rng = np.random.default_rng(0)
    Xbig = rng.standard_normal((512, 64))  # float64: converted on every call
    Y, T = rng.integers(0, 4, 512), rng.standard_normal((512, 2)).astype(np.float32)
    Ybad = Y.copy()
    Ybad[-1] = 7
    Yhuge = Y.copy()
    Yhuge[-1] = 2**40
    Xnan = Xbig.copy()
    Xnan[0, 0] = np.nan  # in the first batch: no step runs before it is met
    lrs = np.full(2, 0.1, np.float32)
    keep = (Xbig, Y, T, Ybad, Yhuge, Xnan, lrs)
    rc = refcounts(*keep)
    calls = [
        (ValueError, lambda: net.train_step([Xbig], [Ybad, T], 0.1)),          # label out of range
        (ValueError, lambda: net.train_step([Xbig], [Yhuge, T], 0.1)),         # label beyond int32
        (ValueError, lambda: net.train_step([Xnan], [Y, T], 0.1)),             # NaN input
        (ValueError, lambda: net.train_step([Xbig], [Y, T[:5]], 0.1)),         # batch mismatch
        (TypeError, lambda: net.train_step([Xbig], [Y.astype(float), T], 0.1)),  # float labels
        (ValueError, lambda: net.train_step([Xbig], [Y, T], float("nan"))),    # bad learning rate (in C)
        (ValueError, lambda: net.train_step([Xbig], [Y], 0.1)),                # too few targets
        (ValueError, lambda: net.evaluate([Xbig], [Ybad, T])),
        (ValueError, lambda: net.forward_backward([Xnan], [Y, T])),
        (ValueError, lambda: net.train_batches([Xbig], [Y, T], 256, np.full(3, 0.1, np.float32))),  # too many steps
        (IndexError, lambda: net.train_batches([Xbig], [Y, T], 4, lrs, np.array([0, 1, 2, 3, 4, 600]))),
        (ValueError, lambda: net.train_batches([Xnan], [Y, T], 256, lrs, np.arange(512))),  # NaN met while gathering
        (tl.TlearnError, lambda: net.input_grad(0, 10**6)),                    # no input gradient kept
        (IndexError, lambda: net.forward([Xbig], [99])),
        (ValueError, lambda: m.predict(Xbig[:, :63])),
        (ValueError, lambda: m.fit(Xbig, {"c": Ybad, "m": T}, epochs=1, batch_size=64, verbose=False)),
        (tl.TlearnError, lambda: net.train_step([Xbig], [Y, np.full_like(T, np.inf)], 0.1)),  # check_finite on
    ]
    m.check_finite = True
    before = m.state_dict()
    i = [0]

    def fail():
        exc, fn = calls[i[0] % len(calls)]
        i[0] += 1
        with pytest.raises(exc):
            fn()

    check_growth("failed calls", fail, warm=2 * len(calls))
    assert refcounts(*keep) == rc
    for k, v in m.params.items():  # none of them trained
        np.testing.assert_array_equal(v, before[k])


def test_creating_and_deleting_models_leaks_nothing():
    X, Y, T = data()

    def cycle():
        m = model()
        m.train_on_batch(X, {"c": Y, "m": T})
        v = m.params["d0.w"]
        del m
        v += 1.0  # the view outlives the model

    check_growth("models created and deleted", cycle, n=500, warm=50)


def test_a_view_outlives_its_model():
    m = model()
    X, Y, T = data()
    m.train_on_batch(X, {"c": Y, "m": T})
    views = {a: m._net.view(a, m._net.param_index("d0.w")) for a in ("value", "grad", "mask", "snapshot", "m", "v")}
    w = m.params["d0.w"]
    copies = {a: v.copy() for a, v in views.items()}
    net_refs = sys.getrefcount(m._net)
    del m
    gc.collect()
    junk = [np.ones(4096, np.float32) * k for k in range(256)]  # reuse any memory that was freed
    for a, v in views.items():
        np.testing.assert_array_equal(v, copies[a], err_msg=a)
        v[...] = 7.0  # writable, and writes land in the arena ...
    np.testing.assert_array_equal(w, 7.0)  # ... which the other view of it sees
    assert w.base is views["value"].base  # both keep the same network alive
    assert net_refs >= 2
    del junk


def test_the_arenas_are_freed_when_the_last_view_goes():
    if SANITIZED:
        pytest.skip("ASan keeps freed memory in quarantine; RSS says nothing here")
    gc.collect()
    r0 = trimmed_rss()
    x = tl.Input((2048,))
    m = tl.Model(x, L.Dense(2048, name="big")(x))  # 4M weights: 7 arenas of 16 MB
    m.params["big.w"][...] = 1.0
    for a in ("grad", "mask", "snapshot", "fisher", "m", "v"):
        m._views(a)["big.w"][...] = 2.0  # touch every page
    r1 = trimmed_rss()
    assert r1 - r0 > 90 * 2**20
    v = m.params["big.w"]
    del m
    gc.collect()
    assert trimmed_rss() > r1 - 8 * 2**20  # the view holds the network: nothing released
    assert v.sum() == 2048 * 2048
    del v
    gc.collect()
    assert trimmed_rss() < r0 + 16 * 2**20, f"{(trimmed_rss() - r0) / 2**20:.1f} MB still held after the last view went"
