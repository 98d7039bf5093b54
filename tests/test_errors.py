"""Bad input gets a clear exception of the right type, never a crash:
dtypes, ranks, shapes, empty batches, labels, non-finite values, calls in the
wrong order, wrong counts and names, bad layer and optimizer arguments, one
network used from two threads, check_finite naming the node."""
import threading

import numpy as np
import pytest

import tlearn as tl
from tlearn import _core
from tlearn import layers as L
from conftest import make_mlp


@pytest.fixture
def model():
    m = make_mlp(n_in=6, hidden=(8,), n_out=3, seed=0)
    m.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    return m


X = np.random.default_rng(0).standard_normal((10, 6)).astype(np.float32)
Y = np.random.default_rng(0).integers(0, 3, 10)


# ------------------------------------------------------------------ dtypes

@pytest.mark.parametrize("bad,kind", [
    (np.empty((10, 6), dtype=object), "object"),
    (np.ones((10, 6), dtype=np.complex64), "complex"),
    (np.full((10, 6), "a"), "<U1"),
])
def test_wrong_input_dtype(model, bad, kind):
    with pytest.raises(TypeError, match=rf"input 'x': expected a real numeric array.*got dtype {kind}"):
        model.predict(bad)
    with pytest.raises(TypeError, match="input 'x'"):
        model.fit(bad, Y, verbose=False)
    net = model._net
    with pytest.raises(TypeError, match=r"input 'x': expected a real numeric array \(float32 preferred\), got dtype"):
        net.forward([bad], [1])


def test_inputs_not_arrays(model):
    with pytest.raises(TypeError, match="inputs: expected a list of 1 arrays, got dict"):
        model._net.forward({"x": X}, [1])
    with pytest.raises(TypeError, match="input 'x': expected a NumPy array, got str"):
        model._net.forward(["abc"], [1])


@pytest.mark.parametrize("bad", [np.ones((10, 3), np.float32), np.ones(10, np.float32), np.ones((3,), np.int32)])
def test_float_or_misshaped_labels_for_softmax_ce(model, bad):
    if bad.dtype.kind == "f":
        with pytest.raises(TypeError, match=r"target of loss 'd1': expected integer class labels \(-1 = no label\), "
                                            r"got dtype float32"):
            model.fit(X, bad, verbose=False)
        with pytest.raises(TypeError, match="expected integer class labels"):
            model._net.train_step([X], [bad], 0.1)
    else:
        with pytest.raises(ValueError, match="disagree on the number of examples"):
            model.fit(X, bad, verbose=False)
        with pytest.raises(ValueError, match=r"target of loss 'd1': 3 examples, but the inputs have 10"):
            model._net.train_step([X], [bad], 0.1)


def test_float_target_with_wrong_dtype_or_shape():
    m = make_mlp(n_out=2)
    m.compile(tl.optim.SGD(0.1), loss="mse")
    with pytest.raises(TypeError, match="target of loss 'd1': expected a real numeric array, got dtype complex128"):
        m.fit(X, np.ones((10, 2), complex), verbose=False)
    with pytest.raises(ValueError, match=r"target of loss 'd1': expected \(batch, 2\) values, got shape \(10, 3\)"):
        m.fit(X, np.ones((10, 3), np.float32), verbose=False)


# ------------------------------------------------------------ ranks, shapes

@pytest.mark.parametrize("shape,got", [((6,), r"\(6,\)"), ((10, 7), r"\(10, 7\)"), ((10, 2, 3), r"\(10, 2, 3\)")])
def test_wrong_rank_or_shape(model, shape, got):
    with pytest.raises(ValueError, match=rf"input 'x': expected shape \(batch, 6\), got {got}"):
        model.predict(np.ones(shape, np.float32))


def test_empty_batch(model):
    with pytest.raises(ValueError, match="empty batch: expected at least one example, got 0"):
        model.predict(np.ones((0, 6), np.float32))
    with pytest.raises(ValueError, match="empty batch"):
        model._net.train_step([np.ones((0, 6), np.float32)], [np.ones(0, np.int32)], 0.1)
    with pytest.raises(ValueError, match=r"fit: empty training set \(0 examples\)"):
        model.fit(np.ones((0, 6), np.float32), np.ones(0, np.int64), verbose=False)


