"""Clustering: k-means in the C core, and the agreement of a clustering with
true classes (normalised mutual information, adjusted Rand index).

:class:`KMeans` runs Lloyd's iterations from a k-means++ seeding in
scikit-learn's greedy variant (each new centre is the best of
``2 + floor(ln k)`` candidates drawn in proportion to the squared distance
to the nearest centre so far), with scikit-learn's stopping rule (labels
unchanged, or the centres' squared shift at most ``tol`` times the mean
feature variance) and its relocation of empty clusters.  The products and
distances run in the core on its thread pool; a ``random_state`` gives the
same bits on any number of threads.  The k-means++ draws come from the
core's own generator, so the seeding is the same algorithm as
scikit-learn's but not the same draws.
"""
from __future__ import annotations

from typing import Dict

import numpy as np

from .. import _core
from ._base import Recipe, check_choice, check_examples, check_float, check_int

__all__ = ["KMeans", "kmeans_plusplus", "normalized_mutual_info_score", "adjusted_rand_score"]

_SEED_MAX = 2 ** 64 - 1


def _matrix(owner: str, name: str, X) -> np.ndarray:
    a = check_examples(owner, name, X)
    return np.ascontiguousarray(a.reshape(len(a), -1), dtype=np.float32)


def _seed(owner: str, random_state) -> int:
    if random_state is None:
        return int(np.random.default_rng().integers(0, 2 ** 63))
    return check_int(owner, "random_state", random_state, 0, _SEED_MAX)


def kmeans_plusplus(X, n_clusters: int, random_state=0, n_local_trials=None):
    """k-means++ seeding (greedy): ``(centers (k, d), indices (k,))``, the
    rows of ``X`` chosen (scikit-learn's ``kmeans_plusplus``)."""
    Xm = _matrix("kmeans_plusplus", "X", X)
    k = check_int("kmeans_plusplus", "n_clusters", n_clusters, 1)
    if k > len(Xm):
        raise ValueError(f"kmeans_plusplus: n_clusters={k} is larger than the number of examples ({len(Xm)})")
    t = 0 if n_local_trials is None else check_int("kmeans_plusplus", "n_local_trials", n_local_trials, 1)
    return _core.kmeans_plusplus(Xm, k, _seed("kmeans_plusplus", random_state), t)


