"""Robustness: the C core never prints, exits or aborts; the binding converts
every layout of a real array correctly; regressions of crashes and silent
wrong results found by the fuzz tests (tests/test_fuzz.py)."""
import pathlib
import re

import numpy as np
import pytest

import tlearn as tl
from tlearn import _core, layers as L

ROOT = pathlib.Path(__file__).resolve().parents[1]
CORE = ROOT / "csrc" / "core"

FORBIDDEN = re.compile(r"\b(exit|_Exit|quick_exit|abort|printf|puts|fprintf|fputs|putchar|perror|assert)\s*\(|"
                       r"\b(stdout|stderr)\b")


def _code_only(src):
    """C source without comments, string and character literals."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * src.count("\n", i, j))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def test_code_only_strips_comments_and_strings():
    src = 'int a; /* exit(1) */ f("abort()"); // printf(\nputs(x);'
    code = _code_only(src)
    assert FORBIDDEN.findall(code) == [("puts", "")]


def test_core_never_prints_exits_or_aborts():
    files = sorted(CORE.glob("*.[ch]"))
    assert len(files) >= 5
    bad = []
    for f in files:
        for lineno, line in enumerate(_code_only(f.read_text()).splitlines(), 1):
            for m in FORBIDDEN.finditer(line):
                bad.append(f"{f.name}:{lineno}: {m.group(0)}")
    assert not bad, "library code must return a status, not print/exit/abort:\n" + "\n".join(bad)


# ------------------------------------------------------------ layouts

def small_net():
    n = _core.Net(3)
    x = n.add("input", [], "x", shape=[2, 3])
    r = n.add("reshape", [x], "r", shape=[6])
    d = n.add("dense", [r], "d", attrs={"units": 4, "init": "glorot"})
    n.finalize()
    n.add_loss("softmax_ce", d, "d")
    n.set_optim("sgd")
    return n, x, d


def _readonly(a):
    b = a.copy()
    b.flags.writeable = False
    return b


def _unaligned(a):
    u = np.ndarray(a.shape, a.dtype, np.zeros(a.nbytes + 1, np.uint8).data, 1)  # starts at byte 1
    u[...] = a
    return u


LAYOUTS = {
    "byteswapped": lambda a: a.astype(a.dtype.newbyteorder()),
    "fortran": np.asfortranarray,
    "strided": lambda a: np.repeat(a, 2, axis=0)[::2],
    "negative_strides": lambda a: np.flip(np.flip(a, 0).copy(), 0),
    "last_axis_strided": lambda a: np.repeat(a, 2, axis=2)[:, :, ::2],
    "readonly": _readonly,
    "unaligned": _unaligned,
    "byteswapped_unaligned": lambda a: _unaligned(a.astype(">f4")),
    "float64": lambda a: a.astype(np.float64),
    "float64_byteswapped": lambda a: a.astype(">f8"),
    "float16": lambda a: a.astype(np.float16),
    "nested_lists": lambda a: a.tolist(),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_computes_like_native_float32(layout):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 2, 3)).astype(np.float32)
    if layout == "float16":
        X = X.astype(np.float16).astype(np.float32)  # representable both ways
    Y = np.array([0, 1, 2, 3, -1])
    A = LAYOUTS[layout](X)
    if isinstance(A, np.ndarray):
        assert A.shape == X.shape and np.array_equal(np.asarray(A, np.float32), X)
        if layout == "unaligned":
            assert not A.flags.aligned
        if layout == "byteswapped":
            assert not A.dtype.isnative and A.dtype.itemsize == 4
    n1, x1, d1 = small_net()
    n2, x2, d2 = small_net()
    np.testing.assert_array_equal(n1.forward([A], [d1])[0], n2.forward([X], [d2])[0])
    assert np.array_equal(n1.train_step([A], [Y], 0.1)["loss"], n2.train_step([X], [Y], 0.1)["loss"])
    np.testing.assert_array_equal(n1.view("value", 0), n2.view("value", 0))
    if isinstance(A, np.ndarray) and A.flags.writeable:
        before = A.copy()
        n1.train_step([A], [Y], 0.1)
        np.testing.assert_array_equal(A, before)  # inputs are never written


def test_byteswapped_input_through_the_model():
    x = tl.Input((4,))
    m = tl.Model(x, L.Dense(3, name="d")(x), seed=1)
    X = np.random.default_rng(1).standard_normal((7, 4)).astype(np.float32)
    for A in (X.astype(">f4"), X.astype(">f8"), np.asfortranarray(X), X[::-1][::-1].copy()):
        np.testing.assert_array_equal(m.predict(A), m.predict(X))


def test_labels_of_any_integer_dtype_and_layout():
    n1, x1, d1 = small_net()
    n2, x2, d2 = small_net()
    X = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    Y = np.array([3, 0, -1, 2])
    def results(r):  # the named results as one tuple of their values
        return tuple(v.tolist() for _, v in sorted(r.items()))

    ref = results(n2.evaluate([X], [Y.astype(np.int32)]))
    for lab in (Y.astype(np.int8), Y.astype(">i8"), Y.astype(np.int16), np.repeat(Y, 2)[::2], Y.tolist()):
        assert results(n1.evaluate([X], [lab])) == ref
    assert results(n1.evaluate([X], [np.array([3, 0, 0, 2])])) != ref  # a different label shows


# ------------------------------------------------- regressions (fuzzing)

@pytest.mark.parametrize("label,dtype", [(2**32 + 1, np.int64), (2**32, np.int64), (-2**32 - 1, np.int64),
                                         (2**64 - 1, np.uint64), (2**31, np.uint32)])
def test_labels_beyond_int32_are_refused_not_wrapped(label, dtype):
    """Label 2^32 + 1 was cast to int32 with wrap-around and trained as class 1."""
    n, x, d = small_net()
    X = np.ones((2, 2, 3), np.float32)
    y = np.array([label, 1], dtype)
    with pytest.raises(ValueError, match="out of range"):
        n.train_step([X], [y], 0.1)
    with pytest.raises(ValueError, match="out of range"):
        n.evaluate([X], [y])
    x = tl.Input((6,))
    m = tl.Model(x, L.Dense(4, name="d")(x))
    m.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    before = m.state_dict()
    with pytest.raises(ValueError, match="out of range"):
        m.fit(np.ones((2, 6), np.float32), y, verbose=False)
    with pytest.raises(ValueError, match="out of range"):
        m.train_on_batch(np.ones((2, 6), np.float32), y)
    for k, v in m.params.items():
        np.testing.assert_array_equal(v, before[k])


def test_train_batches_index_beyond_int64_is_refused():
    n, x, d = small_net()
    X = np.ones((3, 2, 3), np.float32)
    with pytest.raises(ValueError, match="out of range"):
        n.train_batches([X], [np.zeros(3, np.int64)], 2, np.full(1, 0.1, np.float32), np.array([2**64 - 1], np.uint64))
    with pytest.raises(IndexError, match="out of range"):
        n.train_batches([X], [np.zeros(3, np.int64)], 2, np.full(1, 0.1, np.float32), np.array([3], np.uint64))


def test_input_grad_cannot_read_past_the_last_batch():
    """input_grad(node, batch) copied `batch` rows of a buffer planned for the
    last batch: a larger number read past the end of the allocation."""
    n, x, d = small_net()
    n.set_input_grad(x, True)
    with pytest.raises(tl.TlearnError, match="no gradient"):
        n.input_grad(x, 1)
    X = np.random.default_rng(0).standard_normal((3, 2, 3)).astype(np.float32)
    n.forward_backward([X], [np.array([0, 1, 2])])
    g = n.input_grad(x, 3)
    assert g.shape == (3, 2, 3) and np.isfinite(g).all()
    np.testing.assert_array_equal(n.input_grad(x, 2), g[:2])
    for bad in (4, 100000, 0, -1):
        with pytest.raises(ValueError, match="last backward pass had 3 examples"):
            n.input_grad(x, bad)


def test_train_batches_stages_no_more_rows_than_exist():
    """With an index, the staging buffers had batch_size rows even for a
    smaller data set (batch_size 2^31 - 1: 48 GB for this network)."""
    import resource

    n, x, d = small_net()
    X = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    Y = np.array([0, 1, 2, 3, 0])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = n.train_batches([X], [Y], 2**31 - 1, np.full(1, 0.1, np.float32), np.arange(5))
    assert res["loss"].shape == (1, 1) and all(np.isfinite(v).all() for v in res.values())
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # kB


def test_model_batch_sizes_beyond_a_c_int():
    x = tl.Input((6,))
    m = tl.Model(x, L.Dense(4, name="d")(x))
    m.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    X = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    Y = np.array([0, 1, 2, 3, 0])
    twin = m.clone()
    for bs in (2**31, 2**40, 10**30):
        np.testing.assert_array_equal(m.predict(X, batch_size=bs), m.predict(X))
        assert m.evaluate(X, Y, batch_size=bs) == m.evaluate(X, Y)
    h = m.fit(X, Y, epochs=2, batch_size=2**40, verbose=False)
    h2 = twin.fit(X, Y, epochs=2, batch_size=5, verbose=False)
    assert h == h2


@pytest.mark.parametrize("dtype", ["m8[s]", "M8[s]", "c8", "O", "U3"])
def test_model_refuses_non_real_dtypes(dtype):
    """timedelta64 passed as 'numeric' (NumPy files it under signed integers)."""
    x = tl.Input((2,))
    m = tl.Model(x, {"c": L.Dense(3, name="c")(x), "r": L.Dense(2, name="r")(x)})
    m.compile(tl.optim.SGD(0.1), loss={"c": "softmax_ce", "r": "mse"})
    good_x, good_c, good_r = np.ones((2, 2), np.float32), np.array([0, 1]), np.zeros((2, 2), np.float32)
    bad = np.ones((2, 2), np.int64).astype(dtype)
    with pytest.raises(TypeError, match="dtype"):
        m.predict(bad)
    with pytest.raises(TypeError, match="dtype"):
        m.train_on_batch(good_x, {"c": np.array([0, 1]).astype(dtype), "r": good_r})
    with pytest.raises(TypeError, match="dtype"):
        m.train_on_batch(good_x, {"c": good_c, "r": bad})
    with pytest.raises(TypeError, match="dtype"):
        m.load_weights({"c.w": np.ones((3, 2), np.int64).astype(dtype)}, strict=False)


def test_a_network_too_large_for_memory_fails_with_memory_error():
    """2^31 - 1 units on 2^31 - 1 inputs: 2^62 weights; the allocation fails
    cleanly (with ASan too: allocator_may_return_null=1 in .ci/sanitize)."""
    n = _core.Net(0)
    x = n.add("input", [], "x", shape=[2**31 - 1])
    n.add("dense", [x], "d", attrs={"units": 2**31 - 1})
    with pytest.raises(MemoryError):
        n.finalize()
    assert not n.finalized
    with pytest.raises(tl.TlearnError, match="not finalized"):
        n.view("value", 0)
    with pytest.raises(MemoryError):
        n.finalize()


def test_errors_never_leave_the_network_busy():
    n, x, d = small_net()
    X = np.ones((2, 2, 3), np.float32)
    for args in (([X], [np.array([0, 9])], 0.1), ([X], [np.array([0, 1])], float("nan")), ([X[:, :1]], [[0, 1]], 0.1),
                 ("x", [], 0.1), ([X], None, 0.1), ([np.full_like(X, np.inf)], [[0, 1]], 0.1)):
        with pytest.raises((ValueError, TypeError)):
            n.train_step(*args)
    losses = n.train_step([X], [np.array([0, 1])], 0.1)["loss"]
    assert np.isfinite(losses).all()
