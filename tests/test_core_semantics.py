"""Semantics of the core: freezing (whole parameters, element masks, frozen
prefixes), gradient reversal, L2-SP and EWC, Fisher estimation, multitask
losses, unlabelled examples, optimizers against NumPy, per-step learning
rates and per-step schedules of settable values."""
import numpy as np
import pytest

import tlearn as tl
from tlearn import _core
from tlearn import layers as L
from conftest import make_mlp


def mlp_net(seed=0, n_in=5, hidden=6, n_out=3, losses=(("softmax_ce", 1.0),)):
    """x -> h (dense) -> relu -> o (dense) -> losses on o."""
    net = _core.Net(seed)
    x = net.add("input", name="x", shape=(n_in,))
    h = net.add("dense", [x], "h", {"units": hidden})
    r = net.add("relu", [h], "r")
    o = net.add("dense", [r], "o", {"units": n_out})
    net.finalize()
    for k, (kind, w) in enumerate(losses):
        net.add_loss(kind, o, f"l{k}", w, {"temperature": 2.0} if kind == "soft_ce" else None)
    return net, {"x": x, "h": h, "r": r, "o": o}


def data(n=16, n_in=5, C=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in)).astype(np.float32)
    Y = rng.integers(0, C, n).astype(np.int32)
    return X, Y


def values(net):
    return {p: net.view("value", p).copy() for p in range(net.n_params)}


def grads(net):
    return {p: net.view("grad", p).copy() for p in range(net.n_params)}


# ------------------------------------------------------------------ freezing

@pytest.mark.parametrize("optim", [dict(kind="sgd", momentum=0.9, weight_decay=0.01),
                                   dict(kind="adam", weight_decay=0.01), dict(kind="adamw", weight_decay=0.1)])
def test_frozen_parameters_bit_identical_after_many_steps(optim):
    net, n = mlp_net()
    net.set_optim(**optim)
    X, Y = data()
    ph, pb = net.param_index("h.w"), net.param_index("o.b")
    net.set_trainable(ph, False)
    net.set_reg(ph, 0.1, 0.0, 0.0)  # a regularizer on a frozen parameter must not move it either
    before = values(net)
    for _ in range(30):
        net.train_step([X], [Y], 0.05)
    after = values(net)
    assert np.array_equal(after[ph], before[ph])
    assert not net.param_info(ph)["trainable"]
    for p in range(net.n_params):
        if p != ph:
            assert not np.array_equal(after[p], before[p]), net.param_info(p)["name"]
    assert np.all(net.view("grad", ph) == 0)
    assert np.any(net.view("grad", pb) != 0)


def test_model_layer_trainable_false_and_masks(toy_data):
    X, Y = toy_data
    m = make_mlp(hidden=(8, 8), seed=1)
    m.compile(tl.optim.SGD(0.05, momentum=0.9, weight_decay=1e-3), loss="softmax_ce")
    m.layer("d0").trainable = False
    assert m.layer("d0").trainable is False and m.layer("d1").trainable is True
    mask = m.masks["d1.w"]
    mask[...] = 1.0
    mask[:, :3] = 0.0
    m.masks["d2.b"][0] = 0.0
    before = m.state_dict()
    m.fit(X, Y, epochs=5, batch_size=16, verbose=False)
    after = m.state_dict()
    assert np.array_equal(after["d0.w"], before["d0.w"]) and np.array_equal(after["d0.b"], before["d0.b"])
    assert np.array_equal(after["d1.w"][:, :3], before["d1.w"][:, :3])
    assert np.all(after["d1.w"][:, 3:] != before["d1.w"][:, 3:])
    assert after["d2.b"][0] == before["d2.b"][0] and np.all(after["d2.b"][1:] != before["d2.b"][1:])
    assert not np.array_equal(after["d2.w"], before["d2.w"])
    # unfreezing makes it train again
    m.layer("d0").trainable = True
    m.fit(X, Y, epochs=1, batch_size=16, verbose=False)
    assert not np.array_equal(m.params["d0.w"], before["d0.w"])


