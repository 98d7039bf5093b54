"""The NumPy twin of every op (tests/twins.py) against the C core: forward
outputs in training and evaluation mode, input and parameter gradients,
loss values and loss gradients.  Parametrised over the core's op table; an
op without a twin fails by name."""
import numpy as np
import pytest

from tlearn import _core, _ops
from twins import BUILDERS, OPS, TWINS, Built

OP_NAMES = [o["name"] for o in _core.ops()]
RTOL, ATOL = 2e-4, 1e-5


def test_every_op_has_a_twin():
    missing = [n for n in OP_NAMES if n not in TWINS]
    assert not missing, f"ops without a NumPy twin in tests/twins.py: {missing}"


def params64(b):
    return {s: b.net.view("value", p).astype(np.float64) for s, p in b.params.items()}


def check_layer(c):
    twin = TWINS[c["op"]]
    b = Built(c, seed=11)
    net = b.net
    xs64 = [x.astype(np.float64) for x in b.xs]
    # parameters away from their initial values (biases 0, gammas 1) so they matter
    rng = np.random.default_rng(3)
    for s, p in b.params.items():
        v = net.view("value", p)
        v[...] = twin.param_values(s, v.shape, rng)
    buffers = [p["name"] for p in _ops.params(c["op"]) if p["buffer"]]
    for train in (False, True):
        P = params64(b)
        ctx = {"rng_state": net.rng_state}
        (y,) = net.forward(b.xs, [b.node], train, 0)
        want = twin.forward(c, xs64, P, train, ctx)
        assert y.shape == want.shape, c["id"]
        np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL, err_msg=f"{c['id']} forward train={train}")
        for s in buffers if train else ():
            # the row's buffers (running statistics) were updated (or not, at momentum 0) as the twin says
            np.testing.assert_allclose(net.view("value", b.params[s]), ctx[s], rtol=1e-4, atol=1e-6,
                                       err_msg=f"{c['id']} buffer {s}")
    # gradients: mse loss with weight w on the op's output, train mode
    P = params64(b)
    ctx = {"rng_state": b.rng_state}
    y = twin.forward(c, xs64, P, True, ctx)
    (loss,) = b.backward()["loss"]
    t = b.target.astype(np.float64)
    np.testing.assert_allclose(loss, np.mean((y - t) ** 2), rtol=1e-4)
    dy = b.weight * 2 * (y - t) / y.size
    dxs, dP = twin.backward(c, xs64, P, y, dy, ctx)
    scale = max(np.abs(d).max() for d in dxs)
    assert scale > 0, c["id"]
    for k, i in enumerate(b.ins):
        np.testing.assert_allclose(net.input_grad(i, c["B"]), dxs[k], rtol=1e-3, atol=1e-5 * scale,
                                   err_msg=f"{c['id']} d/dx{k}")
    trained = b.trained_params()
    assert set(dP) == set(trained) == set(_ops.trained_params(c["op"], c["attrs"])), (c["id"], sorted(dP),
                                                                                      sorted(trained))
    for s, p in trained.items():
        g = net.view("grad", p)
        np.testing.assert_allclose(g, dP[s], rtol=1e-3, atol=1e-5 * max(1.0, np.abs(dP[s]).max()),
                                   err_msg=f"{c['id']} d/d{s}")


def check_loss(c):
    twin = TWINS[c["op"]]
    b = Built(c, seed=11)
    x = b.xs[0].astype(np.float64)
    (loss,) = b.backward()["loss"]
    np.testing.assert_allclose(loss, twin.forward(c, x, b.target), rtol=1e-5, err_msg=f"{c['id']} loss value")
    g = b.net.input_grad(b.ins[0], c["B"])
    want = b.weight * twin.backward(c, x, b.target)
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-6, err_msg=f"{c['id']} d/dlogits")
    # unlabelled rows get exactly zero gradient
    unl = twin.missing(b.target)
    assert unl.any(), f"{c['id']}: a case with no unlabelled row"
    assert np.all(g[unl] == 0)
    # evaluation-mode loss equals the training-mode one (no op in between)
    r = b.net.evaluate(b.xs, [b.target])
    assert r["loss_sum"][0] / r["count"][0] == pytest.approx(loss, rel=1e-6)


