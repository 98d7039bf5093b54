"""Symbolic tensors (what layers are called on while a model is being built)
and the traversal of the graph they form."""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple


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


def topo(outputs: Sequence[Tensor]) -> List[Tensor]:
    """Every tensor the ``outputs`` depend on, each after its inputs (iterative DFS)."""
    order, seen, stack = [], set(), []
    for t in outputs:
        stack.append((t, False))
        while stack:
            node, done = stack.pop()
            if done:
                if id(node) not in seen:
                    seen.add(id(node))
                    order.append(node)
                continue
            if id(node) in seen:
                continue
            stack.append((node, True))
            for parent in reversed(node.inputs):
                if id(parent) not in seen:
                    stack.append((parent, False))
    return order


def named(obj, what: str) -> Dict[str, Tensor]:
    """A Tensor, a list or a dict of Tensors as a dict name -> Tensor; ``what`` names them in errors."""
    if isinstance(obj, Tensor):
        return {obj.name: obj}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(v, Tensor):
                raise TypeError(f"{what} {k!r}: expected a tlearn Tensor, got {type(v).__name__}")
        return dict(obj)
    if isinstance(obj, (list, tuple)):
        out = {}
        for v in obj:
            if not isinstance(v, Tensor):
                raise TypeError(f"{what}: expected tlearn Tensors, got {type(v).__name__}")
            if v.name in out and out[v.name] is not v:
                raise ValueError(f"{what}: two tensors are named {v.name!r}; layer names must be unique in a model")
            out[v.name] = v
        return out
    raise TypeError(f"{what}: expected a Tensor, a list or a dict of Tensors, got {type(obj).__name__}")