def test_frozen_prefix_is_not_backpropagated():
    net, n = mlp_net()
    net.set_optim("sgd")
    X, Y = data()
    for name in ("h.w", "h.b"):
        net.set_trainable(net.param_index(name), False)
    net.forward_backward([X], [Y])
    # no gradient buffer at all for the frozen prefix (not even a zero one)
    for node in (n["x"], n["h"], n["r"]):
        with pytest.raises(tl.TlearnError, match="no gradient for node"):
            net.input_grad(node, len(X))
    assert np.any(net.input_grad(n["o"], len(X)) != 0)
    assert np.all(net.view("grad", net.param_index("h.w")) == 0)
    # training still works
    l0 = net.forward_backward([X], [Y])["loss"][0]
    for _ in range(100):
        net.train_step([X], [Y], 0.1)
    assert net.forward_backward([X], [Y])["loss"][0] < 0.8 * l0


def test_gradient_of_a_parameter_frozen_after_training_reads_zero():
    """model.grads documents zero gradients for frozen parameters, also after earlier steps."""
    net, _ = mlp_net()
    net.set_optim("sgd")
    X, Y = data()
    net.train_step([X], [Y], 0.1)
    p = net.param_index("o.w")
    assert np.any(net.view("grad", p) != 0)
    net.set_trainable(p, False)
    net.train_step([X], [Y], 0.1)
    assert np.all(net.view("grad", p) == 0)


def test_input_gradient_only_when_asked():
    net, n = mlp_net()
    X, Y = data()
    net.forward_backward([X], [Y])
    with pytest.raises(tl.TlearnError, match="set_input_grad"):
        net.input_grad(n["x"], len(X))
    net.set_input_grad(n["x"], True)
    net.forward_backward([X], [Y])
    assert net.input_grad(n["x"], len(X)).shape == X.shape


# ------------------------------------------------------------ gradient reversal

def test_gradient_reversal_flips_and_scales_the_upstream_gradient():
    def build(lam):
        net = _core.Net(4)
        x = net.add("input", name="x", shape=(5,))
        f = net.add("dense", [x], "f", {"units": 4})
        g = net.add("grad_reverse", [f], "grl", {"lambda": lam})
        d = net.add("dense", [g], "dom", {"units": 1})
        net.finalize()
        net.add_loss("sigmoid_bce", d, "domain")
        return net, g

    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 5)).astype(np.float32)
    D = rng.integers(0, 2, (10, 1)).astype(np.float32)
    ident, gi = build(-1.0)  # -(-1) = identity backward
    ident.forward_backward([X], [D])
    ref = grads(ident)
    net, g = build(0.0)
    for lam in (0.5, 2.0):
        net.set_attr(g, "lambda", lam)
        net.forward_backward([X], [D])
        got = grads(net)
        pf = net.param_index("f.w")
        np.testing.assert_allclose(got[pf], -lam * ref[pf], rtol=1e-5, atol=1e-7)
        # the domain head itself is not reversed
        pd = net.param_index("dom.w")
        np.testing.assert_allclose(got[pd], ref[pd], rtol=1e-6)
    with pytest.raises(ValueError, match="finite"):
        net.set_attr(g, "lambda", float("nan"))


def test_model_grad_reverse_lambda_attribute():
    x = tl.Input((4,), name="x")
    f = L.Dense(3, name="f")(x)
    d = L.Dense(1, name="dom")(L.GradReverse(0.3, name="grl")(f))
    m = tl.Model(x, d, seed=0)
    assert m.layer("grl").lambda_ == pytest.approx(0.3)
    m.layer("grl").lambda_ = 0.75
    assert m.layer("grl").lambda_ == pytest.approx(0.75)
    with pytest.raises(AttributeError, match="no settable attribute"):
        m.layer("grl").lambd = 1.0


# ------------------------------------------------------------ regularizers

def reg_grad(net, X, Y):
    net.forward_backward([X], [Y], with_reg=False)
    g0 = grads(net)
    reg = net.forward_backward([X], [Y], with_reg=True)["reg"]
    g1 = grads(net)
    return {p: g1[p].astype(np.float64) - g0[p] for p in g0}, reg


