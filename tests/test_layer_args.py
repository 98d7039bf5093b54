"""Layer and loss arguments come from the op table's rows: the arguments,
their defaults, limits and configuration are the row's.  A layer's first one
or two may be positional and the others are keyword-only, so another
library's positional order fails loudly instead of building something else;
a loss takes its op's attributes, then weight and name."""
import inspect

import numpy as np
import pytest

import tlearn as tl
from tlearn import _ops
from tlearn import layers as L
from tlearn import losses as LS

ROW_LAYERS = sorted((c for c in L.LAYERS.values() if c.op in _ops.OPS and "__init__" not in vars(c)
                     and c is not L.InputLayer), key=lambda c: c.__name__)


def test_every_op_with_a_layer_class_is_covered():
    assert {c.op for c in ROW_LAYERS} >= {"dense", "conv2d", "maxpool2d", "avgpool2d", "batchnorm", "dropout",
                                          "grad_reverse", "leaky_relu", "scale", "relu", "add", "concat"}


def test_pytorch_positional_order_fails_loudly():
    with pytest.raises(TypeError) as e:
        L.Conv2d(1, 8, 3)  # PyTorch: in_channels, out_channels, kernel_size
    msg = str(e.value)
    assert "Conv2d() takes 2 positional arguments (filters, kernel_size), got 3" in msg
    assert "Conv2d(in_channels, out_channels, kernel_size) does not apply" in msg
    assert "Conv2d(filters, kernel_size, stride=..., padding=..." in msg
    with pytest.raises(TypeError, match=r"Dense\(\) takes 1 positional argument \(units\), got 2.*"
                                        r"Linear\(in_features, out_features\) does not apply"):
        L.Dense(64, 10)  # not use_bias=10
    with pytest.raises(TypeError, match=r"BatchNorm\(\) takes 0 positional arguments, got 1.*BatchNorm2d"):
        L.BatchNorm(64)
    with pytest.raises(TypeError, match=r"MaxPool2d\(\) takes 2 positional arguments \(kernel_size, stride\), got 3"):
        L.MaxPool2d(2, 2, 0)
    with pytest.raises(TypeError, match=r"ReLU\(\) takes 0 positional arguments, got 1; the others are keyword-only: "
                                        r"ReLU\(name=...\)"):
        L.ReLU("r")


def test_keyword_arguments_and_their_errors():
    d = L.Dense(3, use_bias=False, init="glorot", name="d")
    assert (d.units, d.use_bias, d.init) == (3, False, "glorot")
    c = L.Conv2d(4, 3, stride=2, padding=(1, 0))
    assert (c.kernel_size, c.stride, c.padding) == ((3, 3), (2, 2), (1, 0))
    assert L.MaxPool2d(3).stride == (3, 3) and L.MaxPool2d(3, 1).stride == (1, 1)
    with pytest.raises(TypeError, match=r"Dense\(\) got an unexpected keyword argument 'bias'; its arguments: "
                                        r"units, init, use_bias, name"):
        L.Dense(3, bias=False)
    with pytest.raises(TypeError, match=r"Dense\(\) got multiple values for argument 'units'"):
        L.Dense(3, units=4)
    with pytest.raises(TypeError, match="Dense: missing the units argument"):
        L.Dense()
    with pytest.raises(ValueError, match=r"Dense use_bias must be True or False, got 'no'"):
        L.Dense(3, use_bias="no")
    with pytest.raises(ValueError, match=r"Conv2d stride must be >= 1, got 0"):
        L.Conv2d(4, 3, stride=0)
    with pytest.raises(ValueError, match=r"Conv2d padding must be >= 0, got \(1, -1\)"):
        L.Conv2d(4, 3, padding=(1, -1))
    with pytest.raises(ValueError, match=r"GradReverse lambda_ must be finite, got nan"):
        L.GradReverse(float("nan"))
    with pytest.raises(ValueError, match=r"LeakyReLU alpha must be >= 0, got -0.1"):
        L.LeakyReLU(-0.1)
    with pytest.raises(ValueError, match=r"Dropout rate must be a real number \(in \[0, 1\)\), got '0.5'"):
        L.Dropout("0.5")


def _bad_value(a):
    """A value outside attribute a's limits, or None when it has none to cross."""
    if a["kind"] == "choice":
        return "no such choice"
    if a["kind"] == "bool":
        return 2
    if a["kind"] == "float":
        return float("nan")
    lo = a["min"]
    return None if lo is None or lo == float("-inf") else int(lo) - 1


