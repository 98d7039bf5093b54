"""k-means in the core (tlearn.cluster.KMeans) and the clustering metrics,
against a NumPy reference of the same algorithm and against scikit-learn."""
import pickle

import numpy as np
import pytest

import tlearn
from tlearn import _core
from tlearn.cluster import KMeans, adjusted_rand_score, kmeans_plusplus, normalized_mutual_info_score

MASK = (1 << 64) - 1


# ------------------------------------------------------------ NumPy reference

class SplitMix:
    """The core's generator (splitmix64), uniform doubles from the top 53 bits."""

    def __init__(self, seed):
        self.s = seed & MASK

    def unit(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        return (z >> 11) / 9007199254740992.0


def ref_plusplus(X, k, seed, trials=None):
    """scikit-learn's greedy k-means++ (_kmeans_plusplus) in float64, with the core's draws."""
    X = X.astype(np.float64)
    n = len(X)
    trials = trials or 2 + int(np.log(k))
    rng = SplitMix(seed)
    first = min(int(rng.unit() * n), n - 1)
    ids = [first]
    closest = ((X - X[first]) ** 2).sum(1)
    pot = closest.sum()
    for _ in range(1, k):
        r = np.array([rng.unit() * pot for _ in range(trials)])
        cand = np.minimum(np.searchsorted(np.cumsum(closest), r), n - 1)
        d = np.minimum(closest, ((X[None, :, :] - X[cand][:, None, :]) ** 2).sum(2))
        pots = d.sum(1)
        b = int(np.argmin(pots))
        pot, closest = pots[b], d[b]
        ids.append(int(cand[b]))
    return np.array(ids)


def ref_lloyd(X, init, max_iter=300, tol=1e-4):
    """scikit-learn's Lloyd loop (_kmeans_single_lloyd) in float64: labels, centres, inertia, iterations."""
    X = X.astype(np.float64)
    C = init.astype(np.float64).copy()
    k = len(C)
    tol_abs = tol * X.var(0).mean()
    old = np.full(len(X), -1)
    strict = False
    for it in range(max_iter):
        lab = np.argmin(((X[:, None, :] - C[None]) ** 2).sum(2), 1)
        cnt = np.bincount(lab, minlength=k)
        assert (cnt > 0).all(), "the reference does not relocate empty clusters"
        new = np.stack([X[lab == c].mean(0) for c in range(k)])
        shift = ((new - C) ** 2).sum()
        C = new
        if (lab == old).all():
            strict = True
            break
        if shift <= tol_abs:
            break
        old = lab
    if not strict:
        lab = np.argmin(((X[:, None, :] - C[None]) ** 2).sum(2), 1)
    return lab, C, float(((X - C[lab]) ** 2).sum()), it + 1


def blobs(n=600, d=5, k=4, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (k, d))
    y = rng.integers(0, k, n)
    return (centres[y] + spread * rng.normal(size=(n, d))).astype(np.float32), y


# ------------------------------------------------------------ seeding and Lloyd

@pytest.mark.parametrize("k,seed", [(3, 0), (8, 5), (20, 11)])
def test_plusplus_matches_the_numpy_reference(k, seed):
    X, _ = blobs(400, 6, 5, 2.0, seed)
    centres, ids = kmeans_plusplus(X, k, random_state=seed)
    assert list(ids) == list(ref_plusplus(X, k, seed))
    np.testing.assert_array_equal(centres, X[ids])
    assert len(set(ids.tolist())) == k


def test_plusplus_local_trials_are_used():
    X, _ = blobs(300, 4, 6, 3.0, 1)
    a = kmeans_plusplus(X, 6, random_state=3, n_local_trials=1)[1]
    assert list(a) == list(ref_plusplus(X, 6, 3, trials=1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lloyd_matches_the_numpy_reference(seed):
    X, _ = blobs(500, 4, 5, 4.0, seed)  # overlapping blobs: several iterations
    init = X[np.random.default_rng(seed).choice(len(X), 5, replace=False)]
    km = KMeans(5, init=init, tol=1e-4).fit(X)
    lab, C, inertia, it = ref_lloyd(X, init)
    np.testing.assert_array_equal(km.labels_, lab)
    np.testing.assert_allclose(km.cluster_centers_, C, atol=1e-4)
    assert km.inertia_ == pytest.approx(inertia, rel=1e-5)
    assert km.n_iter_ == it
    assert km.n_iter_ > 1


def test_against_scikit_learn_same_init():
    sk = pytest.importorskip("sklearn.cluster")
    for seed in (0, 1, 2):
        X, _ = blobs(800, 10, 6, 5.0, seed)
        init, _ = kmeans_plusplus(X, 6, random_state=seed)
        ours = KMeans(6, init=init).fit(X)
        ref = sk.KMeans(6, init=init, n_init=1, algorithm="lloyd", tol=1e-4).fit(X)
        np.testing.assert_array_equal(ours.labels_, ref.labels_)
        np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, atol=1e-4)
        assert ours.n_iter_ == ref.n_iter_
        assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-4)
        np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
        np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-3, atol=1e-3)