def test_l2sp_zero_at_the_snapshot_and_alpha_times_distance_elsewhere():
    net, _ = mlp_net()
    X, Y = data()
    alpha = 0.3
    for p in range(net.n_params):
        net.set_reg(p, 0.0, alpha, 0.0)
    net.snapshot()
    d, reg = reg_grad(net, X, Y)
    assert reg == 0.0
    for p in d:
        assert np.all(d[p] == 0)
    rng = np.random.default_rng(1)
    w0 = values(net)
    for p in range(net.n_params):
        net.view("value", p)[...] += rng.standard_normal(w0[p].shape).astype(np.float32) * 0.1
    d, reg = reg_grad(net, X, Y)
    dist2 = 0.0
    for p in d:
        diff = net.view("value", p).astype(np.float64) - w0[p]
        np.testing.assert_allclose(d[p], alpha * diff, rtol=1e-4, atol=1e-6)
        assert np.any(diff != 0)
        dist2 += (diff ** 2).sum()
    assert reg == pytest.approx(alpha / 2 * dist2, rel=1e-4)
    assert net.reg_value() == pytest.approx(reg, rel=1e-6)
    np.testing.assert_array_equal(net.view("snapshot", 0), w0[0])


def test_l2_weight_decay_in_the_loss():
    net, _ = mlp_net()
    X, Y = data()
    p = net.param_index("o.w")
    net.set_reg(p, 0.2, 0.0, 0.0)
    d, reg = reg_grad(net, X, Y)
    w = net.view("value", p).astype(np.float64)
    np.testing.assert_allclose(d[p], 0.2 * w, rtol=1e-4, atol=1e-7)
    assert reg == pytest.approx(0.1 * (w ** 2).sum(), rel=1e-4)
    for q in d:
        if q != p:
            assert np.all(d[q] == 0)


def test_ewc_uses_the_fisher_weights():
    net, _ = mlp_net()
    X, Y = data()
    lam = 2.0
    rng = np.random.default_rng(2)
    net.snapshot()
    w0 = values(net)
    F = {}
    for p in range(net.n_params):
        net.set_reg(p, 0.0, 0.0, lam)
        F[p] = rng.uniform(0, 1, w0[p].shape).astype(np.float32)
        F[p].flat[0] = 0.0
        net.view("fisher", p)[...] = F[p]
    d, reg = reg_grad(net, X, Y)
    assert reg == 0 and all(np.all(v == 0) for v in d.values())
    for p in range(net.n_params):
        net.view("value", p)[...] += rng.standard_normal(w0[p].shape).astype(np.float32) * 0.1
    d, reg = reg_grad(net, X, Y)
    total = 0.0
    for p in d:
        diff = net.view("value", p).astype(np.float64) - w0[p]
        np.testing.assert_allclose(d[p], lam * F[p] * diff, rtol=1e-4, atol=1e-6)
        assert d[p].flat[0] == 0  # zero Fisher: no pull
        total += (F[p] * diff ** 2).sum()
    assert reg == pytest.approx(lam / 2 * total, rel=1e-4)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_estimate_fisher_is_the_mean_squared_gradient(batch_size):
    m = make_mlp(n_in=5, hidden=(6,), n_out=3, seed=3)
    m.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    X, Y = data(n=10)
    m.estimate_fisher(X, Y.astype(np.int64), batch_size=batch_size)
    net = m._engine.net
    want = {p: np.zeros(net.view("value", p).shape) for p in range(net.n_params)}
    starts = list(range(0, len(X), batch_size))
    for s in starts:
        net.forward_backward([X[s:s + batch_size]], [Y[s:s + batch_size]], with_reg=False)
        for p in want:
            want[p] += net.view("grad", p).astype(np.float64) ** 2 / len(starts)
    for name, p in m._engine.param_index.items():
        assert np.any(want[p] > 0)
        np.testing.assert_allclose(m.fisher[name], want[p], rtol=1e-4, atol=1e-9, err_msg=name)
    # estimating again replaces (does not add to) the previous estimate
    m.estimate_fisher(X, Y.astype(np.int64), batch_size=batch_size)
    np.testing.assert_allclose(m.fisher["d0.w"], want[m._engine.param_index["d0.w"]], rtol=1e-4, atol=1e-9)


def test_model_regularize_l2sp_pulls_toward_source(toy_data):
    X, Y = toy_data
    m = make_mlp(seed=0)
    m.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    m.snapshot()
    src = m.state_dict()
    free = m.clone()
    m.regularize(l2sp=5.0)
    for mod in (m, free):
        mod.fit(X, np.roll(Y, 7), epochs=5, batch_size=16, verbose=False, shuffle=False)
    dist = lambda mod: sum(((mod.params[k] - src[k]) ** 2).sum() for k in src)  # noqa: E731
    assert dist(m) < 0.5 * dist(free)
    np.testing.assert_array_equal(m.source_params["d0.w"], src["d0.w"])


