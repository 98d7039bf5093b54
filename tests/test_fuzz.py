"""Property tests (hypothesis) throwing hostile arguments at every public
entry point of ``tlearn._core.Net`` and ``tlearn.Model``, and random or
mutated bytes at the two file parsers (the model file, IDX).

Each case ends in the exception the reference (tests/fuzz/strategies.py)
predicts, or in a result equal to that of the same call on canonical
float32/int32 C-contiguous arrays on an identical network; never in a crash.
After every case the network still trains: a valid step gives finite losses.

Example counts: TLEARN_FUZZ_SCALE (default 1) multiplies them; the last test
prints the number of examples run and checks the total.
"""
import gzip
import os
import pickle
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import tlearn as tl
from tlearn import _core, io as tio, layers as L
from tlearn.datasets import _idx

from fuzz.strategies import INTS, LRS, NO_TARGETS, Invalid, canon_batch, fuzz_array, lr_value

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
SCALE = float(os.environ.get("TLEARN_FUZZ_SCALE", "1"))
COUNTS = {}
ALLOWED = (ValueError, TypeError, KeyError, IndexError, tl.TlearnError)


def fuzz_settings(n):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def count(name):
    COUNTS[name] = COUNTS.get(name, 0) + 1


# ------------------------------------------------------------------ a network

IN_TAILS = [(4,), (2, 3)]
LOSS_SPECS = [("int", 3), ("float", (2,))]


def build_net(seed=0, losses=True, optim=True):
    """Inputs a (4,) and b (2, 3) -> concat -> dense 5 -> relu -> heads cls (3,
    softmax_ce) and reg (2, mse)."""
    n = _core.Net(seed)
    a = n.add("input", [], "a", shape=[4])
    b = n.add("input", [], "b", shape=[2, 3])
    rb = n.add("reshape", [b], "rb", shape=[6])
    c = n.add("concat", [a, rb], "c")
    h = n.add("dense", [c], "h", attrs={"units": 5})
    r = n.add("relu", [h], "r")
    n.add("dense", [r], "cls", attrs={"units": 3, "init": "glorot"})
    n.add("dense", [r], "reg", attrs={"units": 2, "init": "glorot"})
    n.finalize()
    if losses:
        n.add_loss("softmax_ce", 6, "cls")
        n.add_loss("mse", 7, "reg")
    if optim:
        n.set_optim("sgd", momentum=0.9)
    return n


NODES = {"a": 0, "b": 1, "rb": 2, "c": 3, "h": 4, "r": 5, "cls": 6, "reg": 7}


def valid_batch(B=4, seed=1):
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((B, 4)).astype(np.float32), rng.standard_normal((B, 2, 3)).astype(np.float32)]
    ys = [rng.integers(-1, 3, B).astype(np.int64), rng.standard_normal((B, 2)).astype(np.float32)]
    return xs, ys


def values(net):
    return [net.view("value", p).copy() for p in range(net.n_params)]


def assert_still_trains(net, init=None):
    """A valid step on ``net`` succeeds with finite losses (weights first reset
    to ``init`` so that a legitimately diverged step does not count)."""
    if init is not None:
        for p, v in enumerate(init):
            net.view("value", p)[...] = v
        net.reset_optim()
    xs, ys = valid_batch()
    r = net.train_step(xs, ys, 0.05)
    losses, reg = r["loss"], r["reg"]
    assert np.isfinite(losses).all() and np.isfinite(reg), losses
    assert all(np.isfinite(v).all() for v in values(net))


def same(a, b):
    np.testing.assert_array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


def expect(exc, fn, *args, **kw):
    """Run fn; return its result if exc is None, else check the raised class."""
    event(f"refused: {exc.__name__ if exc else None}")
    if exc is None:
        return fn(*args, **kw)
    with pytest.raises(exc):
        fn(*args, **kw)
    return None


def int_arg(v):
    """What the binding's 'i' conversion does with v: the int, or Invalid."""
    if isinstance(v, (bool, int, np.integer)):
        if not -2**31 <= int(v) <= 2**31 - 1:
            raise Invalid(OverflowError, "beyond a C int")  # Python's own error for C int arguments
        return int(v)
    raise Invalid(TypeError, "not an int")


@st.composite
def batches(draw, p_bad=0.08):
    B = draw(st.sampled_from([1, 2, 3, 4, 5, 0, 1, 3]))
    mode = draw(st.sampled_from(["list"] * 16 + ["tuple"] * 4 + ["junk", "short", "long"]))
    xs = [draw(fuzz_array((B,) + t, p_bad=p_bad)) for t in IN_TAILS]
    ys = [draw(fuzz_array((B,), label_classes=3, p_bad=p_bad)), draw(fuzz_array((B, 2), p_bad=p_bad))]
    if mode == "tuple":
        xs, ys = tuple(xs), tuple(ys)
    elif mode == "junk":
        if draw(st.booleans()):
            xs = draw(st.sampled_from([None, xs[0], {"a": xs[0]}, "ab", 3]))
        else:
            ys = draw(st.sampled_from([None, ys[0], {"cls": ys[0]}, "ab", 3]))
    elif mode == "short":
        xs, ys = (xs[:1], ys) if draw(st.booleans()) else (xs, ys[:1])
    elif mode == "long":
        xs, ys = (xs + [xs[0]], ys) if draw(st.booleans()) else (xs, ys + [ys[0]])
    return xs, ys


# --------------------------------------------------- 1. data calls of the Net

@fuzz_settings(1200)
@given(method=st.sampled_from(["train_step", "forward", "evaluate", "forward_backward", "train_batches",
                               "accumulate_fisher", "train_step", "train_batches"]),
       data=st.data())
def test_net_data_calls(method, data):
    count("net data calls")
    xs, ys = data.draw(batches())
    net, twin = build_net(), build_net()
    init = values(net)
    if method == "train_step":
        lr = data.draw(LRS)
        try:
            lrv = lr_value(lr)
            cx, cy = canon_batch(xs, ys, IN_TAILS, LOSS_SPECS)
            if not (np.isfinite(lrv) and lrv >= 0):
                raise Invalid(ValueError, "lr")
        except Invalid as e:
            expect(e.exc, net.train_step, xs, ys, lr)
        else:
            event("valid")
            got = net.train_step(xs, ys, lr)
            want = twin.train_step(cx, cy, float(lrv))
            same(got["loss"], want["loss"]), same((got["count"], got["correct"]), (want["count"], want["correct"]))
            for g, w in zip(values(net), values(twin)):
                same(g, w)
    elif method == "forward":
        outs = data.draw(st.sampled_from([[6, 7], [4], [], [0, 2, 3], [99], [-1], [8], "x", None, [6] * 300,
                                          [2**40]]))
        bs = data.draw(INTS)
        train = data.draw(st.booleans())
        try:
            int_arg(bs)
            outs_l = [] if outs is None else outs  # None reads as no outputs
            if isinstance(outs, str):
                raise Invalid(TypeError, "outputs")
            if len(outs_l) > 256 or any(o > 2**31 for o in outs_l):
                raise Invalid(ValueError, "outputs")
            if any(o < 0 or o >= net.n_nodes for o in outs_l):
                raise Invalid(IndexError, "output node")
            if any(o >= 8 for o in outs_l):
                raise Invalid(ValueError, "a loss")
            cx, _ = canon_batch(xs, NO_TARGETS, IN_TAILS, LOSS_SPECS)
        except Invalid as e:
            expect(e.exc, net.forward, xs, outs, train, bs)
        else:
            event("valid")
            got = net.forward(xs, outs, train, bs)
            want = twin.forward(cx, outs, train, bs)
            assert len(got) == len(outs_l)
            for g, w in zip(got, want):
                assert g.dtype == np.float32 and g.flags.c_contiguous
                same(g, w)
    elif method == "evaluate":
        bs = data.draw(INTS)
        try:
            int_arg(bs)
            cx, cy = canon_batch(xs, ys, IN_TAILS, LOSS_SPECS)
        except Invalid as e:
            expect(e.exc, net.evaluate, xs, ys, bs)
        else:
            event("valid")
            got = net.evaluate(xs, ys, bs)
            want = twin.evaluate(cx, cy, bs)
            assert sorted(got) == sorted(want) == ["correct", "count", "loss_sum"]
            for k in got:
                same(got[k], want[k])
    elif method in ("forward_backward", "accumulate_fisher"):
        try:
            cx, cy = canon_batch(xs, ys, IN_TAILS, LOSS_SPECS)
        except Invalid as e:
            if method == "forward_backward":
                expect(e.exc, net.forward_backward, xs, ys, True)
            else:
                expect(e.exc, net.accumulate_fisher, xs, ys, 0.5)
        else:
            event("valid")
            if method == "forward_backward":
                same(net.forward_backward(xs, ys, True)["loss"], twin.forward_backward(cx, cy, True)["loss"])
                arena = "grad"
            else:
                net.accumulate_fisher(xs, ys, 0.5)
                twin.accumulate_fisher(cx, cy, 0.5)
                arena = "fisher"
            for p in range(net.n_params):
                same(net.view(arena, p), twin.view(arena, p))
    else:
        _train_batches_case(net, twin, xs, ys, data)
    assert_still_trains(net, init)


