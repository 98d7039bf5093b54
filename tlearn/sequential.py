"""``Sequential``: Keras's stack of layers, each applied to the output of the one before."""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from . import _core, layers as _layers
from .graph import Tensor
from .model import BUILT_STATE, Model, is_built, rebuild, unbuild


class Sequential(Model):
    """A model that is a list of layers, each called on the output of the one before (Keras's ``Sequential``).

    Parameters
    ----------
    layers : list, optional
        Layer objects (``tlearn.layers``); the first item may be an
        :func:`tlearn.Input` giving the input shape.
    input_shape : int or tuple, optional
        The per-example input shape (Keras's ``input_shape=``), instead of an ``Input``.
    seed, name : as :class:`Model`.

    The network is built in C when the input shape is known: at once with an
    ``Input`` or ``input_shape``, else by :meth:`build` or the first ``fit``,
    ``predict``, ``evaluate`` or ``train_on_batch`` on arrays (their shape
    gives it).  ``compile`` may come before that.  :meth:`add` and
    :meth:`pop` after the build rebuild the network: the layers that stay keep
    their weights and whether they train, and the last ``compile`` is applied
    again (the optimizer's moments start again) -- Keras's transfer idiom
    ``model.pop(); model.add(Dense(n_new))`` works so.  Everything else is a
    :class:`Model`'s.
    """

    def __init__(self, layers=None, input_shape=None, seed: int = 0, name: str = "sequential"):
        self.name, self.seed = name, int(seed)
        self._seq: List[_layers.Layer] = []
        self._seq_input: Optional[tuple] = None  # (shape, name) of the input
        self._compile_args = None
        self._deferred = False
        if input_shape is not None:
            self._seq_input = (_layers.InputLayer(input_shape).shape, "input")
        if layers is not None:
            if isinstance(layers, (_layers.Layer, Tensor)) or not hasattr(layers, "__iter__"):
                raise TypeError(f"Sequential: expected a list of layers, got {type(layers).__name__}")
            self._deferred = True  # one build for the whole list
            try:
                for layer in layers:
                    self.add(layer)
            finally:
                self._deferred = False
            if self._seq_input is not None and self._seq:
                self._rebuild()

    # ---------------------------------------------------------------- layers
    def add(self, layer) -> None:
        """Append a layer (or, first, an :func:`tlearn.Input`)."""
        if isinstance(layer, Tensor) and isinstance(layer.layer, _layers.InputLayer):
            if self._seq or self._seq_input is not None and self._seq_input[1] != "input":
                raise ValueError("Sequential: an Input can only come first")
            self._seq_input = (layer.shape, layer.layer.name)
            if self._seq and not self._deferred:
                self._rebuild()
            return
        if isinstance(layer, Model):
            raise TypeError("Sequential.add: a Model is a block of another model by calling it on a tensor "
                            "(y = base(x)) in a functional tlearn.Model")
        if not isinstance(layer, _layers.Layer) or isinstance(layer, _layers.InputLayer):
            raise TypeError(f"Sequential.add: expected a layer of tlearn.layers, got {type(layer).__name__}")
        if layer.n_inputs is not None and layer.n_inputs != 1:
            raise ValueError(f"Sequential.add: layer '{layer.name}' takes {layer.n_inputs} inputs; a Sequential "
                             "passes one")
        self._seq.append(layer)
        if not self._deferred and (self._built() or self._seq_input is not None):
            self._rebuild()

    def pop(self) -> _layers.Layer:
        """Remove and return the last layer (Keras's ``pop``)."""
        if not self._seq:
            raise IndexError("Sequential.pop: there are no layers")
        layer = self._seq.pop()
        if self._built():
            if self._seq:
                self._rebuild()
            else:
                unbuild(self)
        return layer

    @property
    def seq_layers(self) -> List[_layers.Layer]:
        """The layer objects, in order (a copy of the list)."""
        return list(self._seq)

    # ----------------------------------------------------------------- build
    def _built(self) -> bool:
        return is_built(self)

    def build(self, input_shape) -> None:
        """Build the network for per-example ``input_shape`` (the batch axis not included)."""
        shape = _layers.InputLayer(input_shape).shape
        if self._seq_input is not None and self._seq_input[0] != shape:
            raise ValueError(f"Sequential '{self.name}' takes input shape {self._seq_input[0]}, got {shape}")
        self._seq_input = (shape, "input" if self._seq_input is None else self._seq_input[1])
        if not self._built():
            self._rebuild()

    def _rebuild(self) -> None:
        if not self._seq:
            raise ValueError(f"Sequential '{self.name}' has no layers; add some first")
        shape, in_name = self._seq_input
        x = _layers.Input(shape, name=in_name)
        h = x
        for layer in self._seq:
            h = layer(h)
        rebuild(self, {in_name: x}, {self._seq[-1].name: h})  # the layers that stay keep their weights
        if self._compile_args is not None:
            Model.compile(self, *self._compile_args[0], **self._compile_args[1])

    def _build_from(self, x) -> None:
        """Build from the shape of input arrays (the first call on data)."""
        if self._built() or isinstance(x, (dict, list, tuple)) and not isinstance(x, np.ndarray):
            return
        shape = np.shape(x) if hasattr(x, "shape") else None
        if shape is not None and len(shape) >= 2:
            self.build(tuple(shape[1:]))

    def __getattr__(self, attr):
        # only called for attributes not set: before the build, those of the network
        if attr in BUILT_STATE:
            raise _core.TlearnError(
                f"Sequential '{self.name}' is not built yet: its input shape is unknown. Start the list with "
                "tl.Input(shape), pass input_shape=, call model.build(input_shape), or fit/predict on arrays "
                "first")
        raise AttributeError(f"'Sequential' object has no attribute {attr!r}")

    # --------------------------------------------------- verbs that may build
    def compile(self, *args, **kwargs) -> None:
        """As :meth:`Model.compile`; before the build it is applied when the network is built."""
        if self._built():
            Model.compile(self, *args, **kwargs)
        self._compile_args = (args, kwargs)

    def fit(self, x, y=None, *args, **kwargs):
        self._build_from(x)
        return Model.fit(self, x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        self._build_from(x)
        return Model.predict(self, x, *args, **kwargs)

    def evaluate(self, x, y=None, *args, **kwargs):
        self._build_from(x)
        return Model.evaluate(self, x, y, *args, **kwargs)

    def train_on_batch(self, x, y, lr=None):
        self._build_from(x)
        return Model.train_on_batch(self, x, y, lr)

    def __call__(self, *inputs):
        if not self._built() and len(inputs) == 1 and isinstance(inputs[0], Tensor):
            self.build(inputs[0].shape)
        return Model.__call__(self, *inputs)

    def __repr__(self):
        if not self._built():
            return f"<tlearn.Sequential '{self.name}': {len(self._seq)} layers, not built>"
        return Model.__repr__(self)