# ----------------------------------------------------------------- multitask

def two_head_net(seed, weights):
    net = _core.Net(seed)
    x = net.add("input", name="x", shape=(5,))
    h = net.add("dense", [x], "trunk", {"units": 6})
    t = net.add("tanh", [h], "t")
    a = net.add("dense", [t], "cls", {"units": 3})
    b = net.add("dense", [t], "attr", {"units": 2})
    net.finalize()
    if weights[0] is not None:
        net.add_loss("softmax_ce", a, "cls", weights[0])
    if weights[1] is not None:
        net.add_loss("sigmoid_bce", b, "attr", weights[1])
    return net


def test_multitask_gradient_is_the_weighted_sum_of_its_parts():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 5)).astype(np.float32)
    Y = rng.integers(-1, 3, 12).astype(np.int32)
    A = rng.integers(0, 2, (12, 2)).astype(np.float32)
    A[::3, 0] = np.nan
    w1, w2 = 0.7, 2.5
    both = two_head_net(9, (w1, w2))
    (l1, l2) = both.forward_backward([X], [Y, A])["loss"]
    g = grads(both)
    one = two_head_net(9, (1.0, None))
    (m1,) = one.forward_backward([X], [Y])["loss"]
    g1 = grads(one)
    two = two_head_net(9, (None, 1.0))
    (m2,) = two.forward_backward([X], [A])["loss"]
    g2 = grads(two)
    assert (l1, l2) == pytest.approx((m1, m2), rel=1e-6)
    for p in g:
        np.testing.assert_allclose(g[p], w1 * g1[p] + w2 * g2[p], rtol=1e-5, atol=1e-7)
    # each head only sees its own loss
    pa = both.param_index("attr.w")
    np.testing.assert_array_equal(g1[pa], 0)


def test_model_multitask_loss_weights_and_total():
    x = tl.Input((5,), name="x")
    t = L.Tanh(name="t")(L.Dense(6, name="trunk")(x))
    m = tl.Model(x, {"cls": L.Dense(3, name="c")(t), "attr": L.Dense(2, name="a")(t)}, seed=2)
    m.compile(tl.optim.SGD(0.0), loss={"cls": "softmax_ce", "attr": "sigmoid_bce"},
              loss_weights={"cls": 0.25, "attr": 3.0})
    rng = np.random.default_rng(1)
    X = rng.standard_normal((8, 5)).astype(np.float32)
    y = {"cls": rng.integers(0, 3, 8), "attr": rng.integers(0, 2, (8, 2)).astype(np.float32)}
    logs = m.train_on_batch(X, y)
    assert logs["loss"] == pytest.approx(0.25 * logs["cls"] + 3.0 * logs["attr"] + logs["reg"], rel=1e-6)
    ev = m.evaluate(X, y)
    assert ev["cls"] == pytest.approx(logs["cls"], rel=1e-5) and ev["attr"] == pytest.approx(logs["attr"], rel=1e-5)


# --------------------------------------------------------------- unlabelled

LOSS_CASES = {
    "softmax_ce": (3, lambda rng, n: rng.integers(0, 3, n).astype(np.int32),
                   lambda t, rows: np.where(rows, -1, t).astype(np.int32)),
    "sigmoid_bce": (3, lambda rng, n: rng.integers(0, 2, (n, 3)).astype(np.float32),
                    lambda t, rows: np.where(rows[:, None], np.nan, t).astype(np.float32)),
    "mse": (3, lambda rng, n: rng.standard_normal((n, 3)).astype(np.float32),
            lambda t, rows: np.where(rows[:, None], np.nan, t).astype(np.float32)),
    "soft_ce": (3, lambda rng, n: rng.dirichlet(np.ones(3), n).astype(np.float32),
                lambda t, rows: np.where(rows[:, None], np.nan, t).astype(np.float32)),
    # domain labels: -1 marks an example of neither domain
    "coral": (3, lambda rng, n: (np.arange(n) % 2).astype(np.int32),
              lambda t, rows: np.where(rows, -1, t).astype(np.int32)),
    # 0: the row counts in the mean activation, -1: it does not
    "kl_sparsity": (3, lambda rng, n: np.zeros(n, np.int32),
                    lambda t, rows: np.where(rows, -1, t).astype(np.int32)),
}


