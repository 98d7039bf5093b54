"""Model-level behaviour: convergence on real data against a NumPy reference,
save/load/continue, seeds, clone, load_weights, batched predict/evaluate,
several named inputs and outputs, history, validation, progress bar."""
import os

import numpy as np
import pytest

import tlearn as tl
from tlearn import datasets
from tlearn import layers as L
from conftest import make_mlp


# ---------------------------------------------------------------- real data

def numpy_mlp_train(params, X, Y, epochs, bs, lr, mu):
    """Reference: the same MLP (dense-relu-dense, softmax CE), the same
    batches and SGD with momentum (v = mu v + g; w -= lr v), in float64."""
    W1, b1, W2, b2 = (params[k].astype(np.float64) for k in ("h.w", "h.b", "o.w", "o.b"))
    ps = [W1, b1, W2, b2]
    vs = [np.zeros_like(p) for p in ps]
    n = len(X)
    for _ in range(epochs):
        for s in range(0, n, bs):
            x, y = X[s:s + bs], Y[s:s + bs]
            a = x @ W1.T + b1
            r = np.maximum(a, 0)
            z = r @ W2.T + b2
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(y)), y] -= 1
            dz = p / len(y)
            dr = dz @ W2 * (a > 0)
            gs = [dr.T @ x, dr.sum(0), dz.T @ r, dz.sum(0)]
            for k in range(4):
                vs[k] = mu * vs[k] + gs[k]
                ps[k] -= lr * vs[k]
    return ps


def numpy_mlp_predict(ps, X):
    W1, b1, W2, b2 = ps
    return np.argmax(np.maximum(X @ W1.T + b1, 0) @ W2.T + b2, 1)


def split(x, y, seed=0, frac=0.8):
    perm = np.random.default_rng(seed).permutation(len(x))
    k = int(frac * len(x))
    return x[perm[:k]], y[perm[:k]], x[perm[k:]], y[perm[k:]]


def test_digits_mlp_converges_like_a_numpy_reference():
    x, y = datasets.load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32 and y.dtype == np.int64
    xtr, ytr, xte, yte = split(x, y)
    inp = tl.Input((1, 8, 8), name="img")
    h = L.ReLU(name="r")(L.Dense(64, name="h")(L.Flatten(name="flat")(inp)))
    m = tl.Model(inp, L.Dense(10, name="o")(h), seed=0)
    m.compile(tl.optim.SGD(0.05, momentum=0.9), loss="softmax_ce")
    init = m.state_dict()
    epochs, bs = 20, 32
    hist = m.fit(xtr, ytr, epochs=epochs, batch_size=bs, shuffle=False, verbose=False)
    assert hist["o"][-1] < hist["o"][0] / 5
    acc = m.score(xte, yte)
    ref = numpy_mlp_train(init, xtr.reshape(len(xtr), -1).astype(np.float64), ytr, epochs, bs, 0.05, 0.9)
    ref_acc = np.mean(numpy_mlp_predict(ref, xte.reshape(len(xte), -1)) == yte)
    assert acc >= 0.95, acc
    assert acc >= ref_acc - 0.01, (acc, ref_acc)
    pred = np.argmax(m.predict(xte), 1)
    assert np.mean(pred == yte) == pytest.approx(acc)


FASHION = datasets.DEFAULT_FASHION_MNIST_DIR


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(FASHION), reason=f"Fashion-MNIST not installed in {FASHION} "
                    "(apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_mlp_reaches_85_percent():
    xtr, ytr = datasets.load_fashion_mnist(split="train")
    xte, yte = datasets.load_fashion_mnist(split="test")
    inp = tl.Input((1, 28, 28), name="img")
    h = L.ReLU()(L.Dense(256, name="h")(L.Flatten()(inp)))
    m = tl.Model(inp, L.Dense(10, name="o")(h), seed=0)
    m.compile(tl.optim.Adam(1e-3), loss="softmax_ce")
    m.fit(xtr, ytr, epochs=2, batch_size=64, verbose=False)
    acc = m.score(xte, yte)
    assert acc >= 0.85, acc


# ------------------------------------------------------------ save and load

def build_continue_model(seed=3):
    x = tl.Input((6,), name="x")
    h = L.Dropout(0.2, name="drop")(L.ReLU()(L.Dense(8, name="d0")(x)))
    m = tl.Model(x, L.Dense(3, name="d1")(h), seed=seed)
    m.compile(tl.optim.Adam(0.01), loss="softmax_ce")
    m.regularize(l2=1e-3)
    return m


