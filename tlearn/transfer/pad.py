"""Proxy A-distance (Ben-David et al. 2007; Ganin et al. 2016, section 5.1.4).

How well a linear classifier tells source features from target features:
``d_A = 2 (1 - 2 eps)`` with ``eps`` its error on held-out examples.  0
means the domains are indistinguishable to a linear classifier, 2 that it
separates them perfectly.  The classifier is a one-layer tlearn model,
trained by the core.
"""
from __future__ import annotations

import numpy as np

from .. import layers as L
from .. import optim as _optim
from ..layers import Input
from ..model import Model


def proxy_a_distance(features_source, features_target, seed: int = 0, epochs: int = 20,
                     test_fraction: float = 0.5) -> float:
    """Proxy A-distance between two sets of feature vectors.

    Parameters
    ----------
    features_source, features_target : array (Ns, D), (Nt, D)
        Features of each domain (e.g. ``recipe.transform(X)``); each
        example is flattened.
    seed : int
        Seed of the split, the weights and the shuffling.
    epochs : int
        Training passes of the linear classifier (Adam, lr 1e-2, batch 64).
    test_fraction : float
        Share of each domain on which the error is measured.

    Returns
    -------
    float in [0, 2]
    """
    fs = np.asarray(features_source, dtype=np.float32)
    ft = np.asarray(features_target, dtype=np.float32)
    if fs.ndim < 2 or ft.ndim < 2:
        raise ValueError(f"proxy_a_distance: expected arrays of feature vectors (N, D), got shapes {fs.shape} "
                         f"and {ft.shape}")
    fs, ft = fs.reshape(len(fs), -1), ft.reshape(len(ft), -1)
    if fs.shape[1] != ft.shape[1]:
        raise ValueError(f"proxy_a_distance: both domains need the same number of features, got {fs.shape[1]} "
                         f"and {ft.shape[1]}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"proxy_a_distance: test_fraction must be in (0, 1), got {test_fraction!r}")
    if min(len(fs), len(ft)) < 4:
        raise ValueError(f"proxy_a_distance: needs at least 4 examples per domain, got {len(fs)} and {len(ft)}")
    rng = np.random.default_rng(seed)
    parts = []
    for d, f in enumerate((fs, ft)):
        p = rng.permutation(len(f))
        k = max(1, min(len(f) - 1, int(round(test_fraction * len(f)))))
        parts.append((f[p[k:]], f[p[:k]], d))
    x_tr = np.concatenate([a for a, _, _ in parts])
    y_tr = np.concatenate([np.full(len(a), d, np.int32) for a, _, d in parts])
    mean, std = x_tr.mean(0), x_tr.std(0) + 1e-6
    x = Input(fs.shape[1], name="x")
    m = Model(x, L.Dense(2, init="glorot", name="linear")(x), seed=seed, name="proxy_a_distance")
    m.compile(_optim.Adam(1e-2), loss="softmax_ce")
    m.fit((x_tr - mean) / std, y_tr, epochs=epochs, batch_size=64, verbose=False)
    # balanced error: the mean of the two domains' errors
    errs = [1.0 - m.score((te - mean) / std, np.full(len(te), d, np.int32)) for _, te, d in parts]
    eps = float(np.mean(errs))
    return float(min(2.0, max(0.0, 2.0 * (1.0 - 2.0 * eps))))