def test_every_loss_has_an_unlabelled_case():
    assert {o["name"] for o in _core.ops() if o["is_loss"]} == set(LOSS_CASES)


@pytest.mark.parametrize("kind", sorted(LOSS_CASES))
def test_unlabelled_examples_change_nothing(kind):
    C, make, hide = LOSS_CASES[kind]
    rng = np.random.default_rng(4)
    X = rng.standard_normal((12, 5)).astype(np.float32)
    T = make(rng, 12)
    rows = np.zeros(12, bool)
    rows[[0, 5, 6, 11]] = True
    full, _ = mlp_net(seed=1, n_out=C, losses=((kind, 0.9),))
    (lf,) = full.forward_backward([X], [hide(T, rows)])["loss"]
    gf = grads(full)
    part, _ = mlp_net(seed=1, n_out=C, losses=((kind, 0.9),))
    (lp,) = part.forward_backward([X[~rows]], [T[~rows]])["loss"]
    gp = grads(part)
    assert lf == pytest.approx(lp, rel=1e-6)
    for p in gf:
        np.testing.assert_allclose(gf[p], gp[p], rtol=1e-5, atol=1e-8)
    # a batch without any label contributes 0, not NaN
    none, _ = mlp_net(seed=1, n_out=C, losses=((kind, 0.9),))
    (ln,) = none.forward_backward([X], [hide(T, np.ones(12, bool))])["loss"]
    assert ln == 0.0
    for p in range(none.n_params):
        assert np.all(none.view("grad", p) == 0)
    r = none.evaluate([X], [hide(T, np.ones(12, bool))])
    assert r["loss_sum"].tolist() == [0.0] and r["count"].tolist() == [0]


def test_unlabelled_batch_leaves_weights_alone_with_plain_sgd():
    net, _ = mlp_net(losses=(("softmax_ce", 1.0),))
    net.set_optim("sgd")
    X, _ = data()
    before = values(net)
    net.train_step([X], [np.full(len(X), -1, np.int32)], 0.5)
    after = values(net)
    for p in before:
        assert np.array_equal(before[p], after[p])
        assert np.all(np.isfinite(after[p]))


# --------------------------------------------------------------- optimizers

def numpy_step(kind, w, g, st, lr, cfg, t):
    mu, nest, wd = cfg.get("momentum", 0.0), cfg.get("nesterov", False), cfg.get("weight_decay", 0.0)
    if kind == "sgd":
        g = g + wd * w
        if mu:
            st["m"] = mu * st["m"] + g
            g = g + mu * st["m"] if nest else st["m"]
        return w - lr * g
    b1, b2, eps = cfg.get("beta1", 0.9), cfg.get("beta2", 0.999), cfg.get("eps", 1e-8)
    if kind == "adamw":
        w = w - lr * wd * w
    else:
        g = g + wd * w
    st["m"] = b1 * st["m"] + (1 - b1) * g
    st["v"] = b2 * st["v"] + (1 - b2) * g * g
    mhat, vhat = st["m"] / (1 - b1 ** t), st["v"] / (1 - b2 ** t)
    return w - lr * mhat / (np.sqrt(vhat) + eps)