def test_against_scikit_learn_plusplus_quality():
    """Same algorithm, other draws: on separated blobs both find the blobs."""
    sk = pytest.importorskip("sklearn.cluster")
    X, y = blobs(1000, 8, 5, 0.5, 4)
    ours = KMeans(5, random_state=0).fit(X)
    ref = sk.KMeans(5, n_init=1, random_state=0).fit(X)
    assert adjusted_rand_score(y, ours.labels_) == 1.0
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-4)


def test_empty_cluster_is_relocated_as_scikit_learn_does():
    sk = pytest.importorskip("sklearn.cluster")
    X, _ = blobs(300, 3, 3, 1.0, 2)
    init = np.concatenate([X[:2], np.full((1, 3), 1e3, np.float32)])  # the third centre catches nothing
    ours = KMeans(3, init=init).fit(X)
    ref = sk.KMeans(3, init=init, n_init=1, algorithm="lloyd").fit(X)
    assert np.bincount(ours.labels_, minlength=3).min() > 0
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, atol=1e-4)


def test_same_bits_for_any_thread_count():
    X, _ = blobs(5000, 40, 10, 6.0, 3)  # 16 groups of rows
    before = tlearn.get_num_threads()
    try:
        tlearn.set_num_threads(1)
        a = KMeans(10, random_state=7).fit(X)
        tlearn.set_num_threads(2)
        b = KMeans(10, random_state=7).fit(X)
    finally:
        tlearn.set_num_threads(before)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_ and a.n_iter_ == b.n_iter_


def test_seed_determines_the_result_and_n_init_keeps_the_best():
    X, _ = blobs(600, 5, 8, 3.0, 5)
    a, b = KMeans(8, random_state=1).fit(X), KMeans(8, random_state=1).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    runs = [KMeans(8, random_state=s).fit(X).inertia_ for s in range(6)]
    assert len(set(runs)) > 1  # the seeding matters on these overlapping blobs
    best = KMeans(8, n_init=5, random_state=1).fit(X)
    assert best.inertia_ <= a.inertia_


def test_predict_transform_score():
    X, _ = blobs(400, 6, 4, 1.0, 6)
    km = KMeans(4, random_state=0).fit(X)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    D = km.transform(X)
    ref = np.sqrt(((X[:, None, :].astype(np.float64) - km.cluster_centers_[None]) ** 2).sum(2))
    np.testing.assert_allclose(D, ref, rtol=1e-4, atol=1e-3)
    assert km.score(X) == pytest.approx(-km.inertia_, rel=1e-4)
    np.testing.assert_array_equal(KMeans(4, random_state=0).fit_predict(X), km.labels_)


def test_k_equal_to_n_and_k_one():
    X, _ = blobs(7, 3, 2, 1.0, 0)
    km = KMeans(7).fit(X)
    assert km.inertia_ == pytest.approx(0.0, abs=1e-6)
    one = KMeans(1).fit(X)
    np.testing.assert_allclose(one.cluster_centers_[0], X.mean(0), atol=1e-5)


# ------------------------------------------------------------ bad input

