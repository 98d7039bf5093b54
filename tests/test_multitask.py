"""MultiTask: a shared trunk, one head per task, missing labels, input branches."""
import pickle

import numpy as np
import pytest

from tlearn import datasets, layers as L
from tlearn.transfer import MultiTask
from tlearn.transfer._base import NotFittedError


def trunk(x):
    return L.ReLU()(L.Dense(48)(L.Flatten()(x)))


def middle(h):
    return L.ReLU()(L.Dense(32, name="mid")(h))


def branch(x):
    return L.ReLU()(L.Dense(48)(L.Flatten()(x)))


def bn_branch(x):
    return L.BatchNorm()(L.Dense(48)(L.Flatten()(x)))


def small_branch(x):
    return L.ReLU()(L.Dense(16)(L.Flatten()(x)))


def fashion_branch(x):
    return L.ReLU()(L.Dense(48)(L.Reshape((784,))(x)))   # built for 28x28 images only


def head3(h):
    return L.Dense(3)(h)


@pytest.fixture(scope="module")
def digits():
    x, y = datasets.load_digits()
    return x[:1200], y[:1200], x[1200:], y[1200:]


@pytest.fixture(scope="module")
def fashion():
    x, y = datasets.load_fashion_subset("train")
    return x[:2000], y[:2000], x[2000:3000], y[2000:3000]


@pytest.fixture(scope="module")
def fitted(digits):
    x, y, xt, yt = digits
    ym = y.copy()
    ym[::2] = -1                                       # half the examples carry no digit label
    r = MultiTask(trunk, steps=300, batch_size=64, seed=0).fit(x, {"digit": ym, "parity": y % 2})
    return r, (x, y, xt, yt)


def test_shared_trunk_learns_every_task(fitted):
    r, (x, y, xt, yt) = fitted
    assert r.tasks_ == ["digit", "parity"] and r.n_classes_ == {"digit": 10, "parity": 2}
    assert r.score(xt, yt, task="digit") > 0.8           # ten classes: chance 0.1
    assert r.score(xt, yt % 2, task="parity") > 0.8      # chance 0.5
    p = r.predict_proba(xt, task="digit")
    assert p.shape == (len(xt), 10) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert np.array_equal(p.argmax(1), r.predict(xt, task="digit"))
    assert r.decision_function(xt, task="parity").shape == (len(xt), 2)
    z = r.transform(xt)
    assert z.shape == (len(xt), 48) and (z >= 0).all()   # the trunk ends in a ReLU
    assert set(r.model_.output_names) >= {"digit", "parity"}


def test_missing_labels_cost_nothing_and_weight_zero_is_single_task(digits):
    """A task weighted 0 whose rows carry -1 for the other task: the other
    task trains exactly as it would alone (same rows per step, same init)."""
    x, y, xt, yt = digits
    ya = np.where(np.arange(len(y)) < 600, y, -1)       # task a: the first 600 rows
    yb = np.where(np.arange(len(y)) >= 600, y % 2, -1)  # task b: the others
    kw = dict(steps=60, batch_size=32, seed=3)
    alone = MultiTask(trunk, **kw).fit(x, {"a": ya})
    both = MultiTask(trunk, loss_weights={"b": 0.0}, **dict(kw, batch_size=64)).fit(x, {"a": ya, "b": yb})
    pa, pb = alone.decision_function(xt), both.decision_function(xt, task="a")
    assert np.allclose(pa, pb, atol=1e-4, rtol=1e-4)
    # with weight 1 task b changes the shared trunk, hence task a's outputs
    both1 = MultiTask(trunk, **dict(kw, batch_size=64)).fit(x, {"a": ya, "b": yb})
    assert not np.allclose(pa, both1.decision_function(xt, task="a"), atol=1e-3)


