"""The one training engine: Model.fit's per-step schedules and samplers,
DomainBatches in one C call per run of steps, KeepBestEpoch and StepLog."""
import numpy as np
import pytest

import tlearn as tl
from tlearn import callbacks, datasets, layers as L, optim


def _dann_net(seed=0):
    x = tl.Input(6, name="x")
    f = L.ReLU(name="r")(L.Dense(8, name="f")(x))
    y = L.Dense(3, name="cls")(f)
    d = L.Dense(2, name="dom")(L.GradReverse(0.0, name="grl")(f))
    m = tl.Model(x, {"label": y, "domain": d}, seed=seed)
    m.compile(optim.SGD(0.05, momentum=0.9), loss={"label": "softmax_ce", "domain": "softmax_ce"})
    return m


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 6)).astype(np.float32)
    y = rng.integers(0, 3, 96)
    y[48:] = -1
    d = (np.arange(96) >= 48).astype(np.int64)
    return x, {"label": y, "domain": d}


def lam(step, total):
    return 0.5 * step / total


def test_schedule_sets_the_attribute_before_every_step(data):
    x, t = data
    a, b = _dann_net(), _dann_net()
    rows = np.random.default_rng(1).permutation(96)
    a.fit(x, t, epochs=2, batch_size=16, sampler=lambda e: rows, schedules={"grl.lambda_": lam}, verbose=0,
          steps_per_call=4)
    total = 2 * 6
    for step in range(total):  # the same steps one by one, lambda set by hand
        b.layer("grl").lambda_ = lam(step, total)
        r = rows[(step % 6) * 16:(step % 6 + 1) * 16]
        b.train_on_batch(x[r], {k: v[r] for k, v in t.items()}, lr=0.05)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    assert a.layer("grl").lambda_ == pytest.approx(lam(total - 1, total))
    assert a.step == total


def test_a_constant_schedule_and_bad_schedules(data):
    x, t = data
    m = _dann_net()
    m.fit(x, t, epochs=1, batch_size=32, schedules={"grl.lambda_": 0.25}, verbose=0)
    assert m.layer("grl").lambda_ == pytest.approx(0.25)
    with pytest.raises(KeyError, match="names neither a layer"):
        m.fit(x, t, schedules={"nope.lambda_": lam}, verbose=0)
    with pytest.raises(KeyError, match="has no settable attribute 'rate'"):
        m.fit(x, t, schedules={"grl.rate": lam}, verbose=0)
    with pytest.raises(KeyError, match="expected keys '<layer>.<attribute>'"):
        m.fit(x, t, schedules={"grl": lam}, verbose=0)
    with pytest.raises(TypeError, match="expected a callable"):
        m.fit(x, t, schedules={"grl.lambda_": "high"}, verbose=0)
    with pytest.raises(ValueError, match=r"step \d+ gave nan"):
        m.fit(x, t, schedules={"grl.lambda_": lambda s, n: float("nan")}, verbose=0)
    with pytest.raises(TypeError, match="schedules: expected a dict"):
        m.fit(x, t, schedules=[lam], verbose=0)


def test_sampler_is_checked(data):
    x, t = data
    m = _dann_net()
    with pytest.raises(ValueError, match=r"row numbers must be in 0..95, got 0..96"):
        m.fit(x, t, sampler=lambda e: np.arange(97), verbose=0)
    with pytest.raises(TypeError, match="1-d integer array"):
        m.fit(x, t, sampler=lambda e: np.zeros(4), verbose=0)
    with pytest.raises(ValueError, match="every epoch must have the same number of steps"):
        m.fit(x, t, epochs=2, batch_size=16, sampler=lambda e: np.arange(96 - 40 * e), verbose=0)
    with pytest.raises(TypeError, match="callable epoch"):
        m.fit(x, t, sampler=[1, 2], verbose=0)