def test_save_load_continue_equals_uninterrupted(tmp_path, toy_data):
    X, Y = toy_data
    a, b = build_continue_model(), build_continue_model()
    for m in (a, b):
        m.masks["d1.w"][0, 0] = 0.0
    a.fit(X, Y, epochs=4, batch_size=10, shuffle=True, verbose=False)
    b.fit(X, Y, epochs=2, batch_size=10, shuffle=True, verbose=False)
    path = tmp_path / "m.tlearn"
    b.save(path)
    c = tl.load(path)
    for k, v in b.params.items():
        assert np.array_equal(c.params[k], v)
    assert c.masks["d1.w"][0, 0] == 0.0
    c.fit(X, Y, epochs=2, batch_size=10, shuffle=True, verbose=False)
    for k in a.params:
        assert np.array_equal(a.params[k], c.params[k]), k
    # the original continues identically too
    b.fit(X, Y, epochs=2, batch_size=10, shuffle=True, verbose=False)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k


def test_save_load_keeps_frozen_layers_regularizers_and_attributes(tmp_path):
    x = tl.Input((4,), name="x")
    f = L.Dense(3, name="f")(x)
    d = L.Dense(1, name="dom")(L.GradReverse(0.3, name="grl")(f))
    m = tl.Model(x, {"dom": d, "feat": f}, seed=1)
    m.compile(tl.optim.SGD(0.1, momentum=0.5, nesterov=True), loss={"dom": "sigmoid_bce"})
    m.layer("f").trainable = False
    m.layer("grl").lambda_ = 0.9
    m.regularize(l2sp=0.5, layers=["dom"])
    m.fisher["dom.w"][...] = 2.0
    m.save(tmp_path / "a.tl")
    n = tl.load(tmp_path / "a.tl")
    assert n.layer("f").trainable is False and n.layer("dom").trainable is True
    assert n.layer("grl").lambda_ == pytest.approx(0.9)
    assert n._engine.net.param_info(n._engine.param_index["dom.w"])["l2sp"] == pytest.approx(0.5)
    assert np.all(n.fisher["dom.w"] == 2.0)
    assert set(n.output_names) == {"dom", "feat"} and n.loss_names == ["dom"]


def test_same_seed_same_weights_different_seed_different(toy_data):
    X, Y = toy_data
    ms = []
    for seed in (7, 7, 8):
        m = make_mlp(seed=seed, dropout=0.3)
        m.compile(tl.optim.SGD(0.05, momentum=0.9), loss="softmax_ce")
        m.fit(X, Y, epochs=2, batch_size=8, verbose=False)
        ms.append(m.state_dict())
    for k in ms[0]:
        assert np.array_equal(ms[0][k], ms[1][k])
    assert not np.array_equal(ms[0]["d0.w"], ms[2]["d0.w"])
    assert not np.array_equal(make_mlp(seed=1).params["d0.w"], make_mlp(seed=2).params["d0.w"])


def test_clone_is_independent(toy_data):
    X, Y = toy_data
    m = make_mlp(seed=2)
    m.compile(tl.optim.SGD(0.1, momentum=0.9), loss="softmax_ce")
    m.fit(X, Y, epochs=1, batch_size=16, verbose=False)
    c = m.clone()
    np.testing.assert_array_equal(c.predict(X), m.predict(X))
    before = m.state_dict()
    c.params["d0.w"][...] = 0.0
    c.fit(X, Y, epochs=2, batch_size=16, verbose=False)
    for k, v in m.params.items():
        assert np.array_equal(v, before[k])
    # same state -> same continuation (optimizer moments and shuffle RNG cloned)
    c2 = m.clone()
    m.fit(X, Y, epochs=1, batch_size=16, verbose=False)
    c2.fit(X, Y, epochs=1, batch_size=16, verbose=False)
    for k in m.params:
        assert np.array_equal(m.params[k], c2.params[k])