@pytest.mark.parametrize("label", [3, -2, 1000])
def test_labels_out_of_range(model, label):
    y = Y.copy()
    y[4] = label
    before = model.state_dict()
    with pytest.raises(ValueError, match=rf"target of loss 'd1': label {label} at index 4 is out of range; "
                                         r"expected -1 \(no label\) or 0..2"):
        model.fit(X, y, verbose=False)
    with pytest.raises(ValueError, match="out of range"):
        model.evaluate(X, y)
    for k, v in model.params.items():
        assert np.array_equal(v, before[k])


@pytest.mark.parametrize("value,word", [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")])
def test_non_finite_inputs(model, value, word):
    x = X.copy()
    x[3, 2] = value
    before = model.state_dict()
    assert word  # NaN and both infinities: one message, the core's, names the example
    with pytest.raises(ValueError, match=r"input 'x': example 3 holds NaN or infinity; inputs must be finite"):
        model.predict(x)
    with pytest.raises(ValueError, match=r"input 'x': example 3 holds NaN or infinity"):
        model.fit(x, Y, batch_size=4, verbose=False)  # shuffled: rows gathered by the core
    with pytest.raises(ValueError, match="inputs must be finite"):
        model.fit(x, Y, batch_size=4, shuffle=False, verbose=False)
    with pytest.raises(ValueError, match="inputs must be finite"):
        model.train_on_batch(x, Y)
    for k, v in model.params.items():
        assert np.array_equal(v, before[k])


def test_non_finite_rows_found_in_parts_name_the_first():
    # rows of 784 floats: the core checks and gathers them in parts on its pool;
    # the message names the first bad row (in row order for the up-front check,
    # in batch order for a shuffled batch), whichever part finds which
    inp = tl.Input((784,), name="x")
    m = tl.Model(inp, L.Dense(3, name="d")(inp), seed=0)
    m.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 784)).astype(np.float32)
    y = rng.integers(0, 3, 2000).astype(np.int32)
    x[1700, 5], x[1500, 700] = np.nan, np.inf
    before = m.state_dict()
    with pytest.raises(ValueError, match=r"input 'x': example 1500 holds NaN or infinity; inputs must be finite$"):
        m.fit(x, y, batch_size=256, verbose=False)
    perm = rng.permutation(2000)
    perm = np.concatenate([[1700], perm[(perm != 1700) & (perm != 1500)][:198], [1500]])
    perm = np.concatenate([perm, np.setdiff1d(np.arange(2000), perm)])
    with pytest.raises(ValueError, match=r"input 'x': example 1700 holds NaN or infinity; inputs must be finite$"):
        m._net.train_batches([x], [y], 256, np.full(8, 0.1, np.float32), perm)
    x[1700, 5] = 0.0
    with pytest.raises(ValueError, match=r"example 1500 holds NaN or infinity; inputs must be finite$"):
        m._net.train_batches([x], [y], 256, np.full(8, 0.1, np.float32), perm)
    for k, v in m.params.items():
        assert np.array_equal(v, before[k])
    x[1500, 700] = 1.0
    # lr 0: each step's loss and correct count are those of the rows gathered for it
    res = m._net.train_batches([x], [y], 256, np.full(8, 0.0, np.float32), perm)
    for s in (0, 7):
        rows = perm[256 * s: 256 * (s + 1)]
        ev = m.evaluate(x[rows], y[rows])
        assert res["correct"][s, 0] == round(ev["d_acc"] * len(rows))
        assert res["count"][s, 0] == len(rows) and res["loss"][s, 0] == pytest.approx(ev["d"], rel=1e-5)


def test_huge_finite_inputs_are_accepted(model):
    # the sum of these finite values overflows float32: fit's fast finiteness
    # check must fall back to the exact one rather than refuse the data
    x = np.full_like(X, 3e38)
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.add.reduce(x, axis=None))
    model.compile(tl.optim.SGD(0.0), loss="softmax_ce")
    model.fit(x, Y, batch_size=4, verbose=False, epochs=1)


# ------------------------------------------------------------- wrong order

def test_training_before_compile():
    m = make_mlp()
    for call in (lambda: m.fit(X, Y, verbose=False), lambda: m.train_on_batch(X, Y), lambda: m.evaluate(X, Y)):
        with pytest.raises(tl.TlearnError, match=r"model 'model' is not compiled: call model.compile"):
            call()
    assert m.predict(X).shape == (10, 3)  # inference needs no compile
    # nor does the Fisher of a single-output model (softmax_ce by default, on a copy: m stays uncompiled)
    f = m.estimate_fisher(X, Y)
    assert set(f) == set(m.params) and all(np.all(v >= 0) for v in f.values())
    assert any(np.any(v > 0) for v in f.values()) and m.loss_names == []


