"""What a Keras or PyTorch user tries in the first hour: whole-model freezing,
summary/get_layer, loud failure on a misspelt setting, pickle/copy/deepcopy,
PyTorch state-dict names both ways, BatchNorm momentum's meaning, names."""
import copy
import pickle

import numpy as np
import pytest

import tlearn as tl
from tlearn import layers as L, model as tmodel
from conftest import make_mlp


def data(n=40, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, k, n)


# ------------------------------------------------------------ model.trainable

def test_model_trainable_freezes_and_unfreezes_every_layer():
    m = make_mlp(hidden=(8, 8))
    m.compile(tl.optim.SGD(0.1, momentum=0.9), loss="softmax_ce")
    X, Y = data()
    assert m.trainable
    m.trainable = False
    assert not m.trainable and all(not m.layer(n).trainable for n in ("d0", "d1", "d2"))
    before = {k: v.copy() for k, v in m.params.items()}
    m.fit(X, Y, epochs=2, batch_size=8, verbose=False)
    for k, v in m.params.items():
        assert np.array_equal(v, before[k]), k  # bit-identical: nothing trained
    m.layer("d2").trainable = True  # the Keras transfer idiom: freeze all, then open the head
    m.fit(X, Y, epochs=1, batch_size=8, verbose=False)
    assert m.trainable
    assert np.array_equal(m.params["d0.w"], before["d0.w"]) and np.array_equal(m.params["d1.w"], before["d1.w"])
    assert not np.array_equal(m.params["d2.w"], before["d2.w"])
    m.trainable = True
    assert all(m.layer(n).trainable for n in ("d0", "d1", "d2"))
    m.fit(X, Y, epochs=1, batch_size=8, verbose=False)
    assert not np.array_equal(m.params["d0.w"], before["d0.w"])
    with pytest.raises(TypeError, match="expected True or False, got 'no'"):
        m.trainable = "no"


def test_trainable_survives_save_and_clone(tmp_path):
    m = make_mlp()
    m.trainable = False
    assert not m.clone().trainable
    m.save(tmp_path / "m.tlm")
    assert not tl.load(tmp_path / "m.tlm").trainable


# ---------------------------------------------------- settings that nobody reads

def test_unknown_setting_on_a_model_fails_loudly():
    m = make_mlp()
    with pytest.raises(AttributeError, match="has no setting 'trainble'.*did you mean 'trainable'"):
        m.trainble = False
    with pytest.raises(AttributeError, match="has no setting 'learning_rate'"):
        m.learning_rate = 0.1
    assert not hasattr(m, "trainble") and not hasattr(m, "learning_rate")
    m.name = "renamed"  # real settings still work
    m.check_finite = True
    m._scratch = 1  # private names are the implementation's
    assert m.name == "renamed" and m.check_finite
    with pytest.raises(AttributeError):
        m.params = {}  # a read-only property stays read-only


def test_a_subclass_declares_its_own_attributes():
    class Tagged(tl.Model):
        tag: str
        note = None

    x = tl.Input(3, name="x")
    m = Tagged(x, L.Dense(2, name="o")(x))
    m.tag, m.note = "a", "b"
    assert (m.tag, m.note) == ("a", "b")
    with pytest.raises(AttributeError, match="has no setting 'tga'"):
        m.tga = "a"


# ----------------------------------------------------------- summary, get_layer

def test_summary_prints_and_returns_none(capsys):
    m = make_mlp()
    assert m.summary() is None
    out = capsys.readouterr().out
    assert out.rstrip("\n") == str(m)
    assert "d0" in out and "Dense" in out and "(8,)" in out and "parameters: 83 (trainable: 83)" in out
    lines = []
    m.layer("d0").trainable = False
    assert m.summary(print_fn=lines.append) is None
    assert capsys.readouterr().out == ""
    assert "\n".join(lines) == str(m) and any("(frozen)" in ln and "d0" in ln for ln in lines)
    assert "trainable: 27" in lines[-1]


def test_get_layer_is_layer():
    m = make_mlp()
    m.get_layer("d0").trainable = False
    assert not m.layer("d0").trainable and m.get_layer("d0").param_names == ["d0.w", "d0.b"]
    with pytest.raises(KeyError, match="no layer 'nope'"):
        m.get_layer("nope")


# ------------------------------------------------------ pickle, copy, deepcopy

