"""Layers: callables on symbolic tensors that become nodes of the C core.

Each layer names one op of the core's op table; its attributes are the
row's, by name (a layer stores each under the same name, or overrides
:meth:`Layer.attrs`).  Shape inference and validation are the core's own (a
one-node network is built to ask it), so Python never re-implements an op.
Every public subclass is registered by class name for loading (``LAYERS``).
Calling a layer object again shares it, as in Keras (``d = Dense(16); u, v =
d(a), d(b)``): each call is a node of the core, all of them use one set of
parameters (their gradient is the sum over the uses).  Parameters belong to the :class:`~tlearn.Model`
built from the graph and are named ``"<layer name>.<w|b>"``; the k-th further
call's node is ``"<layer name>:<k>"``.

Names: a layer or argument takes PyTorch's name when PyTorch has the same
thing with the same arguments (``Conv2d``, ``MaxPool2d``, ``AvgPool2d``,
``kernel_size``, ``stride``, ``padding``, ``eps``, BatchNorm's ``momentum`` in
PyTorch's sense), Keras's otherwise -- where tlearn infers the input size
as Keras does (``Dense(units)``, ``Conv2d(filters, ...)``, ``Dropout(rate)``,
``use_bias``).  Older names stay as aliases (``kernel`` for ``kernel_size``).
"""
from __future__ import annotations

import inspect
import itertools
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import _core, _ops
from .graph import Tensor

_counters: Dict[str, itertools.count] = {}
LAYERS: Dict[str, type] = {}  # class name -> class, filled as subclasses are defined


def _auto_name(base: str) -> str:
    c = _counters.setdefault(base, itertools.count())
    i = next(c)
    return base if i == 0 else f"{base}_{i}"


_REQUIRED = inspect.Parameter.empty


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _limit_words(a: dict) -> str:
    """The limits of attribute ``a`` in words: the row's own, or its bounds."""
    if a["must"]:
        return a["must"]
    lo, hi = a["min"], a["max"]
    parts = []
    if lo is not None and lo != float("-inf"):
        parts.append(f"{'>' if a['min_open'] else '>='} {lo}")
    if hi is not None and hi not in (float("inf"), _core.INT_MAX):
        parts.append(f"{'<' if a['max_open'] else '<='} {hi}")
    return " and ".join(parts) or "finite"


def _within(a: dict, v) -> bool:
    lo, hi = a["min"], a["max"]
    return (v > lo if a["min_open"] else v >= lo) and (v < hi if a["max_open"] else v <= hi)


def _default(attrs):
    """An argument's default from its row attributes (a pair: both halves), or _REQUIRED."""
    d = [a["default"] for a in attrs]
    if any(v is None for v in d):
        return _REQUIRED
    if attrs[0]["kind"] == "bool":
        return bool(d[0])
    if attrs[0]["kind"] == "choice":
        return attrs[0]["choices"][d[0]]
    return tuple(d) if len(d) == 2 else d[0]