@pytest.mark.parametrize("kind,cfg", [
    ("sgd", {}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    ("sgd", {"weight_decay": 0.1}),
    ("adam", {}),
    ("adam", {"beta1": 0.5, "beta2": 0.9, "eps": 1e-3, "weight_decay": 0.02}),
    ("adamw", {"weight_decay": 0.1}),
])
def test_optimizer_matches_numpy(kind, cfg):
    net, _ = mlp_net(seed=5)
    net.set_optim(kind, **cfg)
    X, Y = data(seed=5)
    lrs = [0.1, 0.05, 0.0, 0.2, 0.1, 0.03]
    state = {p: {"m": 0.0, "v": 0.0} for p in range(net.n_params)}
    w = {p: v.astype(np.float64) for p, v in values(net).items()}
    for t, lr in enumerate(lrs, 1):
        net.forward_backward([X], [Y])
        g = {p: v.astype(np.float64) for p, v in grads(net).items()}
        net.train_step([X], [Y], lr)
        assert net.optim_steps == t
        for p in w:
            w[p] = numpy_step(kind, w[p], g[p], state[p], np.float32(lr), cfg, t)
            np.testing.assert_allclose(net.view("value", p), w[p], rtol=2e-5, atol=2e-6,
                                       err_msg=f"{kind} {cfg} step {t} param {p}")
            if not isinstance(state[p]["m"], float):
                np.testing.assert_allclose(net.view("m", p), state[p]["m"], rtol=1e-4, atol=1e-7)
            # continue from the core's weights so that rounding does not accumulate
            w[p] = net.view("value", p).astype(np.float64)


def test_zero_learning_rate_step_changes_nothing_with_sgd():
    net, _ = mlp_net()
    net.set_optim("sgd", momentum=0.9)
    X, Y = data()
    before = values(net)
    net.train_step([X], [Y], 0.0)
    for p, v in values(net).items():
        assert np.array_equal(v, before[p])


def test_train_batches_per_step_learning_rates_equal_single_steps():
    X, Y = data(n=20)
    lrs = np.array([0.1, 0.0, 0.3, 0.05, 0.2], np.float32)  # 5 steps of 4
    a, _ = mlp_net(seed=6)
    b, _ = mlp_net(seed=6)
    for net in (a, b):
        net.set_optim("sgd", momentum=0.5)
    res = a.train_batches([X], [Y], 4, lrs)
    assert sorted(res) == ["correct", "count", "loss", "reg"]
    assert res["loss"].shape == res["count"].shape == res["correct"].shape == (5, 1) and res["reg"].shape == (5,)
    for s, lr in enumerate(lrs):
        r = b.train_step([X[4 * s:4 * s + 4]], [Y[4 * s:4 * s + 4]], float(lr))
        (l,), reg, cnt, ok = r["loss"], r["reg"], r["count"], r["correct"]
        assert res["loss"][s, 0] == l and res["reg"][s] == reg
        assert res["count"][s, 0] == cnt[0] == 4 and res["correct"][s, 0] == ok[0]
    for p in range(a.n_params):
        assert np.array_equal(a.view("value", p), b.view("value", p))
    # with an index, rows are gathered in that order
    perm = np.random.default_rng(0).permutation(20)
    c, _ = mlp_net(seed=6)
    d, _ = mlp_net(seed=6)
    for net in (c, d):
        net.set_optim("sgd")
    c.train_batches([X], [Y], 8, lrs[:3], perm)
    for s in range(3):
        rows = perm[8 * s:8 * s + 8]
        d.train_step([X[rows]], [Y[rows]], float(lrs[s]))
    for p in range(c.n_params):
        assert np.array_equal(c.view("value", p), d.view("value", p))


def test_model_schedule_gives_the_per_step_learning_rate(toy_data):
    X, Y = toy_data
    sched = tl.optim.StepDecay(0.2, step_size=3, gamma=0.5)
    a = make_mlp(seed=4)
    a.compile(tl.optim.SGD(sched, momentum=0.9), loss="softmax_ce")
    b = make_mlp(seed=4)
    b.compile(tl.optim.SGD(0.123, momentum=0.9), loss="softmax_ce")
    a.fit(X, Y, epochs=2, batch_size=16, shuffle=False, verbose=False)
    for step in range(8):
        s = (step % 4) * 16
        b.train_on_batch(X[s:s + 16], Y[s:s + 16], lr=sched(step))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


# ------------------------------------------------------- per-step schedules

def dann_net(seed):
    """x -> f (dense) -> relu -> label head y; f -> grad_reverse g -> dropout d -> domain head z."""
    net = _core.Net(seed)
    x = net.add("input", name="x", shape=(5,))
    f = net.add("dense", [x], "f", {"units": 6})
    r = net.add("relu", [f], "r")
    y = net.add("dense", [r], "y", {"units": 3})
    g = net.add("grad_reverse", [r], "g")
    z = net.add("dense", [g], "z", {"units": 2})
    net.finalize()
    ly = net.add_loss("softmax_ce", y, "label")
    lz = net.add_loss("softmax_ce", z, "domain", 0.5)
    net.set_optim("adam")
    return net, {"x": x, "y": y, "g": g, "z": z, "label": ly, "domain": lz}


def dann_data(n=20, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5)).astype(np.float32)
    Y = rng.integers(-1, 3, n).astype(np.int32)
    D = rng.integers(0, 2, n).astype(np.int32)
    return X, Y, D