def test_domain_batches_run_in_one_call_per_run_with_the_bits_of_one_step_each():
    x, y = datasets.load_digits()
    xs, xt = x[:100].reshape(100, -1), x[100:170].reshape(70, -1)
    db = datasets.domain_batches(xs, xt, 16, seed=3, ys=y[:100], n_batches=60)

    def net():
        i = tl.Input(64, name="x")
        f = L.ReLU(name="r")(L.Dense(8, name="f")(i))
        m = tl.Model(i, {"label": L.Dense(10, name="cls")(f),
                         "domain": L.Dense(2, name="dom")(L.GradReverse(0.3, name="grl")(f))}, seed=0)
        m.compile(optim.SGD(0.05), loss={"label": "softmax_ce", "domain": "softmax_ce"})
        return m

    a, b = net(), net()
    calls = []
    real = a._engine.net.train_batches  # count the core's calls

    class Spy:
        def __getattr__(self, k):
            return getattr(real.__self__, k)

        def train_batches(self, *args):
            calls.append(len(args[3]))
            return real(*args)

    a._engine.net = Spy()
    a.fit(db, epochs=2, verbose=0)
    assert sum(calls) == 2 * len(db) and len(calls) < 2 * len(db)
    for xb, yb, dbb in db:  # the same batches, one step each
        b.train_on_batch(xb, [yb, dbb])
    for xb, yb, dbb in db:
        b.train_on_batch(xb, [yb, dbb])
    for k in b.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    rows = db.rows()
    xa, ta, _ = db.as_arrays()
    first = next(iter(db))
    np.testing.assert_array_equal(xa[rows[:16]], first[0])
    np.testing.assert_array_equal(ta[0][rows[:16]], first[1])


def test_keep_best_epoch_and_step_log():
    x, y = datasets.load_digits()
    x = x.reshape(len(x), -1)
    i = tl.Input(64, name="x")
    m = tl.Model(i, L.Dense(10, name="cls")(L.ReLU(name="r")(L.Dense(16, name="f")(i))), seed=0)
    m.compile(optim.SGD(0.5, momentum=0.9), loss="softmax_ce")
    seen = []

    class Record(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((logs["val_cls_acc"], m.state_dict()))

    keep, log = callbacks.KeepBestEpoch("val_cls_acc"), callbacks.StepLog()
    h = m.fit(x[:1000], y[:1000], epochs=5, batch_size=100, validation_data=(x[1000:], y[1000:]),
              callbacks=[Record(), keep, log], verbose=0)
    vals = [v for v, _ in seen]
    best = max(range(5), key=lambda e: (vals[e], e))  # ties: the later epoch
    assert keep.best_epoch == best and keep.best == vals[best]
    for k, v in seen[best][1].items():
        np.testing.assert_array_equal(m.params[k], v)
    assert len(log.steps["cls"]) == 50 and len(log.steps["cls_acc"]) == 50
    # the epoch's loss is the mean of its steps' (equal batches)
    assert np.mean(log.steps["cls"][:10]) == pytest.approx(h["cls"][0], rel=1e-5)
    with pytest.raises(ValueError, match="ties must be"):
        callbacks.KeepBestEpoch("val_loss", ties="middle")


def test_a_loss_weight_schedule_is_the_bits_of_weights_set_by_hand(data):
    x, t = data
    a, b = _dann_net(), _dann_net()
    rows = np.arange(96)

    def w(step, total):
        return 1.0 - step / total

    a.fit(x, t, epochs=1, batch_size=16, sampler=lambda e: rows, schedules={"domain.weight": w}, verbose=0)
    total = 6
    for step in range(total):  # the same steps, the weight given to compile by hand
        b.compile(optim.SGD(0.05, momentum=0.9), loss={"label": "softmax_ce", "domain": "softmax_ce"},
                  loss_weights={"domain": w(step, total)}) if step == 0 else b._engine.net.set_loss_weight(
            b._engine.losses[1].node, w(step, total))
        r = rows[step * 16:(step + 1) * 16]
        b.train_on_batch(x[r], {k: v[r] for k, v in t.items()}, lr=0.05)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    with pytest.raises(KeyError, match="names neither a layer"):
        a.fit(x, t, schedules={"nope.weight": w}, verbose=0)