class Layer:
    """Base class.  A subclass names its ``op``; its arguments are that op's
    attributes in the op table's row (an (H, W) pair of the row is one
    argument), checked against the row's limits, stored under their Python
    names and returned by :meth:`get_config` -- so a row and its layer cannot
    disagree.  The first ``len(positional)`` arguments may be given by
    position, the others only by keyword.

    Attributes
    ----------
    op : str
        Name of the core op.  The op table's settable attributes (for example
        ``GradReverse.lambda_``) are read and set on a built model through
        ``model.layer(name).<attr>``.
    positional : tuple of str
        The one or two leading arguments that may be positional.
    """

    op: str = ""
    n_inputs: Optional[int] = 1
    positional: Tuple[str, ...] = ()
    hint: str = ""  # added to the message when more arguments come by position (another library's order)
    aliases: Dict[str, str] = {}  # older argument name -> its name
    defaults_from: Dict[str, str] = {}  # argument -> the argument whose value it takes when not given

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if not cls.__name__.startswith("_"):
            LAYERS[cls.__name__] = cls
        if cls.op and cls.op in _ops.OPS and "__init__" not in cls.__dict__:
            row = _ops.OPS[cls.op]
            cls.n_inputs = row["max_inputs"] if row["max_inputs"] >= 0 else None
            cls._args = _ops.layer_args(cls.op)
            names = [n for n, _ in cls._args]
            assert set(cls.positional) <= set(names) and len(cls.positional) <= 2, cls
            params = []
            for n, attrs in cls._args:
                kind = (inspect.Parameter.POSITIONAL_OR_KEYWORD if n in cls.positional
                        else inspect.Parameter.KEYWORD_ONLY)
                d = None if n in cls.defaults_from else _default(attrs)
                params.append(inspect.Parameter(n, kind, default=d))
            params.append(inspect.Parameter("name", inspect.Parameter.KEYWORD_ONLY, default=None))
            params.sort(key=lambda p: p.kind)
            cls.__signature__ = inspect.Signature(params)

    _args: list = []

    def __init__(self, *args, name: Optional[str] = None, **kwargs):
        self._configure(args, kwargs)
        self._check()
        self._named(name)

    def _configure(self, args: tuple, kwargs: dict) -> None:
        """Set the row's arguments from ``args``/``kwargs``, each checked against the row's limits."""
        cls = type(self).__name__
        if len(args) > len(self.positional):
            k = len(self.positional)
            form = ", ".join(list(self.positional) + [f"{n}=..." for n, _ in self._args if n not in self.positional]
                             + ["name=..."])
            raise TypeError(f"{cls}() takes {k} positional argument{'' if k == 1 else 's'}"
                            f"{' (' + ', '.join(self.positional) + ')' if k else ''}, got {len(args)}; the others are "
                            f"keyword-only: {cls}({form}){self.hint}")
        given = dict(zip(self.positional, args))
        for k, v in kwargs.items():
            target = self.aliases.get(k, k)
            if target != k and target in kwargs:
                raise TypeError(f"{cls}: give {target} or its alias {k}, not both")
            if target in given:
                raise TypeError(f"{cls}() got multiple values for argument {target!r}")
            if target not in dict(self._args):
                raise TypeError(f"{cls}() got an unexpected keyword argument {k!r}; its arguments: "
                                f"{', '.join([n for n, _ in self._args] + ['name'])}")
            given[target] = v
        for n, attrs in self._args:
            if given.get(n) is None and n in self.defaults_from:
                continue  # takes its source's value, below
            if n not in given:
                given[n] = _default(attrs)
                if given[n] is _REQUIRED:
                    raise TypeError(f"{cls}: missing the {n} argument")
            setattr(self, n, self._checked(n, attrs, given[n]))
        for n, src in self.defaults_from.items():
            if given.get(n) is None:
                setattr(self, n, getattr(self, src))

    def _checked(self, arg: str, attrs: List[dict], v):
        """``v`` as the value of argument ``arg`` (row attributes ``attrs``), or a ValueError naming both."""
        what = f"{type(self).__name__} {arg}"
        a = attrs[0]
        if len(attrs) == 2:  # an (H, W) pair: an int or two
            vals = (v, v) if _is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else None
            if vals is None or len(vals) != 2 or not all(_is_int(x) for x in vals):
                raise ValueError(f"{what} must be an int or a pair of ints, got {v!r}")
            for x, h in zip(vals, attrs):
                if not _within(h, x):
                    raise ValueError(f"{what} must be {_limit_words(h)}, got {v!r}")
            return tuple(int(x) for x in vals)
        if a["kind"] == "int":
            if not _is_int(v) or not _within(a, v):
                raise ValueError(f"{what} must be a{'' if a['must'] else 'n'} {_limit_words(a)} int, got {v!r}"
                                 if a["must"] else f"{what} must be an int {_limit_words(a)}, got {v!r}")
            return int(v)
        if a["kind"] == "bool":
            if isinstance(v, (bool, np.bool_)) or (_is_int(v) and v in (0, 1)):
                return bool(v)
            raise ValueError(f"{what} must be True or False, got {v!r}")
        if a["kind"] == "choice":
            if v not in a["choices"]:
                raise ValueError(f"{what} must be one of {sorted(a['choices'])}, got {v!r}")
            return v
        if isinstance(v, (str, bytes, bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"{what} must be a real number ({_limit_words(a)}), got {v!r}")
        f = float(v)
        if not (np.isfinite(f) and _within(a, f)):
            raise ValueError(f"{what} must be {_limit_words(a)}, got {v!r}")
        return f

    def _check(self) -> None:
        """Checks of the caller's intent beyond the row's limits (none by default).  They guard a
        constructor's arguments only: :func:`from_config` rebuilds a saved layer without them, so
        that a value the row allows and a model held (set as an attribute, say) always loads."""

    def _named(self, name: Optional[str]) -> None:
        if name is not None and (not isinstance(name, str) or not name or any(c in name for c in "./:")):
            raise ValueError(f"layer name must be a non-empty string without '.', '/' or ':', got {name!r}")
        self.name = name or _auto_name(self.op)
        self._calls = 0

    # --- what the core needs ---
    def attrs(self) -> dict:
        """The op's attributes by their row names, from the arguments (a pair's halves from its tuple)."""
        out = {}
        for n, attrs in self._args:
            v = getattr(self, n)
            for k, a in enumerate(attrs):
                out[a["name"]] = v[k] if len(attrs) == 2 else v
        return out

    def shape_attr(self) -> Tuple[int, ...]:
        return ()

    def get_config(self) -> dict:
        """Every argument (pairs as lists) and the name: ``type(self)(**get_config())`` rebuilds the layer."""
        cfg = {}
        for n, attrs in self._args:
            v = getattr(self, n)
            cfg[n] = list(v) if len(attrs) == 2 else v
        cfg["name"] = self.name
        return cfg

    # --- calling ---
    def __call__(self, *inputs) -> Tensor:
        if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
            inputs = tuple(inputs[0])
        for t in inputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"layer '{self.name}': expected tlearn Tensors, got {type(t).__name__}")
        if self.n_inputs is not None and len(inputs) != self.n_inputs:
            raise ValueError(f"layer '{self.name}' ({type(self).__name__}): expected {self.n_inputs} input(s), "
                             f"got {len(inputs)}")
        if self._calls and self.n_inputs == 0:
            raise ValueError(f"input '{self.name}' is already a tensor; make another Input")
        shape, pshapes = self._infer(inputs)
        if self._calls and pshapes != self._param_shapes:
            k = next(i for i, (a, b) in enumerate(zip(pshapes, self._param_shapes)) if a != b)
            raise ValueError(f"layer '{self.name}' is shared: its parameter {k} has shape {self._param_shapes[k]}, "
                             f"this call on inputs of shape {[t.shape for t in inputs]} would need {pshapes[k]}")
        self._param_shapes = pshapes
        self._calls += 1
        return Tensor(self, inputs, shape, self._calls - 1)

    def _infer(self, inputs: Sequence[Tensor]):
        """The output shape and the parameter shapes of a call on ``inputs``, from the core."""
        net = _core.Net(0)
        ids = [net.add("input", name=f"in{k}", shape=t.shape) for k, t in enumerate(inputs)]
        node = net.add(self.op, ids, self.name, self.attrs(), self.shape_attr())
        return net.node(node)["shape"], [net.param_info(p)["shape"] for p in range(net.n_params)]

    def __repr__(self) -> str:
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({cfg})"