def halving(step, total):  # a custom schedule: module level so that pickle can name it
    return 0.01 * 0.5 ** (step // 10)


def trained_model(lr=0.01):
    x = tl.Input(6, name="x")
    h = L.Dropout(0.2, name="drop")(L.ReLU(name="r")(L.Dense(16, name="h")(x)))
    m = tl.Model(x, L.Dense(3, name="o")(h), seed=3)
    m.compile(tl.optim.Adam(lr), loss="softmax_ce")
    m.regularize(l2=1e-3)
    X, Y = data(64)
    m.fit(X, Y, epochs=2, batch_size=16, verbose=False)
    m.layer("h").trainable = False
    m.masks["o.w"][0] = 0.0
    return m, X, Y


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy"])
@pytest.mark.parametrize("lr", [0.01, halving])
def test_pickle_and_copies_predict_and_continue_bit_identically(how, lr):
    m, X, Y = trained_model(lr)
    twin = {"pickle": lambda: pickle.loads(pickle.dumps(m)), "deepcopy": lambda: copy.deepcopy(m),
            "copy": lambda: copy.copy(m)}[how]()
    assert twin is not m and twin._net is not m._net
    assert np.array_equal(twin.predict(X), m.predict(X))
    assert not twin.layer("h").trainable and twin.masks["o.w"][0].sum() == 0
    ha = m.fit(X, Y, epochs=2, batch_size=16, verbose=False)
    hb = twin.fit(X, Y, epochs=2, batch_size=16, verbose=False)
    assert ha["loss"] == hb["loss"]
    for k in m.params:
        assert np.array_equal(m.params[k], twin.params[k]), k
    twin.params["o.b"][...] += 1.0  # independent arenas
    assert not np.array_equal(twin.params["o.b"], m.params["o.b"])


def test_pickle_of_a_corrupt_model_file_is_refused():
    m, _, _ = trained_model()
    blob = bytearray(pickle.dumps(m))
    start = blob.index(b"TLEARN\x00M")
    blob[start + 200] ^= 0x10
    with pytest.raises(ValueError, match="pickled tlearn.Model: checksum mismatch"):
        pickle.loads(bytes(blob))
    with pytest.raises(ValueError, match="pickled tlearn.Model: not a tlearn model file"):
        tmodel._unpickle(b"\x00" * 64)
    with pytest.raises(TypeError, match="expected the bytes of a model file, got str"):
        tmodel._unpickle("TLEARN")


# --------------------------------------------------------- PyTorch names

def test_torch_names_both_ways_without_torch():
    x = tl.Input((2, 5, 5), name="x")
    h = L.BatchNorm(name="bn")(L.Conv2d(3, 3, name="features_0")(x))
    m = tl.Model(x, L.Dense(4, use_bias=False, name="fc")(L.Flatten()(h)))
    sd = m.state_dict(format="torch")
    assert sorted(sd) == sorted(["features_0.weight", "features_0.bias", "bn.weight", "bn.bias",
                                 "bn.running_mean", "bn.running_var", "fc.weight"])
    rng = np.random.default_rng(0)
    new = {k: rng.standard_normal(v.shape) for k, v in sd.items()}
    new["bn.running_var"] = np.abs(new["bn.running_var"])
    new["bn.num_batches_tracked"] = np.array(7)  # PyTorch's counter: ignored
    new["features.0.weight"] = new.pop("features_0.weight")  # a Sequential's path: dots become underscores
    loaded = m.load_weights(new)
    assert sorted(loaded) == sorted(m.params)
    assert np.allclose(m.params["features_0.w"], new["features.0.weight"])
    assert np.allclose(m.params["bn.running_var"], new["bn.running_var"])
    with pytest.raises(ValueError, match=r"parameter 'fc.w' \(from 'fc.weight'\): expected shape \(4, 27\), "
                                         r"got \(27, 4\)"):
        m.load_weights({"fc.weight": np.ones((27, 4))}, strict=False)
    with pytest.raises(KeyError, match=r"PyTorch name 'head.weight' matches no layer: no layer is called 'head'"):
        m.load_weights(dict(new, **{"head.weight": np.ones(3)}))
    with pytest.raises(KeyError, match=r"'fc.bias' is tlearn's 'fc.b', which layer 'fc' does not have"):
        m.load_weights(dict(new, **{"fc.bias": np.ones(4)}))
    with pytest.raises(KeyError, match="both name parameter 'fc.w'"):
        m.load_weights({"fc.w": np.ones((4, 27)), "fc.weight": np.ones((4, 27))}, strict=False)
    # strict=False: a dict none of whose names matches is refused, a partial match warns with the unmatched names
    with pytest.raises(KeyError, match=r"strict=False\): none of the 1 names matches a parameter.*"
                                       r"no layer is called 'head'"):
        m.load_weights({"head.weight": np.ones(3)}, strict=False)
    with pytest.warns(UserWarning, match=r"loaded 1 of 2 names; these match no parameter and were not loaded: "
                                         r"\['head.weight'\]"):
        assert m.load_weights({"head.weight": np.ones(3), "fc.weight": np.ones((4, 27))}, strict=False) == ["fc.w"]
    with pytest.raises(ValueError, match="format must be 'tlearn' or 'torch'"):
        m.state_dict(format="keras")


def test_torch_round_trip_against_real_modules():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
            self.fc = nn.Linear(4 * 4 * 4, 10)

        def forward(self, x):
            h = nn.functional.max_pool2d(self.features(x), 2)
            return self.fc(torch.flatten(h, 1))

    tnet = Net()
    X = np.random.default_rng(0).standard_normal((32, 1, 8, 8)).astype(np.float32)
    opt = torch.optim.SGD(tnet.parameters(), lr=0.1)
    for _ in range(3):  # moves the weights and the running statistics off their initial values
        opt.zero_grad()
        tnet(torch.from_numpy(X)).pow(2).mean().backward()
        opt.step()
    tnet.eval()

    x = tl.Input((1, 8, 8), name="x")
    h = L.Conv2d(4, kernel_size=3, padding=1, name="features_0")(x)
    h = L.ReLU(name="features_2")(L.BatchNorm(name="features_1")(h))
    out = L.Dense(10, name="fc")(L.Flatten()(L.MaxPool2d(2, name="pool")(h)))
    m = tl.Model(x, out)
    assert sorted(m.load_weights(tnet.state_dict())) == sorted(m.params)
    with torch.no_grad():
        ref = tnet(torch.from_numpy(X)).numpy()
    assert np.allclose(m.predict(X), ref, atol=1e-4)

    # and out again: a fresh torch module loads tlearn's export and computes the same
    m.params["fc.b"][...] += 0.5
    back = Net()
    # strict: PyTorch's BatchNorm accepts a state dict without num_batches_tracked
    back.load_state_dict({k.replace("features_", "features."): torch.from_numpy(v)
                          for k, v in m.state_dict(format="torch").items()})
    back.eval()
    with torch.no_grad():
        assert np.allclose(back(torch.from_numpy(X)).numpy(), m.predict(X), atol=1e-4)
    with pytest.raises(ValueError, match=r"'fc.w' \(from 'fc.weight'\): expected shape \(10, 64\), got \(10, 32\)"):
        m.load_weights({"fc.weight": torch.zeros(10, 32)}, strict=False)


# ------------------------------------------------------------- names

def test_batchnorm_momentum_is_pytorchs_and_keras_values_are_refused():
    for ok in (0.0, 0.01, 0.1, 0.5, 1.0):
        assert L.BatchNorm(momentum=ok).momentum == ok
    with pytest.raises(ValueError, match=r"PyTorch's meaning.*Keras's meaning.*momentum=0.01 "):
        L.BatchNorm(momentum=0.99)
    with pytest.raises(ValueError, match=r"momentum=0.1 for the same averaging"):
        L.BatchNorm(momentum=0.9)


def test_a_momentum_set_as_an_attribute_saves_and_loads(tmp_path):
    # the Keras-meaning guard is for constructor arguments: a model holding 0.9 (set on the layer,
    # as AdaBN-style code does) must load again, not be refused by its own file
    x = tl.Input(4)
    m = tl.Model(x, L.Dense(2, name="o")(L.BatchNorm(name="bn")(x)), seed=0)
    m.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    m.layer("bn").momentum = 0.9
    m.save(tmp_path / "m.tl")
    back = tl.load(tmp_path / "m.tl")
    assert back.layer("bn").momentum == pytest.approx(0.9)
    xs = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    np.testing.assert_array_equal(back.predict(xs), m.predict(xs))
    assert L.from_config("BatchNorm", {"momentum": 0.9, "eps": 1e-5, "name": "b"}).momentum == 0.9
    with pytest.raises(ValueError, match="must be"):  # the row's own limits still apply on load
        L.from_config("BatchNorm", {"momentum": 1.5, "eps": 1e-5, "name": "b"})


def test_kernel_size_with_kernel_kept_as_alias():
    a, b = L.Conv2d(4, kernel_size=3, stride=2), L.Conv2d(4, kernel=3, stride=2)
    assert a.kernel == b.kernel == (3, 3) and a.get_config()["kernel_size"] == [3, 3]
    assert L.MaxPool2d(kernel=2).kernel == L.MaxPool2d(2).kernel == L.AvgPool2d(kernel_size=(2, 2)).kernel
    old = {"filters": 4, "kernel": [3, 3], "stride": [1, 1], "padding": [0, 0], "use_bias": True, "name": "c"}
    assert L.from_config("Conv2d", old).kernel == (3, 3)  # model files written before the rename
    with pytest.raises(TypeError, match="kernel_size or its alias kernel, not both"):
        L.Conv2d(4, kernel_size=3, kernel=3)
    with pytest.raises(TypeError, match="missing the kernel_size argument"):
        L.MaxPool2d()
