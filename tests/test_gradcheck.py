"""Finite-difference gradient checks of every op and every loss of the core's
op table, for inputs and parameters.

Central differences of the float32 core's loss (accumulated in double) with a
step of 1e-2, compared with the analytic gradient by relative error with the
tolerance of the op's twin.  Inputs are built away from kinks (relu/leaky at
0, ties of max pooling) by the cases of the op's twin in twins.py; the
parameters a case must have had checked are those of the op's row (the op
table's parameter info).  A new op without a twin fails
test_every_op_has_a_builder and its own parametrised case.
"""
import numpy as np
import pytest

from tlearn import _core, _ops
from twins import BUILDERS, TWINS, Built

EPS = 1e-2
OP_NAMES = [o["name"] for o in _core.ops()]


def test_every_op_has_a_builder():
    missing = [n for n in OP_NAMES if n not in BUILDERS]
    assert not missing, f"ops without a gradient-check builder in tests/twins.py: {missing}"


def test_builders_name_only_real_ops():
    assert set(BUILDERS) <= set(OP_NAMES)


def numeric_grad(b, arr, eps):
    """d objective / d arr by central differences, perturbing arr in place."""
    g = np.zeros(arr.shape, np.float64)
    flat, gf = arr.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = b.objective()
        flat[i] = old - eps
        fm = b.objective()
        flat[i] = old
        gf[i] = (fp - fm) / (2 * eps)
    return g


def assert_close(analytic, numeric, tol, what):
    a, n = np.asarray(analytic, np.float64).ravel(), np.asarray(numeric, np.float64).ravel()
    scale = max(np.abs(a).max(), np.abs(n).max())
    assert scale > 1e-4, f"{what}: gradient is trivially zero (max {scale:g})"
    rel = np.linalg.norm(a - n) / max(np.linalg.norm(a), np.linalg.norm(n))
    worst = np.abs(a - n).max() / scale
    assert rel < tol and worst < 3 * tol, (f"{what}: relative error {rel:.2e} (worst element {worst:.2e}), "
                                           f"tolerance {tol:g}\nanalytic {a[:8]}\nnumeric  {n[:8]}")


def check_case(c):
    twin = TWINS[c["op"]]
    eps, tol = EPS, twin.grad_tol
    b = Built(c)
    b.backward()
    net = b.net
    in_grads = [net.input_grad(i, c["B"]) for i in b.ins]
    p_grads = {s: net.view("grad", p).copy() for s, p in b.trained_params().items()}
    sign = twin.grad_sign(c)
    for k, x in enumerate(b.xs):
        num = numeric_grad(b, x, eps)
        assert_close(in_grads[k], sign * num, tol, f"{c['id']} d/dx{k}")
    for s, p in b.trained_params().items():
        num = numeric_grad(b, net.view("value", p), eps)
        assert_close(p_grads[s], num, tol, f"{c['id']} d/d{s}")
    return b


@pytest.mark.parametrize("op", OP_NAMES)
def test_gradient_matches_finite_differences(op):
    if op not in BUILDERS:
        pytest.fail(f"op '{op}' has no gradient-check builder in tests/twins.py")
    cases = BUILDERS[op](np.random.default_rng(OP_NAMES.index(op)))
    assert cases
    for c in cases:
        assert c["op"] == op
        b = check_case(c)
        # every trained parameter the row declares for these attributes had its gradient checked
        assert sorted(b.trained_params()) == sorted(_ops.trained_params(op, c["attrs"])), c["id"]
    # and each of the row's trained parameters in some case
    checked = {p for c in cases for p in _ops.trained_params(op, c["attrs"])}
    assert checked == {p["name"] for p in _ops.params(op) if not p["buffer"]}, op


def test_grad_reverse_lambda_set_between_steps():
    """grad = -lambda * (numeric gradient of the identity path), lambda set with set_attr."""
    c = BUILDERS["grad_reverse"](np.random.default_rng(5))[0]
    b = Built(c)
    x = b.xs[0]
    num = numeric_grad(b, x, 1e-2)
    for lam in (0.0, 0.25, 3.0):
        b.net.set_attr(b.node, "lambda", lam)
        assert b.net.attr(b.node, "lambda") == pytest.approx(lam)
        b.backward()
        g = b.net.input_grad(b.ins[0], c["B"])
        np.testing.assert_allclose(g, -lam * num, rtol=1e-2, atol=1e-4)
        # the forward stays the identity whatever lambda is
        (y,) = b.net.forward(b.xs, [b.node], True, 0)
        np.testing.assert_array_equal(y, x)