def test_balanced_batches_give_every_task_its_share(digits):
    x, y, _, _ = digits
    ya = np.full(len(y), -1)
    ya[:20] = y[:20] % 3                                # a starved task: 20 labels among 1200
    r = MultiTask(trunk, steps=10, batch_size=8, seed=0).fit(x, {"few": ya, "many": y})
    # every step of 8 rows held 4 labelled rows of each task: 10 steps saw the 20 rows twice
    assert r.history_["few_acc"] and r.model_.step == 10
    s = MultiTask(trunk, steps=10, batch_size=8, sampling="shuffle").fit(x, {"few": ya, "many": y})
    assert s.model_.step == 10


def test_input_branches_share_the_middle(digits, fashion):
    x, y, xt, yt = digits
    xf, yf, xft, yft = fashion
    r = MultiTask(middle, branches={"digits": branch, "fashion": branch}, steps=300, seed=1).fit(
        {"digits": x, "fashion": xf}, {"digits": y, "fashion": yf})
    assert r.input_shapes_ == {"digits": (1, 8, 8), "fashion": (1, 28, 28)}
    assert r.score(xt, yt, task="digits") > 0.7
    assert r.score(xft, yft, task="fashion") > 0.6
    assert r.transform(xt, task="digits").shape == (len(xt), 32)
    m = r.model_
    assert "mid" in m.layers and "mid.w" in m.params      # one middle, shared by both paths
    assert sum(1 for n in m.layers if n.startswith("head_")) == 2
    with pytest.raises(ValueError, match="name the task"):
        r.transform(xt)
    back = pickle.loads(pickle.dumps(r))               # a branched recipe pickles and predicts the same
    assert np.array_equal(back.predict(xft, task="fashion"), r.predict(xft, task="fashion"))
    with pytest.raises(ValueError, match=r"task 'digits' takes examples of shape \(1, 8, 8\).*\(5, 1, 28, 28\)"):
        r.predict(xf[:5], task="digits")


def test_head_count_given_or_callable(digits):
    x, y, xt, yt = digits
    keep = y < 3
    r = MultiTask(trunk, heads={"t": 5}, steps=20).fit(x[keep], {"t": y[keep]})
    assert r.n_classes_ == {"t": 5} and r.predict_proba(xt[:4], task="t").shape == (4, 5)
    r = MultiTask(trunk, heads={"t": head3}, steps=20).fit(x[keep], {"t": y[keep]})
    assert r.n_classes_ == {"t": 3}


def test_bad_input_is_named(fitted, digits, fashion):
    r, (x, y, xt, yt) = fitted
    xf, yf, _, _ = fashion
    with pytest.raises(KeyError, match=r"no task 'colour'; tasks: \['digit', 'parity'\]"):
        r.predict(xt, task="colour")
    with pytest.raises(ValueError, match="name the task"):
        r.predict(xt)
    with pytest.raises(ValueError, match=r"shared input takes examples of shape \(1, 8, 8\), got x of shape"):
        r.score(xf[:4], yf[:4], task="digit")
    with pytest.raises(ValueError, match=r"heads\['d'\] = 5 classes, but its labels go up to 9"):
        MultiTask(trunk, heads={"d": 5}).fit(x, {"d": y})
    with pytest.raises(ValueError, match=r"head gives outputs of shape \(3,\), its labels need \(10,\)"):
        MultiTask(trunk, heads={"d": head3}).fit(x, {"d": y})
    with pytest.raises(ValueError, match="task 'b' has no labelled example"):
        MultiTask(trunk).fit(x, {"a": y, "b": np.full(len(y), -1)})
    with pytest.raises(KeyError, match=r"heads names task\(s\) \['c'\]"):
        MultiTask(trunk, heads={"c": 3}).fit(x, {"a": y})
    with pytest.raises(KeyError, match=r"loss_weights names task\(s\) \['c'\]"):
        MultiTask(trunk, loss_weights={"c": 1.0}).fit(x, {"a": y})
    with pytest.raises(ValueError, match=r"y\['a'\]: expected one label per example, shape \(1200,\)"):
        MultiTask(trunk).fit(x, {"a": y[:10]})
    with pytest.raises(TypeError, match="y must be a non-empty dict"):
        MultiTask(trunk).fit(x, y)
    with pytest.raises(ValueError, match="batch_size must be >= the number of tasks"):
        MultiTask(trunk, batch_size=1).fit(x, {"a": y, "b": y % 2})
    br = {"digits": branch, "fashion": branch}
    with pytest.raises(KeyError, match=r"missing \['fashion'\]"):
        MultiTask(middle, branches=br).fit({"digits": x}, {"digits": y, "fashion": yf})
    with pytest.raises(TypeError, match="with branches x must be a dict"):
        MultiTask(middle, branches=br).fit(x, {"digits": y, "fashion": yf})
    with pytest.raises(ValueError, match=r"branch 'digits' gives \(48,\), branch 'fashion' gives \(16,\)"):
        MultiTask(middle, branches={"digits": branch, "fashion": small_branch}).fit(
            {"digits": x, "fashion": xf}, {"digits": y, "fashion": yf})
    with pytest.raises(ValueError, match=r"input branch of task 'digits' cannot take its examples of shape \(1, 8, 8\)"):
        MultiTask(middle, branches={"digits": fashion_branch, "fashion": branch}).fit(
            {"digits": x, "fashion": xf}, {"digits": y, "fashion": yf})
    with pytest.raises(ValueError, match="BatchNorm"):
        MultiTask(middle, branches={"digits": bn_branch, "fashion": branch}).fit(
            {"digits": x, "fashion": xf}, {"digits": y, "fashion": yf})
    with pytest.raises(ValueError, match="sampling"):
        MultiTask(trunk, sampling="round robin").fit(x, {"a": y})
    with pytest.raises(ValueError, match="task names"):
        MultiTask(trunk).fit(x, {"a.b": y})
    with pytest.raises(NotFittedError, match="fit first"):
        MultiTask(trunk).predict(xt, task="a")


