"""The domain-adaptation recipes (tlearn.transfer): scikit-learn's contract,
the schedules of Ganin et al., bad input, and the CORAL loss of the core."""
from functools import partial

import numpy as np
import pytest

import tlearn as tl
from tlearn import datasets as ds
from tlearn import layers as L
from tlearn import optim as O
from tlearn import transfer as T
from tlearn.transfer import nets


@pytest.fixture(scope="module")
def pair():
    x, y = ds.load_digits()
    rng = np.random.default_rng(0)
    p = rng.permutation(len(x))
    s, t = p[:300], p[300:600]
    return ds.to_rgb(x[s]), y[s], ds.mnist_m(x[t], seed=1), y[t]


RECIPES = [T.SourceOnly, T.AdaBN, T.DeepCORAL, T.DANN]


@pytest.mark.parametrize("cls", RECIPES, ids=lambda c: c.__name__)
def test_fit_predict_transform_score(pair, cls):
    xs, ys, xt, yt = pair
    r = cls(epochs=2, seed=3)
    assert r.fit(xs, ys, xt) is r
    assert isinstance(r.model_, tl.Model)
    pred = r.predict(xt)
    assert pred.shape == (len(xt),) and set(np.unique(pred)) <= set(range(10))
    f = r.transform(xt)
    assert f.shape == (len(xt), 48 * 2 * 2) and f.dtype == np.float32
    assert 0.0 <= r.score(xt, yt) <= 1.0
    proba = r.predict_proba(xt)
    assert proba.shape == (len(xt), 10) and proba.dtype == np.float32
    assert np.allclose(proba.sum(1), 1.0, atol=1e-5)
    # the core's softmax of the label logits (NumPy twin in float64)
    z = r.model_.predict(r._norm(xt), outputs=["label"])["label"].astype(np.float64)
    e = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(proba, e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(proba.argmax(1), pred)
    assert len(r.history_["source_val_acc"]) == 2 and r.selected_epoch_ in (0, 1)
    # the selected epoch is the best source-validation epoch (ties: the later)
    v = r.history_["source_val_acc"]
    assert v[r.selected_epoch_] == max(v)
    # same seed, same result
    np.testing.assert_array_equal(cls(epochs=2, seed=3).fit(xs, ys, xt).predict(xt), pred)


def test_params_are_stored_as_given(pair):
    r = T.DANN(epochs=3, gamma=5.0, seed=7)
    p = r.get_params()
    assert p["epochs"] == 3 and p["gamma"] == 5.0 and p["seed"] == 7 and p["discriminator"] is None
    r.set_params(epochs=1, domain_weight=0.5)
    assert r.epochs == 1 and r.domain_weight == 0.5
    with pytest.raises(ValueError, match="unknown parameter 'nope'"):
        r.set_params(nope=1)
    assert "DANN(" in repr(r)


def _spy_fit(monkeypatch):
    """Record what a recipe hands to Model.fit (its one training engine)."""
    calls = []
    real = tl.Model.fit

    def fit(self, *args, **kwargs):
        calls.append((self, args, kwargs))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(tl.Model, "fit", fit)
    return calls


def test_dann_schedules_are_the_papers(pair, monkeypatch):
    xs, ys, xt, _ = pair
    calls = _spy_fit(monkeypatch)
    r = T.DANN(epochs=2, seed=0).fit(xs, ys, xt)
    assert len(calls) == 1  # one engine: the recipe trains through Model.fit
    model, args, kw = calls[0]
    total = 2 * int(np.ceil(270 / 64))
    assert len(r.step_log_["label"]) == total and len(r.step_log_["domain_acc"]) == total
    lam = kw["schedules"]["grl.lambda_"]
    for step in range(total):
        p = step / total
        assert lam(step, total) == pytest.approx(2 / (1 + np.exp(-10 * p)) - 1, abs=1e-6)
        assert model.optimizer.lr_at(step, total) == pytest.approx(0.01 / (1 + 10 * p) ** 0.75, rel=1e-6)
    assert lam(0, total) == 0.0 and lam(total - 1, total) > 0.5
    # the core set the last step's value
    assert r.model_.layer("grl").lambda_ == pytest.approx(lam(total - 1, total), abs=1e-6)
    assert T.DANN().momentum == 0.9
    # overridable
    r = T.DANN(lambda_schedule=lambda p: 0.25, lr=O.CosineDecay(0.02), epochs=1).fit(xs, ys, xt)
    assert r.model_.layer("grl").lambda_ == pytest.approx(0.25)
    assert r.model_.optimizer.lr_at(0, 10) == pytest.approx(0.02)


def test_dann_batches_are_half_source_half_target(pair, monkeypatch):
    xs, ys, xt, _ = pair
    calls = _spy_fit(monkeypatch)
    T.DANN(epochs=2, batch_size=32, validation_fraction=0.1).fit(xs, ys, xt)
    model, (x, targets), kw = calls[0]
    n_src = int(np.sum(targets["domain"] == 0))
    y, d = targets["label"], targets["domain"]
    assert (d[:n_src] == 0).all() and (d[n_src:] == 1).all()
    assert (y[:n_src] >= 0).all() and (y[n_src:] == -1).all()
    assert kw["batch_size"] == 32
    orders = [kw["sampler"](e) for e in range(2)]
    assert not np.array_equal(orders[0], orders[1])  # a fresh pass per epoch
    for rows in orders:
        for b in rows.reshape(-1, 32):
            assert (b[:16] < n_src).all() and (b[16:] >= n_src).all()


def test_adabn_reestimates_on_target(pair):
    xs, ys, xt, _ = pair
    r = T.AdaBN(epochs=1, seed=0).fit(xs, ys, xt)
    assert r.model_.layer("feat_bn1") is not None
    before = r.model_.params["feat_bn1.running_mean"].copy()
    # the same training without the re-estimation: the source-only recipe with AdaBN's network
    so = T.SourceOnly(features=partial(nets.ganin_features, batchnorm=True), epochs=1, seed=0).fit(xs, ys, xt)
    assert not np.allclose(so.model_.params["feat_bn1.running_mean"], before)
    # the statistics are the target's: re-estimating again changes nothing
    r.model_.reestimate_batchnorm(r._norm(xt))
    np.testing.assert_allclose(r.model_.params["feat_bn1.running_mean"], before, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="no BatchNorm"):
        T.AdaBN(features=nets.ganin_features, epochs=1).fit(xs, ys, xt)


# --------------------------------------------------------------- bad input

@pytest.mark.parametrize("cls", [T.DANN, T.DeepCORAL, T.AdaBN], ids=lambda c: c.__name__)
def test_bad_target_input(pair, cls):
    xs, ys, xt, yt = pair
    with pytest.raises(ValueError, match=r"target examples must have the shape of the source examples: "
                                         r"expected \(N, 3, 8, 8\), got X_target of shape \(300, 1, 8, 8\)"):
        cls(epochs=1).fit(xs, ys, xt[:, :1])
    with pytest.raises(ValueError, match="the target set is empty"):
        cls(epochs=1).fit(xs, ys, xt[:0])
    with pytest.raises(TypeError, match="the target domain is unlabelled in this recipe"):
        cls(epochs=1).fit(xs, ys, xt, y_target=yt)
    with pytest.raises(TypeError, match="got a tuple of 2 .labels are not used for the target domain"):
        cls(epochs=1).fit(xs, ys, (xt, yt))
    with pytest.raises(TypeError, match="needs X_target"):
        cls(epochs=1).fit(xs, ys)


def test_bad_source_input_and_settings(pair):
    xs, ys, xt, _ = pair
    with pytest.raises(ValueError, match=r"y \(source labels\): expected one label per example, shape \(300,\), got \(299,\)"):
        T.DANN(epochs=1).fit(xs, ys[:-1], xt)
    with pytest.raises(ValueError, match=r"source labels\): labels must be >= 0, got -1 at row 5"):
        T.DANN(epochs=1).fit(xs, np.where(np.arange(300) == 5, -1, ys), xt)
    with pytest.raises(TypeError, match="expected integer class labels, got dtype float64"):
        T.DANN(epochs=1).fit(xs, ys.astype(float), xt)
    with pytest.raises(ValueError, match="the source set is empty"):
        T.DANN(epochs=1).fit(xs[:0], ys[:0], xt)
    with pytest.raises(ValueError, match="batch_size must be an even int"):
        T.DANN(batch_size=33).fit(xs, ys, xt)
    with pytest.raises(ValueError, match="selection must be one of"):
        T.DANN(selection="target_test").fit(xs, ys, xt)
    with pytest.raises(RuntimeError, match="not fitted"):
        T.DANN().predict(xt)
    r = T.SourceOnly(epochs=1).fit(xs, ys)
    with pytest.raises(ValueError, match=r"expected examples of shape \(3, 8, 8\), got X of shape \(300, 1, 8, 8\)"):
        r.predict(xt[:, :1])


def test_proxy_a_distance():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 6))
    b = rng.standard_normal((400, 6))
    assert T.proxy_a_distance(a, b) < 0.3
    # a shift of 3 sd in one feature: Bayes error Phi(-1.5) = 0.067, PAD 1.73
    assert T.proxy_a_distance(a, b + np.array([3.0, 0, 0, 0, 0, 0])) == pytest.approx(1.73, abs=0.12)
    assert T.proxy_a_distance(a, b + np.array([8.0, 0, 0, 0, 0, 0])) > 1.95
    with pytest.raises(ValueError, match="same number of features, got 6 and 5"):
        T.proxy_a_distance(a, b[:, :5])
    with pytest.raises(ValueError, match="at least 4 examples per domain"):
        T.proxy_a_distance(a[:3], b)