def test_train_batches_schedule_equals_single_steps_with_set_attr():
    X, Y, D = dann_data()
    lrs = np.array([0.01, 0.02, 0.005, 0.01, 0.03], np.float32)
    lam = np.array([0.0, 0.25, -1.0, 0.7, 2.0])  # float64: converted as set_attr's float would be
    wd = np.array([0.0, 1.0, 0.3, 2.5, 0.125], np.float32)
    a, n = dann_net(8)
    b, _ = dann_net(8)
    res = a.train_batches([X], [Y, D], 4, lrs,
                          schedule=[(n["g"], "lambda", lam), (n["domain"], "weight", wd)])
    for s, lr in enumerate(lrs):
        b.set_attr(n["g"], "lambda", float(np.float32(lam[s])))
        b.set_loss_weight(n["domain"], float(wd[s]))
        r = b.train_step([X[4 * s:4 * s + 4]], [Y[4 * s:4 * s + 4], D[4 * s:4 * s + 4]], float(lr))
        assert np.array_equal(res["loss"][s], r["loss"])
    for p in range(a.n_params):
        assert np.array_equal(a.view("value", p), b.view("value", p))
    # the last step's values stay
    assert a.attr(n["g"], "lambda") == np.float32(lam[-1]) and a.loss_weight(n["domain"]) == wd[-1]
    # a schedule changes the training: the same run with constant values does not give these weights
    c, _ = dann_net(8)
    c.train_batches([X], [Y, D], 4, lrs)
    assert any(not np.array_equal(a.view("value", p), c.view("value", p)) for p in range(a.n_params))
    # through an index, and train_step's scalar schedule, the same bits
    perm = np.random.default_rng(1).permutation(20)
    e, _ = dann_net(9)
    f, _ = dann_net(9)
    e.train_batches([X], [Y, D], 8, lrs[:3], perm, [(n["domain"], "weight", wd[:3]), (n["g"], "lambda", lam[:3])])
    for s in range(3):
        rows = perm[8 * s:8 * s + 8]
        f.train_step([X[rows]], [Y[rows], D[rows]], float(lrs[s]),
                     schedule=[(n["g"], "lambda", lam[s]), (n["domain"], "weight", float(wd[s]))])
    for p in range(e.n_params):
        assert np.array_equal(e.view("value", p), f.view("value", p))
    assert f.attr(n["g"], "lambda") == np.float32(lam[2]) and f.loss_weight(n["domain"]) == wd[2]


