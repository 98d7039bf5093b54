"""Shared layers: one layer object called on several tensors is one
parameter of the core used by several nodes.  Its gradient is the sum over
the uses (finite differences, a NumPy twin of a network that uses one layer
three times, PyTorch's module applied twice); freezing, masks, regularizers,
save/load and clone see one parameter."""
import numpy as np
import pytest

import tlearn as tl
from tlearn import layers as L


def thrice(seed=0):
    """x (4,) -> d -> tanh -> d -> tanh -> d -> head (3,): one Dense(4) used three times."""
    x = tl.Input(4, name="x")
    d = L.Dense(4, init="glorot", name="d")
    h = L.Tanh(name="t1")(d(x))
    h = L.Tanh(name="t2")(d(h))
    out = L.Dense(3, name="head")(d(h))
    return tl.Model(x, out, seed=seed)


def batch(B=5, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, 4)).astype(np.float32), rng.standard_normal((B, 3)).astype(np.float32)


def numpy_twin(p, X, T):
    """Forward and backward of thrice() with an MSE loss, in float64."""
    W, b, Wh, bh = (p[k].astype(np.float64) for k in ("d.w", "d.b", "head.w", "head.b"))
    X = X.astype(np.float64)
    a1 = X @ W.T + b
    h1 = np.tanh(a1)
    a2 = h1 @ W.T + b
    h2 = np.tanh(a2)
    a3 = h2 @ W.T + b
    z = a3 @ Wh.T + bh
    loss = np.mean((z - T) ** 2)
    dz = 2 * (z - T) / z.size
    g = {"head.w": dz.T @ a3, "head.b": dz.sum(0)}
    da3 = dz @ Wh
    gW, gb = da3.T @ h2, da3.sum(0)
    da2 = (da3 @ W) * (1 - h2 ** 2)
    gW, gb = gW + da2.T @ h1, gb + da2.sum(0)
    da1 = (da2 @ W) * (1 - h1 ** 2)
    gW, gb = gW + da1.T @ X, gb + da1.sum(0)
    g["d.w"], g["d.b"] = gW, gb
    return z, loss, g


def test_one_parameter_several_nodes():
    m = thrice()
    assert sorted(m.params) == ["d.b", "d.w", "head.b", "head.w"]
    assert m.layers == ["x", "d", "t1", "t2", "head"]
    assert [n for n in m._engine.node] == ["x", "d", "t1", "d:1", "t2", "d:2", "head"]
    text = str(m)
    assert "d:1" in text and "(shares d's parameters)" in text and "parameters: 35 " in text


def test_shared_gradient_is_the_sum_over_uses_numpy_twin():
    m = thrice()
    m.compile(tl.optim.SGD(0.0), loss="mse")
    X, T = batch()
    z, loss, g = numpy_twin(m.params, X, T)
    assert np.allclose(m.predict(X), z, atol=1e-5)
    out = m.train_on_batch(X, T)
    assert out["head"] == pytest.approx(loss, rel=1e-5)
    for k, ref in g.items():
        assert np.abs(ref).max() > 1e-3
        assert np.allclose(m.grads[k], ref, rtol=1e-4, atol=1e-6), k


def test_shared_gradient_against_finite_differences():
    m = thrice(seed=3)
    m.compile(tl.optim.SGD(0.0), loss="mse")
    X, T = batch(seed=2)
    m.train_on_batch(X, T)
    analytic = {k: v.astype(np.float64).copy() for k, v in m.grads.items()}
    for k in ("d.w", "d.b"):
        p = m.params[k]
        num = np.zeros(p.shape)
        for i in range(p.size):
            old = p.flat[i]
            vals = []
            for s in (+1, -1):
                p.flat[i] = old + s * 1e-2
                vals.append(m.evaluate(X, T)["head"])
            p.flat[i] = old
            num.flat[i] = (vals[0] - vals[1]) / 2e-2
        rel = np.linalg.norm(analytic[k] - num) / np.linalg.norm(num)
        assert np.abs(num).max() > 1e-3 and rel < 1e-2, (k, rel)


def test_freezing_masks_and_regularizers_see_one_parameter():
    m = thrice()
    m.compile(tl.optim.SGD(0.1), loss="mse")
    X, T = batch(16)
    w0 = m.params["d.w"].copy()
    m.layer("d").trainable = False
    m.fit(X, T, epochs=2, batch_size=4, verbose=0)
    assert np.array_equal(m.params["d.w"], w0) and not np.array_equal(m.params["head.w"], m.clone().params["d.w"])
    m.layer("d").trainable = True
    m.masks["d.w"][0] = 0.0  # one mask: row 0 never moves under any of the three uses
    m.fit(X, T, epochs=2, batch_size=4, verbose=0)
    assert np.array_equal(m.params["d.w"][0], w0[0]) and not np.array_equal(m.params["d.w"][1:], w0[1:])
    m.masks["d.w"][...] = 1.0
    m.compile(tl.optim.SGD(0.0), loss="mse")
    m.regularize(l2=0.5, layers="d")
    r = m.train_on_batch(X, T)
    w = m.params["d.w"].astype(np.float64)
    b = m.params["d.b"].astype(np.float64)
    assert r["reg"] == pytest.approx(0.25 * ((w ** 2).sum() + (b ** 2).sum()), rel=1e-4)  # counted once, not three times