# ----------------------------------------------------------- the CORAL loss

def _coral_model(D=5):
    x = tl.Input(D, name="x")
    m = tl.Model(x, {"f": L.Dense(D, name="fc")(x)}, seed=0)
    m.compile(O.SGD(0.0), loss={"f": tl.losses.CORAL()})
    return m


def test_coral_value_and_degenerate_batches():
    rng = np.random.default_rng(0)
    m = _coral_model()
    x = rng.standard_normal((12, 5)).astype(np.float32)
    d = np.array([0, 1] * 6)
    f = m.predict(x).astype(np.float64)
    cs, ct = np.cov(f[d == 0], rowvar=False), np.cov(f[d == 1], rowvar=False)
    want = ((cs - ct) ** 2).sum() / (4 * 25)
    assert m.evaluate(x, d)["f"] == pytest.approx(want, rel=1e-5)
    # one domain with a single row: no covariance, loss 0, no gradient, weights unchanged
    w = m.params["fc.w"].copy()
    d1 = np.array([0] * 11 + [1])
    r = m.train_on_batch(x, d1, lr=1.0)
    assert r["f"] == 0.0 and np.array_equal(m.params["fc.w"], w)
    # rows marked -1 do not count
    d2 = d.copy()
    d2[:2] = -1
    keep = d2 >= 0
    cs, ct = np.cov(f[keep][d2[keep] == 0], rowvar=False), np.cov(f[keep][d2[keep] == 1], rowvar=False)
    assert m.evaluate(x, d2)["f"] == pytest.approx(((cs - ct) ** 2).sum() / 100, rel=1e-5)
    with pytest.raises(ValueError, match=r"target of loss 'f': label 2 at index 0 is out of range; expected -1 \(no label\) or 0..1"):
        m.evaluate(x, np.full(12, 2))