class InputLayer(Layer):
    op = "input"
    n_inputs = 0

    def __init__(self, shape, name: Optional[str] = None):
        if isinstance(shape, int):
            shape = (shape,)
        try:
            shape = tuple(int(s) for s in shape)
        except TypeError:
            raise TypeError(f"Input shape must be an int or a tuple of ints, got {shape!r}") from None
        if not 1 <= len(shape) <= _core.MAX_DIM or any(s <= 0 for s in shape):
            raise ValueError(f"Input shape must have 1 to {_core.MAX_DIM} positive sizes, got {shape}")
        self.shape = shape
        self._named(name)

    def shape_attr(self):
        return self.shape

    def _infer(self, inputs):
        return self.shape, []

    def get_config(self):
        return {"shape": list(self.shape), "name": self.name}


def Input(shape, name: Optional[str] = None) -> Tensor:
    """A model input of per-example ``shape`` (an int or a tuple of up to 4 ints)."""
    return InputLayer(shape, name=name)()


class Dense(Layer):
    """Fully connected layer ``y = x W^T + b`` on the flattened example:
    ``Dense(units, *, init="he", use_bias=True, name=None)``.

    Parameters ``<name>.w`` of shape (units, in_features) and ``<name>.b`` (units,).
    ``init`` is ``"he"`` (normal, std sqrt(2/fan_in); default) or ``"glorot"``.
    The input size is inferred (Keras's ``Dense(units)``, not PyTorch's
    ``Linear(in_features, out_features)``).
    """

    op = "dense"
    positional = ("units",)
    hint = (". PyTorch's order Linear(in_features, out_features) does not apply: tlearn infers the input size, "
            "as Keras does: Dense(units, use_bias=..., init=...)")