def test_load_weights_by_name_with_shape_checks():
    a, b = make_mlp(seed=1), make_mlp(seed=2)
    loaded = b.load_weights(a.state_dict())
    assert sorted(loaded) == sorted(a.params)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k])
    w = {"d0.w": np.ones((8, 6), np.float64)}
    assert b.load_weights(w, strict=False) == ["d0.w"]
    assert np.all(b.params["d0.w"] == 1.0) and np.array_equal(b.params["d1.w"], a.params["d1.w"])
    with pytest.raises(ValueError, match=r"parameter 'd0.w': expected shape \(8, 6\), got \(6, 8\)"):
        b.load_weights({"d0.w": np.ones((6, 8))}, strict=False)
    with pytest.raises(KeyError, match="missing names"):
        b.load_weights({"d0.w": np.ones((8, 6))})
    with pytest.raises(KeyError, match=r"unknown names \['nope.w'\]"):
        b.load_weights(dict(a.state_dict(), **{"nope.w": np.ones(3)}))
    with pytest.raises(ValueError, match="finite"):
        b.load_weights({"d0.w": np.full((8, 6), np.nan)}, strict=False)
    with pytest.raises(TypeError, match="dict"):
        b.load_weights([np.ones(3)])
    # a failed load changes nothing
    assert np.all(b.params["d0.w"] == 1.0)


@pytest.mark.parametrize("bs", [1, 7, 64, 100, 1000])
def test_predict_and_evaluate_independent_of_batch_size(bs, toy_data):
    X, Y = toy_data
    X = np.concatenate([X, X[:37] * 0.5])  # 101 examples: a last partial batch
    Y = np.concatenate([Y, Y[:37]])
    m = make_mlp(seed=0)
    m.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    full = m.predict(X, batch_size=len(X))
    np.testing.assert_allclose(m.predict(X, batch_size=bs), full, rtol=1e-6, atol=1e-6)
    e_full, e = m.evaluate(X, Y, batch_size=len(X)), m.evaluate(X, Y, batch_size=bs)
    assert e.keys() == e_full.keys()
    for k in e:
        assert e[k] == pytest.approx(e_full[k], rel=1e-5)
    assert e["d1_acc"] == np.mean(np.argmax(full, 1) == Y)


# ----------------------------------------------- several inputs and outputs

def multi_io_model(seed=0):
    img = tl.Input((1, 4, 4), name="img")
    meta = tl.Input((3,), name="meta")
    a = L.Dense(5, name="fa")(L.Flatten(name="flat")(img))
    b = L.Dense(5, name="fb")(meta)
    s = L.Add(name="sum")(a, b)
    c = L.Concat(name="cat")(L.Tanh(name="t")(s), meta)
    r = L.Reshape((2, 4), name="resh")(c)
    trunk = L.Flatten(name="flat2")(r)
    return tl.Model({"image": img, "meta": meta},
                    {"cls": L.Dense(3, name="cls")(trunk), "score": L.Dense(2, name="score")(trunk)}, seed=seed)