def test_coral_training_aligns_covariances():
    rng = np.random.default_rng(1)
    D = 4
    x = tl.Input(D, name="x")
    m = tl.Model(x, {"f": L.Dense(D, name="fc")(x)}, seed=0)
    m.compile(O.SGD(0.5), loss={"f": tl.losses.CORAL()})
    xs = rng.standard_normal((64, D)).astype(np.float32)
    xt = (rng.standard_normal((64, D)) * np.array([3.0, 0.3, 1.0, 2.0])).astype(np.float32)
    X, d = np.concatenate([xs, xt]), np.repeat([0, 1], 64)
    first = m.evaluate(X, d)["f"]
    for _ in range(300):
        m.train_on_batch(X, d)
    assert m.evaluate(X, d)["f"] < 0.01 * first
    assert np.abs(m.params["fc.w"]).max() > 0.5  # aligned, not collapsed to zero


def test_callback_sees_every_epochs_weights_and_not_the_selection(pair):
    xs, ys, xt, yt = pair
    seen = []

    def cb(epoch, r):
        seen.append((epoch, r.score(xt, yt), r.predict(xs[:50]).copy()))

    r = T.DANN(epochs=3, seed=1).fit(xs, ys, xt, callback=cb)
    assert [e for e, _, _ in seen] == [0, 1, 2]
    # after fit the kept weights are those of the selected epoch, whose predictions the callback saw
    np.testing.assert_array_equal(r.predict(xs[:50]), seen[r.selected_epoch_][2])
    # the same run without a callback: the same model (monitoring changes nothing)
    r2 = T.DANN(epochs=3, seed=1).fit(xs, ys, xt)
    np.testing.assert_array_equal(r2.predict(xt), r.predict(xt))
    with pytest.raises(TypeError, match="callback must be callable .epoch, recipe., got int"):
        T.SourceOnly(epochs=1).fit(xs, ys, xt, callback=3)
