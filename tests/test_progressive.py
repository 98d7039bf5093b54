"""Progressive neural networks (tlearn.transfer.ProgressiveNet): columns added
task after task, earlier columns frozen bit for bit, the adapters of Rusu et
al. 2016, scikit-learn's contract, and bad input."""
import pickle

import numpy as np
import pytest

import tlearn as tl
from tlearn import datasets
from tlearn.transfer import ProgressiveNet
from tlearn.transfer._base import NotFittedError


@pytest.fixture(scope="module")
def tasks():
    """Three tasks on the digits: 0-4, 5-9 (labels 0-4), and 0-9 with the
    pixels reversed; flat (64,) examples, 300 training and 200 test each."""
    x, y = datasets.load_digits()
    x = x.reshape(len(x), -1).astype(np.float32)
    rng = np.random.default_rng(0)
    p = rng.permutation(len(x))
    lo, hi = p[y[p] < 5], p[y[p] >= 5]
    return {"lo": (x[lo[:300]], y[lo[:300]], x[lo[300:500]], y[lo[300:500]]),
            "hi": (x[hi[:300]], y[hi[:300]] - 5, x[hi[300:500]], y[hi[300:500]] - 5),
            "rev": (np.ascontiguousarray(x[p[:300], ::-1]), y[p[:300]],
                    np.ascontiguousarray(x[p[1000:1200], ::-1]), y[p[1000:1200]])}


def three(tasks, **kw):
    net = ProgressiveNet(layers=(16, 8), epochs=kw.pop("epochs", 3), lr=0.01, seed=1, **kw)
    for t in ("lo", "hi", "rev"):
        net.add_task(tasks[t][0], tasks[t][1], task=t)
    return net


def relu(a):
    return np.maximum(a, 0.0)


def test_columns_are_added_and_earlier_ones_never_change(tasks):
    net = ProgressiveNet(layers=(16, 8), lr=0.01, epochs=5, seed=1)
    assert net.add_task(*tasks["lo"][:2], task="lo") is net
    w_lo, acc_lo = net.column_weights("lo"), net.score(*tasks["lo"][2:], task="lo")
    logits_lo = net.decision_function(tasks["lo"][2], task="lo")
    net.add_task(*tasks["hi"][:2], task="hi")
    w_hi, logits_hi = net.column_weights("hi"), net.decision_function(tasks["hi"][2], task="hi")
    net.add_task(*tasks["rev"][:2], task="rev")
    assert net.tasks_ == ["lo", "hi", "rev"] and net.n_classes_ == {"lo": 5, "hi": 5, "rev": 10}
    assert net.model_.output_names == ["c0", "c1", "c2"]
    for before, task in ((w_lo, "lo"), (w_hi, "hi")):  # bit-identical after later columns trained
        after = net.column_weights(task)
        assert before.keys() == after.keys() and before
        for k in before:
            assert np.array_equal(before[k], after[k]), k
    np.testing.assert_array_equal(net.decision_function(tasks["lo"][2], task="lo"), logits_lo)
    np.testing.assert_array_equal(net.decision_function(tasks["hi"][2], task="hi"), logits_hi)
    assert net.score(*tasks["lo"][2:], task="lo") == acc_lo
    # every layer of the earlier columns is frozen, every layer of the last one trains
    m = net.model_
    for name in m.layers:
        if m.layer(name).param_names:
            assert m.layer(name).trainable == name.startswith("c2_"), name
    # each task's column predicts its own classes; the default task is the last one
    assert set(np.unique(net.predict(tasks["hi"][2], task="hi"))) <= set(range(5))
    np.testing.assert_array_equal(net.predict(tasks["rev"][2]), net.predict(tasks["rev"][2], task="rev"))
    for t in ("lo", "hi", "rev"):
        assert net.score(*tasks[t][2:], task=t) > 0.5, t  # learnt (chance: 0.2, 0.2, 0.1)
    assert set(net.history_) == {"lo", "hi", "rev"} and len(net.history_["rev"]["loss"]) == 5