@pytest.mark.parametrize("entry, exc, words", [
    ("not a list", TypeError, "schedule: expected a list of (node, name, values), got str"),
    ([(0, "lambda")], TypeError, "schedule[0]: expected a tuple (node, name, values), got tuple of another length"),
    ([5], TypeError, "schedule[0]: expected a tuple (node, name, values), got int"),
    ([("g", "lambda", [0.0] * 3)], TypeError, "schedule[0]: node must be an int (a node index), got str"),
    ([(99, "lambda", [0.0] * 3)], ValueError, "schedule[0]: node 99 is out of range 0..7"),
    ([("G", 1, [0.0] * 3)], TypeError, "schedule[0]: name must be a str"),
    ([("G", "lamda", [0.0] * 3)], ValueError,
     "schedule[0]: grad_reverse 'g' (node 4) has no attribute 'lamda'; expected one of its settable values: 'lambda'"),
    ([("F", "units", [1.0] * 3)], ValueError,
     "schedule[0]: dense 'f' (node 1) fixes when built its 'units'; expected one of its settable values: none"),
    ([("G", "weight", [1.0] * 3)], ValueError, "grad_reverse 'g' (node 4) has no attribute 'weight'"),
    ([("DOMAIN", "temperature", [1.0] * 3)], ValueError,
     "softmax_ce 'domain' (node 7) has no attribute 'temperature'; expected one of its settable values: 'weight'"),
    ([("G", "lambda", [0.0] * 2)], ValueError,
     "schedule[0] ('lambda' of grad_reverse 'g'): expected 3 values, one per learning rate, got 2 values of 1 dimension"),
    ([("G", "lambda", np.zeros((3, 1)))], ValueError, "expected 3 values, one per learning rate, got 3 values of 2 dimensions"),
    ([("G", "lambda", ["a", "b", "c"])], TypeError, "schedule values of 'lambda': expected a real numeric array"),
    ([("G", "lambda", "abc")], TypeError, "schedule values of 'lambda': expected a NumPy array, got str"),
    ([("G", "lambda", [0.0, np.nan, 1.0])], ValueError,
     "schedule entry 0, step 1: grad_reverse 'g': lambda must be finite, got nan"),
    ([("G", "lambda", [0.0, 1.0, np.inf])], ValueError,
     "schedule entry 0, step 2: grad_reverse 'g': lambda must be finite, got inf"),
    ([("G", "lambda", [0.0] * 3), ("DOMAIN", "weight", [1.0, -0.5, 1.0])], ValueError,
     "schedule entry 1, step 1: loss 'domain': weight must be finite and >= 0, got -0.5"),
    ([("G", "lambda", [0.0] * 3), ("G", "lambda", [1.0] * 3)], ValueError,
     "schedule entries 0 and 1 both set the lambda of grad_reverse 'g'"),
])
def test_train_batches_refuses_a_bad_schedule_and_changes_nothing(entry, exc, words):
    X, Y, D = dann_data(n=12)
    net, n = dann_net(2)
    names = {"G": n["g"], "F": 1, "DOMAIN": n["domain"]}
    if isinstance(entry, list):
        entry = [tuple(names.get(v, v) if isinstance(v, str) and k == 0 else v for k, v in enumerate(e))
                 if isinstance(e, tuple) else e for e in entry]
    before = values(net)
    given = repr(entry)
    with pytest.raises(exc) as err:
        net.train_batches([X], [Y, D], 4, np.full(3, 0.1, np.float32), schedule=entry)
    assert words in str(err.value)
    assert repr(entry) == given  # the caller's schedule is not modified
    for p, v in values(net).items():
        assert np.array_equal(v, before[p])
    assert net.attr(n["g"], "lambda") == 1.0 and net.loss_weight(n["domain"]) == 0.5 and net.optim_steps == 0


def test_train_step_schedule_and_set_loss_weight_errors():
    X, Y, D = dann_data(n=4)
    net, n = dann_net(2)
    with pytest.raises(TypeError, match=r"schedule\[0\] \('lambda' of grad_reverse 'g'\): expected a real number, "
                                        r"got list"):
        net.train_step([X], [Y, D], 0.1, schedule=[(n["g"], "lambda", [0.5])])
    with pytest.raises(TypeError, match=r"expected a tuple \(node, name, value\)"):
        net.train_step([X], [Y, D], 0.1, schedule=[(n["g"], "lambda")])
    with pytest.raises(ValueError, match="schedule entry 0, step 0: loss 'domain': weight must be finite and >= 0, got nan"):
        net.train_step([X], [Y, D], 0.1, schedule=[(n["domain"], "weight", float("nan"))])
    assert net.optim_steps == 0 and net.loss_weight(n["domain"]) == 0.5
    with pytest.raises(ValueError, match=r"loss 'domain': weight must be finite and >= 0, got -1"):
        net.set_loss_weight(n["domain"], -1.0)
    with pytest.raises(ValueError, match=r"dense 'f' \(node 1\) is not a loss: only a loss node has a weight"):
        net.set_loss_weight(1, 1.0)
    with pytest.raises(ValueError, match=r"node 1 \('f'\) is not a loss"):
        net.loss_weight(1)
    with pytest.raises(IndexError, match="node index 42 out of range"):
        net.set_loss_weight(42, 1.0)
    net.set_loss_weight(n["domain"], 2.0)
    assert net.loss_weight(n["domain"]) == 2.0
    # a weight of 0 removes a loss from the gradient, whatever its value
    X, Y, D = dann_data(n=8)
    a, _ = dann_net(5)
    b, _ = dann_net(5)
    b.clear_losses()
    b.add_loss("softmax_ce", n["y"], "label")
    a.train_step([X], [Y, D], 0.01, schedule=[(n["domain"], "weight", 0)])
    b.train_step([X], [Y], 0.01)
    for p in range(a.n_params):
        assert np.array_equal(a.view("value", p), b.view("value", p))
