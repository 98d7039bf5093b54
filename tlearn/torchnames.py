"""PyTorch's state-dict names for tlearn's parameters, both ways.

tlearn names a parameter ``<layer>.w``, ``<layer>.b``, ``<layer>.running_mean``
and ``<layer>.running_var``; PyTorch names the same tensors ``<module>.weight``,
``<module>.bias``, ``.running_mean``, ``.running_var`` and adds
``.num_batches_tracked`` (a counter tlearn has no use for, ignored).  The
layouts already agree: Dense ``(out, in)`` as ``nn.Linear``, Conv2d
``(out, in, kh, kw)`` as ``nn.Conv2d``, BatchNorm per channel as
``nn.BatchNorm1d/2d``.  A module path ``features.0`` matches the layer
``features.0`` if one had that name (layer names hold no '.'), so it matches
the layer ``features_0``: the dots of a module path become underscores.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Tuple

TO_TORCH = {"w": "weight", "b": "bias", "running_mean": "running_mean", "running_var": "running_var"}
FROM_TORCH = {v: k for k, v in TO_TORCH.items()}
IGNORED = ("num_batches_tracked",)


def to_torch(name: str) -> str:
    """``"fc1.w"`` -> ``"fc1.weight"``."""
    layer, attr = name.rsplit(".", 1)
    return f"{layer}.{TO_TORCH.get(attr, attr)}"


def is_torch_name(key: str) -> bool:
    return isinstance(key, str) and "." in key and key.rsplit(".", 1)[1] in (*FROM_TORCH, *IGNORED)


def from_torch(key: str, layers: Iterable[str]) -> Tuple[Optional[str], str]:
    """The tlearn parameter name for a PyTorch key, or ``(None, why)``.

    ``why`` is empty when the key is one tlearn ignores (``num_batches_tracked``)."""
    module, attr = key.rsplit(".", 1)
    if attr in IGNORED:
        return None, ""
    layers = set(layers)
    for layer in (module, module.replace(".", "_")):
        if layer in layers:
            return f"{layer}.{FROM_TORCH[attr]}", ""
    alt = f" or {module.replace('.', '_')!r}" if "." in module else ""
    return None, f"PyTorch name {key!r} matches no layer: no layer is called {module!r}{alt}"


def as_array(v):
    """A NumPy array of ``v``, detaching a torch tensor (any device) first."""
    if hasattr(v, "detach") and hasattr(v, "cpu") and hasattr(v, "numpy"):
        return v.detach().cpu().numpy()
    return v


def translate(weights: Dict, params: Iterable[str], layers: Iterable[str]):
    """Rename PyTorch keys of ``weights`` to tlearn's.

    Returns ``(renamed, origin, unknown, notes)``: the dict with tlearn names,
    the original key of each renamed entry, the keys that match nothing and
    a message for each PyTorch key among them."""
    params = set(params)
    layers = list(layers)
    out, origin, unknown, notes = {}, {}, [], []
    for k, v in weights.items():
        if isinstance(k, str) and k in params:
            name = k
        elif is_torch_name(k):
            name, why = from_torch(k, layers)
            if name is None:
                if why:
                    unknown.append(k)
                    notes.append(why)
                continue
            if name not in params:
                unknown.append(k)
                notes.append(f"PyTorch name {k!r} is tlearn's {name!r}, which layer "
                               f"{name.rsplit('.', 1)[0]!r} does not have")
                continue
        else:
            unknown.append(k)
            continue
        if name in out:
            raise KeyError(f"load_weights: {origin.get(name, name)!r} and {k!r} both name parameter {name!r}")
        out[name] = as_array(v)
        if name != k:
            origin[name] = k
    return out, origin, unknown, notes