def test_core_calls_in_the_wrong_order():
    net = _core.Net(0)
    x = net.add("input", name="x", shape=(3,))
    with pytest.raises(tl.TlearnError, match="not finalized"):
        net.forward([np.ones((2, 3), np.float32)], [x])
    with pytest.raises(tl.TlearnError, match="finalize the network first"):
        net.add_loss("mse", x, "l")
    d = net.add("dense", [x], "d", {"units": 2})
    net.finalize()
    with pytest.raises(tl.TlearnError, match="the network is already finalized"):
        net.finalize()
    with pytest.raises(tl.TlearnError, match="cannot add node 'e': the network is finalized"):
        net.add("relu", [d], "e")
    with pytest.raises(tl.TlearnError, match="the network has no loss; compile it first"):
        net.forward_backward([np.ones((2, 3), np.float32)], [])
    net.add_loss("mse", d, "l")
    with pytest.raises(tl.TlearnError, match="no optimizer set"):
        net.train_step([np.ones((2, 3), np.float32)], [np.ones((2, 2), np.float32)], 0.1)
    net.set_optim("sgd")
    with pytest.raises(ValueError, match="learning rate must be finite and >= 0, got -1"):
        net.train_step([np.ones((2, 3), np.float32)], [np.ones((2, 2), np.float32)], -1.0)


def test_core_build_errors():
    net = _core.Net(0)
    x = net.add("input", name="x", shape=(4,))
    with pytest.raises(ValueError, match="unknown op 'conv3d'"):
        net.add("conv3d", [x], "c")
    with pytest.raises(ValueError, match=r"dense 'd': input 0 is node 7, expected 0..0"):
        net.add("dense", [7], "d", {"units": 2})
    with pytest.raises(ValueError, match=r"dense 'd': no attribute 'unit' \(attributes: units, init, use_bias\)"):
        net.add("dense", [x], "d", {"unit": 2})
    with pytest.raises(ValueError, match=r"dense 'd': attribute 'units' \(output features\) is required"):
        net.add("dense", [x], "d", {"init": "glorot"})
    with pytest.raises(ValueError, match=r"dense 'd': init must be one of he, glorot, zeros, ones, got 'uniform'"):
        net.add("dense", [x], "d", {"units": 2, "init": "uniform"})
    with pytest.raises(ValueError, match=r"dense 'd': units must be an integer, got 2.5"):
        net.add("dense", [x], "d", {"units": 2.5})
    with pytest.raises(ValueError, match="dense 'd': units must be positive, got 0"):
        net.add("dense", [x], "d", {"units": 0})
    with pytest.raises(ValueError, match="name 'x' is already used by node 0"):
        net.add("relu", [x], "x")
    with pytest.raises(ValueError, match=r"add 'a': expected 2 or more inputs, got 1"):
        net.add("add", [x], "a")
    with pytest.raises(ValueError, match="dropout 'p': rate must be in \\[0, 1\\), got 1"):
        net.add("dropout", [x], "p", {"rate": 1.0})
    with pytest.raises(ValueError, match="reshape 'r': target has 5 features per example, input 'x' has 4"):
        net.add("reshape", [x], "r", shape=(5,))
    with pytest.raises(ValueError, match=r"maxpool2d 'm': expected an input of shape \(C, H, W\)"):
        net.add("maxpool2d", [x], "m", {"kh": 2, "kw": 2, "sh": 2, "sw": 2})
    # a failed add leaves the network usable
    d = net.add("dense", [x], "d", {"units": 2})
    net.finalize()
    with pytest.raises(ValueError, match="loss 'l': weight must be finite and >= 0, got -1"):
        net.add_loss("mse", d, "l", -1.0)
    with pytest.raises(ValueError, match="softmax_ce 'l': needs at least 2 classes"):
        y = net.add("dense", [x], "one", {"units": 1}) if False else None  # noqa: F841 (nodes are closed)
        net2 = _core.Net(0)
        i = net2.add("input", name="x", shape=(1,))
        net2.finalize()
        net2.add_loss("softmax_ce", i, "l")
    with pytest.raises(ValueError, match="unknown arena 'velocity'"):
        net.view("velocity", 0)
    with pytest.raises(IndexError, match=r"parameter index 9 out of range 0..1"):
        net.view("value", 9)
    with pytest.raises(ValueError, match="regularizer strengths must be finite and >= 0"):
        net.set_reg(0, -1.0)