def test_bad_input_errors():
    X, _ = blobs(20, 3, 2, 1.0, 0)
    with pytest.raises(ValueError, match=r"n_clusters=21 is larger than the number of examples \(20\)"):
        KMeans(21).fit(X)
    bad = X.copy()
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match="row 4 holds a NaN"):
        KMeans(3).fit(bad)
    with pytest.raises(ValueError, match="init must be an array of shape \\(3, 3\\)"):
        KMeans(3, init=X[:2]).fit(X)
    with pytest.raises(ValueError, match="init must be one of"):
        KMeans(3, init="random").fit(X)
    with pytest.raises(ValueError, match="n_clusters must be an int >= 1"):
        KMeans(0).fit(X)
    with pytest.raises(ValueError, match="tol must be a finite number >= 0"):
        KMeans(2, tol=-1.0).fit(X)
    with pytest.raises(tlearn.transfer._base.NotFittedError):
        KMeans(2).predict(X)
    km = KMeans(2).fit(X)
    with pytest.raises(ValueError, match="KMeans.predict: X has 2 features per example, the recipe was fitted on 3"):
        km.predict(X[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        _core.kmeans(bad, 3, 10, 1e-4, 0, 0, None)
    with pytest.raises(ValueError, match="larger than|n_clusters must be in"):
        _core.kmeans(X, 50, 10, 1e-4, 0, 0, None)
    with pytest.raises(ValueError, match="k-means init: expected \\(3, 3\\)"):
        _core.kmeans(X, 3, 10, 1e-4, 0, 0, X[:3, :2])


def test_failed_refit_keeps_the_fit_and_input_untouched():
    X, _ = blobs(50, 3, 2, 1.0, 1)
    keep = X.copy()
    km = KMeans(2).fit(X)
    centres = km.cluster_centers_.copy()
    with pytest.raises(ValueError):
        km.set_params(n_clusters=99).fit(X)
    np.testing.assert_array_equal(km.cluster_centers_, centres)
    np.testing.assert_array_equal(X, keep)


def test_params_clone_pickle():
    X, _ = blobs(60, 3, 3, 1.0, 2)
    km = KMeans(3, n_init=2, random_state=4)
    assert km.get_params()["n_init"] == 2
    km.set_params(max_iter=50)
    assert "max_iter=50" in repr(km)
    km.fit(X)
    back = pickle.loads(pickle.dumps(km))
    np.testing.assert_array_equal(back.predict(X), km.labels_)
    base = pytest.importorskip("sklearn.base")
    c = base.clone(km)
    assert c.get_params() == km.get_params() and not hasattr(c, "labels_")


# ------------------------------------------------------------ metrics

def test_metrics_by_hand():
    a = np.array([0, 0, 1, 1])
    assert normalized_mutual_info_score(a, [5, 5, 3, 3]) == pytest.approx(1.0)
    assert adjusted_rand_score(a, [5, 5, 3, 3]) == pytest.approx(1.0)
    assert normalized_mutual_info_score(a, [0, 1, 0, 1]) == pytest.approx(0.0)
    # ARI of [0,0,1,1] vs [0,0,0,1]: index 1, a=2, b=3, total 6: (1 - 1) / (2.5 - 1) = 0
    assert adjusted_rand_score(a, [0, 0, 0, 1]) == pytest.approx(0.0)
    # NMI: I = H(V) - H(V|U) for U=[0,0,1,1], V=[0,0,0,1]
    hv = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    mi = hv - 0.5 * np.log(2)
    assert normalized_mutual_info_score(a, [0, 0, 0, 1]) == pytest.approx(mi / ((np.log(2) + hv) / 2))
    assert normalized_mutual_info_score([1, 1, 1], [2, 2, 2]) == 1.0
    with pytest.raises(ValueError, match="same length"):
        adjusted_rand_score([0, 1], [0, 1, 1])


def test_metrics_against_scikit_learn():
    m = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for n, ka, kb in [(50, 3, 4), (500, 10, 7), (31, 2, 9)]:
        a, b = rng.integers(0, ka, n), rng.integers(0, kb, n)
        b[: n // 2] = a[: n // 2]  # some agreement
        assert normalized_mutual_info_score(a, b) == pytest.approx(m.normalized_mutual_info_score(a, b), abs=1e-12)
        assert adjusted_rand_score(a, b) == pytest.approx(m.adjusted_rand_score(a, b), abs=1e-12)


def test_against_scikit_learn_on_fashion_images():
    """Real images, 784 features: the same Lloyd trajectory to convergence from the same centres."""
    sk = pytest.importorskip("sklearn.cluster")
    x, _ = tlearn.datasets.load_fashion_subset("train")
    X = np.ascontiguousarray(x.reshape(len(x), -1)[:3000], dtype=np.float32)
    init, _ = kmeans_plusplus(X, 10, random_state=1)
    ours = KMeans(10, init=init).fit(X)
    ref = sk.KMeans(10, init=init, n_init=1, algorithm="lloyd").fit(X)
    assert ours.n_iter_ == ref.n_iter_ > 5
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-5)
