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

import itertools
from typing import Dict, Optional, Sequence, Tuple

from . import _core, _ops
from .graph import Tensor

_counters: Dict[str, itertools.count] = {}
LAYERS: Dict[str, type] = {}  # class name -> class, filled as subclasses are defined


def _auto_name(base: str) -> str:
    c = _counters.setdefault(base, itertools.count())
    i = next(c)
    return base if i == 0 else f"{base}_{i}"


class Layer:
    """Base class.  Subclasses set ``op`` and describe their attributes.

    Attributes
    ----------
    op : str
        Name of the core op.  The op table's settable attributes (for example
        ``GradReverse.lambda_``) are read and set on a built model through
        ``model.layer(name).<attr>``.
    """

    op: str = ""
    n_inputs: Optional[int] = 1

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if not cls.__name__.startswith("_"):
            LAYERS[cls.__name__] = cls

    def __init__(self, name: Optional[str] = None):
        if name is not None and (not isinstance(name, str) or not name or any(c in name for c in "./:")):
            raise ValueError(f"layer name must be a non-empty string without '.', '/' or ':', got {name!r}")
        self.name = name or _auto_name(self.op)
        self._calls = 0

    # --- what the core needs ---
    def attrs(self) -> dict:
        """The op's attributes by name, each read from the attribute of the same (Python) name."""
        return {a["name"]: getattr(self, _ops.py_name(a["name"])) for a in _ops.attrs(self.op)}

    def shape_attr(self) -> Tuple[int, ...]:
        return ()

    def get_config(self) -> dict:
        return {"name": self.name}

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
        super().__init__(name)

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
    """Fully connected layer ``y = x W^T + b`` on the flattened example.

    Parameters ``<name>.w`` of shape (units, in_features) and ``<name>.b`` (units,).
    ``init`` is ``"he"`` (normal, std sqrt(2/fan_in); default) or ``"glorot"``.
    """

    op = "dense"

    def __init__(self, units: int, use_bias: bool = True, init: str = "he", name: Optional[str] = None):
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense units must be a positive int, got {units!r}")
        if init not in _ops.choices("dense", "init"):
            raise ValueError(f"Dense init must be one of {sorted(_ops.choices('dense', 'init'))}, got {init!r}")
        self.units, self.use_bias, self.init = units, bool(use_bias), init
        super().__init__(name)

    def get_config(self):
        return {"units": self.units, "use_bias": self.use_bias, "init": self.init, "name": self.name}


class ReLU(Layer):
    op = "relu"


class LeakyReLU(Layer):
    """``y = max(x, alpha x)``."""

    op = "leaky_relu"

    def __init__(self, alpha: float = 0.01, name: Optional[str] = None):
        self.alpha = float(alpha)
        super().__init__(name)

    def get_config(self):
        return {"alpha": self.alpha, "name": self.name}


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
    n_inputs = None


class Concat(Layer):
    """Concatenation along the first per-example axis (features, or channels)."""

    op = "concat"
    n_inputs = None


class Reshape(Layer):
    """View the example as ``shape`` (one entry may be -1).  Moves no data."""

    op = "reshape"

    def __init__(self, shape, name: Optional[str] = None):
        self.target_shape = tuple(int(s) for s in ((shape,) if isinstance(shape, int) else shape))
        super().__init__(name)

    def shape_attr(self):
        return self.target_shape

    def get_config(self):
        return {"shape": list(self.target_shape), "name": self.name}


class Flatten(Reshape):
    """Flatten each example to a vector."""

    def __init__(self, name: Optional[str] = None):
        super().__init__((-1,), name=name or _auto_name("flatten"))

    def get_config(self):
        return {"name": self.name}


class Dropout(Layer):
    """Inverted dropout: zero a fraction ``rate`` in training, identity in evaluation."""

    op = "dropout"

    def __init__(self, rate: float, name: Optional[str] = None):
        self.rate = float(rate)
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"Dropout rate must be in [0, 1), got {rate!r}")
        super().__init__(name)

    def get_config(self):
        return {"rate": self.rate, "name": self.name}


class GradReverse(Layer):
    """Gradient reversal layer (Ganin & Lempitsky 2015): identity forward,
    gradient multiplied by ``-lambda_`` backward.  ``lambda_`` can be changed
    between steps with ``model.layer(name).lambda_ = value``."""

    op = "grad_reverse"

    def __init__(self, lambda_: float = 1.0, name: Optional[str] = None):
        self.lambda_ = float(lambda_)
        super().__init__(name)

    def get_config(self):
        return {"lambda_": self.lambda_, "name": self.name}


def _pair(v, what: str, minimum: int) -> Tuple[int, int]:
    """An int or a pair of ints, each >= minimum (checked here for a clear message)."""
    vals = (v, v) if isinstance(v, int) and not isinstance(v, bool) else tuple(v) if isinstance(v, (tuple, list)) else None
    if vals is None or len(vals) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in vals):
        raise ValueError(f"{what} must be an int or a pair of ints, got {v!r}")
    if any(x < minimum for x in vals):
        raise ValueError(f"{what} must be >= {minimum}, got {v!r}")
    return vals


