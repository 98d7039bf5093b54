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


def small_model(seed=0, n_in=3, hidden=4, n_out=2, opt=None):
    """x -> Dense d0 -> ReLU r -> Dense d1, compiled with Adam(0.01) (or ``opt``) and softmax CE."""
    x = tl.Input((n_in,), name="x")
    h = L.ReLU(name="r")(L.Dense(hidden, name="d0")(x))
    m = tl.Model(x, L.Dense(n_out, name="d1")(h), seed=seed)
    m.compile(opt or tl.optim.Adam(0.01), loss="softmax_ce")
    return m


def toy(n=16, n_in=3, n_out=2, seed=0):
    """``n`` standard-normal examples and random labels."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n_in)).astype(np.float32), rng.integers(0, n_out, n).astype(np.int64)


def temp_files(d):
    """The temporary files a save left in the folder ``d``."""
    return sorted(p.name for p in d.iterdir() if p.name.startswith(".tlearn-"))


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
