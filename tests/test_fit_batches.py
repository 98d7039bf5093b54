"""fit on an iterable of batches (generator, list, DomainBatches, torch
DataLoader), Keras's verbose 0/1/2 and History, and the callbacks of
tlearn.callbacks (EarlyStopping, ModelCheckpoint, LearningRateScheduler)."""
import os

import numpy as np
import pytest

import tlearn as tl
from tlearn import callbacks as C, datasets, layers as L
from conftest import make_mlp


def data(n=64, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    return X, np.argmax(X @ rng.standard_normal((d, k)), 1)


def compiled(seed=0, lr=0.05):
    m = make_mlp(seed=seed)
    m.compile(tl.optim.SGD(lr, momentum=0.9), loss="softmax_ce")
    return m


def batches_of(X, Y, bs):
    return [(X[s:s + bs], Y[s:s + bs]) for s in range(0, len(X), bs)]


# ------------------------------------------------------------ fit(batches)

@pytest.mark.parametrize("kind", ["list", "generator", "tuple"])
def test_fit_on_batches_is_the_array_fit_on_the_same_batches(kind):
    X, Y = data()
    a, b = compiled(), compiled()
    ha = a.fit(X, Y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    bl = batches_of(X, Y, 16)
    if kind == "list":
        hb = b.fit(bl, epochs=3, verbose=0)
    elif kind == "tuple":
        hb = b.fit(tuple(bl), epochs=3, verbose=0)
    else:
        def endless():
            while True:
                yield from bl
        hb = b.fit(endless(), epochs=3, steps_per_epoch=4, verbose=0)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k  # the same core step, bit for bit
    assert ha["loss"] == pytest.approx(hb["loss"], rel=1e-6) and ha["d1_acc"] == hb["d1_acc"]
    assert isinstance(hb, C.History) and hb is b.history and hb.epoch == [0, 1, 2]
    assert b._engine.step == 12


def test_steps_per_epoch_goes_on_through_a_generator_and_restarts_a_list():
    X, Y = data()
    seen = []

    def gen():
        for i in range(6):
            seen.append(i)
            yield X[8 * i:8 * i + 8], Y[8 * i:8 * i + 8]

    m = compiled()
    h = m.fit(gen(), epochs=3, steps_per_epoch=2, verbose=0)
    assert seen == list(range(6)) and len(h["loss"]) == 3 and m._engine.step == 6
    m2 = compiled()
    m2.fit(batches_of(X, Y, 16), epochs=2, steps_per_epoch=6, verbose=0)  # 4 batches: wraps around
    assert m2._engine.step == 12 and m2.history.params["steps"] == 6


def test_a_consumed_generator_warns_and_stops():
    X, Y = data()
    m = compiled()
    with pytest.warns(RuntimeWarning, match="ran out after 1 epoch"):
        h = m.fit(iter(batches_of(X, Y, 16)), epochs=3, verbose=0)
    assert len(h["loss"]) == 1 and m._engine.step == 4
    with pytest.raises(ValueError, match="yielded no batch"):
        m.fit(iter([]), epochs=1, verbose=0)


def test_domain_batches_feed_the_two_losses():
    rng = np.random.default_rng(0)
    xs, xt = rng.standard_normal((40, 6)).astype(np.float32), rng.standard_normal((30, 6)).astype(np.float32) + 1
    ys = rng.integers(0, 3, 40)
    x = tl.Input(6, name="x")
    h = L.ReLU(name="r")(L.Dense(8, name="f")(x))
    m = tl.Model(x, {"label": L.Dense(3, name="label")(h),
                     "domain": L.Dense(2, name="domain")(L.GradReverse(0.3, name="grl")(h))})
    m.compile(tl.optim.SGD(0.05), loss={"label": "softmax_ce", "domain": "softmax_ce"})
    db = datasets.domain_batches(xs, xt, 16, seed=1, ys=ys)
    h1 = m.fit(db, epochs=2, verbose=0)
    assert m._engine.step == 2 * len(db) and {"label", "domain", "label_acc", "domain_acc"} <= set(h1)
    # the same steps by hand: label targets -1 on the target half, domain targets 0/1
    mm = m.clone()
    a = m.fit(db, epochs=1, verbose=0)
    for xb, yb, db_ in db:
        mm.train_on_batch(xb, {"label": yb, "domain": db_})
    for k in m.params:
        assert np.array_equal(m.params[k], mm.params[k]), k
    assert a["label"][0] > 0


def test_fit_on_a_torch_dataloader():
    torch = pytest.importorskip("torch")
    X, Y = data()
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    a, b = compiled(), compiled()
    b.fit(torch.utils.data.DataLoader(ds, batch_size=16, shuffle=False), epochs=2, verbose=0)
    a.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k


def test_bad_batches_are_refused_with_the_batch_named():
    X, Y = data()
    m = compiled()
    good = (X[:8], Y[:8])
    cases = [
        ([good, "xy"], TypeError, r"batch 1: expected a tuple \(x, y\), got str"),
        ([good, (X[:8], Y[:8], np.ones(8))], ValueError, "batch 1: got 3 items .*sample weights are not supported"),
        ([good, (X[:8],)], ValueError, r"batch 1: expected a tuple \(x, y\), got 1 items"),
        ([good, (X[:8, :5], Y[:8])], ValueError, r"batch 1: input 'x': expected shape \(batch, 6\), got \(8, 5\)"),
        ([good, (X[:8], Y[:7])], ValueError, "batch 1: inputs and targets disagree on the number of examples"),
        ([good, (X[:8], Y[:8].astype(np.float32))], TypeError, "batch 1: target of loss 'd1': expected integer"),
        ([good, (X[:0], Y[:0])], ValueError, "batch 1 is empty"),
    ]
    for bl, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            m.fit(bl, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="batch_size and steps_per_call are the iterable's"):
        m.fit([good], batch_size=8)
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive int"):
        m.fit([good], steps_per_epoch=0)
    with pytest.raises(ValueError, match="steps_per_epoch is for fit on an iterable"):
        m.fit(X, Y, steps_per_epoch=3)


# --------------------------------------------------------- verbose, History

def test_verbose_0_1_2(capsys):
    X, Y = data()
    m = compiled()
    m.fit(X, Y, epochs=2, verbose=0)
    assert capsys.readouterr() == ("", "")
    m.fit(X, Y, epochs=2, verbose=2)
    out = capsys.readouterr()
    lines = out.out.strip().split("\n")
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2 - 2 steps - d1: ") and "loss: " in lines[1]
    assert out.err == ""
    pytest.importorskip("tqdm")
    m.fit(X, Y, epochs=1, verbose=1)
    out = capsys.readouterr()
    assert out.out == "" and "step" in out.err
    for bad in (3, -1, "yes", 1.5):
        with pytest.raises(ValueError, match="verbose must be 0"):
            m.fit(X, Y, verbose=bad)


def test_history_is_a_dict_with_kerass_attributes():
    X, Y = data()
    m = compiled()
    h = m.fit(X, Y, epochs=3, validation_data=(X, Y), verbose=0)
    assert h["loss"] == h.history["loss"] and len(h["val_loss"]) == 3 and h.epoch == [0, 1, 2]
    assert h.model is m and h.params == {"epochs": 3, "steps": 2, "verbose": 0}
    assert dict(h) == {k: list(v) for k, v in h.items()}


# --------------------------------------------------------------- callbacks

class Recorder(C.Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch} {sorted(logs)}")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


@pytest.mark.parametrize("batches", [False, True])
def test_keras_callback_protocol(batches):
    X, Y = data()
    m = compiled()
    r = Recorder()
    steps = []

    class PerBatch(C.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            steps.append((batch, self.model._engine.step))

    args = (batches_of(X, Y, 16),) if batches else (X, Y)
    m.fit(*args, epochs=2, verbose=0, callbacks=[r, PerBatch()], **({} if batches else {"batch_size": 16}))
    assert r.model is m
    assert r.calls == ["train_begin", "epoch_begin 0", "epoch_end 0 ['d1', 'd1_acc', 'loss', 'reg']",
                       "epoch_begin 1", "epoch_end 1 ['d1', 'd1_acc', 'loss', 'reg']", "train_end"]
    assert steps == [(0, 0), (1, 1), (2, 2), (3, 3), (0, 4), (1, 5), (2, 6), (3, 7)]  # one core step per call


def test_early_stopping_stops_and_restores_the_best_weights():
    X, Y = data()
    m = compiled(lr=0.05)
    vals = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.4])
    saved = {}

    class FakeVal(C.Callback):  # a validation curve with its minimum at epoch 1
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(vals)
            if epoch == 1:
                saved.update(self.model.state_dict())

    es = C.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    h = m.fit(X, Y, epochs=10, verbose=0, callbacks=[FakeVal(), es])
    assert len(h["loss"]) == 4 and es.stopped_epoch == 3 and es.best_epoch == 1 and es.best == 0.5
    for k in saved:
        assert np.array_equal(m.params[k], saved[k]), k
    # min_delta: 0.5 -> 0.45 is not an improvement of 0.1; mode max for accuracies
    es2 = C.EarlyStopping(monitor="d1_acc", patience=0, min_delta=0.0)
    assert es2.mode == "max"
    m2 = compiled(lr=0.0)  # nothing changes: the accuracy never improves after epoch 0
    assert len(m2.fit(X, Y, epochs=5, verbose=0, callbacks=[es2])["loss"]) == 2
    # without validation data Keras warns (its words) and goes on; so does tlearn
    with pytest.warns(RuntimeWarning, match="Early stopping conditioned on metric `val_loss` which is not "
                                            "available. Available metrics are: d1,d1_acc,reg,loss"):
        h3 = compiled().fit(X, Y, epochs=3, verbose=0, callbacks=[C.EarlyStopping()])
    assert len(h3["loss"]) == 3
    with pytest.raises(ValueError, match="patience must be a non-negative int"):
        C.EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode must be"):
        C.EarlyStopping(mode="up")


def test_model_checkpoint_saves_the_best_atomically(tmp_path):
    X, Y = data()
    m = compiled()
    vals = iter([0.9, 0.5, 0.7, 0.3])
    states = []

    class FakeVal(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(vals)
            states.append(self.model.predict(X))

    best = C.ModelCheckpoint(tmp_path / "best.tlm", monitor="val_loss", save_best_only=True)
    every = C.ModelCheckpoint(str(tmp_path / "e{epoch:02d}-{val_loss:.1f}.tlm"))
    m.fit(X, Y, epochs=4, verbose=0, callbacks=[FakeVal(), best, every])
    assert best.saved == [str(tmp_path / "best.tlm")] * 3  # epochs 0, 1 and 3 improved
    assert np.array_equal(tl.load(tmp_path / "best.tlm").predict(X), states[3])
    assert sorted(os.listdir(tmp_path)) == ["best.tlm", "e01-0.9.tlm", "e02-0.5.tlm", "e03-0.7.tlm", "e04-0.3.tlm"]
    assert np.array_equal(tl.load(tmp_path / "e03-0.7.tlm").predict(X), states[2])
    # a failed write leaves the previous checkpoint intact
    before = (tmp_path / "best.tlm").read_bytes()
    vals2 = iter([0.1])

    class Boom(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(vals2)
            self.model._get_state = None  # saving now fails half-way

    with pytest.raises(TypeError):
        m.fit(X, Y, epochs=1, verbose=0, callbacks=[Boom(), best])
    assert (tmp_path / "best.tlm").read_bytes() == before
    assert [p for p in os.listdir(tmp_path) if p.startswith(".tlearn-")] == []
    with pytest.raises(ValueError, match="cannot fill it from epoch and logs"):
        compiled().fit(X, Y, epochs=1, verbose=0, callbacks=[C.ModelCheckpoint(str(tmp_path / "{nope}.tlm"))])
    w = C.ModelCheckpoint(tmp_path / "w.npz", save_weights_only=True)
    m3 = compiled()
    m3.fit(X, Y, epochs=1, verbose=0, callbacks=[w])
    with np.load(tmp_path / "w.npz") as f:
        assert np.array_equal(f["d0.w"], m3.params["d0.w"])


def test_learning_rate_scheduler_sets_the_rate_per_epoch():
    X, Y = data()
    seen = []
    m = compiled(lr=0.1)
    sched = C.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)

    class Watch(C.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(self.model._engine.optimizer.lr)

    m.fit(X, Y, epochs=3, verbose=0, callbacks=[sched, Watch()])
    assert seen == [0.1, 0.05, 0.025]
    # the rate reaches the core: an epoch at lr 0 changes nothing
    m2 = compiled(lr=0.1)
    before = m2.params["d0.w"].copy()
    m2.fit(X, Y, epochs=1, verbose=0, callbacks=[C.LearningRateScheduler(lambda epoch: 0.0)])
    assert np.array_equal(m2.params["d0.w"], before)
    with pytest.raises(ValueError, match="schedule returned nan at epoch 0"):
        compiled().fit(X, Y, epochs=1, verbose=0, callbacks=[C.LearningRateScheduler(lambda e: float("nan"))])
    with pytest.raises(TypeError, match="schedule must be callable"):
        C.LearningRateScheduler(0.1)