def test_shared_layer_attributes_apply_to_every_use():
    x = tl.Input(6, name="x")
    drop = L.Dropout(0.5, name="drop")
    m = tl.Model(x, L.Add(name="s")(drop(x), drop(x)), seed=0)
    m.layer("drop").rate = 0.0
    assert m._engine.net.attr(m._engine.node["drop"], "rate") == m._engine.net.attr(m._engine.node["drop:1"], "rate") == 0.0
    m2 = m.clone()
    assert m2.layer("drop").rate == 0.0 and m2._engine.net.attr(m2._engine.node["drop:1"], "rate") == 0.0


def test_save_load_clone_pickle_keep_the_sharing(tmp_path):
    import pickle

    m = thrice()
    m.compile(tl.optim.Adam(1e-2), loss="mse")
    X, T = batch(16)
    m.fit(X, T, epochs=2, batch_size=4, verbose=0)
    m.save(tmp_path / "s.tlm")
    for twin in (tl.load(tmp_path / "s.tlm"), m.clone(), pickle.loads(pickle.dumps(m))):
        assert sorted(twin.params) == sorted(m.params) and list(twin._engine.node) == list(m._engine.node)
        assert np.array_equal(twin.predict(X), m.predict(X))
        twin.params["d.w"][...] = 0.0  # one parameter: every use sees it, so the output no longer depends on x
        p = twin.predict(X)
        assert np.allclose(p, p[0]) and not np.allclose(m.predict(X), m.predict(X)[0])


def test_siamese_two_inputs_keras_style():
    a, b = tl.Input(5, name="a"), tl.Input(5, name="b")
    enc = L.Dense(3, name="enc")
    u, v = enc(a), enc(b)
    assert u.name == "enc" and v.name == "enc:1"
    m = tl.Model({"a": a, "b": b}, L.Dense(1, name="o")(L.Concat(name="c")(u, v)))
    rng = np.random.default_rng(0)
    A, B_ = rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((4, 5)).astype(np.float32)
    f = m.predict({"a": A, "b": B_}, outputs=["enc", "enc:1"])
    W, bias = m.params["enc.w"], m.params["enc.b"]
    assert np.allclose(f["enc"], A @ W.T + bias, atol=1e-5) and np.allclose(f["enc:1"], B_ @ W.T + bias, atol=1e-5)
    with pytest.raises(ValueError, match=r"layer 'enc' is shared: its parameter 0 has shape \(3, 5\), this call on "
                                         r"inputs of shape \[\(4,\)\] would need \(3, 4\)"):
        enc(tl.Input(4))


def test_core_share_refuses_mismatches():
    from tlearn import _core

    n = _core.Net(0)
    x = n.add("input", name="x", shape=[4])
    d = n.add("dense", [x], "d", attrs={"units": 3})
    e = n.add("dense", [x], "e", attrs={"units": 3, "use_bias": 0})
    with pytest.raises(ValueError, match=r"'e' \(dense, 1 parameters\) cannot use the parameters of 'd' "
                                         r"\(dense, 2 parameters\)"):
        n.share(e, d)
    y = n.add("input", name="y", shape=[5])
    f = n.add("dense", [y], "f", attrs={"units": 3})
    with pytest.raises(ValueError, match=r"parameter 'f.w' of shape \(3, 5\), but the shared parameter 'd.w' has "
                                         r"shape \(3, 4\)"):
        n.share(f, d)
    with pytest.raises((ValueError, tl.TlearnError), match="not the last node added"):
        n.share(e, d)
    g = n.add("dense", [x], "g", attrs={"units": 3})
    with pytest.raises((ValueError, tl.TlearnError), match="not an earlier node"):
        n.share(g, g)
    n.share(g, d)
    n.finalize()
    assert n.n_params == 2 + 1 + 2  # d, e and f; g owns none
    with pytest.raises((ValueError, tl.TlearnError), match="finalized"):
        n.share(g, d)


def test_torch_module_applied_twice():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lin, head = torch.nn.Linear(4, 4), torch.nn.Linear(4, 3)
    x = tl.Input(4, name="x")
    d = L.Dense(4, name="d")
    m = tl.Model(x, L.Dense(3, name="head")(d(L.Tanh(name="t")(d(x)))))
    m.load_weights({"d.weight": lin.weight, "d.bias": lin.bias, "head.weight": head.weight, "head.bias": head.bias})
    m.compile(tl.optim.SGD(0.0), loss="mse")
    X, T = batch(6)
    xt = torch.from_numpy(X)
    z = head(lin(torch.tanh(lin(xt))))
    loss = ((z - torch.from_numpy(T)) ** 2).mean()
    loss.backward()
    r = m.train_on_batch(X, T)
    assert r["head"] == pytest.approx(loss.item(), rel=1e-5)
    assert np.allclose(m.grads["d.w"], lin.weight.grad.numpy(), rtol=1e-4, atol=1e-6)
    assert np.allclose(m.grads["d.b"], lin.bias.grad.numpy(), rtol=1e-4, atol=1e-6)
