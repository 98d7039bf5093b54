"""Self-taught learning: the sparse autoencoder's KL penalty as a loss of the
core, the Autoencoder / SoftmaxRegression / SelfTaught recipes (public API)."""
import pickle

import numpy as np
import pytest

import tlearn
from tlearn import layers as L
from tlearn import losses, optim
from tlearn.datasets import load_digits
from tlearn.transfer import Autoencoder, SelfTaught, SoftmaxRegression
from tlearn.transfer._base import NotFittedError


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits()
    x = x.reshape(len(x), -1)
    src = y >= 5  # unlabelled source: digits 5-9; target: digits 0-4 (the UFLDL split)
    return x[src], x[~src], y[~src]


def small(**kw):
    base = dict(n_hidden=16, steps=150, batch_size=64, lr=1e-2, seed=0)
    base.update(kw)
    return base


# ------------------------------------------------------------ the op as a loss

def test_kl_sparsity_loss_trains_toward_rho_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (256, 12)).astype(np.float32)
    x = tlearn.Input((12,), name="x")
    code = L.Sigmoid(name="code")(L.Dense(8, init="glorot", name="enc")(x))
    m = tlearn.Model(x, {"recon": L.Dense(12, name="dec")(code), "code": code}, seed=1)
    m.compile(optim.Adam(0.02), loss={"recon": "mse", "code": losses.KLSparsity(rho=0.05, weight=1.0)})
    before = m.predict(X, outputs=["code"])["code"].mean()
    h = m.fit(X, {"recon": X, "code": np.zeros(len(X), np.int32)}, epochs=40, batch_size=64, verbose=0)
    after = m.predict(X, outputs=["code"])["code"].mean()
    assert abs(after - 0.05) < 0.03 < abs(before - 0.05)
    assert h["code"][-1] < h["code"][0]
    path = tmp_path / "sae.tlearn"
    m.save(path)
    back = tlearn.load(path)
    np.testing.assert_array_equal(back.predict(X, outputs=["code"])["code"], m.predict(X, outputs=["code"])["code"])
    # rows labelled -1 are left out of the mean: a batch of them only costs nothing
    m2 = tlearn.Model(x, {"recon": L.Dense(12, name="dec")(code), "code": code}, seed=1)
    m2.compile(optim.Adam(0.02), loss={"recon": "mse", "code": losses.KLSparsity(rho=0.05)})
    r = m2.evaluate(X, {"recon": X, "code": np.full(len(X), -1, np.int32)})
    assert r["code"] == 0.0


def test_kl_sparsity_bad_settings():
    with pytest.raises(ValueError, match=r"rho \(the target mean activation\) must be in \(0, 1\), got 1.5"):
        losses.KLSparsity(rho=1.5)
    x = tlearn.Input((4,), name="x")
    m = tlearn.Model(x, L.Sigmoid(name="s")(L.Dense(3, name="d")(x)))
    m.compile(optim.Adam(0.01), loss=losses.KLSparsity(0.1))
    with pytest.raises(Exception, match="label 2 .* expected -1 \\(no label\\) or 0..0"):
        m.fit(np.zeros((4, 4), np.float32), np.array([0, 2, 0, 0], np.int32), verbose=0)


# ------------------------------------------------------------ Autoencoder

def test_autoencoder_learns_and_sparsity_lowers_the_mean_activation(digits):
    src, _, _ = digits
    plain = Autoencoder(**small()).fit(src)
    sparse = Autoencoder(**small(sparsity=1.0, rho=0.05)).fit(src)
    h0, h1 = plain.transform(src), sparse.transform(src)
    assert h0.shape == (len(src), 16) and h1.shape == (len(src), 16)
    assert h1.mean() < h0.mean() - 0.1
    assert abs(h1.mean() - 0.05) < 0.05
    first = Autoencoder(**small(steps=1)).fit(src)
    assert np.mean((plain.reconstruct(src) - src) ** 2) < 0.5 * np.mean((first.reconstruct(src) - src) ** 2)
    assert plain.components_.shape == (16, 64)
    err = np.mean((plain.reconstruct(src) - src) ** 2)
    assert err < np.mean((src - src.mean(0)) ** 2)  # better than the mean image


