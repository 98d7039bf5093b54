"""The core's thread pool (csrc/core/threadpool.c): the loops it splits (im2col,
col2im, bias scatter, pooling, activations) give bit-identical results with
any number of threads, it survives fork(), and two networks that train in two
Python threads at once share it (one of them runs its loops inline)."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import tlearn as tl
from tlearn import layers as L


@pytest.fixture(autouse=True)
def restore_threads():
    before = tl.get_num_threads()
    yield
    tl.set_num_threads(before)


def conv_net(seed=0, pool="max"):
    x = tl.Input((3, 14, 14), name="x")
    Pool = L.MaxPool2d if pool == "max" else L.AvgPool2d
    h = Pool(2, name="p1")(L.ReLU(name="r1")(L.Conv2d(16, 3, padding=1, name="c1")(x)))
    h = L.LeakyReLU(0.1, name="r2")(L.Conv2d(24, 3, stride=2, name="c2")(h))
    h = L.BatchNorm(name="bn")(h)
    h = L.Dense(10, name="fc")(L.Flatten(name="fl")(h))
    m = tl.Model(x, h, seed=seed)
    m.compile(tl.optim.SGD(0.05, momentum=0.9), loss="softmax_ce")
    return m


def data(n=192, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3, 14, 14)).astype(np.float32), rng.integers(0, 10, n).astype(np.int32)


def test_set_and_get():
    assert tl.set_num_threads(1) == 1 and tl.get_num_threads() == 1
    assert tl.set_num_threads(3) == 3 and tl.get_num_threads() == 3
    assert tl.set_num_threads(1000) == 8  # capped
    with pytest.raises(ValueError, match="expected a positive number of threads, got 0"):
        tl.set_num_threads(0)
    with pytest.raises(TypeError, match="expected an int, got float"):
        tl.set_num_threads(2.0)


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_results_do_not_depend_on_the_number_of_threads(pool):
    X, Y = data()
    runs = {}
    for nt in (1, 2, 3, 8):
        tl.set_num_threads(nt)
        m = conv_net(pool=pool)
        m.fit(X, Y, epochs=2, batch_size=64, verbose=False)
        runs[nt] = (m.state_dict(), m.predict(X), m.evaluate(X, Y)["loss"])
    ref = runs[1]
    for nt, (params, pred, loss) in runs.items():
        for k, v in ref[0].items():
            assert np.array_equal(params[k], v), (nt, k)
        assert np.array_equal(pred, ref[1]), nt
        assert loss == ref[2], nt
    # and the training did something
    assert not np.array_equal(ref[0]["c1.w"], conv_net(pool=pool).params["c1.w"])


def test_openblas_thread_count_changes_no_bit():
    """OpenBLAS's GEMMs round differently on one thread and on two; the core
    keeps it on one (csrc/core/blas.c), so a count set by the user changes
    nothing, and is set back to one by the next GEMM."""
    from tlearn import _blas

    X, Y = data()
    before = _blas.get_threads()
    runs = []
    try:
        for n in (2, 1, 2):
            assert _blas.set_threads(n) and _blas.get_threads() == n
            m = conv_net()
            m.fit(X, Y, epochs=1, batch_size=64, verbose=False)
            assert _blas.get_threads() == 1
            runs.append((m.state_dict(), m.predict(X)))
    finally:
        _blas.set_threads(before)
    for params, pred in runs[1:]:
        for k, v in runs[0][0].items():
            assert np.array_equal(params[k], v), k
        assert np.array_equal(pred, runs[0][1])


@pytest.mark.parametrize("size", [6, 10, 16])
@pytest.mark.parametrize("k,stride", [(2, 2), (2, None), (3, 1)])
def test_maxpool_routes_ties_to_the_first_maximum(k, stride, size):
    """2x2 stride-2 windows take a vectorised path (horizontal pairs, then
    vertical), other windows the generic loop; both send the gradient to the
    first maximum of a window in row-major order, as PyTorch does.  The
    backward of tiling 2x2 windows takes four windows of a row at a time and
    the rest one by one (sizes 6, 10, 16: 3, 5, 8 windows a row)."""
    rng = np.random.default_rng(5)
    a = rng.integers(0, 3, (2, 3, size, size)).astype(np.float32)  # many ties
    x = tl.Input((3, size, size), name="x")
    m = tl.Model(x, L.Flatten(name="f")(L.MaxPool2d(k, stride=stride, name="p")(x)))
    m.compile(tl.optim.SGD(0.0), loss="mse")
    y = m.predict(a)
    net = m._engine.net
    net.set_input_grad(m._engine.node["x"], True)
    net.forward_backward([a], [y - 1.0], with_reg=False)
    got = net.input_grad(m._engine.node["x"], 2)
    s = stride or k
    oh = (size - k) // s + 1
    want = np.zeros_like(a)
    for b in range(2):
        for c in range(3):
            for i in range(oh):
                for j in range(oh):
                    win = a[b, c, i * s:i * s + k, j * s:j * s + k]
                    r, q = divmod(int(np.argmax(win)), k)  # argmax: the first maximum
                    assert y[b, c * oh * oh + i * oh + j] == win.max()
                    want[b, c, i * s + r, j * s + q] += 1
    assert np.array_equal(got != 0, want != 0)
    # every output has the same upstream gradient: an input gets it once per window it wins
    np.testing.assert_allclose(got, want * (got.sum() / want.sum()), rtol=1e-6)


def test_fork_after_the_pool_ran(tmp_path):
    """A child process forked after the pool's threads started trains and
    predicts like the parent (the pool restarts its threads in the child)."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    code = r"""
import os, sys
sys.path[:0] = [sys.argv[2], sys.argv[1]]  # the tlearn this test imported, then the tests
import numpy as np
import tlearn as tl
from test_threads import conv_net, data
tl.set_num_threads(2)
X, Y = data()
m = conv_net()
m.fit(X, Y, epochs=1, batch_size=64, verbose=False)  # the pool's threads run
pid = os.fork()
if pid == 0:
    try:
        c = conv_net()
        c.fit(X, Y, epochs=1, batch_size=64, verbose=False)
        ok = np.array_equal(c.predict(X), m.predict(X))
        os._exit(0 if ok else 3)
    except BaseException:
        os._exit(4)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(tl.__file__)))
    r = subprocess.run([sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__)), pkg_parent],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])


def test_two_conv_networks_in_two_threads_like_one_after_the_other():
    tl.set_num_threads(2)
    X, Y = data(256)
    par = [conv_net(seed=s) for s in (1, 2)]
    seq = [conv_net(seed=s) for s in (1, 2)]
    errors = []
    barrier = threading.Barrier(2)

    def run(k):
        try:
            barrier.wait()
            par[k].fit(X, Y, epochs=3, batch_size=32, verbose=False)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k in (0, 1):
        seq[k].fit(X, Y, epochs=3, batch_size=32, verbose=False)
        for name, v in seq[k].state_dict().items():
            assert np.array_equal(par[k].state_dict()[name], v), (k, name)