def test_lateral_adapters_are_the_papers_equation(tasks):
    """Column 1's head = W h + b + U relu(V (alpha h_prev) + c), h_prev from column 0 (NumPy twin)."""
    net = ProgressiveNet(layers=(16, 8), alpha_init=0.01, reduction=2, epochs=2, seed=3)
    net.add_task(*tasks["lo"][:2], task="lo").add_task(*tasks["hi"][:2], task="hi")
    P = {k: v.astype(np.float64) for k, v in net.model_.params.items()}
    x = tasks["hi"][2].astype(np.float64)

    def dense(name, a, bias=True):
        return a @ P[f"{name}.w"].T + (P[f"{name}.b"] if bias else 0.0)

    h00 = relu(dense("c0_l0", x))
    h01 = relu(dense("c0_l1", h00))
    h10 = relu(dense("c1_l0", x))  # the first layer has no lateral: x is every column's input
    lat1 = dense("c1_U1_0", relu(dense("c1_V1_0", P["c1_alpha1_0.alpha"] * h00)), bias=False)
    h11 = relu(dense("c1_l1", h10) + lat1)
    lat2 = dense("c1_U2_0", relu(dense("c1_V2_0", P["c1_alpha2_0.alpha"] * h01)), bias=False)
    out = dense("c1_out", h11) + lat2
    np.testing.assert_allclose(net.decision_function(tasks["hi"][2], task="hi"), out, rtol=1e-4, atol=1e-4)
    # V projects to 1/reduction of the earlier layer's units; U maps into the layer
    assert P["c1_V1_0.w"].shape == (8, 16) and P["c1_U1_0.w"].shape == (8, 8)
    assert P["c1_V2_0.w"].shape == (4, 8) and P["c1_U2_0.w"].shape == (5, 4)
    assert "c1_U1_0.b" not in P
    alphas = net.lateral_alphas()
    assert list(alphas) == [("hi", 2, "lo"), ("hi", 3, "lo")]
    assert all(a != 0.01 for a in alphas.values())  # learned


@pytest.mark.parametrize("alpha", [1.0, 0.1, 0.01])
def test_alpha_starts_at_the_papers_choices_and_epochs_zero_leaves_a_random_column(tasks, alpha):
    net = ProgressiveNet(layers=(16, 8), alpha_init=alpha, epochs=2)
    net.add_task(*tasks["lo"][:2], task="lo", epochs=0).add_task(*tasks["hi"][:2], task="hi", epochs=0)
    assert net.lateral_alphas() == {("hi", 2, "lo"): pytest.approx(alpha), ("hi", 3, "lo"): pytest.approx(alpha)}
    assert net.history_ == {"lo": {}, "hi": {}}
    # a random column is the model's own initialisation: the same seed gives it again
    again = ProgressiveNet(layers=(16, 8), alpha_init=alpha, epochs=2).add_task(*tasks["lo"][:2], task="lo", epochs=0)
    for k, v in again.column_weights("lo").items():
        assert np.array_equal(v, net.column_weights("lo")[k])


def test_three_columns_have_adapters_from_every_earlier_column(tasks):
    net = three(tasks, epochs=1)
    keys = list(net.lateral_alphas())
    assert keys == [("hi", 2, "lo"), ("hi", 3, "lo"), ("rev", 2, "lo"), ("rev", 2, "hi"),
                    ("rev", 3, "lo"), ("rev", 3, "hi")]


def test_convolutional_columns_use_1x1_adapters():
    x, y = datasets.load_digits()  # (N, 1, 8, 8)
    net = ProgressiveNet(layers=(("conv", 4, 3), ("conv", 6, 3, 2, 1), 12), reduction=2, lr=0.01, epochs=4, seed=0)
    net.add_task(x[:300], (y[:300] % 2), task="parity").add_task(x[300:600], y[300:600], task="digit")
    P = net.model_.params
    assert P["c1_V1_0.w"].shape == (2, 4, 1, 1)          # 1x1 convolution to half the channels
    assert P["c1_U1_0.w"].shape == (6, 2, 3, 3)          # the layer's own geometry (3x3, stride 2)
    assert P["c1_V2_0.w"].shape == (3, 6, 1, 1)          # into the dense layer: 1x1 conv, then
    assert P["c1_U2_0.w"].shape == (12, 3 * 3 * 3)       # a dense map of the flattened result
    assert P["c1_V3_0.w"].shape == (6, 12) and P["c1_U3_0.w"].shape == (10, 6)  # dense into the head
    assert net.score(x[600:900], y[600:900], task="digit") > 0.3
    assert 0.0 <= net.score(x[600:900], y[600:900] % 2, task="parity") <= 1.0