def _train_batches_case(net, twin, xs, ys, data):
    bs = data.draw(INTS)
    nsteps = data.draw(st.integers(0, 6))
    lr_kind = data.draw(st.sampled_from(["f4", "f8", "list", "bad", "nan", "2d", "junk"]))
    lrs = {"f4": np.full(nsteps, 0.05, np.float32), "f8": np.full(nsteps, 0.05), "list": [0.05] * nsteps,
           "bad": np.array([0.05] * nsteps + [-1.0]), "nan": np.array([0.05] * nsteps + [np.nan]),
           "2d": np.full((nsteps, 1), 0.05), "junk": data.draw(st.sampled_from([None, "ab", 0.1, {"a": 1}]))}[lr_kind]
    idx_kind = data.draw(st.sampled_from([None, None, "perm", "perm", "range", "bad", "float", "2d", "u8", "list",
                                          "junk"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    try:
        B = np.shape(xs[0])[0] if isinstance(xs, (list, tuple)) and xs and np.ndim(xs[0]) else 3
    except ValueError:  # ragged
        B = 3
    index = {None: None, "perm": rng.permutation(max(B, 1)), "range": rng.integers(0, max(B, 1), B + 3),
             "bad": np.array([0, B + 5, -1][:data.draw(st.integers(1, 3))]), "float": np.arange(B, dtype=np.float64),
             "2d": np.zeros((B, 1), np.int64), "u8": np.array([0, 2**64 - 1], np.uint64), "list": list(range(B)),
             "junk": data.draw(st.sampled_from(["ab", 3, {"a": 1}]))}[idx_kind]
    call = lambda n, x, y, l, i: n.train_batches(x, y, bs, l, i)  # noqa: E731
    if lr_kind == "junk" or (idx_kind == "junk" and index is not None):
        try:
            call(net, xs, ys, lrs, index)
        except (*ALLOWED, OverflowError):
            return
        return  # a junk argument that converts (0.1 as a 1-element list is refused by ndim) is fine too
    try:
        b = int_arg(bs)
        lr_arr = np.asarray(lrs, dtype=np.float32)
        if lr_arr.ndim != 1:
            raise Invalid(ValueError, "lrs ndim")
        if index is not None:
            ia = np.asarray(index)
            if ia.dtype.kind not in "iu":
                raise Invalid(TypeError, "index dtype")
            if ia.size and ia.max() > 2**63 - 1:
                raise Invalid(ValueError, "index beyond int64")
            if ia.ndim != 1:
                raise Invalid(ValueError, "index ndim")
        cx, cy = canon_batch(xs, ys, IN_TAILS, LOSS_SPECS, check_finite=False, check_labels=False)
        # the core: batch size, steps, the index and labels of every row, then the inputs of the rows the steps read
        if b <= 0:
            raise Invalid(ValueError, "bs")
        N = len(index) if index is not None else len(cx[0])
        if len(lr_arr) > -(-N // b):
            raise Invalid(ValueError, "too many steps")
        rows = slice(None)
        if index is not None:
            ia = rows = ia.astype(np.int64)
            if ia.size and (ia.min() < 0 or ia.max() >= len(cx[0])):
                raise Invalid(IndexError, "index")
        for t, (kind, arg) in zip(cy, LOSS_SPECS):
            if kind == "int" and t[rows].size and (t[rows].min() < -1 or t[rows].max() >= arg):
                raise Invalid(ValueError, "label out of range")
        read = ia[:len(lr_arr) * b] if index is not None else slice(0, len(lr_arr) * b)
        if not all(np.isfinite(a[read]).all() for a in cx):
            raise Invalid(ValueError, "non-finite row")
        for s in range(len(lr_arr)):
            if not (np.isfinite(lr_arr[s]) and lr_arr[s] >= 0):
                raise Invalid(ValueError, "lr")
    except Invalid as e:
        expect(e.exc, call, net, xs, ys, lrs, index)
    else:
        event("valid")
        got = call(net, xs, ys, lrs, index)
        want = twin.train_batches(cx, cy, b, lr_arr, None if index is None else ia)
        assert sorted(got) == ["correct", "count", "loss", "reg"] and got["loss"].shape == (len(lr_arr), 2)
        for k in got:
            same(got[k], want[k])
        for g, w in zip(values(net), values(twin)):
            same(g, w)


# --------------------------------- 2. the other entry points, in any order

OPS = ["add", "add_bad", "finalize", "add_loss", "add_loss_bad", "clear_losses", "set_optim", "set_optim_bad",
       "train", "train_bad", "forward", "view", "view_write", "set_attr", "attr", "set_reg", "set_trainable",
       "reset_param", "snapshot", "param_info", "node", "set_input_grad", "input_grad", "forward_backward",
       "optim_steps", "rng_state", "check_finite", "reg_value", "reset_optim", "param_index"]


def _index(data):
    return data.draw(st.one_of(st.integers(-3, 12), st.sampled_from([2**31, -2**31 - 1, 2**40, "1", None, 1.0])))


@fuzz_settings(500)
@given(ops=st.lists(st.sampled_from(OPS), min_size=1, max_size=12), data=st.data())
def test_net_calls_in_any_order(ops, data):
    """Random sequences of building, configuration and training calls with
    valid and invalid arguments: each ends in a result or an allowed
    exception, wrong-order calls in TlearnError; completing the build
    afterwards gives a network that trains."""
    count("net calls in any order")
    n = _core.Net(data.draw(st.integers(0, 2**64 - 1)))
    built = []  # nodes added so far, in order: "a", "b", ...
    plan = [("input", [], "a", None, [4]), ("input", [], "b", None, [2, 3]), ("reshape", [1], "rb", None, [6]),
            ("concat", [0, 2], "c", None, ()), ("dense", [3], "h", {"units": 5}, ()), ("relu", [4], "r", None, ()),
            ("dense", [5], "cls", {"units": 3, "init": "glorot"}, ()),
            ("dense", [5], "reg", {"units": 2, "init": "glorot"}, ())]
    state = {"optim": False, "losses": 0}

    def finalized():
        return n.finalized

    for op in ops:
        try:
            if op == "add":
                if finalized():
                    with pytest.raises(tl.TlearnError):
                        n.add("relu", [0], "late")
                elif len(built) < len(plan):
                    n.add(*plan[len(built)])
                    built.append(plan[len(built)][2])
            elif op == "add_bad":
                bad = data.draw(st.sampled_from([
                    ("nope", [], "x", None, [4]), ("input", [], "x", None, []), ("input", [], "x", None, [0]),
                    ("input", [], "x", None, [-3, 2]), ("input", [], "x", None, [2**16, 2**16]),
                    ("input", [], "x", None, [1, 2, 3, 4, 5]), ("dense", [99], "x", {"units": 3}, ()),
                    ("dense", [0], "x", {"units": 0}, ()), ("dense", [0], "x", {"units": 3, "init": 9}, ()),
                    ("dense", [0], "x", {"units": 3, "bias": 1}, ()), ("dense", [-1], "x", {"units": 3}, ()),
                    ("dense", [0], "x", {}, ()), ("dense", [0], "x", (3, 0, 1), ()),
                    ("dense", [0], "x", {"units": 3, "init": "uniform"}, ()), ("dense", [0], "x", {3: 3}, ()),
                    ("concat", [0], "x", None, ()), ("reshape", [0], "x", None, [7]),
                    ("reshape", [0], "x", None, [-1, -1]), ("dropout", [0], "x", {"rate": 2.0}, ()),
                    ("dropout", [0], "x", {"rate": np.nan}, ()), ("softmax_ce", [0], "x", None, ()),
                    ("relu", [0], "y" * 200, None, ()), ("relu", [0, 0], "x", None, ()), ("relu", [0], "x", {"a": 1}, ()),
                    ("conv2d", [0], "x", {"filters": 2, "kh": 3, "kw": 3}, ()),
                    ("dense", [0], "x", {"units": 2**31}, ()), ("dense", [0], "x", {"units": 2**80}, ()),
                    ("relu", [2**40], "x", None, ()), ("relu", "ab", "x", None, ()), ("relu", [0], 5, None, ()),
                    ("dense", [0], "x", {"units": "3"}, ()), ("leaky_relu", [0], "x", {"alpha": "a"}, ()),
                    ("relu", [0], "a", None, ())]))
                before = n.n_nodes
                with pytest.raises((*ALLOWED, OverflowError)):
                    n.add(*bad)
                assert n.n_nodes == before
            elif op == "finalize":
                if finalized() or not built:
                    with pytest.raises(tl.TlearnError):
                        n.finalize()
                else:
                    n.finalize()
            elif op == "add_loss":
                if not finalized():
                    with pytest.raises(tl.TlearnError):
                        n.add_loss("mse", 0, "l")
                elif "cls" in built and state["losses"] == 0:
                    n.add_loss("softmax_ce", built.index("cls"), "cls")
                    state["losses"] = 1
            elif op == "add_loss_bad":
                bad = data.draw(st.sampled_from([("relu", 0), ("mse", 99), ("mse", -1), ("nope", 0), ("mse", 2**40),
                                                 ("softmax_ce", 0, "x", -1.0), ("mse", 0, "x", np.nan),
                                                 ("soft_ce", 0, "x", 1.0, {"temperature": 0.0}),
                                                 ("soft_ce", 0, "x", 1.0, {"temperature": 1.0, "t": 2.0})]))
                before = n.n_losses
                with pytest.raises((*ALLOWED, OverflowError)):
                    n.add_loss(*bad)
                assert n.n_losses == before
            elif op == "clear_losses":
                n.clear_losses()
                state["losses"] = 0
            elif op == "set_optim":
                n.set_optim(data.draw(st.sampled_from(["sgd", "adam", "adamw"])))
                state["optim"] = True
            elif op == "set_optim_bad":
                kw = data.draw(st.sampled_from([{"kind": "rmsprop"}, {"kind": "sgd", "momentum": 1.0},
                                                {"kind": "sgd", "momentum": -0.5}, {"kind": "sgd", "nesterov": True},
                                                {"kind": "adam", "beta1": 1.0}, {"kind": "adam", "eps": 0.0},
                                                {"kind": "sgd", "weight_decay": np.inf},
                                                {"kind": "sgd", "momentum": np.nan}, {"kind": 3}]))
                with pytest.raises(ALLOWED):
                    n.set_optim(**kw)
            elif op in ("train", "forward_backward"):
                xs, ys = valid_batch(3)
                ys = ys[:n.n_losses] if n.n_losses <= 1 else ys
                complete = finalized() and len(built) == len(plan)
                fn = n.train_step if op == "train" else n.forward_backward
                arg = 0.05 if op == "train" else True
                if not finalized():
                    with pytest.raises(tl.TlearnError):
                        fn(xs, ys, arg)
                elif not complete:
                    with pytest.raises(ALLOWED):
                        fn(xs, ys, arg)
                elif state["losses"] == 0 or (op == "train" and not state["optim"]):
                    with pytest.raises(tl.TlearnError):
                        fn(xs, [], arg)
                else:
                    res = fn(xs, ys[:1], arg)
                    assert np.isfinite(res[0]).all()
            elif op == "train_bad":
                xs, ys = data.draw(batches(p_bad=0.6))
                with pytest.raises(ALLOWED):
                    n.train_step(xs, ys, float("nan"))
            elif op == "forward":
                outs = [data.draw(st.integers(-2, 10))]
                try:
                    r = n.forward(valid_batch(3)[0], outs)
                    assert np.isfinite(r[0]).all()
                except ALLOWED:
                    pass
            elif op in ("view", "view_write"):
                p = _index(data)
                which = data.draw(st.sampled_from(["value", "grad", "mask", "snapshot", "fisher", "m", "v", "nope"]))
                try:
                    v = n.view(which, p)
                except (*ALLOWED, OverflowError):
                    pass
                else:
                    assert v.dtype == np.float32 and v.base is n
                    if op == "view_write" and which in ("mask", "snapshot"):
                        v[...] = 1.0
            elif op == "set_attr":
                try:
                    n.set_attr(_index(data), data.draw(st.sampled_from(["lambda", "rate", "momentum", "units", "", "x"])),
                               data.draw(st.sampled_from([0.5, np.nan, np.inf, -1.0, "x"])))
                except (*ALLOWED, OverflowError):
                    pass
            elif op in ("attr", "param_info", "node", "reset_param", "set_trainable", "set_reg",
                        "param_index"):
                i = _index(data)
                calls = {"attr": lambda: n.attr(i, data.draw(st.sampled_from(["units", "init", "use_bias", "x"]))),
                         "param_info": lambda: n.param_info(i), "node": lambda: n.node(i),
                         "reset_param": lambda: n.reset_param(i),
                         "set_trainable": lambda: n.set_trainable(i, data.draw(st.booleans())),
                         "set_reg": lambda: n.set_reg(i, data.draw(st.sampled_from([0.0, 0.01, -1.0, np.nan, np.inf]))),
                         "param_index": lambda: n.param_index(data.draw(st.sampled_from(["h.w", "", "x" * 500, 3])))}
                try:
                    calls[op]()
                except (*ALLOWED, OverflowError):
                    pass
            elif op == "set_input_grad":
                try:
                    n.set_input_grad(_index(data), data.draw(st.booleans()))
                except (*ALLOWED, OverflowError):
                    pass
            elif op == "input_grad":
                try:
                    g = n.input_grad(_index(data), data.draw(st.sampled_from([1, 3, 4, 100000, 0, -1])))
                    assert g.shape[0] <= 3
                except (*ALLOWED, OverflowError):
                    pass
            elif op == "optim_steps":
                v = data.draw(st.sampled_from([0, 5, -1, 2**63, "x"]))
                try:
                    n.optim_steps = v
                except (*ALLOWED, OverflowError):
                    pass
            elif op == "rng_state":
                try:
                    n.rng_state = data.draw(st.sampled_from([0, 2**64 - 1, -1, 2**64, "x"]))
                except (*ALLOWED, OverflowError):
                    pass
            elif op == "check_finite":
                n.set_check_finite(data.draw(st.booleans()))
            elif op in ("snapshot", "reg_value"):
                if not finalized():
                    with pytest.raises(tl.TlearnError):
                        getattr(n, op)()
                else:
                    getattr(n, op)()
            elif op == "reset_optim":
                n.reset_optim()
        except pytest.fail.Exception:
            raise
    # complete the build and train
    if not finalized():
        while len(built) < len(plan):
            n.add(*plan[len(built)])
            built.append(plan[len(built)][2])
        n.finalize()
    if len(built) < len(plan):
        return  # finalized early: the network is complete as built; only check that it computes
    n.clear_losses()
    n.add_loss("softmax_ce", 6, "cls")
    n.add_loss("mse", 7, "reg")
    n.set_optim("sgd")
    n.set_check_finite(False)
    for p in range(n.n_params):
        n.set_trainable(p, True)
        n.set_reg(p, 0.0, 0.0, 0.0)
        n.view("mask", p)[...] = 1.0
    for node in range(n.n_nodes):
        for a in ("units", "init", "use_bias", "rate"):
            try:
                n.attr(node, a)
            except KeyError:
                continue
    assert_still_trains(n, [np.random.default_rng(p).standard_normal(n.view("value", p).shape).astype(np.float32) * 0.3
                            for p in range(n.n_params)])


# ---------------------------------------------------- 3. the Model surface

def build_model(seed=0):
    a = tl.Input((4,), name="a")
    b = tl.Input((2, 3), name="b")
    c = L.Concat(name="c")([a, L.Flatten(name="fb")(b)])
    r = L.ReLU(name="r")(L.Dense(5, name="h")(c))
    m = tl.Model({"a": a, "b": b}, {"cls": L.Dense(3, name="cls")(r), "reg": L.Dense(2, name="reg")(r)}, seed=seed)
    return m


def compile_model(m):
    m.compile(tl.optim.SGD(0.05, momentum=0.9), loss={"cls": "softmax_ce", "reg": "mse"})


@st.composite
def model_xy(draw):
    xs, ys = draw(batches(p_bad=0.12))
    if not isinstance(xs, (list, tuple)) or not isinstance(ys, (list, tuple)) or not xs or not ys:
        return xs, ys  # junk (an empty list among it: a zero-size batch as a list), passed as it is
    form = draw(st.sampled_from(["dict", "dict", "list", "missing", "extra", "renamed"]))
    X = {"a": xs[0], "b": xs[1]} if len(xs) >= 2 else {"a": xs[0]}
    Y = {"cls": ys[0], "reg": ys[1]} if len(ys) >= 2 else {"cls": ys[0]}
    if form == "list":
        return list(X.values()), list(Y.values())
    if form == "missing":
        X.pop("b", None)
    elif form == "extra":
        Y["other"] = ys[0]
    elif form == "renamed":
        X["A"] = X.pop("a")
    return X, Y


def model_canon(X, Y):
    """Canonical lists for a Model call, or Invalid (any allowed class)."""
    if isinstance(X, dict):
        if set(X) != {"a", "b"}:
            raise Invalid(KeyError)
        xs = [X["a"], X["b"]]
    elif isinstance(X, (list, tuple)) and len(X) == 2:
        xs = list(X)
    else:
        raise Invalid(ValueError)
    ys = NO_TARGETS
    if Y is not NO_TARGETS:
        if isinstance(Y, dict):
            if set(Y) != {"cls", "reg"}:
                raise Invalid(KeyError)
            ys = [Y["cls"], Y["reg"]]
        elif isinstance(Y, (list, tuple)) and len(Y) == 2:
            ys = list(Y)
        else:
            raise Invalid(ValueError)
    # the Model accepts any array-like NumPy converts (not only arrays/lists)
    xs = [x if isinstance(x, (np.ndarray, list, tuple)) else _wrap(x) for x in xs]
    if ys is not NO_TARGETS:
        ys = [y if isinstance(y, (np.ndarray, list, tuple)) else _wrap(y) for y in ys]
    return canon_batch(xs, ys, IN_TAILS, LOSS_SPECS)


def _wrap(x):
    try:
        a = np.asarray(x)
    except Exception:
        raise Invalid(ValueError)
    if a.dtype == object:
        raise Invalid(TypeError)
    return a


@fuzz_settings(600)
@given(method=st.sampled_from(["fit", "train_on_batch", "predict", "evaluate", "load_weights", "compile",
                               "before_compile", "fit", "train_on_batch"]),
       data=st.data())
def test_model_calls(method, data):
    count("model calls")
    m = build_model()
    if method != "before_compile":
        compile_model(m)
    init = m.state_dict()
    twin = m.clone()
    X, Y = data.draw(model_xy())
    if method == "before_compile":
        with pytest.raises(tl.TlearnError, match="not compiled"):
            getattr(m, data.draw(st.sampled_from(["fit", "train_on_batch", "evaluate"])))(X, Y)
        compile_model(m)
    elif method == "compile":
        bad = data.draw(st.sampled_from([
            dict(optimizer="sgd", loss="mse"), dict(optimizer=tl.optim.SGD(0.1), loss=None),
            dict(optimizer=tl.optim.SGD(0.1), loss="mse"), dict(optimizer=tl.optim.SGD(0.1), loss={"nope": "mse"}),
            dict(optimizer=tl.optim.SGD(0.1), loss={"cls": "hinge"}),
            dict(optimizer=tl.optim.SGD(0.1), loss={"cls": "mse", "reg": "softmax_ce"}),
            dict(optimizer=tl.optim.SGD(0.1), loss={"cls": "softmax_ce"}, loss_weights={"reg": 1.0}),
            dict(optimizer=tl.optim.SGD(0.1), loss={"cls": "softmax_ce"}, loss_weights={"cls": -1.0}),
            dict(optimizer=tl.optim.SGD(0.1), loss={"cls": "softmax_ce"}, loss_weights={"cls": float("nan")}),
            dict(optimizer=tl.optim.SGD(0.1), loss={"cls": ["softmax_ce", "softmax_ce"]}),
        ]))
        try:
            m.compile(**bad)
        except ALLOWED:
            pass
        compile_model(m)  # a failed compile leaves a model that compiles again
    elif method == "load_weights":
        w = {k: v.copy() for k, v in init.items()}
        change = data.draw(st.sampled_from(["ok", "drop", "extra", "shape", "nan", "str", "complex", "f8", "int",
                                            "list", "not_dict", "fortran", "swapped"]))
        strict = data.draw(st.booleans())
        k0 = sorted(w)[data.draw(st.integers(0, len(w) - 1))]
        exc = None
        if change == "drop":
            del w[k0]
            exc = KeyError if strict else None
        elif change == "extra":
            w["zz.w"] = np.zeros(3)
            exc = KeyError if strict else None
        elif change == "shape":
            w[k0] = np.zeros(w[k0].shape + (1,), np.float32)
            exc = ValueError
        elif change == "nan":
            w[k0] = w[k0].copy()
            w[k0].flat[0] = np.nan
            exc = ValueError
        elif change in ("str", "complex"):
            w[k0] = w[k0].astype("U8" if change == "str" else np.complex64)
            exc = TypeError
        elif change == "f8":
            w[k0] = w[k0].astype(np.float64) * 2
        elif change == "int":
            w[k0] = np.ones(w[k0].shape, np.int64)
        elif change == "list":
            w[k0] = w[k0].tolist()
        elif change == "fortran":
            w[k0] = np.asfortranarray(w[k0] * 3)
        elif change == "swapped":
            w[k0] = (w[k0] * 3).astype(w[k0].dtype.newbyteorder())
        elif change == "not_dict":
            w = list(w.items())
            exc = TypeError
        if exc:
            before = m.state_dict()
            with pytest.raises(exc):
                m.load_weights(w, strict=strict)
            for k, v in m.state_dict().items():  # a refused load changes nothing
                same(v, before[k])
        else:
            m.load_weights(w, strict=strict)
            for k, v in w.items():
                if k in init:
                    same(m.params[k], np.asarray(v, dtype=np.float32))
    else:
        try:
            cx, cy = model_canon(X, NO_TARGETS if method == "predict" else Y)
        except Invalid:
            kw = _model_kw(method, data)
            if method == "fit" and kw["epochs"] == 0:
                # nothing to do: refused, or an empty history and unchanged weights
                try:
                    assert _model_call(m, method, X, Y, data, kw) == {}
                except ALLOWED:
                    pass
            else:
                with pytest.raises(ALLOWED):
                    _model_call(m, method, X, Y, data, kw)
        else:
            event("valid")
            kw = _model_kw(method, data)
            got = _model_call(m, method, X, Y, data, kw)
            want = _model_call(twin, method, {"a": cx[0], "b": cx[1]},
                               {"cls": cy[0], "reg": cy[1]} if cy else None, data, kw)
            if isinstance(got, dict):
                assert set(got) == set(want)
                for k in got:
                    same(got[k], want[k])
            for k, v in m.state_dict().items():
                same(v, twin.params[k])
    m.load_weights(init)
    m._net.reset_optim()
    xs, ys = valid_batch()
    out = m.train_on_batch({"a": xs[0], "b": xs[1]}, {"cls": ys[0], "reg": ys[1]})
    assert all(np.isfinite(v) for v in out.values()), out


def _model_kw(method, data):
    if method == "fit":
        return dict(epochs=data.draw(st.integers(0, 2)), batch_size=data.draw(st.sampled_from([1, 2, 3, 64, 2**31 - 1,
                                                                                                  2**40])),
                    shuffle=data.draw(st.booleans()), verbose=False)
    if method == "train_on_batch":
        return dict(lr=data.draw(st.sampled_from([None, 0.0, 0.05])))
    return dict(batch_size=data.draw(st.sampled_from([1, 2, 1024, 2**31 - 1, 2**40])))


def _model_call(m, method, X, Y, data, kw=None):
    kw = kw if kw is not None else _model_kw(method, data)
    if method == "fit":
        return m.fit(X, Y, **kw)
    if method == "train_on_batch":
        return m.train_on_batch(X, Y, **kw)
    if method == "predict":
        return m.predict(X, **kw)
    return m.evaluate(X, Y, **kw)


@fuzz_settings(150)
@given(bs=st.one_of(st.integers(-2**70, 2**70), st.sampled_from([0, -1, 2**31, 1.0, "8", None, True, np.int64(4)])),
       epochs=st.one_of(st.integers(-3, 2), st.sampled_from([2**40, 1.0, "1", None])))
def test_model_sizes(bs, epochs):
    """Huge, negative and non-integer batch sizes and epoch counts."""
    count("model sizes")
    m = build_model()
    compile_model(m)
    xs, ys = valid_batch(5)
    X, Y = {"a": xs[0], "b": xs[1]}, {"cls": ys[0], "reg": ys[1]}
    ok_bs = isinstance(bs, int) and not isinstance(bs, bool) and bs > 0  # a batch larger than the data is the whole data
    ok_ep = isinstance(epochs, int) and 0 <= epochs <= 2
    if bs is None and ok_ep:  # fit's default batch size (32); predict has its own
        twin = m.clone()
        h, h2 = m.fit(X, Y, epochs=epochs, batch_size=bs, verbose=False), twin.fit(X, Y, epochs=epochs, batch_size=32,
                                                                                  verbose=False)
        for k in h:
            same(h[k], h2[k])
        with pytest.raises((ValueError, TypeError)):
            m.predict(X, batch_size=bs)
    elif ok_bs and ok_ep:
        twin = m.clone()
        h = m.fit(X, Y, epochs=epochs, batch_size=bs, verbose=False)
        h2 = twin.fit(X, Y, epochs=epochs, batch_size=min(bs, 5), verbose=False)
        assert h.keys() == h2.keys()
        for k in h:
            same(h[k], h2[k])
        same(m.predict(X, batch_size=bs)["cls"], twin.predict(X, batch_size=5)["cls"])
        assert m.evaluate(X, Y, batch_size=bs) == twin.evaluate(X, Y, batch_size=5)
    elif not ok_bs and bs is not None and (isinstance(epochs, int) and epochs >= 0):
        with pytest.raises((ValueError, TypeError)):
            m.fit(X, Y, epochs=epochs, batch_size=bs, verbose=False)
        with pytest.raises((ValueError, TypeError)):
            m.predict(X, batch_size=bs)
    elif not ok_ep and epochs != 2**40:
        with pytest.raises((ValueError, TypeError)):
            m.fit(X, Y, epochs=epochs, batch_size=2, verbose=False)


# ------------------------------------------------------------ 4. parsers

def _small_model_bytes():
    m = build_model()
    compile_model(m)
    meta, arrays = m._get_state()
    return tio.dumps(meta, arrays)


MODEL_BYTES = _small_model_bytes()


@st.composite
def mutated(draw, base):
    data = bytearray(base)
    how = draw(st.sampled_from(["flip", "bytes", "truncate", "insert", "random", "splice", "header"]))
    if how == "random":
        return draw(st.binary(max_size=400))
    if how == "truncate":
        return bytes(data[:draw(st.integers(0, len(data)))])
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if how == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif how == "bytes" and data:
            data[i] = draw(st.integers(0, 255))
        elif how == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif how == "splice":
            j = draw(st.integers(0, len(data)))
            del data[min(i, j):max(i, j)]
        elif how == "header":  # a hostile but well-formed-looking header length field
            data[12:20] = struct.pack("<Q", draw(st.sampled_from([0, 1, 2**63, 2**64 - 1, len(base), 10**6])))
    return bytes(data)


JSON_VALUES = st.one_of(st.sampled_from([None, True, 0, -1, 1, 2**31, 2**63, 1e308, -0.5, float("nan"), "", "x", "he",
                                         "Dense", "softmax_ce", [], {}, [1], {"a": 1}, [None], "../x", "a" * 300]),
                        st.integers(-10, 10), st.text(max_size=5))


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        yield path, obj
        for k, v in obj.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(obj, list):
        yield path, obj
        for i, v in enumerate(obj):
            yield from _leaves(v, path + (i,))
    else:
        yield path, obj


@st.composite
def json_mutated(draw, base):
    """The model file with one to three values of its JSON header replaced,
    deleted or duplicated, re-encoded with a valid checksum."""
    import copy
    import json

    hlen = struct.unpack_from("<Q", base, 12)[0]
    header = json.loads(base[20:20 + hlen])
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p, _ in _leaves(header) if p]
        if not paths:  # earlier mutations deleted every value
            break
        if draw(st.integers(0, 3)):  # mostly the settings, sometimes the array table
            paths = [p for p in paths if p[0] == "meta" and len(p) > 1] or paths
        path = draw(st.sampled_from(paths))
        parent = header
        for k in path[:-1]:
            parent = parent[k]
        how = draw(st.sampled_from(["replace", "replace", "delete", "swap"]))
        if how == "delete" or (how == "swap" and isinstance(parent, dict)):
            del parent[path[-1]]
        elif how == "swap" and isinstance(parent, list) and len(parent) > 1:
            parent.insert(0, parent.pop(path[-1]))
        else:
            # a copy: a later mutation of a drawn list or dict must not change the strategy's own constants
            parent[path[-1]] = copy.deepcopy(draw(JSON_VALUES))
    h = json.dumps(header).encode()
    return _recrc(base[:12] + struct.pack("<Q", len(h)) + h + base[20 + hlen:])


def _recrc(data):
    body = data[:-4] if len(data) >= 4 else data
    return body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF)


@fuzz_settings(400)
@given(data=st.data())
def test_model_file_parser(data, tmp_path_factory):
    """Random and mutated model files: a clean ValueError, or (when the
    mutation keeps the file valid) the loaded model."""
    count("model file parser")
    how = data.draw(st.sampled_from(["bytes", "bytes+crc", "json"]))
    if how == "json":
        blob = data.draw(json_mutated(MODEL_BYTES))
    else:
        blob = data.draw(mutated(MODEL_BYTES))
        if how == "bytes+crc":
            blob = _recrc(blob)  # get past the checksum: exercise the header and payload checks
    try:
        meta, arrays = tio.loads(blob)
    except ValueError:
        event("refused")
        return
    event("parsed")
    assert isinstance(meta, dict) and all(isinstance(k, str) and isinstance(v, np.ndarray) for k, v in arrays.items())
    # parsed: building a model from it must also fail cleanly or succeed -- unless
    # the mutation made a layer so large that building it would need gigabytes
    if _largest_int(meta.get("layers")) > 10**5:
        return
    path = tmp_path_factory.mktemp("m") / "m.tlm"
    path.write_bytes(blob)
    try:
        m = tl.load(path)
    except ValueError:
        event("load refused")
        return
    event("loaded")
    assert isinstance(m, tl.Model)


def _largest_int(obj):
    if isinstance(obj, dict):
        return max((_largest_int(v) for v in obj.values()), default=0)
    if isinstance(obj, list):
        return max((_largest_int(v) for v in obj), default=0)
    if isinstance(obj, int):
        return abs(obj)
    if isinstance(obj, float):
        return abs(obj) if obj == obj else 0
    return 0


def test_model_file_deeply_nested_header():
    blob = tio.MAGIC + struct.pack("<IQ", tio.VERSION, 200000) + b"[" * 200000
    with pytest.raises(ValueError, match="unreadable header"):
        tio.loads(_recrc(blob + b"\0\0\0\0"))


@st.composite
def idx_files(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    code, dt = draw(st.sampled_from(sorted(_idx.IDX_DTYPES.items())))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    a = (rng.standard_normal(shape) * 50).astype(dt)
    raw = bytes([0, 0, code, len(shape)]) + np.asarray(shape, ">u4").tobytes() + a.tobytes()
    how = draw(st.sampled_from(["valid", "mutate", "random", "gzip", "gzip_mutate", "dims"]))
    if how == "random":
        raw = draw(st.binary(max_size=200))
    elif how in ("mutate", "gzip_mutate"):
        raw = draw(mutated(raw)) if how == "mutate" else draw(mutated(gzip.compress(raw, mtime=0)))
    elif how == "gzip":
        raw = gzip.compress(raw, mtime=0)
    elif how == "dims":
        raw = bytes([0, 0, code, len(shape)]) + np.asarray(
            [draw(st.sampled_from([0, 1, 2**31, 2**32 - 1, 65536])) for _ in shape], ">u4").tobytes() + a.tobytes()
    return raw, (a if how in ("valid", "gzip") else None)


@fuzz_settings(400)
@given(f=idx_files())
def test_idx_parser(f, tmp_path_factory):
    count("IDX parser")
    raw, want = f
    path = tmp_path_factory.mktemp("i") / "f.idx"
    path.write_bytes(raw)
    try:
        got = _idx.read_idx(path)
    except ValueError:
        assert want is None
        event("refused")
        return
    event("parsed")
    if want is not None:
        assert got.dtype == want.dtype.newbyteorder("=") and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    # whatever parsed must be the declared array and nothing else
    raw2 = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    assert got.size * got.dtype.itemsize == len(raw2) - 4 - 4 * got.ndim


# ------------------------------------------------- 5. the first hour's entry points

@st.composite
def batch_items(draw):
    """One item of an iterable of batches: usually (X, Y) of model_xy, sometimes
    a non-tuple, a 1-, 3- or 4-tuple."""
    X, Y = draw(model_xy())
    form = draw(st.sampled_from(["pair"] * 6 + ["list", "junk", "one", "three", "four"]))
    if form == "pair":
        return (X, Y)
    if form == "list":
        return [X, Y]
    if form == "junk":
        return draw(st.sampled_from(JUNK_ITEMS))
    return {"one": (X,), "three": (X, Y, np.ones(3)), "four": (X, Y, X, Y)}[form]


JUNK_ITEMS = [None, 3, "xy", b"xy", {"a": 1}, np.ones(3), object()]


def batch_canon(item):
    """The canonical (xs, ys) of a batch item, or Invalid."""
    if not isinstance(item, (tuple, list)):
        raise Invalid(TypeError, "not a tuple")
    if len(item) != 2:
        raise Invalid(ValueError, "not a pair")
    xs, ys = model_canon(*item)
    if xs[0].shape[0] == 0:
        raise Invalid(ValueError, "empty batch")
    return xs, ys


@fuzz_settings(300)
@given(items=st.lists(batch_items(), min_size=1, max_size=3), as_gen=st.booleans())
def test_fit_on_batches(items, as_gen):
    """fit on a list or a generator of hostile batches: the steps of the valid
    batches before the first bad one run exactly as train_on_batch on their
    canonical arrays, then the bad one is refused with an allowed exception."""
    count("fit on batches")
    m = build_model()
    compile_model(m)
    twin = m.clone()
    bad = None
    for k, item in enumerate(items):
        try:
            xs, ys = batch_canon(item)
        except Invalid as e:
            bad = (k, e.exc)
            break
        twin._net.train_step(xs, ys, 0.05)
    arg = (it for it in items) if as_gen else list(items)
    if bad is None:
        h = m.fit(arg, epochs=1, verbose=0)
        assert len(h["loss"]) == 1 and m._step == len(items)
    else:
        if bad[0] == 0 and not as_gen:
            # a list whose first item is no tuple is read as arrays: any clean refusal
            with pytest.raises(ALLOWED):
                m.fit(arg, epochs=1, verbose=0)
        else:
            with pytest.raises(ALLOWED) as ei:
                m.fit(arg, epochs=1, verbose=0)
            assert f"batch {bad[0]}" in str(ei.value) or not isinstance(ei.value, (ValueError, TypeError)), ei.value
    for k in m.params:
        same(m.params[k], twin.params[k])
    # the model still trains, as its twin does (a hostile batch of huge values may have driven both to
    # infinity, so the losses are compared, not required finite)
    xs, ys = valid_batch()
    got, want = m._net.train_step(xs, ys, 0.01), twin._net.train_step(xs, ys, 0.01)
    for k in ("loss", "reg", "count", "correct"):
        same(got[k], want[k])


TORCH_SUFFIX = {"w": "weight", "b": "bias"}


@fuzz_settings(300)
@given(data=st.data())
def test_load_weights_torch_names(data):
    """Hostile PyTorch-named state dicts: either every named parameter is loaded
    exactly, or an allowed exception and no parameter changed (load_weights
    checks everything before it writes)."""
    count("torch names")
    m = build_model()
    before = m.state_dict()
    sd = {}
    for name, v in before.items():
        layer, attr = name.rsplit(".", 1)
        key = data.draw(st.sampled_from([f"{layer}.{TORCH_SUFFIX[attr]}"] * 4 + [name, f"{layer}x.{attr}",
                                                                                   f"no.{layer}.weight", "", layer]))
        val = data.draw(st.sampled_from(["ok"] * 5 + ["T", "short", "nan", "str", "drop"]))
        if val == "drop":
            continue
        a = np.full(v.shape, 0.5, np.float32)
        sd[key] = {"ok": a, "T": a.T.copy(), "short": a.reshape(-1)[:-1], "nan": np.full(v.shape, np.nan),
                   "str": np.full(v.shape, "x")}[val]
    if data.draw(st.booleans()):
        sd["h.num_batches_tracked"] = np.array(3)
    strict = data.draw(st.booleans())
    try:
        loaded = m.load_weights(sd, strict=strict)
    except ALLOWED:
        event("refused")
        for k, v in before.items():
            assert np.array_equal(m.params[k], v), k
        return
    event("loaded")
    for k in m.params:
        assert np.array_equal(m.params[k], np.full(m.params[k].shape, 0.5, np.float32) if k in loaded else before[k])
    if strict:
        assert sorted(loaded) == sorted(m.params)


class _Pickled:
    """Unpickles as tlearn's model reducer applied to ``blob``."""

    def __init__(self, blob):
        self.blob = blob

    def __reduce__(self):
        from tlearn.model import _unpickle

        return (_unpickle, (self.blob, None))


@fuzz_settings(200)
@given(data=st.data())
def test_pickle_of_mutated_model_bytes(data):
    """A pickle whose model-file bytes are mutated: a clean ValueError, or a model."""
    count("pickle parser")
    blob = data.draw(mutated(MODEL_BYTES))
    if data.draw(st.booleans()):
        blob = _recrc(blob)
    try:
        meta, _ = tio.loads(blob)
    except ValueError:
        meta = None
    if meta is not None and _largest_int(meta.get("layers")) > 10**5:
        return
    raw = pickle.dumps(_Pickled(blob))
    try:
        m = pickle.loads(raw)
    except ValueError as e:
        event("refused")
        assert "pickled tlearn.Model" in str(e)
        return
    event("loaded")
    assert isinstance(m, tl.Model)


# ------------------------------------------- 5. files, values, freezing, frozen BatchNorm

PATH_KINDS = ["new", "regular", "link", "relative link", "link chain", "dangling link", "directory", "fifo",
              "link to directory", "link to fifo", "device"]


@fuzz_settings(120)
@given(kind=st.sampled_from(PATH_KINDS), writer=st.sampled_from(["save", "write_atomic", "checkpoint"]),
       umask=st.sampled_from([0o022, 0o077, 0o002, 0o027]), mode=st.sampled_from([0o600, 0o640, 0o644, 0o755]))
def test_save_paths(kind, writer, umask, mode, tmp_path_factory):
    """Every writer against every kind of path: a regular file (new, existing,
    behind one link, a chain, a relative or a dangling link) is written with
    the right bytes and mode, the link stays a link; a directory, FIFO or
    device (directly or behind a link) is refused and left as it was."""
    import stat as _stat

    count("save paths")
    d = tmp_path_factory.mktemp("paths")
    real = d / "real.bin"
    target = {"new": d / "new.bin", "regular": real, "link": real, "relative link": real, "link chain": real,
              "dangling link": d / "made.bin", "directory": d / "dir", "fifo": d / "fifo",
              "link to directory": d / "dir", "link to fifo": d / "fifo", "device": d / "null"}[kind]
    if kind in ("regular", "link", "relative link", "link chain"):
        real.write_bytes(b"old")
        os.chmod(real, mode)
    elif "directory" in kind:
        target.mkdir()
    elif "fifo" in kind:
        os.mkfifo(target)
    elif kind == "device":
        try:
            os.mknod(target, _stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except OSError:
            event("device: not root, skipped")
            return
    path = target
    if "link" in kind:
        path = d / "the-link"
        path.symlink_to("real.bin" if kind == "relative link" else target)
        if kind == "link chain":
            path, first = d / "chain", path
            path.symlink_to(first)
    before = os.lstat(target) if os.path.lexists(target) else None
    m = build_model()
    compile_model(m)
    old = os.umask(umask)
    try:
        if writer == "save":
            call = lambda: m.save(path)  # noqa: E731
        elif writer == "write_atomic":
            call = lambda: tio.write_atomic(path, b"new bytes")  # noqa: E731
        else:
            cb = tl.callbacks.ModelCheckpoint(str(path), monitor="loss")
            xs, ys = valid_batch(B=4)
            call = lambda: m.fit({"a": xs[0], "b": xs[1]}, {"cls": ys[0], "reg": ys[1]}, epochs=1,  # noqa: E731
                                 verbose=0, callbacks=[cb])
        refused = kind in ("directory", "fifo", "link to directory", "link to fifo", "device")
        if refused:
            try:
                call()
            except (ValueError, IsADirectoryError) as e:
                event("refused")
                assert "expected a regular file" in str(e)
            else:
                raise AssertionError(f"{writer} wrote over a {kind}")
            after = os.lstat(target)
            assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
        else:
            call()
            event("written")
            assert os.path.isfile(target) and target.read_bytes() != b"old"
            if writer != "write_atomic":
                tl.load(path)
            want = mode if before is not None else 0o666 & ~umask
            assert _stat.S_IMODE(os.stat(target).st_mode) == want, (oct(os.stat(target).st_mode), oct(want))
            if "link" in kind:
                assert os.path.islink(path)
    finally:
        os.umask(old)
    assert not [p for p in os.listdir(d) if p.startswith(".tlearn-")]


def bn_fuzz_model(seed=0):
    a = tl.Input((4,), name="a")
    h = L.BatchNorm(name="bn")(L.Dense(5, name="h")(a))
    m = tl.Model(a, L.Dense(3, name="o")(L.ReLU(name="r")(h)), seed=seed)
    m.compile(tl.optim.SGD(0.05, momentum=0.9), loss="softmax_ce")
    return m


@fuzz_settings(200)
@given(data=st.data())
def test_load_weights_values(data):
    """Weights of any float64 value, torch- or tlearn-named: loaded exactly as
    their float32 cast when that is finite (and a running variance >= 0),
    otherwise refused with nothing changed."""
    count("load_weights values")
    m = bn_fuzz_model()
    before = m.state_dict()
    fmt = data.draw(st.sampled_from(["tlearn", "torch"]))
    sd = {k: v.astype(np.float64) for k, v in m.state_dict(format=fmt).items()}
    key = data.draw(st.sampled_from(sorted(sd)))
    val = data.draw(st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                              st.sampled_from([3.4028235e38, 3.4028236e38, 3.5e38, -3.4e38, 1e39, -0.0, -1e-30])))
    idx = data.draw(st.integers(0, sd[key].size - 1))
    sd[key].reshape(-1)[idx] = val
    with np.errstate(over="ignore"):
        cast = np.float32(val)
    ok = bool(np.isfinite(cast)) and not (key.endswith("running_var") and cast < 0)
    try:
        m.load_weights(sd)
    except ValueError as e:
        event("refused")
        assert not ok, f"{key}={val!r} refused: {e}"
        for k, v in before.items():
            assert np.array_equal(m.params[k], v), k
        return
    event("loaded")
    assert ok, f"{key}={val!r} loaded"
    for k, v in m.state_dict(format=fmt).items():
        with np.errstate(over="ignore"):
            assert np.array_equal(v, sd[k].astype(np.float32)), k
    if abs(val) < 1e3:  # huge finite weights may overflow in the forward; moderate ones must not give NaN
        assert np.isfinite(m.predict(np.ones((2, 4), np.float32))).all()


SETTING_VALUES = [0, 1, -1, 0.5, 2, 16, 255, 256, 1000, 1e-300, 1e-6, 1e6, 1e7, 1e300, -1e-300, np.nan, np.inf,
                  -np.inf, 360 * 10**9 + 45, True, "3", None, [1.0], np.float32(0.25), np.int64(30),
                  np.array(2.0), np.array([2.0])]


def _real(v):
    return (not isinstance(v, (bool, np.bool_)) and isinstance(v, (int, float, np.integer, np.floating))
            or isinstance(v, np.ndarray) and v.ndim == 0)


def _setting_ok(v, lo, hi, lo_open=False):
    if not _real(v):
        return False
    f = float(v)
    return np.isfinite(f) and (f > lo if lo_open else f >= lo) and f <= hi


@fuzz_settings(400)
@given(fn=st.sampled_from(["invert", "rotate", "scale", "add_noise"]), dtype=st.sampled_from(["uint8", "float32"]),
       v1=st.sampled_from(SETTING_VALUES), v2=st.sampled_from(SETTING_VALUES + ["default"] * 6))
def test_domain_settings(fn, dtype, v1, v2):
    """Every domain shift with every kind of setting: refused (ValueError or
    TypeError naming the function and the setting) exactly when the setting
    is out of its documented range, else a result of the same shape and dtype
    in the value range (invert: exactly max_value - images)."""
    from tlearn.datasets import domains as ds

    count("domain settings")
    u = np.array([[0, 3, 10], [16, 7, 1]], np.uint8)
    a = u if dtype == "uint8" else (u / np.float32(16)).astype(np.float32)
    top = 255.0 if dtype == "uint8" else 1.0
    kw = {} if v2 == "default" else {"max_value" if fn in ("invert", "add_noise") else "fill": v2}
    if fn == "invert":
        args, ok = (), True
    else:
        args = (v1,)
        ok = {"rotate": _real(v1) and np.isfinite(float(v1)),
              "scale": _setting_ok(v1, 1e-6, 1e6),
              "add_noise": _setting_ok(v1, 0, np.inf)}[fn]
    if "max_value" in kw and kw["max_value"] is not None:  # None: the dtype's default
        ok = ok and _setting_ok(v2, 0, 255 if dtype == "uint8" else float(np.finfo(np.float32).max), lo_open=True) \
            and float(v2) >= a.max()
        top = float(v2) if _real(v2) else top
    if "fill" in kw:
        big = float(np.finfo(np.float32).max) / 4
        ok = ok and (_setting_ok(v2, 0, 255) if dtype == "uint8" else _setting_ok(v2, -big, big))
    if fn == "add_noise" and ok and not np.isfinite(float(v1) * top):
        ok = False
    before = a.copy()
    try:
        out = getattr(ds, fn)(a, *args, **kw)
    except (ValueError, TypeError) as e:
        event("refused")
        assert not ok, f"{fn}({dtype}, {v1!r}, {kw}) refused: {e}"
        assert str(e).startswith(f"{fn}: "), e
        assert np.array_equal(a, before)
        return
    event("ran")
    assert ok, f"{fn}({dtype}, {args}, {kw}) ran"
    assert out.shape == a.shape and out.dtype == a.dtype and np.array_equal(a, before)
    assert np.isfinite(out.astype(np.float64)).all()
    if fn == "invert":
        assert np.allclose(out.astype(np.float64), top - a.astype(np.float64), atol=0.5 if dtype == "uint8" else 1e-6)
    elif "fill" not in kw or 0 <= float(kw["fill"]) <= top:  # a float fill outside the range is the user's
        assert out.min() >= 0 and out.max() <= top


@fuzz_settings(200)
@given(data=st.data())
def test_freeze_requests(data):
    """freeze with a mix of good and bad layer names and masks: either the
    whole request applies, or it is refused and nothing changed."""
    from tlearn.transfer.layers import freeze

    count("freeze requests")
    m = build_model()
    names = m.layers + ["nope", "h.w", 3]
    layers = data.draw(st.lists(st.sampled_from(names), max_size=4))
    masks = {}
    for n in data.draw(st.lists(st.sampled_from(sorted(m.masks) + ["x.w"]), max_size=3, unique=True)):
        shape = m.masks[n].shape if n in m.masks else (2,)
        kind = data.draw(st.sampled_from(["ok", "ok", "ok", "shape", "half", "nan", "str", "bool"]))
        rng = np.random.default_rng(len(masks))
        good = rng.integers(0, 2, shape)
        masks[n] = {"ok": good, "shape": np.zeros(shape + (1,)), "half": np.full(shape, 0.5),
                    "nan": np.full(shape, np.nan), "str": np.full(shape, "1"), "bool": good.astype(bool)}[kind]
    before = ({n: m.layer(n).trainable for n in m.layers}, {k: v.copy() for k, v in m.masks.items()})
    try:
        freeze(m, layers, masks)
    except ALLOWED as e:
        event("refused")
        assert ({n: m.layer(n).trainable for n in m.layers} == before[0]), e
        for k, v in before[1].items():
            assert np.array_equal(m.masks[k], v), k
        return
    event("applied")
    for n in m.layers:
        assert m.layer(n).trainable == (before[0][n] and n not in layers), n
    for k, v in m.masks.items():
        assert np.array_equal(v, masks[k]) if k in masks else np.array_equal(v, before[1][k]), k


@fuzz_settings(200)
@given(y=fuzz_array((6,), label_classes=3, p_bad=0.5))
def test_score_labels(y):
    """Model.score on hostile labels: refused, or exactly the accuracy over
    the labelled rows that predict's argmax gives (no broadcasting)."""
    count("score labels")
    a = tl.Input((4,), name="a")
    m = tl.Model(a, L.Dense(3, name="o")(a), seed=1)
    m.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    X = np.random.default_rng(2).standard_normal((6, 4)).astype(np.float32)
    try:
        got = m.score(X, y)
    except ALLOWED:
        event("refused")
        return
    event("scored")
    lab = np.asarray(y)
    assert lab.ndim == 1 and lab.dtype.kind in "iu" and len(lab) == 6, (lab.dtype, lab.shape)
    keep = lab >= 0
    want = float(np.mean(np.argmax(m.predict(X), 1)[keep] == lab[keep])) if keep.any() else float("nan")
    assert got == want or (np.isnan(got) and np.isnan(want)), (got, want)


@fuzz_settings(40)
@given(frozen=st.lists(st.sampled_from(["h", "bn", "o"]), unique=True, min_size=1),
       opt=st.sampled_from(["sgd", "adam"]), shift=st.floats(-5, 5), data=st.data())
def test_frozen_batchnorm_fit(frozen, opt, shift, data):
    """Any set of frozen layers, then fit on shifted data: a frozen BatchNorm's
    running statistics do not move (a trainable one's do), frozen parameters
    stay, and a wholly frozen model predicts the same."""
    count("frozen batchnorm")
    m = bn_fuzz_model()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 4)).astype(np.float32)
    Y = rng.integers(0, 3, 32)
    m.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    if opt == "adam":
        m.compile(tl.optim.Adam(0.01), loss="softmax_ce")
    for n in frozen:
        m.layer(n).trainable = False
    X2 = X + np.float32(shift) + np.float32(1.0)
    before, pred = m.state_dict(), m.predict(X2)
    m.fit(X2, Y, epochs=1, batch_size=data.draw(st.sampled_from([1, 3, 8, 32])), verbose=0)
    for n in frozen:
        for p in m.layer(n).param_names:
            assert np.array_equal(m.params[p], before[p]), p
    if "bn" not in frozen:
        assert not np.array_equal(m.params["bn.running_mean"], before["bn.running_mean"])
    if len(frozen) == 3:
        assert np.array_equal(m.predict(X2), pred)


# ------------------------------------------------------------- the count

def test_zz_example_count():
    """Print the examples run; with the whole file run, check the total."""
    total = sum(COUNTS.values())
    binding = sum(v for k, v in COUNTS.items() if "parser" not in k)
    line = ", ".join(f"{k}: {v}" for k, v in sorted(COUNTS.items()))
    print(f"\nfuzz examples: {total} ({line})")
    with open(os.path.join(os.environ.get("TLEARN_FUZZ_REPORT_DIR", "/tmp"), "tlearn-fuzz-count.txt"), "w") as f:
        f.write(f"{total} {binding}\n{line}\n")
    if len(COUNTS) == 15 and SCALE >= 1:
        assert binding >= 2000, COUNTS