class ReLU(Layer):
    op = "relu"


class LeakyReLU(Layer):
    """``y = max(x, alpha x)``: ``LeakyReLU(alpha=0.01, *, name=None)``."""

    op = "leaky_relu"
    positional = ("alpha",)


class Sigmoid(Layer):
    op = "sigmoid"


class Tanh(Layer):
    op = "tanh"


class Softmax(Layer):
    """Softmax over all features of an example.  For training use the fused
    ``"softmax_ce"`` loss on the logits instead."""

    op = "softmax"


class Add(Layer):
    """Elementwise sum of two or more tensors of equal shape."""

    op = "add"


class Concat(Layer):
    """Concatenation along the first per-example axis (features, or channels)."""

    op = "concat"


class Reshape(Layer):
    """View the example as ``shape`` (one entry may be -1).  Moves no data."""

    op = "reshape"

    def __init__(self, shape, *, name: Optional[str] = None):
        self.target_shape = tuple(int(s) for s in ((shape,) if isinstance(shape, int) else shape))
        self._named(name)

    def shape_attr(self):
        return self.target_shape

    def get_config(self):
        return {"shape": list(self.target_shape), "name": self.name}


class Flatten(Reshape):
    """Flatten each example to a vector."""

    def __init__(self, *, name: Optional[str] = None):
        super().__init__((-1,), name=name or _auto_name("flatten"))

    def get_config(self):
        return {"name": self.name}


class Dropout(Layer):
    """Inverted dropout: zero a fraction ``rate`` in training, identity in
    evaluation: ``Dropout(rate=0.5, *, name=None)``."""

    op = "dropout"
    positional = ("rate",)


class GradReverse(Layer):
    """Gradient reversal layer (Ganin & Lempitsky 2015): identity forward,
    gradient multiplied by ``-lambda_`` backward: ``GradReverse(lambda_=1.0, *, name=None)``.
    ``lambda_`` can be changed between steps with ``model.layer(name).lambda_ = value``
    or scheduled per step by ``Model.fit(schedules=...)``."""

    op = "grad_reverse"
    positional = ("lambda_",)


class Conv2d(Layer):
    """2-d convolution (cross-correlation, as in PyTorch) of a (C, H, W) input:
    ``Conv2d(filters, kernel_size, *, stride=1, padding=0, use_bias=True, name=None)``.

    Output (filters, OH, OW) with ``OH = (H + 2 padding - kh) // stride + 1``.
    Parameters ``<name>.w`` of shape (filters, C, kh, kw), He-initialised with
    fan_in = C kh kw, and ``<name>.b`` (filters,).  ``kernel_size``, ``stride``
    and ``padding`` (zeros) are ints or (h, w) pairs (``kernel`` is the older
    name of ``kernel_size``).  The input channels are inferred (Keras's
    ``Conv2D(filters, kernel_size)``, not PyTorch's ``Conv2d(in_channels,
    out_channels, kernel_size)``).  Lowered onto sgemm through im2col over the
    whole batch, or a direct kernel at stride 1.
    """

    op = "conv2d"
    positional = ("filters", "kernel_size")
    aliases = {"kernel": "kernel_size"}
    hint = (". PyTorch's order Conv2d(in_channels, out_channels, kernel_size) does not apply: tlearn infers the "
            "input channels, as Keras does: Conv2d(filters, kernel_size, stride=..., padding=...)")

    @property
    def kernel(self) -> Tuple[int, int]:
        """The older name of ``kernel_size``."""
        return self.kernel_size


class _Pool2d(Layer):
    positional = ("kernel_size", "stride")
    aliases = {"kernel": "kernel_size"}
    defaults_from = {"stride": "kernel_size"}

    @property
    def kernel(self) -> Tuple[int, int]:
        """The older name of ``kernel_size``."""
        return self.kernel_size


class MaxPool2d(_Pool2d):
    """Max pooling of a (C, H, W) input over ``kernel_size`` windows (int or pair):
    ``MaxPool2d(kernel_size, stride=None, *, name=None)``, ``stride`` defaulting
    to the kernel; no padding, the rest of a row that does not fill a window
    is dropped (PyTorch's floor mode)."""

    op = "maxpool2d"


class AvgPool2d(_Pool2d):
    """Average pooling of a (C, H, W) input; see :class:`MaxPool2d`."""

    op = "avgpool2d"


