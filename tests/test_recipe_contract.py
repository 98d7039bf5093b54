"""One contract for every recipe of tlearn.transfer (scikit-learn's
``check_estimator`` in spirit): the constructor stores, get/set_params round
trip, clone, fit returns self, a failed fit leaves a fitted recipe as it was
and an unfitted one unfitted, the caller's models are untouched, a fitted
recipe pickles.

Every class deriving from ``Recipe`` that ``tlearn.transfer`` exports must
have a case in ``CASES``: a new recipe without one fails here by name.
"""
import inspect
import pickle

import numpy as np
import pytest

import tlearn as tl
from tlearn import datasets, layers as L, optim
from tlearn import transfer as T


def feats(x):
    h = L.Flatten(name="flat")(x)
    return L.ReLU(name="r1")(L.Dense(16, name="fc1")(h))


def build(seed):
    x = tl.Input((1, 8, 8), name="x")
    return tl.Model(x, L.Dense(3, name="head")(feats(x)), seed=seed)


def train(model, x, y):
    model.compile(optim.SGD(0.05, momentum=0.9), loss="softmax_ce")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)


@pytest.fixture(scope="module")
def digits():
    x, y = datasets.load_digits()
    return x[:360], y[:360]


@pytest.fixture(scope="module")
def source(digits):
    x, y = digits
    keep = y < 3
    m = T.source_network(feats, (1, 8, 8), 3, seed=0)
    train(m, x[keep], y[keep])
    return m


def _domain(cls):
    def case(digits, source):
        x, y = digits
        xs, xt = datasets.to_rgb(x[:200]), datasets.mnist_m(x[200:360], seed=0)
        return cls(epochs=1, batch_size=32, seed=1), (xs, y[:200], xt), xt, {"epochs": 0}
    return case


def _finetune(digits, source):
    x, y = digits
    b = (y >= 3) & (y < 6)
    xb, yb = x[b][:60], y[b][:60] - 3
    keep = y < 3
    r = T.FineTune(feats, source=source, ewc=10.0, lwf=1.0, l2sp=0.1, source_data=(x[keep][:50], y[keep][:50]),
                   steps=20, batch_size=16, seed=2)
    return r, (xb, yb), xb, {"steps": -1}


def _yosinski(digits, source):
    x, y = digits
    a, b = y < 3, (y >= 3) & (y < 6)
    r = T.Yosinski(build, train, ns=[1], variants=("AnB", "random"), seed=0)
    return r, (x[a][:90], y[a][:90], x[b][:90], y[b][:90] - 3), None, {"variants": ("nope",)}


def _selftaught(cls):
    def case(digits, source):
        x, y = digits
        u, lab = x[y >= 5][:100], y < 5
        small = dict(n_hidden=8, steps=20, batch_size=32, seed=1)
        if cls is T.Autoencoder:
            return cls(**small), (u,), x[:50], {"rho": 1.5}
        if cls is T.SelfTaught:
            return cls(**small, classifier_steps=20), (x[lab][:80], y[lab][:80], u), x[:50], {"sparsity": -1.0}
        if cls is T.SoftmaxRegression:
            return cls(steps=20, seed=1), (x[lab][:80], y[lab][:80]), x[:50], {"l2": -1.0}
        return cls(3, random_state=1), (x[:100],), x[:50], {"n_clusters": 101}
    return case


def _multitask(digits, source):
    x, y = digits
    ym = y.copy()
    ym[::3] = -1                                   # examples without a label for the task
    r = T.MultiTask(feats, loss_weights={"digit": 1.0}, steps=20, batch_size=16, seed=4)
    return r, (x, {"digit": ym}), x[:50], {"steps": 0}


def _progressive(digits, source):
    x, y = digits
    a = y < 3
    return T.ProgressiveNet(layers=(16, 8), epochs=1, seed=3), (x[a][:90], y[a][:90]), x[a][90:], {"epochs": -1}


def _zeroshot(cls):
    def case(digits, source):
        x, y = digits
        table, _ = datasets.attributes("digits")
        seen = y < 7
        return cls(hidden=(16,), epochs=1, batch_size=32, seed=3), (x[seen], y[seen], table), x[~seen], {"epochs": 0}
    return case


CASES = {
    "SourceOnly": _domain(T.SourceOnly),
    "DANN": _domain(T.DANN),
    "DeepCORAL": _domain(T.DeepCORAL),
    "AdaBN": _domain(T.AdaBN),
    "FineTune": _finetune,
    "Yosinski": _yosinski,
    "Autoencoder": _selftaught(T.Autoencoder),
    "SoftmaxRegression": _selftaught(T.SoftmaxRegression),
    "SelfTaught": _selftaught(T.SelfTaught),
    "KMeans": _selftaught(T.KMeans),
    "MultiTask": _multitask,
    "ProgressiveNet": _progressive,
    "DAP": _zeroshot(T.DAP),
    "AttributeEmbedding": _zeroshot(T.AttributeEmbedding),
    "ConSE": _zeroshot(T.ConSE),
}