# ------------------------------------------------------- counts and names

def two_input_model():
    a, b = tl.Input((3,), name="a"), tl.Input((2,), name="b")
    c = L.Concat(name="cat")(a, b)
    m = tl.Model({"left": a, "right": b}, {"y": L.Dense(2, name="y")(c), "z": L.Dense(1, name="z")(c)}, seed=0)
    m.compile(tl.optim.SGD(0.1), loss={"y": "softmax_ce", "z": "mse"})
    return m


def test_wrong_number_of_inputs_and_targets():
    m = two_input_model()
    A, B = np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)
    y = {"y": np.zeros(4, np.int64), "z": np.zeros((4, 1), np.float32)}
    with pytest.raises(ValueError, match=r"inputs: expected 2 arrays \(\['left', 'right'\]\), got 3"):
        m.predict([A, B, B])
    with pytest.raises(ValueError, match="pass a dict or a list of arrays"):
        m.predict(A)
    with pytest.raises(ValueError, match=r"targets: expected 2 arrays \(\['y', 'z'\]\), got 1"):
        m.fit([A, B], [y["y"]], verbose=False)
    with pytest.raises(ValueError, match="pass targets as a dict"):
        m.fit([A, B], y["y"], verbose=False)
    with pytest.raises(ValueError, match=r"inputs: expected 2 arrays \(one per input node\), got 1"):
        m._net.forward([A], [0])
    with pytest.raises(ValueError, match=r"targets: expected 2 arrays \(one per loss\), got 3"):
        m._net.forward_backward([A, B], [y["y"], y["z"], y["z"]])
    with pytest.raises(ValueError, match="input 'b': batch of 3 examples, but the first input has 4"):
        m.predict({"left": A, "right": B[:3]})
    m.fit({"left": A, "right": B}, y, verbose=False)  # the right call works


def test_unknown_names_in_dicts():
    m = two_input_model()
    A, B = np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)
    y = {"y": np.zeros(4, np.int64), "z": np.zeros((4, 1), np.float32)}
    with pytest.raises(KeyError, match=r"inputs: unknown names \['middle'\], missing names \['right'\]"):
        m.predict({"left": A, "middle": B})
    with pytest.raises(KeyError, match=r"targets: unknown names \['w'\], missing names \['z'\]"):
        m.fit({"left": A, "right": B}, {"y": y["y"], "w": y["z"]}, verbose=False)
    with pytest.raises(KeyError, match="unknown output or layer 'nope'"):
        m.predict({"left": A, "right": B}, outputs=["nope"])
    with pytest.raises(KeyError, match="loss for unknown output 'q'"):
        m.compile(tl.optim.SGD(0.1), loss={"q": "mse"})
    with pytest.raises(KeyError, match="loss_weights names unknown loss 'q'"):
        m.compile(tl.optim.SGD(0.1), loss={"y": "softmax_ce"}, loss_weights={"q": 1.0})
    with pytest.raises(KeyError, match="has no layer 'nope'"):
        m.layer("nope")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        m.compile(tl.optim.SGD(0.1), loss={"y": "hinge"})


# ------------------------------------------------------- layer arguments

@pytest.mark.parametrize("make,exc,msg", [
    (lambda: L.Dense(0), ValueError, "Dense units must be a positive int, got 0"),
    (lambda: L.Dense(2.5), ValueError, "Dense units must be a positive int, got 2.5"),
    (lambda: L.Dense(3, init="uniform"), ValueError, "Dense init must be one of"),
    (lambda: L.Dropout(1.0), ValueError, r"Dropout rate must be in \[0, 1\), got 1.0"),
    (lambda: L.Dropout(-0.1), ValueError, r"Dropout rate must be in \[0, 1\)"),
    (lambda: L.Conv2d(0, 3), ValueError, "Conv2d filters must be a positive int, got 0"),
    (lambda: L.Conv2d(4, (3, 3, 3)), ValueError, "Conv2d kernel_size must be an int or a pair of ints"),
    (lambda: L.MaxPool2d(0), ValueError, "MaxPool2d kernel_size must be >= 1"),
    (lambda: L.BatchNorm(momentum=2.0), ValueError, r"BatchNorm momentum must be in \[0, 1\]"),
    (lambda: L.Dense(3, name="a.b"), ValueError, "layer name must be a non-empty string without '.', '/' or ':'"),
    (lambda: tl.Input((3, -1)), ValueError, "Input shape must have 1 to 4 positive sizes"),
])
def test_bad_layer_arguments(make, exc, msg):
    with pytest.raises(exc, match=msg):
        make()