class BatchNorm(Layer):
    """Batch normalisation per channel of a (C, H, W) input, or per feature of a flat one:
    ``BatchNorm(*, momentum=0.1, eps=1e-5, name=None)``.

    Training steps normalise with the batch statistics and update the running
    ones, ``running := (1 - momentum) running + momentum batch_stat`` (unbiased
    variance, as PyTorch); evaluation and prediction use the running
    statistics and leave them untouched.

    A frozen layer runs in inference mode, in training steps too (Keras's
    rule for a non-trainable BatchNorm): when neither gamma nor beta trains
    (``model.trainable = False``, ``model.layer(name).trainable = False``)
    ``fit``, ``train_on_batch`` and the Fisher estimate normalise with the
    running statistics and leave them as they are, so a frozen model's
    predictions do not change under ``fit``; the gradient flows through to
    the layers before it (``gamma / sqrt(running_var + eps)`` times the
    output's).  :meth:`tlearn.Model.reestimate_batchnorm` still re-estimates
    a frozen layer's statistics.

    ``momentum`` has PyTorch's meaning, the weight of the *new* batch
    statistic (default 0.1).  Keras's ``momentum`` is the weight of the *old*
    running value (default 0.99), so a value in (0.5, 1) is refused as
    probably meant the Keras way: Keras's 0.99 is ``momentum=0.01`` here.
    ``momentum=1`` keeps the last batch's statistics.  ``model.layer(name).momentum = 0``
    freezes the running statistics; :meth:`tlearn.Model.reestimate_batchnorm`
    re-estimates them on another domain (AdaBN).  Parameters ``<name>.w``
    (gamma, ones), ``<name>.b`` (beta, zeros) and the buffers
    ``<name>.running_mean``, ``<name>.running_var`` (saved with the model,
    never trained).
    """

    op = "batchnorm"
    hint = (". PyTorch's BatchNorm2d(num_features, eps, momentum) order does not apply: tlearn infers the "
            "features: BatchNorm(momentum=..., eps=...)")

    def _check(self):
        if 0.5 < self.momentum < 1.0:
            raise ValueError(f"BatchNorm momentum={self.momentum!r}: tlearn uses PyTorch's meaning, running := "
                             "(1 - momentum) running + momentum batch (default 0.1); a value such as 0.99 is "
                             "Keras's meaning (the weight of the old value): pass "
                             f"momentum={1 - self.momentum:.4g} for the same averaging")


class Scale(Layer):
    """``y = alpha x`` with a learned ``alpha`` (``<name>.alpha``, ``init``
    at start and after a reset, 1 by default): one scalar, or with
    ``per_channel`` one per channel of a (C, H, W) input or per feature of a
    flat one: ``Scale(*, per_channel=False, init=1.0, name=None)``.  The
    adapters of progressive networks (Rusu et al. 2016) scale each lateral
    input so, ``init`` one of the paper's {1, 0.1, 0.01}."""

    op = "scale"


class Compatibility(Layer):
    """Every example's compatibility with every class: ``Compatibility(metric="dot", *, name=None)([x, g])``.

    ``x`` holds D features per example; ``g`` the class embeddings, per
    example of shape (D, C) or (D, C, 1), one column per class -- the class
    table rides along in every example, and a tower of 1x1
    :class:`Conv2d` layers over the table laid out as (attributes, C, 1)
    embeds all classes with shared weights.  Output (C,):
    ``s_c = x . g[:, c]`` (``metric="dot"``) or the cosine of their angle
    (``metric="cosine"``, norms below 1e-8 clamped).  Forward and backward
    (into ``x`` and ``g``) run in the core; no parameters.
    """

    op = "compat"
    positional = ("metric",)


def from_config(class_name: str, config: dict) -> Layer:
    """Rebuild a layer from ``type(layer).__name__`` and ``layer.get_config()``."""
    if class_name not in LAYERS:
        raise ValueError(f"unknown layer class {class_name!r}")
    cfg = dict(config)
    if class_name == "InputLayer":
        return InputLayer(tuple(cfg["shape"]), name=cfg["name"])
    cls = LAYERS[class_name]
    if cls.__init__ is not Layer.__init__:
        return cls(**cfg)
    layer = cls.__new__(cls)
    name = cfg.pop("name", None)
    layer._configure((), cfg)
    layer._named(name)
    return layer
