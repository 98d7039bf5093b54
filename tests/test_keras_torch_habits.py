"""The next layer of what a Keras or PyTorch user types: Sequential, Keras's
names (metrics, losses, learning_rate), validation_split, Keras's weight
verbs, predict/evaluate on iterables, a model as a block of another (and
layers shared between models), lenient loading that says what it did not
load, file names that promise another format, and the set-up from the source
tree."""
import os
import re
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

import tlearn as tl
from tlearn import callbacks as C, layers as L

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(args, tmp_path):
    """``python args`` in an empty directory, importing the tlearn these tests import (the source tree
    built in place, or an installed one: CI installs and leaves the source tree unbuilt)."""
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(tl.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([pkg_root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    return subprocess.run([sys.executable] + args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def data(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)


def mlp(seed=0, names=("fc1", "fc2")):
    x = tl.Input(6, name="x")
    return tl.Model(x, L.Dense(2, name=names[1])(L.ReLU()(L.Dense(8, name=names[0])(x))), seed=seed)


# ------------------------------------------------------------------ Sequential

def test_sequential_as_keras_builds_it():
    X, Y = data()
    # a list with an Input, add, input_shape=, and the first fit's arrays give the input shape
    a = tl.Sequential([tl.Input((6,)), L.Dense(8, name="s1"), L.ReLU(), L.Dense(2, name="s2")], seed=3)
    b = tl.Sequential(input_shape=6, seed=3)
    for layer in (L.Dense(8, name="t1"), L.ReLU(), L.Dense(2, name="t2")):
        b.add(layer)
    c = tl.Sequential([L.Dense(8, name="u1"), L.ReLU(), L.Dense(2, name="u2")], seed=3)
    with pytest.raises(tl.TlearnError, match="not built yet: its input shape is unknown.*input_shape="):
        c.count_params()
    # compile before the build
    c.compile(tl.optim.Adam(learning_rate=0.02), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = c.fit(X, Y, epochs=30, batch_size=16, verbose=0, validation_split=0.25)
    assert c.count_params() == a.count_params() == b.count_params() == 6 * 8 + 8 + 8 * 2 + 2
    assert np.array_equal(a.params["s1.w"], b.params["t1.w"])  # same seed, same shapes: same weights
    assert {"accuracy", "val_accuracy", "val_loss"} <= set(h) and h["accuracy"][-1] > 0.9
    assert h["accuracy"] == h["u2_acc"]
    # Keras's transfer idiom on a Sequential: pop the head, add a new one; the body keeps its weights
    body = c.params["u1.w"].copy()
    old_head = c.pop()
    assert old_head.name == "u2"
    c.add(L.Dense(3, name="u3"))
    assert np.array_equal(c.params["u1.w"], body) and c.params["u3.w"].shape == (3, 8)
    assert c.output_names == ["u3"] and "u2" not in c.layers
    c.layer("u1").trainable = False
    c.fit(X, Y, epochs=1, verbose=0)  # compiled again with the same arguments
    assert np.array_equal(c.params["u1.w"], body)
    with pytest.raises(TypeError, match="expected a layer of tlearn.layers, got int"):
        c.add(3)
    with pytest.raises(TypeError, match="expected a list of layers"):
        tl.Sequential(L.Dense(3))


# ----------------------------------------------------------- Keras's names

def test_keras_loss_names_are_the_cores_losses():
    X, Y = data()
    onehot = np.eye(2, dtype=np.float32)[Y]
    m = mlp()
    m.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    ref = m.evaluate(X, Y)
    m.compile(tl.optim.SGD(0.1), loss="sparse_categorical_crossentropy")
    assert m.evaluate(X, Y) == ref
    m.compile(tl.optim.SGD(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
    cat = m.evaluate(X, onehot)
    assert cat["fc2"] == pytest.approx(ref["fc2"], rel=1e-6) and cat["accuracy"] == ref["fc2_acc"]
    # the core's soft_ce at temperature 1 on one-hot rows is the same loss (without an accuracy)
    m.compile(tl.optim.SGD(0.1), loss=tl.losses.SoftTargetCE(temperature=1.0))
    assert m.evaluate(X, onehot)["fc2"] == pytest.approx(ref["fc2"], rel=1e-5)
    z = m.predict(X).astype(np.float64)
    logp = z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
    assert ref["fc2"] == pytest.approx(-logp[np.arange(len(Y)), Y].mean(), rel=1e-5)
    # a zero row is "no label"; a soft row is refused with the loss that takes it
    m.compile(tl.optim.SGD(0.1), loss="categorical_crossentropy")
    part = onehot.copy()
    part[::2] = 0
    assert m.evaluate(X, part)["fc2"] == pytest.approx(
        -logp[np.arange(1, len(Y), 2), Y[1::2]].mean(), rel=1e-5)
    with pytest.raises(ValueError, match=r"row 0 of the targets is not one-hot.*SoftTargetCE\(temperature=1.0\)"):
        m.evaluate(X, np.full((len(Y), 2), 0.5, np.float32))
    with pytest.raises(ValueError, match="expected one-hot targets of shape \\(batch, classes\\).*sparse_categorical"):
        m.evaluate(X, Y)
    # tlearn's losses take logits: a Softmax output is refused, not trained to a poor result in silence
    x = tl.Input(6)
    probs = tl.Model(x, L.Softmax(name="p")(L.Dense(2)(x)))
    with pytest.raises(ValueError, match="takes logits \\(Keras's from_logits=True\\).*Softmax layer"):
        probs.compile("adam", loss="sparse_categorical_crossentropy")
    probs.compile("adam", loss="mse")  # a loss on probabilities is fine
    with pytest.raises(ValueError, match="metric 'mae'.*takes are \\['accuracy'"):
        m.compile("sgd", loss="softmax_ce", metrics=["mae"])
    with pytest.raises(ValueError, match="accuracy needs a classification loss"):
        probs.compile("sgd", loss="mse", metrics=["accuracy"])


def test_learning_rate_is_lr_and_optimizer_names():
    X, Y = data()
    a, b = mlp(), mlp()
    a.compile(tl.optim.SGD(0.05, momentum=0.9), loss="softmax_ce")
    b.compile(tl.optim.SGD(learning_rate=0.05, momentum=0.9), loss="softmax_ce")
    a.fit(X, Y, epochs=2, verbose=0)
    b.fit(X, Y, epochs=2, verbose=0)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    opt = tl.optim.Adam(learning_rate=0.01, beta_1=0.8, epsilon=1e-6)
    assert (opt.lr, opt.learning_rate, opt.betas, opt.eps) == (0.01, 0.01, (0.8, 0.999), 1e-6)
    with pytest.raises(TypeError, match="give lr or its Keras name learning_rate, not both"):
        tl.optim.SGD(0.1, learning_rate=0.2)
    m = mlp()
    m.compile("adam", loss="softmax_ce")
    assert isinstance(m.optimizer, tl.optim.Adam) and m.optimizer.learning_rate == 1e-3


def test_validation_split_takes_the_last_fraction_before_shuffling():
    X, Y = data(100)
    a, b = mlp(seed=4), mlp(seed=4)
    for m in (a, b):
        m.compile(tl.optim.SGD(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = a.fit(X, Y, epochs=3, batch_size=10, verbose=0, validation_split=0.2)
    b.fit(X[:80], Y[:80], epochs=3, batch_size=10, verbose=0, validation_data=(X[80:], Y[80:]))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)  # trained on the first 80 only
    assert h["val_loss"][-1] == a.evaluate(X[80:], Y[80:])["loss"]
    assert h["val_accuracy"][-1] == a.evaluate(X[80:], Y[80:])["accuracy"]
    assert a.clone().evaluate(X, Y)["accuracy"] == a.evaluate(X, Y)["accuracy"]  # metrics travel with the model
    with pytest.raises(ValueError, match="validation_split must be a float in \\(0, 1\\)"):
        a.fit(X, Y, verbose=0, validation_split=1.5)
    with pytest.raises(ValueError, match="not both"):
        a.fit(X, Y, verbose=0, validation_split=0.2, validation_data=(X, Y))
    with pytest.raises(ValueError, match="validation_split takes the last examples of arrays"):
        a.fit([(X, Y)], verbose=0, validation_split=0.2)
    # EarlyStopping's val_loss exists with validation_split
    es = C.EarlyStopping(patience=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a.fit(X, Y, epochs=2, verbose=0, validation_split=0.2, callbacks=[es])


def test_keras_weight_verbs(tmp_path):
    m, other = mlp(seed=1), mlp(seed=2)
    w = m.get_weights()
    assert [a.shape for a in w] == [(8, 6), (8,), (2, 8), (2,)]
    assert m.count_params() == sum(a.size for a in w) == 74
    w[0][...] = 7  # copies
    assert not np.any(m.params["fc1.w"] == 7)
    other.set_weights(m.get_weights())
    assert all(np.array_equal(m.params[k], other.params[k]) for k in m.params)
    with pytest.raises(ValueError, match="set_weights: expected 4 arrays"):
        other.set_weights(w[:3])
    with pytest.raises(ValueError, match="expected shape \\(8, 6\\), got \\(6, 8\\)"):
        other.set_weights([w[0].T] + w[1:])
    with pytest.raises(TypeError, match="a dict by name goes to load_weights"):
        other.set_weights(m.state_dict())
    m.save_weights(tmp_path / "w.npz")
    m.save(tmp_path / "m.tlm")
    for src in (tmp_path / "w.npz", str(tmp_path / "m.tlm")):
        fresh = mlp(seed=5)
        assert sorted(fresh.load_weights(src)) == sorted(m.params)
        assert all(np.array_equal(m.params[k], fresh.params[k]) for k in m.params)
    with pytest.raises(ValueError, match="save_weights writes NumPy's .npz"):
        m.save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match="'.tlm' is the model file"):
        m.save_weights(tmp_path / "w.tlm")
    (tmp_path / "junk.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(20))
    with pytest.raises(ValueError, match="not a weights file tlearn reads \\(HDF5"):
        m.load_weights(tmp_path / "junk.h5")


def test_predict_and_evaluate_take_what_fit_takes():
    X, Y = data()
    m = mlp()
    m.compile(tl.optim.SGD(0.1), loss="softmax_ce", metrics=["accuracy"])
    m.fit(((X[i:i + 16], Y[i:i + 16]) for i in range(0, 120, 16)), epochs=1, verbose=0)
    want = m.predict(X)
    assert np.array_equal(m.predict(X[i:i + 16] for i in range(0, 120, 16)), want)  # a generator of x
    assert np.array_equal(m.predict((X[i:i + 16], Y[i:i + 16]) for i in range(0, 120, 16)), want)  # of (x, y)
    assert np.array_equal(m.predict(iter([(X[:50], Y[:50]), (X[50:], Y[50:])])), want)  # a list is the inputs
    ev = m.evaluate((X[i:i + 16], Y[i:i + 16]) for i in range(0, 120, 16))
    ref = m.evaluate(X, Y)
    assert ev.keys() == ref.keys() and ev["accuracy"] == ref["accuracy"]
    assert ev["loss"] == pytest.approx(ref["loss"], rel=1e-6)
    # validation data as a list of batches
    h = m.fit(X, Y, epochs=1, verbose=0, validation_data=[(X[:60], Y[:60]), (X[60:], Y[60:])])
    assert h["val_loss"][-1] == pytest.approx(m.evaluate(X, Y)["loss"], rel=1e-6)
    # a list of arrays (or nested lists) stays the inputs of a model with several
    a, b = tl.Input(6, name="a"), tl.Input(6, name="b")
    two = tl.Model({"a": a, "b": b}, L.Dense(2, name="o")(L.Concat()(a, b)))
    assert np.array_equal(two.predict([X.tolist(), X]), two.predict({"a": X, "b": X}))
    assert np.array_equal(two.predict(({"a": X[i:i + 7], "b": X[i:i + 7]}, None) for i in range(0, 120, 7)),
                          two.predict({"a": X, "b": X}))
    with pytest.raises(ValueError, match="yielded no batch"):
        m.predict(iter([]))
    with pytest.raises(ValueError, match="predict: batch 1: "):
        m.predict(iter([X[:4], np.zeros((4, 5), np.float32)]))
    with pytest.raises(ValueError, match="evaluate: targets y are missing"):
        m.evaluate(X)


def test_transfer_and_replay_are_attributes_without_import_cost(tmp_path):
    code = ("import sys, tlearn; assert 'tlearn.transfer' not in sys.modules and 'tlearn.replay' not in sys.modules;"
            "print(tlearn.transfer.FineTune.__name__, tlearn.replay.__name__)")
    r = run_python(["-c", code], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["FineTune", "tlearn.replay"]


# ------------------------------------------------- a model as a block, shared layers

def test_a_model_is_a_block_of_another_with_its_weights():
    X, Y = data()
    inp = tl.Input(6, name="bx")
    base = tl.Model(inp, L.ReLU(name="br")(L.Dense(16, name="feat")(inp)), name="base")
    before = base.get_weights()
    # Keras's transfer recipe
    base.trainable = False
    x = tl.Input(6, name="x")
    outer = tl.Model(x, L.Dense(2, name="head")(base(x)), name="outer")
    assert not outer.layer("feat").trainable and outer.layer("head").trainable
    outer.compile("adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    outer.fit(X, Y, epochs=3, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(base.get_weights(), before))
    assert np.array_equal(outer.params["feat.w"], before[0])
    # fine-tuning: unfreeze base; the outer model's training reaches base
    base.trainable = True
    assert outer.layer("feat").trainable
    outer.fit(X, Y, epochs=3, verbose=0)
    assert not np.array_equal(base.params["feat.w"], before[0])
    assert np.array_equal(base.params["feat.w"], outer.params["feat.w"])
    assert np.array_equal(base.predict(X), outer.predict(X, outputs=["br"])["br"])
    # and the other way: base's own training and writes reach the outer model
    base.params["feat.b"][...] = 0.25
    assert np.array_equal(outer.predict(X, outputs=["br"])["br"], base.predict(X))
    # freezing the outer model freezes the nested one, as in Keras (the layers are the same objects)
    outer.trainable = False
    assert not base.trainable
    with pytest.raises(ValueError, match="input 'bx' takes shape \\(6,\\), got a tensor of shape \\(5,\\)"):
        base(tl.Input(5))
    with pytest.raises(TypeError, match="for arrays use model.predict"):
        base(X)


def test_two_models_built_from_the_same_layers_share_their_weights():
    X, Y = data()
    enc = L.Dense(4, name="enc")
    a_in, b_in = tl.Input(6, name="a"), tl.Input(6, name="b")
    m1 = tl.Model(a_in, enc(a_in), seed=1)
    m2 = tl.Model(b_in, L.Dense(2, name="h2")(L.ReLU()(enc(b_in))), seed=2)
    assert np.array_equal(m1.params["enc.w"], m2.params["enc.w"])  # the first model's weights
    m2.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    w0 = m1.params["enc.w"].copy()
    m2.fit(X, Y, epochs=2, verbose=0)
    assert not np.array_equal(m1.params["enc.w"], w0)
    np.testing.assert_allclose(m1.predict(X), X @ m2.params["enc.w"].T + m2.params["enc.b"], rtol=1e-5, atol=1e-5)
    m1.params["enc.w"][...] = 0
    m1.params["enc.b"][...] = 0
    np.testing.assert_array_equal(m2.predict(X), np.broadcast_to(m2.params["h2.b"], (len(X), 2)))
    m2.layer("enc").reset()  # re-initialised for every model that has the layer
    assert np.any(m1.params["enc.w"] != 0) and np.array_equal(m1.params["enc.w"], m2.params["enc.w"])
    m1.params["enc.b"][...] = 0
    c = m2.clone()  # a clone has layers of its own
    m1.params["enc.b"][...] = 1
    assert np.all(c.params["enc.b"] == 0) and np.all(m2.params["enc.b"] == 1)


def test_a_rebuilt_sequential_stays_the_home_of_its_layers():
    """Keras's ``pop(); add(...)`` rebuilds a Sequential's network; a model
    built from one of its layers before stays linked to it: its training
    reaches the rebuilt Sequential, and the Sequential's weights reach it."""
    X, Y = data()
    d1 = L.Dense(5, name="d1")
    base = tl.Sequential([tl.Input(6), d1, L.Dense(3, name="d2")])
    x = tl.Input(6, name="x")
    outer = tl.Model(x, L.Dense(2, name="head")(d1(x)), seed=1)
    outer.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    base.pop()
    base.add(L.Dense(4, name="d3"))
    w0 = base.params["d1.w"].copy()
    outer.fit(X, Y, epochs=1, verbose=0)
    assert not np.array_equal(base.params["d1.w"], w0)
    np.testing.assert_array_equal(base.params["d1.w"], outer.params["d1.w"])
    base.params["d1.w"][...] = 0.5
    np.testing.assert_array_equal(outer.predict(X, outputs=["d1"])["d1"], X @ np.full((6, 5), 0.5, np.float32)
                                  + base.params["d1.b"])


# --------------------------------------------------------- loading and saving

def test_lenient_loading_says_what_it_did_not_load():
    m = mlp()
    rng = np.random.default_rng(0)
    # what torch.nn.Sequential(Linear(6, 8), ReLU(), Linear(8, 2)).state_dict() holds
    sd = {"0.weight": rng.standard_normal((8, 6)), "0.bias": rng.standard_normal(8),
          "2.weight": rng.standard_normal((2, 8)), "2.bias": rng.standard_normal(2)}
    with pytest.raises(KeyError, match=re.escape("mapping = {'0': 'fc1', '2': 'fc2'}")) as e:
        m.load_weights(sd, strict=False)
    assert "none of the 4 names matches" in str(e.value) and "positions" in str(e.value)
    # the mapping the message gives, applied as it says, loads everything
    mapping = {'0': 'fc1', '2': 'fc2'}
    loaded = m.load_weights({mapping[k.rsplit('.', 1)[0]] + '.' + k.rsplit('.', 1)[1]: v for k, v in sd.items()
                             if k.rsplit('.', 1)[0] in mapping})
    assert sorted(loaded) == sorted(m.params) and np.allclose(m.params["fc2.b"], sd["2.bias"])
    with pytest.warns(UserWarning, match=r"loaded 1 of 3 names.*\['0.weight', '0.bias'\]"):
        assert m.load_weights({"fc1.b": np.zeros(8), "0.weight": sd["0.weight"], "0.bias": sd["0.bias"]},
                              strict=False) == ["fc1.b"]
    assert np.all(m.params["fc1.b"] == 0)
    with pytest.raises(KeyError, match="unknown names \\['0.weight'.*mapping = "):
        m.load_weights(sd)


@pytest.mark.parametrize("ext", [".h5", ".hdf5", ".keras", ".pt", ".pth", ".onnx", ".npz", ".pkl"])
def test_save_refuses_a_name_that_promises_another_format(tmp_path, ext):
    m = mlp()
    with pytest.raises(ValueError, match=r"model.save writes tlearn's own model file; name it '\.tlm'"):
        m.save(tmp_path / f"m{ext}")
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="model.save writes tlearn's own model file"):
        C.ModelCheckpoint(str(tmp_path / ("best-{epoch}" + ext)))  # refused before any training
    m.save(tmp_path / "m.tlm")
    assert np.array_equal(tl.load(tmp_path / "m.tlm").params["fc1.w"], m.params["fc1.w"])


# ------------------------------------------------------------------ set-up

def test_import_from_an_unbuilt_source_tree_says_what_to_run(tmp_path):
    """A copy of the source tree without the extension: `import tlearn` there fails at
    once and names the commands, as NumPy does (an editable install elsewhere is hidden)."""
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "tlearn"), src / "tlearn",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    shutil.copy(os.path.join(ROOT, "setup.py"), src / "setup.py")
    (src / "csrc").mkdir()
    hide = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]; "
            "sys.path[:] = [p for p in sys.path if not p.startswith(" + repr(ROOT) + ")];")
    for code in ("import tlearn", "import runpy; runpy.run_module('tlearn', run_name='__main__')"):
        r = subprocess.run([sys.executable, "-c", hide + code, "--help"], cwd=src, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode != 0
        assert "tlearn's C extension (tlearn._core) is not built" in r.stderr, r.stderr
        assert "pip install -e ." in r.stderr and "python setup.py build_ext --inplace" in r.stderr
        assert "circular import" not in r.stderr


def test_python_m_tlearn_runs_when_built(tmp_path):
    r = run_python(["-m", "tlearn", "--help"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: tlearn") and "replay" in r.stdout


def test_notebooks_extra_installs_what_opens_and_runs_them():
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        tomllib = pytest.importorskip("tomli")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        extra = tomllib.load(f)["project"]["optional-dependencies"]["notebooks"]
    names = {re.split(r"[<>=!~\[ ]", r, 1)[0].lower() for r in extra}
    assert names & {"jupyterlab", "notebook"}, "something that opens a notebook"
    assert {"nbconvert", "ipykernel", "matplotlib", "nbclient"} <= names  # runs them (the tests' way too)