class Conv2d(Layer):
    """2-d convolution (cross-correlation, as in PyTorch) of a (C, H, W) input.

    Output (filters, OH, OW) with ``OH = (H + 2 padding - kh) // stride + 1``.
    Parameters ``<name>.w`` of shape (filters, C, kh, kw), He-initialised with
    fan_in = C kh kw, and ``<name>.b`` (filters,).  ``kernel_size``, ``stride``
    and ``padding`` (zeros) are ints or (h, w) pairs (``kernel`` is the older
    name of ``kernel_size``).  Lowered onto sgemm through im2col over the whole batch.
    """

    op = "conv2d"

    def __init__(self, filters: int, kernel_size=None, stride=1, padding=0, use_bias: bool = True,
                 name: Optional[str] = None, kernel=None):
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"Conv2d filters must be a positive int, got {filters!r}")
        self.filters = filters
        self.kernel = _pair(_kernel_arg(kernel_size, kernel, "Conv2d"), "Conv2d kernel_size", 1)
        self.stride = _pair(stride, "Conv2d stride", 1)
        self.padding = _pair(padding, "Conv2d padding", 0)
        self.use_bias = bool(use_bias)
        super().__init__(name)

    def attrs(self):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        return {"filters": self.filters, "kh": kh, "kw": kw, "sh": sh, "sw": sw, "ph": ph, "pw": pw,
                "use_bias": self.use_bias}

    def get_config(self):
        return {"filters": self.filters, "kernel_size": list(self.kernel), "stride": list(self.stride),
                "padding": list(self.padding), "use_bias": self.use_bias, "name": self.name}


def _kernel_arg(kernel_size, kernel, what: str):
    """``kernel_size`` (PyTorch's and Keras's name) or its older alias ``kernel``."""
    if kernel is not None and kernel_size is not None:
        raise TypeError(f"{what}: give kernel_size or its alias kernel, not both")
    if kernel is None and kernel_size is None:
        raise TypeError(f"{what}: missing the kernel_size argument")
    return kernel_size if kernel is None else kernel


class _Pool2d(Layer):
    def __init__(self, kernel_size=None, stride=None, name: Optional[str] = None, kernel=None):
        what = type(self).__name__
        self.kernel = _pair(_kernel_arg(kernel_size, kernel, what), f"{what} kernel_size", 1)
        self.stride = self.kernel if stride is None else _pair(stride, f"{what} stride", 1)
        super().__init__(name)

    def attrs(self):
        (kh, kw), (sh, sw) = self.kernel, self.stride
        return {"kh": kh, "kw": kw, "sh": sh, "sw": sw}

    def get_config(self):
        return {"kernel_size": list(self.kernel), "stride": list(self.stride), "name": self.name}


class MaxPool2d(_Pool2d):
    """Max pooling of a (C, H, W) input over ``kernel_size`` windows (int or pair),
    ``stride`` defaulting to the kernel; no padding, the rest of a row that
    does not fill a window is dropped (PyTorch's floor mode)."""

    op = "maxpool2d"


class AvgPool2d(_Pool2d):
    """Average pooling of a (C, H, W) input; see :class:`MaxPool2d`."""

    op = "avgpool2d"


class BatchNorm(Layer):
    """Batch normalisation per channel of a (C, H, W) input, or per feature of a flat one.

    Training steps normalise with the batch statistics and update the running
    ones, ``running := (1 - momentum) running + momentum batch_stat`` (unbiased
    variance, as PyTorch); evaluation and prediction use the running
    statistics and leave them untouched.

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

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5, name: Optional[str] = None):
        self.momentum, self.eps = float(momentum), float(eps)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"BatchNorm momentum must be in [0, 1], got {momentum!r}")
        if 0.5 < self.momentum < 1.0:
            raise ValueError(f"BatchNorm momentum={momentum!r}: tlearn uses PyTorch's meaning, running := "
                             "(1 - momentum) running + momentum batch (default 0.1); a value such as 0.99 is "
                             "Keras's meaning (the weight of the old value): pass "
                             f"momentum={1 - self.momentum:.4g} for the same averaging")
        if not self.eps > 0.0:
            raise ValueError(f"BatchNorm eps must be positive, got {eps!r}")
        super().__init__(name)

    def get_config(self):
        return {"momentum": self.momentum, "eps": self.eps, "name": self.name}


class Scale(Layer):
    """``y = alpha x`` with a learned ``alpha`` (``<name>.alpha``, ones at
    start): one scalar, or with ``per_channel`` one per channel of a
    (C, H, W) input or per feature of a flat one.  The adapters of
    progressive networks (Rusu et al. 2016) scale each lateral input so."""

    op = "scale"

    def __init__(self, per_channel: bool = False, name: Optional[str] = None):
        self.per_channel = bool(per_channel)
        super().__init__(name)

    def get_config(self):
        return {"per_channel": self.per_channel, "name": self.name}


class Compatibility(Layer):
    """Every example's compatibility with every class: ``Compatibility()([x, g])``.

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
    n_inputs = 2

    def __init__(self, metric: str = "dot", name: Optional[str] = None):
        if metric not in _ops.choices("compat", "metric"):
            raise ValueError(f"Compatibility metric must be one of {list(_ops.choices('compat', 'metric'))}, "
                             f"got {metric!r}")
        self.metric = metric
        super().__init__(name)

    def get_config(self):
        return {"metric": self.metric, "name": self.name}


def from_config(class_name: str, config: dict) -> Layer:
    """Rebuild a layer from ``type(layer).__name__`` and ``layer.get_config()``."""
    if class_name not in LAYERS:
        raise ValueError(f"unknown layer class {class_name!r}")
    cfg = dict(config)
    if class_name == "InputLayer":
        return InputLayer(tuple(cfg["shape"]), name=cfg["name"])
    return LAYERS[class_name](**cfg)
