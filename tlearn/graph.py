"""Symbolic tensors: what layers are called on while a model is being built."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple


class Tensor:
    """The symbolic output of a layer (or an :func:`Input`).

    Attributes
    ----------
    shape : tuple of int
        Per-example shape (the batch axis is not included).
    layer : Layer
        The layer that produced it.
    inputs : tuple of Tensor
        The tensors the layer was called on.
    """

    def __init__(self, layer, inputs: Sequence["Tensor"], shape: Tuple[int, ...]):
        self.layer = layer
        self.inputs = tuple(inputs)
        self.shape = tuple(int(s) for s in shape)

    @property
    def name(self) -> str:
        return self.layer.name

    def __repr__(self) -> str:
        return f"<Tensor '{self.name}' shape=(batch, {', '.join(map(str, self.shape))})>"


def Input(shape, name: Optional[str] = None) -> Tensor:
    """A model input of per-example ``shape`` (an int or a tuple of up to 4 ints)."""
    from .layers import InputLayer

    return InputLayer(shape, name=name)()