class KMeans(Recipe):
    """k-means clustering (Lloyd's algorithm) in the C core.

    Parameters
    ----------
    n_clusters : int
    init : "k-means++" or array (n_clusters, n_features)
        Starting centres: the greedy k-means++ seeding, or given ones.
    n_init : int
        Runs from different seedings (derived from ``random_state``); the
        one of lowest inertia is kept.  Given centres run once.
    max_iter : int
        Lloyd iterations at most per run.
    tol : float
        Relative tolerance: stop when the squared shift of the centres sums
        to at most ``tol`` times the mean variance of the features.
    n_local_trials : int or None
        Candidates per new centre in k-means++; None: ``2 + floor(ln k)``.
    random_state : int or None
        Seed of the seeding (None: a fresh one).

    Attributes
    ----------
    cluster_centers_, labels_, inertia_, n_iter_, n_features_in_
    """

    def __init__(self, n_clusters: int = 8, init="k-means++", n_init: int = 1, max_iter: int = 300,
                 tol: float = 1e-4, n_local_trials=None, random_state=0):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_local_trials = n_local_trials
        self.random_state = random_state

    _sklearn_kind = "transformer"

    def _fit(self, X, y=None) -> Dict[str, object]:
        me = "KMeans"
        Xm = _matrix(me, "X", X)
        k = check_int(me, "n_clusters", self.n_clusters, 1)
        if k > len(Xm):
            raise ValueError(f"{me}: n_clusters={k} is larger than the number of examples ({len(Xm)}); "
                             f"expected at most {len(Xm)} clusters")
        n_init = check_int(me, "n_init", self.n_init, 1)
        max_iter = check_int(me, "max_iter", self.max_iter, 1)
        tol = check_float(me, "tol", self.tol, 0.0)
        trials = 0 if self.n_local_trials is None else check_int(me, "n_local_trials", self.n_local_trials, 1)
        init = None
        if isinstance(self.init, str):
            check_choice(me, "init", self.init, ["k-means++"])
        else:
            init = _matrix(me, "init", self.init)
            if init.shape != (k, Xm.shape[1]):
                raise ValueError(f"{me}: init must be an array of shape ({k}, {Xm.shape[1]}) (n_clusters, "
                                 f"n_features), got {np.shape(self.init)}")
            n_init = 1
        seed = _seed(me, self.random_state)
        seeds = [seed] + [int(s) for s in np.random.default_rng(seed).integers(0, 2 ** 63, n_init - 1)]
        best = None
        for s in seeds:
            run = _core.kmeans(Xm, k, max_iter, tol, s, trials, init)
            if best is None or run[2] < best[2]:
                best = run
        centers, labels, inertia, n_iter = best
        return {"cluster_centers_": centers, "labels_": labels.astype(np.int64), "inertia_": float(inertia),
                "n_iter_": int(n_iter), "n_features_in_": Xm.shape[1]}

    def _checked(self, X, what: str) -> np.ndarray:
        self._check_is_fitted(what)
        return self._check_width(what, _matrix(f"KMeans.{what}", "X", X))

    def predict(self, X) -> np.ndarray:
        """The nearest centre of each example."""
        _, labels = _core.sqdist(self._checked(X, "predict"), self.cluster_centers_)
        return labels.astype(np.int64)

    def transform(self, X) -> np.ndarray:
        """Euclidean distances (n, n_clusters) to the centres."""
        d, _ = _core.sqdist(self._checked(X, "transform"), self.cluster_centers_)
        return np.sqrt(d)

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X).transform(X)

    def score(self, X, y=None) -> float:
        """Minus the sum of squared distances to the nearest centres (scikit-learn's sign)."""
        d, _ = _core.sqdist(self._checked(X, "score"), self.cluster_centers_)
        return -float(d.min(axis=1).astype(np.float64).sum())


# ------------------------------------------------------------ metrics

def _two_labelings(labels_true, labels_pred):
    a, b = np.asarray(labels_true), np.asarray(labels_pred)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"expected two 1-D label arrays, got shapes {a.shape} and {b.shape}")
    if len(a) != len(b):
        raise ValueError(f"expected two label arrays of the same length, got {len(a)} and {len(b)}")
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    n = len(a)
    table = np.zeros((ia.max() + 1 if n else 0, ib.max() + 1 if n else 0), np.int64)
    np.add.at(table, (ia.ravel(), ib.ravel()), 1)
    return table


def _entropy(counts: np.ndarray) -> float:
    n = counts.sum()
    p = counts[counts > 0] / n
    return float(-(p * np.log(p)).sum())


def normalized_mutual_info_score(labels_true, labels_pred) -> float:
    """NMI with the arithmetic mean of the two entropies (scikit-learn's
    default since 0.22): ``I(U; V) / ((H(U) + H(V)) / 2)``; 1 when both
    labelings put everything in one cluster."""
    t = _two_labelings(labels_true, labels_pred)
    if t.shape[0] == t.shape[1] == 1 or t.size == 0:
        return 1.0
    n = t.sum()
    a, b = t.sum(1), t.sum(0)
    nz = t > 0
    pij = t[nz] / n
    mi = float((pij * (np.log(t[nz]) + np.log(n) - np.log(np.outer(a, b)[nz]))).sum())
    mi = max(mi, 0.0)
    if mi == 0.0:
        return 0.0
    return mi / ((_entropy(a) + _entropy(b)) / 2.0)


def adjusted_rand_score(labels_true, labels_pred) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985): the Rand index corrected
    for chance, 1 for identical partitions, about 0 for independent ones."""
    t = _two_labelings(labels_true, labels_pred).astype(np.float64)
    n = t.sum()

    def pairs(v):
        return float((v * (v - 1) / 2).sum())

    index, a, b = pairs(t), pairs(t.sum(1)), pairs(t.sum(0))
    total = n * (n - 1) / 2
    if total == 0:
        return 1.0
    expected = a * b / total
    top = (a + b) / 2
    if top == expected:
        return 1.0
    return (index - expected) / (top - expected)