def test_several_named_inputs_and_outputs_wire_as_numpy_says():
    m = multi_io_model()
    rng = np.random.default_rng(0)
    I = rng.standard_normal((9, 1, 4, 4)).astype(np.float32)
    M = rng.standard_normal((9, 3)).astype(np.float32)
    P = {k: v.astype(np.float64) for k, v in m.params.items()}
    h = np.tanh(I.reshape(9, -1) @ P["fa.w"].T + P["fa.b"] + M @ P["fb.w"].T + P["fb.b"])
    trunk = np.concatenate([h, M], 1)
    out = m.predict({"meta": M, "image": I})
    assert set(out) == {"cls", "score"}
    np.testing.assert_allclose(out["cls"], trunk @ P["cls.w"].T + P["cls.b"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["score"], trunk @ P["score.w"].T + P["score.b"], rtol=1e-5, atol=1e-6)
    # a list in the order of input_names works too, and inner layers can be read
    inner = m.predict([I, M] if m.input_names == ["image", "meta"] else [M, I], outputs=["resh", "cat"])
    assert inner["resh"].shape == (9, 2, 4)
    np.testing.assert_array_equal(inner["resh"].reshape(9, -1), inner["cat"])


def test_fit_history_validation_and_progress_bar(capsys):
    m = multi_io_model(seed=1)
    m.compile(tl.optim.Adam(0.01), loss={"cls": "softmax_ce", "score": "mse"}, loss_weights={"score": 0.5})
    rng = np.random.default_rng(1)
    n = 50
    x = {"image": rng.standard_normal((n, 1, 4, 4)).astype(np.float32),
         "meta": rng.standard_normal((n, 3)).astype(np.float32)}
    y = {"cls": rng.integers(0, 3, n), "score": rng.standard_normal((n, 2)).astype(np.float32)}
    xv = {k: v[:20] for k, v in x.items()}
    yv = {k: v[:20] for k, v in y.items()}
    hist = m.fit(x, y, epochs=3, batch_size=16, validation_data=(xv, yv), verbose=False)
    keys = {"loss", "reg", "cls", "cls_acc", "score"}
    # evaluation reports the losses (no regularizer value): no val_reg
    assert set(hist) == keys | {"val_" + k for k in keys - {"reg"}}
    assert all(len(v) == 3 for v in hist.values())
    assert hist is m.history
    ev = m.evaluate(xv, yv)
    for k in ("loss", "cls", "score", "cls_acc"):
        assert hist["val_" + k][-1] == pytest.approx(ev[k], rel=1e-6)
    assert hist["loss"][-1] == pytest.approx(hist["cls"][-1] + 0.5 * hist["score"][-1] + hist["reg"][-1], rel=1e-6)
    assert hist["loss"][-1] < hist["loss"][0]
    capsys.readouterr()
    m.fit(x, y, epochs=1, batch_size=16, verbose=False)
    assert capsys.readouterr().err == ""
    m.fit(x, y, epochs=2, batch_size=16, verbose=True)
    err = capsys.readouterr().err
    pytest.importorskip("tqdm")
    assert "8/8" in err and "step" in err, err[-300:]


def test_fit_epoch_loss_is_the_mean_over_labelled_examples():
    m = make_mlp(seed=0)
    m.compile(tl.optim.SGD(0.0), loss="softmax_ce")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 6)).astype(np.float32)
    Y = rng.integers(-1, 3, 30)
    hist = m.fit(X, Y, epochs=1, batch_size=7, shuffle=False, verbose=False)  # lr 0: the weights stay
    ev = m.evaluate(X, Y)
    assert hist["d1"][0] == pytest.approx(ev["d1"], rel=1e-5)
    assert hist["d1_acc"][0] == pytest.approx(ev["d1_acc"])


def test_summary_and_repr():
    m = multi_io_model()
    s = str(m)
    assert "fa" in s and "cls" in s and "parameters:" in s
    m.layer("fa").trainable = False
    assert "(frozen)" in str(m)
    assert "layers" in repr(m)


@pytest.mark.parametrize("per_channel, shape, n_alpha", [(False, (2, 3, 3), 1), (True, (2, 3, 3), 2), (True, (5,), 5)])
def test_scale_layer_learns_saves_and_loads(tmp_path, per_channel, shape, n_alpha):
    """y = alpha x: alpha starts at ones, is trained (a target of 0.5 x pulls
    it toward 0.5), and comes back from a file with its per_channel setting."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64,) + shape).astype(np.float32)
    x = tl.Input(shape, name="x")
    m = tl.Model(x, L.Scale(per_channel=per_channel, name="s")(x), seed=3)
    assert m.params["s.alpha"].shape == (n_alpha,) and np.all(m.params["s.alpha"] == 1.0)
    np.testing.assert_array_equal(m.predict(X), X)
    m.compile(tl.optim.SGD(0.2), loss="mse")
    m.fit(X, 0.5 * X, epochs=60, batch_size=16, verbose=False)
    np.testing.assert_allclose(m.params["s.alpha"], 0.5, atol=1e-3)
    m.save(tmp_path / "s.tl")
    n = tl.load(tmp_path / "s.tl")
    assert n._engine.layers["s"].per_channel is per_channel
    np.testing.assert_array_equal(n.params["s.alpha"], m.params["s.alpha"])
    np.testing.assert_array_equal(n.predict(X), m.predict(X))


def test_registries_follow_the_classes_and_the_op_table():
    from tlearn import _core, losses

    ops = {o["name"]: o for o in _core.ops()}
    assert {c.op for c in L.LAYERS.values()} == {n for n, o in ops.items() if not o["is_loss"]}
    assert set(losses.LOSSES) == {n for n, o in ops.items() if o["is_loss"]}
    for kind, cls in losses.LOSSES.items():
        assert cls().classification is ops[kind]["classification"]
    assert [a["name"] for a in ops["scale"]["attrs"]] == ["per_channel", "init"]