def _exported_recipes():
    out = []
    for name in T.__all__:
        obj = getattr(T, name)
        if inspect.isclass(obj) and issubclass(obj, T.Recipe) and obj is not T.Recipe and not name.startswith("_") \
                and obj.__name__ != "DomainAdaptation":
            out.append(name)
    return out


def test_every_exported_recipe_has_a_contract_case():
    missing = [n for n in _exported_recipes() if n not in CASES]
    assert not missing, f"recipes without a case in tests/test_recipe_contract.py: {missing}"
    assert len(_exported_recipes()) >= 6


def _state(model):
    return {k: v.copy() for k, v in model.state_dict().items()}, {k: v.copy() for k, v in model.fisher.items()}


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _fitted(r):
    return {k: v for k, v in vars(r).items() if k.endswith("_") and not k.startswith("_")}


def _outputs(r, x):
    if x is None:
        return None
    return r.predict(x) if hasattr(r, "predict") else r.transform(x)  # a transformer (Autoencoder)


@pytest.mark.parametrize("name", sorted(CASES))
def test_contract(name, digits, source):
    r, args, x_pred, bad = CASES[name](digits, source)
    cls = type(r)
    # the constructor stores its arguments under their own names, nothing else
    params = r.get_params()
    assert list(params) == [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert not _fitted(r) and not r.__sklearn_is_fitted__()
    assert repr(r).startswith(cls.__name__ + "(")
    # set_params round trip; unknown names refused
    r2 = cls(**params)
    assert r2.set_params(**params) is r2
    assert all(r2.get_params()[k] is v for k, v in params.items())
    with pytest.raises(ValueError, match="unknown parameter"):
        r2.set_params(no_such_setting=1)
    try:
        from sklearn.base import clone
    except ImportError:
        clone = None
    if clone is not None:
        c = clone(r)
        assert type(c) is cls and not _fitted(c)
        assert all(c.get_params()[k] is v or c.get_params()[k] == v for k, v in params.items()
                   if not isinstance(v, (np.ndarray, tl.Model, tuple)))
    # a failed fit of an unfitted recipe leaves it unfitted
    u = cls(**params).set_params(**bad)
    with pytest.raises((ValueError, TypeError)):
        u.fit(*args)
    assert not _fitted(u)
    # the caller's models are untouched
    before = _state(source)
    opt, losses, step, trainable = source.optimizer, source.loss_names, source.step, source.trainable
    # fit returns self and sets fitted attributes ending in "_"
    assert r.fit(*args) is r
    fitted = _fitted(r)
    assert fitted and r.__sklearn_is_fitted__()
    for k, v in zip(_state(source), before):
        _same(k, v)
    assert source.optimizer is opt and source.loss_names == losses and source.step == step
    assert source.trainable == trainable
    pred = _outputs(r, x_pred)
    # a failed re-fit leaves the previous fit whole
    r.set_params(**bad)
    with pytest.raises((ValueError, TypeError)):
        r.fit(*args)
    assert _fitted(r).keys() == fitted.keys() and all(_fitted(r)[k] is v for k, v in fitted.items())
    if pred is not None:
        np.testing.assert_array_equal(_outputs(r, x_pred), pred)
    r.set_params(**{k: params[k] for k in bad})
    # a fitted recipe pickles and predicts the same after
    r3 = pickle.loads(pickle.dumps(r))
    assert type(r3) is cls and _fitted(r3).keys() == fitted.keys()
    if pred is not None:
        np.testing.assert_array_equal(_outputs(r3, x_pred), pred)
    else:
        assert r3.score(*args[2:]) == r.score(*args[2:])


def test_an_interrupted_fit_leaves_the_previous_fit(digits):
    x, y = digits
    xs, xt = datasets.to_rgb(x[:200]), datasets.mnist_m(x[200:360], seed=0)
    r = T.SourceOnly(epochs=2, batch_size=32, seed=1).fit(xs, y[:200], xt)
    model, hist, sel = r.model_, r.history_, r.selected_epoch_

    def stop(epoch, view):
        assert view.model_ is not model  # the epoch's recipe, not self
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        r.fit(xs, y[:200], xt, callback=stop)
    assert r.model_ is model and r.history_ is hist and r.selected_epoch_ == sel
