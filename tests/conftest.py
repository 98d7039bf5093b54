"""Shared fixtures: small seeded data and models."""
import numpy as np
import pytest

import tlearn as tl
from tlearn import layers as L


def make_mlp(n_in=6, hidden=(8,), n_out=3, seed=0, names=None, dropout=0.0):
    """Input -> [Dense -> ReLU]* -> Dense, layers named d0, d1, ... (or names)."""
    x = tl.Input((n_in,), name="x")
    h = x
    sizes = list(hidden) + [n_out]
    names = names or [f"d{i}" for i in range(len(sizes))]
    for i, (u, nm) in enumerate(zip(sizes, names)):
        h = L.Dense(u, name=nm)(h)
        if i < len(sizes) - 1:
            h = L.ReLU(name=f"r{i}")(h)
            if dropout:
                h = L.Dropout(dropout, name=f"drop{i}")(h)
    return tl.Model(x, h, seed=seed)


@pytest.fixture
def toy_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 6)).astype(np.float32)
    W = rng.standard_normal((6, 3))
    Y = np.argmax(X @ W, 1).astype(np.int64)
    return X, Y


@pytest.fixture
def mlp():
    return make_mlp


@pytest.fixture
def one_blas_thread():
    """Run a long training test on one OpenBLAS thread: on a loaded machine two
    spinning BLAS threads per call make small GEMMs many times slower."""
    import ctypes
    import os

    try:
        import scipy_openblas32 as sob

        lib = ctypes.CDLL(os.path.join(sob.get_lib_dir(), "lib" + sob.get_library() + ".so"))
        get, set_ = lib.scipy_openblas_get_num_threads, lib.scipy_openblas_set_num_threads
    except (ImportError, OSError, AttributeError):
        yield
        return
    old = get()
    set_(1)
    try:
        yield
    finally:
        set_(old)