def test_autoencoder_errors(digits):
    src, _, _ = digits
    with pytest.raises(ValueError, match=r"reconstruction='bce' needs inputs in \[0, 1\]"):
        Autoencoder(**small()).fit(src * 3)
    with pytest.raises(ValueError, match="rho must be a finite number > 0 and < 1"):
        Autoencoder(**small(rho=1.0)).fit(src)
    with pytest.raises(ValueError, match="reconstruction must be one of"):
        Autoencoder(**small(reconstruction="l1")).fit(src)
    with pytest.raises(NotFittedError):
        Autoencoder().transform(src)
    ae = Autoencoder(**small(steps=5)).fit(src)
    with pytest.raises(ValueError, match=r"Autoencoder\.transform: X has 10 features per example, the recipe was "
                                         "fitted on 64"):
        ae.transform(src[:, :10])
    mse = Autoencoder(**small(steps=5, reconstruction="mse")).fit(src * 3 - 1)  # any real inputs
    assert mse.transform(src).shape == (len(src), 16)


# ------------------------------------------------------------ SelfTaught

def test_selftaught_fit_predict_score_transform(digits):
    src, x, y = digits
    st = SelfTaught(**small(sparsity=0.5), classifier_steps=200).fit(x[::2], y[::2], unlabelled=src)
    assert st.transform(x).shape == (len(x), 16)
    assert set(np.unique(st.predict(x))) <= set(range(5))
    assert st.score(x[1::2], y[1::2]) > 0.6
    np.testing.assert_array_equal(st.classes_, np.arange(5))
    # the features come from the unlabelled data: the same as an Autoencoder fitted on them
    ae = Autoencoder(**small(sparsity=0.5, rho=0.1)).fit(src)
    np.testing.assert_array_equal(ae.transform(x), st.transform(x))


def test_selftaught_string_labels_and_default_unlabelled(digits):
    _, x, y = digits
    names = np.array(["zero", "one", "two", "three", "four"])[y]
    st = SelfTaught(**small(steps=20), classifier_steps=50).fit(x, names)
    assert set(st.predict(x[:20])) <= set(names)


def test_selftaught_params_clone_pickle_refit(digits):
    src, x, y = digits
    st = SelfTaught(**small(steps=20), classifier_steps=30)
    p = st.get_params()
    assert p["n_hidden"] == 16 and p["sparsity"] == 0.02
    st.set_params(sparsity=0.2)
    assert "sparsity=0.2" in repr(st)
    with pytest.raises(ValueError, match="unknown parameter"):
        st.set_params(nope=1)
    st.fit(x, y, unlabelled=src)
    back = pickle.loads(pickle.dumps(st))
    np.testing.assert_array_equal(back.predict(x), st.predict(x))
    before = st.predict(x)
    keep = src.copy()
    with pytest.raises(ValueError, match="unlabelled examples have 10 features, the labelled ones 64"):
        st.fit(x, y, unlabelled=src[:, :10])
    np.testing.assert_array_equal(st.predict(x), before)  # the failed re-fit left the fit whole
    np.testing.assert_array_equal(src, keep)
    bad = x.copy()
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="row 3 holds a NaN"):
        st.fit(bad, y)
    with pytest.raises(ValueError, match="expected one label per example"):
        SoftmaxRegression().fit(x, y[:5])
    with pytest.raises(ValueError, match="at least 2 classes"):
        SoftmaxRegression().fit(x[:3], np.zeros(3, int))
    sr = SoftmaxRegression(steps=5).fit(x, y)
    with pytest.raises(ValueError, match=r"SoftmaxRegression\.decision_function: X has 3 features per example, the "
                                         "recipe was fitted on"):
        sr.predict(x[:, :3])
    base = pytest.importorskip("sklearn.base")
    c = base.clone(st)
    assert c.get_params() == st.get_params() and not hasattr(c, "classifier_")


def test_selftaught_in_a_scikit_learn_pipeline(digits):
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    src, x, y = digits
    pipe = Pipeline([("clip", FunctionTransformer(lambda a: np.clip(a, 0, 1))),
                     ("st", SelfTaught(**small(steps=60), classifier_steps=100))])
    pipe.fit(x, y, st__unlabelled=src)
    assert pipe.score(x, y) > 0.5
    # the Autoencoder as a transformer in front of a scikit-learn classifier
    ae_pipe = Pipeline([("ae", Autoencoder(**small(steps=60))), ("lr", LogisticRegression(max_iter=300))])
    scores = cross_val_score(ae_pipe, x, y, cv=2)
    assert scores.min() > 0.5


def test_readme_selftaught_example_runs():
    import os
    readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
    text = open(readme, encoding="utf-8").read()
    code = text[text.index("## Self-taught learning and clustering"):].split("```python", 1)[1].split("```", 1)[0]
    ns = {}
    exec(compile(code, readme, "exec"), ns)
    assert ns["st"].score(ns["xt"][1::2], ns["yt"][1::2]) > 0.8
    assert ns["km"].cluster_centers_.shape == (5, 32)