@pytest.mark.parametrize("op", OP_NAMES)
def test_twin_matches_core(op):
    if op not in TWINS:
        pytest.fail(f"op '{op}' has no NumPy twin in tests/twins.py")
    for c in BUILDERS[op](np.random.default_rng(100 + OP_NAMES.index(op))):
        (check_loss if OPS[op]["is_loss"] else check_layer)(c)


def test_dropout_twin_reproduces_the_core_mask():
    """The twin's splitmix64 stream gives the very mask of the core (bit for bit)."""
    c = BUILDERS["dropout"](np.random.default_rng(0))[0]
    b = Built(c)
    b.net.rng_state = 12345
    (y,) = b.net.forward(b.xs, [b.node], True, 0)
    ctx = {"rng_state": 12345}
    want = TWINS["dropout"].forward(c, [b.xs[0].astype(np.float64)], {}, True, ctx)
    np.testing.assert_array_equal(y == 0, want == 0)
    assert 0 < np.mean(y == 0) < 1


@pytest.mark.parametrize("B", [1, 3, 17])
def test_batch_sizes_change_between_calls(B):
    """Re-planning for a larger or smaller batch gives the twin's answers."""
    c = BUILDERS["conv2d"](np.random.default_rng(1))[0]
    b = Built(c)
    rng = np.random.default_rng(B)
    for n in (B, 2 * B + 1, B):
        x = rng.standard_normal((n,) + c["inputs"][0]).astype(np.float32)
        (y,) = b.net.forward([x], [b.node], False, 0)
        want = TWINS["conv2d"].forward(c, [x.astype(np.float64)], params64(b), False, {})
        np.testing.assert_allclose(y, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("B,stride,pad", [(5, 1, 2), (7, 1, 0)])
def test_conv_in_chunks_matches_its_twin(B, stride, pad):
    """A convolution whose im2col matrix exceeds the core's chunk (about 4 MB:
    here 1.4 and 1.1 MB per example) goes through the lowering a few examples at a
    time; outputs and all gradients match the twin across the chunk
    boundaries, including a last, smaller chunk."""
    from twins import case, conv_attrs, normal

    rng = np.random.default_rng(7)
    c = case("conv2d", [(16, 30, 30)], B, [normal(rng, (B, 16, 30, 30))], conv_attrs(6, (5, 5), (stride, stride), (pad, pad)),
             tag=f"chunks,B{B},s{stride}")
    check_layer(c)


@pytest.mark.parametrize("k", [0, 1])
def test_frozen_batchnorm_twin_matches_core(k):
    """A BatchNorm whose gamma and beta are frozen, in a training step
    (forward_backward): the output is the evaluation-mode output, the running
    statistics stay, and the input gradient is the twin's gamma invstd dy."""
    c = BUILDERS["batchnorm"](np.random.default_rng(7))[k]
    twin = TWINS["batchnorm"]
    b = Built(c, seed=11)
    net = b.net
    rng = np.random.default_rng(4)
    for s, p in b.params.items():
        v = net.view("value", p)
        v[...] = rng.uniform(0.5, 2.0, v.shape) if s == "running_var" else rng.standard_normal(v.shape)
    for s in ("w", "b"):
        net.set_trainable(b.params[s], False)
    before = {s: net.view("value", p).copy() for s, p in b.params.items()}
    P = params64(b)
    ctx = {}
    y = twin.forward(c, [x.astype(np.float64) for x in b.xs], P, "frozen", ctx)
    (loss,) = b.backward()["loss"]
    t = b.target.astype(np.float64)
    np.testing.assert_allclose(loss, np.mean((y - t) ** 2), rtol=1e-4)
    (ye,) = net.forward(b.xs, [b.node], False, 0)
    np.testing.assert_allclose(ye, y, rtol=RTOL, atol=ATOL)
    for s, v in before.items():
        np.testing.assert_array_equal(net.view("value", b.params[s]), v, err_msg=s)
    dy = b.weight * 2 * (y - t) / y.size
    dxs, _ = twin.backward(c, b.xs, P, y, dy, ctx)
    assert np.abs(dxs[0]).max() > 0
    np.testing.assert_allclose(net.input_grad(b.ins[0], c["B"]), dxs[0], rtol=1e-3, atol=1e-5 * np.abs(dxs[0]).max())