def test_trains_through_model_fit_once_per_column(tasks, monkeypatch):
    calls = []
    real = tl.Model.fit

    def fit(self, *args, **kwargs):
        calls.append(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(tl.Model, "fit", fit)
    net = three(tasks, epochs=2)
    assert len(calls) == 3 and all(c["epochs"] == 2 for c in calls)
    # validation data is measured each epoch and chooses nothing
    net.add_task(*tasks["lo"][:2], task="lo2", validation_data=tasks["lo"][2:])
    assert len(net.history_["lo2"]["val_acc"]) == 2
    assert net.history_["lo2"]["val_acc"][-1] == pytest.approx(net.score(*tasks["lo"][2:], task="lo2"))


def test_missing_labels_cost_nothing(tasks):
    x, y = tasks["lo"][:2]
    y_missing = y.copy()
    y_missing[::2] = -1
    a = ProgressiveNet(layers=(16, 8), epochs=1, batch_size=300).fit(x, y_missing)
    assert 0 <= a.score(*tasks["lo"][2:]) <= 1
    assert a.n_classes_ == {"task0": 5}


# ---------------------------------------------------- scikit-learn's contract

def test_params_clone_pickle_and_refit(tasks):
    net = ProgressiveNet(layers=(16, 8), alpha_init=1.0, epochs=2, seed=5)
    p = net.get_params()
    assert p == {"layers": (16, 8), "alpha_init": 1.0, "reduction": 2, "lr": 1e-3, "epochs": 2, "batch_size": 32,
                 "seed": 5}
    assert net.set_params(reduction=4) is net and net.reduction == 4
    assert repr(net) == "ProgressiveNet(layers=(16, 8), alpha_init=1.0, reduction=4, epochs=2, seed=5)"
    with pytest.raises(ValueError, match="unknown parameter 'columns'"):
        net.set_params(columns=2)
    with pytest.raises(NotFittedError, match="not fitted"):
        net.predict(tasks["lo"][2])
    net.add_task(*tasks["lo"][:2], task="lo").add_task(*tasks["hi"][:2], task="hi")
    back = pickle.loads(pickle.dumps(net))
    for t in ("lo", "hi"):
        np.testing.assert_array_equal(back.predict(tasks[t][2], task=t), net.predict(tasks[t][2], task=t))
    sk = pytest.importorskip("sklearn.base")
    c = sk.clone(net)
    assert c.get_params() == net.get_params() and not c.__sklearn_is_fitted__()
    # fit starts over with one column; the same seed gives the same column
    net.fit(*tasks["lo"][:2], task="lo")
    assert net.tasks_ == ["lo"] and net.model_.output_names == ["c0"]
    np.testing.assert_array_equal(net.predict(tasks["lo"][2]), back.predict(tasks["lo"][2], task="lo"))


def test_model_saves_and_loads(tasks, tmp_path):
    net = ProgressiveNet(layers=(16, 8), epochs=1).add_task(*tasks["lo"][:2]).add_task(*tasks["hi"][:2])
    net.model_.save(tmp_path / "pnn.tlm")
    m = tl.load(tmp_path / "pnn.tlm")
    out = m.predict(tasks["hi"][2], outputs=["c1"])["c1"]
    np.testing.assert_array_equal(out, net.decision_function(tasks["hi"][2], task="task1"))
    assert m.params["c1_alpha1_0.alpha"] == net.model_.params["c1_alpha1_0.alpha"]


def test_a_failed_add_task_leaves_the_columns_whole_and_inputs_untouched(tasks):
    x, y = tasks["hi"][:2]
    x0, y0 = x.copy(), y.copy()
    net = ProgressiveNet(layers=(16, 8), epochs=1).add_task(*tasks["lo"][:2], task="lo")
    model, before = net.model_, net.column_weights("lo")
    with pytest.raises(ValueError):
        net.add_task(x[:, :32], y, task="hi")
    with pytest.raises(ValueError):
        net.set_params(epochs=-1).add_task(x, y, task="hi")
    assert net.model_ is model and net.tasks_ == ["lo"] and set(net.history_) == {"lo"}
    net.set_params(epochs=1).add_task(x, y, task="hi")
    assert net.tasks_ == ["lo", "hi"]
    for k, v in before.items():
        assert np.array_equal(v, net.column_weights("lo")[k])
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)


# --------------------------------------------------------------- bad input

