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