@pytest.mark.parametrize("cls", ROW_LAYERS, ids=lambda c: c.__name__)
def test_a_layer_class_is_its_row(cls):
    args = _ops.layer_args(cls.op)
    sig = inspect.signature(cls)
    names = [n for n, _ in args]
    assert list(sig.parameters) == list(cls.positional) + [n for n in names if n not in cls.positional] + ["name"]
    for n, p in sig.parameters.items():
        assert p.kind == (inspect.Parameter.POSITIONAL_OR_KEYWORD if n in cls.positional
                          else inspect.Parameter.KEYWORD_ONLY), (cls.__name__, n)
    assert len(cls.positional) <= 2
    # the required arguments (the row has no default) and a valid value for each
    need = {}
    for n, attrs in args:
        if attrs[0]["default"] is None and n not in cls.defaults_from:
            need[n] = 3
    layer = cls(**need, name="x")
    cfg = layer.get_config()
    assert list(cfg) == names + ["name"]
    for n, attrs in args:
        want = [a["default"] for a in attrs]
        if n in need or n in cls.defaults_from:
            continue
        got = cfg[n] if isinstance(cfg[n], list) else [cfg[n]]
        if attrs[0]["kind"] == "choice":
            want = [attrs[0]["choices"][want[0]]]
        assert got == pytest.approx(want), (cls.__name__, n)
    # the configuration rebuilds the layer; the core takes its attributes as they are
    again = L.from_config(cls.__name__, cfg)
    assert again.get_config() == cfg and again.attrs() == layer.attrs()
    assert set(layer.attrs()) == {a["name"] for a in _ops.attrs(cls.op)}
    # a value outside the row's limits is refused by the class, naming the argument
    for n, attrs in args:
        bad = _bad_value(attrs[0])
        if bad is None:
            continue
        with pytest.raises(ValueError, match=rf"{cls.__name__} {n} must be"):
            cls(**{**need, n: bad})


@pytest.mark.parametrize("kind", sorted(LS.LOSSES))
def test_a_loss_class_is_its_row(kind):
    cls = LS.LOSSES[kind]
    attrs = _ops.attrs(kind)
    names = [_ops.py_name(a["name"]) for a in attrs]
    assert list(inspect.signature(cls).parameters) == names + ["weight", "name"]
    loss = cls(name="l")
    cfg = loss.get_config()
    assert list(cfg) == names + ["weight", "name"] and cfg["weight"] == 1.0
    for n, a in zip(names, attrs):
        assert cfg[n] == pytest.approx(a["default"]), (kind, n)
    again = LS.from_config(cls.__name__, {**cfg, "weight": 0.5})
    assert again.attrs() == loss.attrs() and again.weight == 0.5
    assert set(loss.attrs()) == {a["name"] for a in attrs}
    for n, a in zip(names, attrs):
        with pytest.raises(ValueError, match=rf"{cls.__name__} {n} must be"):
            cls(**{n: _bad_value(a)})
    with pytest.raises(TypeError, match=rf"{cls.__name__}\(\): .*'weights'.*its arguments: {cls.__name__}\("):
        cls(weights=2.0)
    with pytest.raises(ValueError, match="loss weight must be >= 0"):
        cls(weight=-1.0)


def test_loss_attributes_by_position_and_by_name():
    assert [cls for cls in LS.LOSSES.values() if _ops.attrs(cls.kind)], "no loss with attributes"
    sce = LS.SoftTargetCE(0.5, 2.0, "s")
    assert (sce.temperature, sce.weight, sce.name) == (0.5, 2.0, "s") and sce.attrs() == {"temperature": 0.5}
    assert LS.KLSparsity(rho=0.2).attrs() == {"rho": pytest.approx(0.2)}


def test_row_layers_train_after_the_change():
    x = tl.Input((1, 6, 6), name="x")
    h = L.MaxPool2d(2, name="p")(L.ReLU(name="r")(L.Conv2d(3, 3, padding=1, name="c")(x)))
    y = L.Dense(2, name="o")(L.Flatten(name="f")(L.BatchNorm(momentum=0.2, name="bn")(h)))
    m = tl.Model(x, y, seed=0)
    m.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 1, 6, 6)).astype(np.float32)
    Y = (X.mean((1, 2, 3)) > 0).astype(np.int32)
    h = m.fit(X, Y, epochs=5, batch_size=8, verbose=False)
    assert h.history["loss"][-1] < h.history["loss"][0]
