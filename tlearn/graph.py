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

    def __init__(self, layer, inputs: Sequence["Tensor"], shape: Tuple[int, ...], index: int = 0):
        self.layer = layer
        self.inputs = tuple(inputs)
        self.shape = tuple(int(s) for s in shape)
        self.index = int(index)  # which call of the layer made it (a shared layer is called several times)

    @property
    def name(self) -> str:
        """The layer's name for its first call, ``"<layer>:<k>"`` for the k-th further call."""
        return self.layer.name if self.index == 0 else f"{self.layer.name}:{self.index}"

    def __repr__(self) -> str:
        return f"<Tensor '{self.name}' shape=(batch, {', '.join(map(str, self.shape))})>"


def Input(shape, name: Optional[str] = None) -> Tensor:
    """A model input of per-example ``shape`` (an int or a tuple of up to 4 ints)."""
    from .layers import InputLayer

    return InputLayer(shape, name=name)()