def test_bad_input_names_what_was_expected_and_what_came(tasks):
    x, y = tasks["lo"][:2]
    net = ProgressiveNet(layers=(16, 8), epochs=1).add_task(x, y, task="lo")
    with pytest.raises(ValueError, match=r"every column takes examples of shape \(64,\) \(the first task's\), "
                                         r"got examples of shape \(1, 8, 8\) for task 'hi'"):
        net.add_task(x.reshape(-1, 1, 8, 8), y, task="hi")
    with pytest.raises(KeyError, match=r"no task 'nope'; expected one of \['lo'\]"):
        net.predict(x, task="nope")
    with pytest.raises(KeyError, match=r"no task 'nope'"):
        net.score(x, y, task="nope")
    with pytest.raises(ValueError, match=r"task 'hi' has no labelled example: expected at least one label >= 0, "
                                         r"got 300 labels all -1"):
        net.add_task(x, np.full(len(x), -1), task="hi")
    with pytest.raises(ValueError, match=r"task 'lo' already has column 0"):
        net.add_task(x, y, task="lo")
    with pytest.raises(ValueError, match=r"expected examples of shape \(64,\), got \(32,\)"):
        net.predict(x[:, :32], task="lo")
    with pytest.raises(ValueError, match=r"one label per example, shape \(300,\), got \(299,\)"):
        net.add_task(x, y[:-1], task="hi")
    with pytest.raises(ValueError, match=r"alpha_init must be one of \[1.0, 0.1, 0.01\], got 0.5"):
        ProgressiveNet(alpha_init=0.5).fit(x, y)
    with pytest.raises(ValueError, match=r"convolutional columns take examples of shape \(C, H, W\), got "
                                         r"examples of shape \(64,\)"):
        ProgressiveNet(layers=(("conv", 4, 3), 8)).fit(x, y)
    with pytest.raises(ValueError, match=r"layers\[1\] is a convolution after a dense layer"):
        ProgressiveNet(layers=(8, ("conv", 4, 3))).fit(x, y)
    with pytest.raises(TypeError, match=r"layers must be a non-empty sequence"):
        ProgressiveNet(layers=8).fit(x, y)
    with pytest.raises(ValueError, match=r"layers\[0\] \(dense units\) must be an int >= 1, got 0"):
        ProgressiveNet(layers=(0,)).fit(x, y)
    with pytest.raises(ValueError, match=r"labels of at least 2 classes"):
        ProgressiveNet().fit(x, np.zeros(len(x), np.int64))
    with pytest.raises(TypeError, match=r"task must be a non-empty string, got 3"):
        net.add_task(x, y, task=3)
    assert net.tasks_ == ["lo"]