def test_bad_layer_calls():
    x = tl.Input((6,), name="x")
    with pytest.raises(ValueError, match=r"reshape 'r': target has 4 features per example, input 'in0' has 6"):
        L.Reshape((4,), name="r")(x)
    with pytest.raises(ValueError, match="add 'a': input 1 .* has 3 features per example, input 0 .* has 6"):
        L.Add(name="a")(x, tl.Input((3,)))
    with pytest.raises(ValueError, match=r"conv2d 'c': expected an input of shape \(C, H, W\)"):
        L.Conv2d(2, 3, name="c")(x)
    with pytest.raises(ValueError, match="kernel 5x5 is larger than the input 4x4"):
        L.Conv2d(2, 5, name="c2")(tl.Input((1, 4, 4)))
    d = L.Dense(2, name="dd")
    d(x)
    with pytest.raises(ValueError, match=r"layer 'dd' is shared: its parameter 0 has shape \(2, 6\), this call on "
                                         r"inputs of shape \[\(5,\)\] would need \(2, 5\)"):
        d(tl.Input((5,)))
    inp = tl.Input((3,), name="only")
    with pytest.raises(ValueError, match="input 'only' is already a tensor"):
        inp.layer()
    with pytest.raises(TypeError, match="expected tlearn Tensors, got ndarray"):
        L.Dense(2)(np.ones(3))
    with pytest.raises(ValueError, match="expected 1 input"):
        L.ReLU()(x, x)
    a = L.Dense(2, name="same")(x)
    b = L.Dense(2, name="same")(x)
    with pytest.raises(ValueError, match="outputs: two tensors are named 'same'"):
        tl.Model(x, [a, b])
    c = L.Dense(2, name="same")(a)
    with pytest.raises(ValueError, match="two layers are named .same.; layer names must be unique"):
        tl.Model(x, c)
    other = tl.Input((6,), name="other")
    with pytest.raises(ValueError, match="output depends on input 'other'"):
        tl.Model(x, L.Dense(2)(other))


# --------------------------------------------------- optimizer arguments

@pytest.mark.parametrize("make,msg", [
    (lambda: tl.optim.SGD(-0.1), "learning rate must be finite and >= 0"),
    (lambda: tl.optim.SGD(float("nan")), "learning rate must be finite and >= 0"),
    (lambda: tl.optim.Adam(float("inf")), "learning rate must be finite and >= 0"),
])
def test_bad_optimizer_arguments(make, msg):
    with pytest.raises(ValueError, match=msg):
        make()


@pytest.mark.parametrize("opt,msg", [
    (lambda: tl.optim.SGD(0.1, momentum=1.5), r"momentum must be in \[0, 1\), got 1.5"),
    (lambda: tl.optim.SGD(0.1, momentum=-0.5), r"momentum must be in \[0, 1\)"),
    (lambda: tl.optim.SGD(0.1, nesterov=True), "Nesterov momentum needs momentum > 0"),
    (lambda: tl.optim.SGD(0.1, weight_decay=-1.0), "weight decay must be finite and >= 0"),
    (lambda: tl.optim.Adam(0.1, betas=(1.0, 0.999)), "Adam needs 0 <= beta1, beta2 < 1 and eps > 0"),
    (lambda: tl.optim.Adam(0.1, eps=0.0), "Adam needs 0 <= beta1, beta2 < 1 and eps > 0"),
])
def test_bad_optimizer_settings_fail_at_compile(opt, msg):
    m = make_mlp()
    with pytest.raises(ValueError, match=msg):
        m.compile(opt(), loss="softmax_ce")
    with pytest.raises(tl.TlearnError, match="not compiled"):
        m.fit(X, Y, verbose=False)