def test_params_clone_pickle_and_failed_refit(fitted, digits):
    r, (x, y, xt, yt) = fitted
    p = r.get_params()
    assert p["steps"] == 300 and p["trunk"] is trunk
    q = MultiTask(trunk).set_params(**p)
    assert q.get_params() == p
    with pytest.raises(ValueError, match="unknown parameter"):
        q.set_params(epochs=3)
    sk = pytest.importorskip("sklearn.base")
    c = sk.clone(r)
    assert c.get_params() == p and not hasattr(c, "model_")
    back = pickle.loads(pickle.dumps(r))
    assert np.array_equal(back.predict(xt, task="digit"), r.predict(xt, task="digit"))
    model, before = r.model_, r.predict(xt, task="parity")
    with pytest.raises(ValueError, match="no labelled example"):
        r.fit(x, {"digit": np.full(len(y), -1)})
    assert r.model_ is model and r.tasks_ == ["digit", "parity"]
    assert np.array_equal(r.predict(xt, task="parity"), before)


def test_callers_arrays_untouched(digits, fashion):
    x, y, _, _ = digits
    xf, yf, _, _ = fashion
    xs = {"digits": x[:300].copy(), "fashion": xf[:300].copy()}
    ys = {"digits": y[:300].copy(), "fashion": yf[:300].copy()}
    keep = {k: v.copy() for k, v in xs.items()}, {k: v.copy() for k, v in ys.items()}
    MultiTask(middle, branches={"digits": branch, "fashion": branch}, steps=5).fit(xs, ys)
    for k in xs:
        assert np.array_equal(xs[k], keep[0][k]) and np.array_equal(ys[k], keep[1][k])


def test_readme_multitask_example_runs():
    import os
    readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
    text = open(readme, encoding="utf-8").read()
    code = text[text.index("## Multitask learning"):].split("```python", 1)[1].split("```", 1)[0]
    ns = {}
    exec(compile(code, readme, "exec"), ns)
    x, y, mt, mb = ns["x"], ns["y"], ns["mt"], ns["mb"]
    assert mt.score(x[1500:], y[1500:], task="digit") > 0.8
    assert mt.predict_proba(x[1500:], task="parity").shape == (297, 2)
    assert mb.transform(x[1500:], task="digits").shape == (297, 32)