def test_dropout_mask_fixed_by_rng_state_and_changes_otherwise():
    c = BUILDERS["dropout"](np.random.default_rng(6))[0]
    b = Built(c)
    s = b.net.rng_state
    (y1,) = b.net.forward(b.xs, [b.node], True, 0)
    (y2,) = b.net.forward(b.xs, [b.node], True, 0)
    b.net.rng_state = s
    (y3,) = b.net.forward(b.xs, [b.node], True, 0)
    np.testing.assert_array_equal(y1, y3)
    assert not np.array_equal(y1, y2)
    rate = c["attrs"]["rate"]
    dropped = np.mean(y1 == 0)
    assert 0.1 < dropped < 0.8, dropped
    kept = y1 != 0
    np.testing.assert_allclose(y1[kept], b.xs[0][kept] / (1 - rate), rtol=1e-6)
    # evaluation mode is the identity
    (ye,) = b.net.forward(b.xs, [b.node], False, 0)
    np.testing.assert_array_equal(ye, b.xs[0])


def test_composite_network_gradient():
    """A chain dense -> tanh -> dense -> softmax_ce plus a second mse head: every parameter."""
    rng = np.random.default_rng(7)
    net = _core.Net(3)
    x = net.add("input", name="x", shape=(5,))
    h = net.add("dense", [x], "h", {"units": 6, "init": "glorot"})
    a = net.add("tanh", [h], "a")
    o = net.add("dense", [a], "o", {"units": 3})
    r = net.add("dense", [a], "r", {"units": 2, "use_bias": False})
    net.finalize()
    net.add_loss("softmax_ce", o, "ce", 0.6)
    net.add_loss("mse", r, "reg", 1.3)
    net.set_input_grad(x, True)
    X = rng.standard_normal((8, 5)).astype(np.float32)
    Y = rng.integers(-1, 3, 8).astype(np.int32)
    T = rng.standard_normal((8, 2)).astype(np.float32)

    def f():
        (l1, l2) = net.forward_backward([X], [Y, T], with_reg=False)["loss"]
        return 0.6 * l1 + 1.3 * l2

    f()
    gx = net.input_grad(x, 8)
    grads = {p: net.view("grad", p).copy() for p in range(net.n_params)}

    class B:
        objective = staticmethod(f)

    assert_close(gx, numeric_grad(B, X, 1e-2), 1e-2, "composite d/dx")
    for p, g in grads.items():
        assert_close(g, numeric_grad(B, net.view("value", p), 1e-2), 1e-2, f"composite d/d{p}")


@pytest.mark.parametrize("k", [0, 1])
def test_frozen_batchnorm_gradient_matches_finite_differences(k):
    """A BatchNorm whose gamma and beta are frozen runs in inference mode in a
    training step (Keras's rule): the input gradient of the training objective
    (forward_backward) against its central differences, running statistics
    away from their initial values, and unchanged by the many forwards."""
    c = BUILDERS["batchnorm"](np.random.default_rng(OP_NAMES.index("batchnorm")))[k]
    b = Built(c)
    net = b.net
    rng = np.random.default_rng(9)
    for s, p in b.params.items():
        v = net.view("value", p)
        v[...] = rng.uniform(0.3, 3.0, v.shape) if s == "running_var" else rng.standard_normal(v.shape)
        if s in ("w", "b"):
            net.set_trainable(p, False)
    stats = {s: net.view("value", b.params[s]).copy() for s in ("running_mean", "running_var")}
    (loss,) = b.backward()["loss"]
    r = net.evaluate(b.xs, [b.target])  # the training objective is the inference-mode one
    assert loss == pytest.approx(r["loss_sum"][0] / r["count"][0], rel=1e-5)
    g = net.input_grad(b.ins[0], c["B"])
    num = numeric_grad(b, b.xs[0], EPS)
    assert_close(g, num, 1e-2, f"{c['id']} frozen d/dx")
    for s, v in stats.items():
        np.testing.assert_array_equal(net.view("value", b.params[s]), v, err_msg=s)