def test_compile_and_fit_argument_errors(model):
    with pytest.raises(TypeError, match="optimizer: expected a tlearn.optim optimizer or one of .*, got int"):
        model.compile(3, loss="softmax_ce")
    with pytest.raises(ValueError, match=r"unknown optimizer 'rmsprop'; tlearn has \['adam', 'adamw', 'sgd'\]"):
        model.compile("rmsprop", loss="softmax_ce")
    with pytest.raises(ValueError, match="compile needs loss="):
        model.compile(tl.optim.SGD(0.1))
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        model.fit(X, Y, batch_size=0, verbose=False)
    with pytest.raises(ValueError, match="epochs must be a non-negative int, got -1"):
        model.fit(X, Y, epochs=-1, verbose=False)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        model.predict(X, batch_size=-3)


# ---------------------------------------------------------- two threads

def test_network_used_from_two_threads_at_once():
    rng = np.random.default_rng(0)
    x = tl.Input((256,), name="x")
    m = tl.Model(x, L.Dense(10, name="o")(L.ReLU()(L.Dense(256, name="h")(x))), seed=0)
    m.compile(tl.optim.SGD(0.01), loss="softmax_ce")
    Xb = rng.standard_normal((4096, 256)).astype(np.float32)
    Yb = rng.integers(0, 10, 4096).astype(np.int32)
    net = m._net
    observed, errors = [], []
    for attempt in range(4):
        steps = 64 * 4 ** attempt
        done = threading.Event()

        def train():
            try:
                net.train_batches([Xb], [Yb], 4096 // 64, np.full(min(steps, 64), 0.01, np.float32))
                for _ in range(max(1, steps // 64) - 1):
                    net.train_batches([Xb], [Yb], 4096 // 64, np.full(64, 0.01, np.float32))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)
            finally:
                done.set()

        t = threading.Thread(target=train)
        t.start()
        while not done.is_set():
            try:
                m.predict(Xb[:2])
            except tl.TlearnError as e:
                observed.append(str(e))
                break
        t.join()
        if observed:
            break
    assert not errors or all("in use by another thread" in str(e) for e in errors), errors
    assert observed, "the concurrent call was never refused"
    assert "this network is in use by another thread" in observed[0]
    assert "model.clone()" in observed[0]
    # once the other thread is done the network works again
    assert m.predict(Xb[:2]).shape == (2, 10)


# --------------------------------------------------------- check_finite

def test_check_finite_names_the_node_and_leaves_weights(model):
    model.params["d0.w"][2, 1] = np.inf
    before = model.state_dict()
    model.check_finite = True
    assert model.check_finite
    with pytest.raises(tl.TlearnError, match=r"node 'd0' \(dense\) produced NaN or infinity"):
        model.train_on_batch(X, Y)
    with pytest.raises(tl.TlearnError, match="node 'd0'"):
        model.fit(X, Y, verbose=False)
    for k, v in model.params.items():
        assert np.array_equal(v, before[k]), k
    # without the check, the step runs and the NaN spreads (what check_finite prevents)
    model.check_finite = False
    model.train_on_batch(X, Y)
    assert not np.all(np.isfinite(model.params["d1.w"]))


def test_check_finite_on_overflow(model):
    """Overflowing weights are caught before the update, whichever node overflows first."""
    model.check_finite = True
    model.params["d1.w"][...] = 3e38
    model.params["d1.b"][...] = 0.0
    big = np.full((10, 6), 1.0, np.float32)
    before = model.state_dict()
    with pytest.raises(tl.TlearnError, match="NaN or infinity"):
        model.train_on_batch(big, Y)
    for k, v in model.params.items():
        assert np.array_equal(v, before[k]), k


def test_corrupt_model_file(tmp_path, model):
    p = tmp_path / "m.tl"
    model.save(p)
    data = p.read_bytes()
    p.write_bytes(data[:-10])
    with pytest.raises(ValueError, match="checksum mismatch"):
        tl.load(p)
    p.write_bytes(b"not a model file at all....")
    with pytest.raises(ValueError, match="not a tlearn model file"):
        tl.load(p)


def test_zero_d_target_is_refused(model):
    # a scalar label is not a batch of one: found by tests/test_fuzz.py
    with pytest.raises(ValueError, match=r"target of loss 'd1': expected an array with one entry per example, "
                                         r"got a 0-d value"):
        model.train_on_batch(X[:1], np.array(2))
    with pytest.raises(ValueError, match="0-d value"):
        model.evaluate(X[:1], np.int64(2))