def test_an_interrupted_add_task_leaves_the_previous_columns(tasks):
    net = ProgressiveNet(layers=(16, 8), epochs=2).add_task(*tasks["lo"][:2], task="lo")
    model, tasks_ = net.model_, net.tasks_

    class Stop(tl.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        net.add_task(*tasks["hi"][:2], task="hi", callbacks=[Stop()])
    assert net.model_ is model and net.tasks_ is tasks_ and list(net.history_) == ["lo"]


# ------------------------------------------------------------ the replay

def test_replay_measures_transfer_forgetting_and_alphas():
    from tlearn.replay import _data, _section
    from tlearn.replay import progressive as P

    s = {"source_per_class": 20, "target_per_class": 3, "test_per_class": 5, "source_epochs": 1,
         "target_epochs": 2, "seeds": 2, "alphas": (1.0, 0.1)}
    assert [u.name for u in P.units(s)] == list(P.METHODS) + ["progressive alpha0=1"]
    data = _data.fashion(per_class_train=29, per_class_test=5, which="subset")
    T = P.tasks_of(data, s, 0)
    assert {t: len(v[1]) for t, v in T.items()} == {"source": 200, "shifted": 30, "shifted2": 30, "permuted": 30}
    assert all(v[0].shape[1:] == (1, 28, 28) for v in T.values())
    # shifted: the source image moved SHIFT pixels right and down; permuted: the same pixels reordered
    np.testing.assert_array_equal(T["shifted"][2][:, :, P.SHIFT:, P.SHIFT:], T["source"][2][:, :, :-P.SHIFT, :-P.SHIFT])
    np.testing.assert_allclose(np.sort(T["permuted"][2].reshape(50, -1), 1), np.sort(T["source"][2].reshape(50, -1), 1))
    rows = {}
    for u in P.units(s):
        for m, st, metric, v in P.measure(data, u, _section.Seed("progressive", 0, u.name), s):
            assert (m, st, metric) not in rows
            rows[(m, st, metric)] = v
    assert rows[("progressive", "", "earlier_columns_bit_identical")] == 1.0
    assert rows[("progressive", "source", "forgetting")] == 0.0
    assert rows[("progressive", "shifted", "forgetting")] == 0.0
    assert rows[("head only", "source", "forgetting_after_shifted2")] == 0.0  # its body and heads are frozen
    for m in P.METHODS:
        for t in (("shifted", "shifted2", "permuted") if m in ("progressive", "scratch") else ("shifted", "shifted2")):
            curve = [rows[(m, t, f"acc_epoch{e}")] for e in (1, 2)]
            assert rows[(m, t, "auc")] == pytest.approx(np.mean(curve)) and rows[(m, t, "final_acc")] == curve[-1]
    # one alpha per receiving layer (2nd conv, dense, head) and earlier column
    assert sum(1 for k in rows if k[0] == "progressive" and k[1] == "permuted" and k[2].startswith("alpha_")) == 6
    res = _section.Results([{"method": m, "setting": st, "seed": 0, "metric": me, "value": v}
                            for (m, st, me), v in rows.items()], [0])
    derived = {(m, t): v for m, t, _, metric, v in P.derive(res, s)}
    assert derived[("scratch", "shifted")] == pytest.approx(100.0)
    # the further initial alpha is its own method, from the same source column
    assert rows[("progressive (alpha0=1)", "", "earlier_columns_bit_identical")] == 1.0
    assert ("progressive (alpha0=1)", "permuted") in derived and ("source column", "source", "acc") in rows
    assert derived[("progressive", "shifted")] == pytest.approx(
        100 * rows[("progressive", "shifted", "auc")] / rows[("scratch", "shifted", "auc")])


def test_readme_example_runs():
    import os
    readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
    text = open(readme, encoding="utf-8").read()
    code = text[text.index("## Progressive networks"):].split("```python", 1)[1].split("```", 1)[0]
    ns = {}
    exec(compile(code, readme, "exec"), ns)
    pnn, x, y, high = ns["pnn"], ns["x"], ns["y"], ns["high"]
    assert pnn.tasks_ == ["0-4", "5-9"] and list(pnn.lateral_alphas()) == [("5-9", 2, "0-4"), ("5-9", 3, "0-4")]
    assert pnn.score(x[high][300:], y[high][300:] - 5, task="5-9") > 0.5


@pytest.mark.slow
def test_replay_gives_the_same_numbers_with_one_worker_or_two():
    from tlearn import replay

    def rows(workers):
        d = replay.run("progressive", quick=True, seeds=1, progress=lambda s: None, workers=workers).to_dict()
        return sorted((r["method"], r["setting"], r["metric"], r["value"]) for r in d["results"])

    one = rows(1)
    assert len(one) > 100 and one == rows(2)


def test_scale_init_starts_alpha_survives_reset_save_and_load(tmp_path):
    """The scale op's ``init`` attribute: alpha's value at start and after a reset, saved with the model."""
    x = tl.Input((4,), name="x")
    h = tl.layers.Scale(init=0.01, name="a")(x)
    pc = tl.layers.Scale(per_channel=True, init=-2.0, name="b")(x)
    m = tl.Model(x, {"o": tl.layers.Dense(3, name="d")(tl.layers.Add(name="s")([h, pc]))}, seed=0)
    assert m.params["a.alpha"].tolist() == [pytest.approx(0.01)]
    assert m.params["b.alpha"].tolist() == [-2.0] * 4
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((64, 4)).astype(np.float32), rng.integers(0, 3, 64)
    m.compile(tl.optim.SGD(0.1), loss={"o": "softmax_ce"})
    m.fit(xs, {"o": ys}, epochs=2, batch_size=16, verbose=0)
    assert m.params["a.alpha"][0] != pytest.approx(0.01)  # learned
    m.save(tmp_path / "m.tlm")
    back = tl.load(tmp_path / "m.tlm")
    np.testing.assert_array_equal(back.params["a.alpha"], m.params["a.alpha"])
    back.layer("a").reset()
    back.layer("b").reset()
    assert back.params["a.alpha"].tolist() == [pytest.approx(0.01)] and back.params["b.alpha"].tolist() == [-2.0] * 4
    with pytest.raises(ValueError, match="init must be finite, got inf"):
        tl.layers.Scale(init=float("inf"))
    assert tl.layers.Scale().init == 1.0
