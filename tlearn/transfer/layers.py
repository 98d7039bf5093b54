"""Layer transfer: copy chosen layers of a source model into a target model
by name, freeze them (whole layers, or element by element with masks) and
train the rest.

Selectors: :func:`first_n` ("copy the first n layers", the image case of
Yosinski et al. 2014) and :func:`last_n` (the speech case of the lecture:
when the input changes but the task does not, copy the last layers and
retrain the first ones).  Layers are counted among those with trainable
parameters, in the model's order (inputs first).
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from ..model import Model


def parametric_layers(model: Model, exclude: Iterable[str] = ()) -> List[str]:
    """Names of the layers of ``model`` that hold trainable parameters (not
    buffers such as BatchNorm statistics), inputs first."""
    ex = set(exclude)
    params = set(model._param_names_for(None))
    return [n for n in model.layers if n not in ex and any(p in params for p in model.layer(n).param_names)]


def _check_n(n: int, layers: Sequence[str], what: str) -> int:
    if int(n) != n or not 0 <= n <= len(layers):
        raise ValueError(f"{what}: n must be an integer in 0..{len(layers)} (layers {list(layers)}), got {n!r}")
    return int(n)


def first_n(model: Model, n: int, exclude: Iterable[str] = ()) -> List[str]:
    """The first ``n`` parametric layers of ``model`` (see :func:`parametric_layers`)."""
    layers = parametric_layers(model, exclude)
    return layers[:_check_n(n, layers, "first_n")]


def last_n(model: Model, n: int, exclude: Iterable[str] = ()) -> List[str]:
    """The last ``n`` parametric layers of ``model`` (see :func:`parametric_layers`)."""
    layers = parametric_layers(model, exclude)
    n = _check_n(n, layers, "last_n")
    return layers[len(layers) - n:]


def copy_layers(source: Model, target: Model, layers: Iterable[str]) -> List[str]:
    """Copy the parameters of ``layers`` from ``source`` into the layers of the
    same name in ``target`` (shapes checked); returns the parameter names copied."""
    names = []
    for l in layers:
        if l not in source.layers:
            raise KeyError(f"copy_layers: source model '{source.name}' has no layer {l!r}; layers: {source.layers}")
        if l not in target.layers:
            raise KeyError(f"copy_layers: target model '{target.name}' has no layer {l!r}; layers: {target.layers}")
        names += source.layer(l).param_names
    src = source.params
    return target.load_weights({n: src[n] for n in names}, strict=False)


def freeze(model: Model, layers: Iterable[str] = (), masks: Optional[Dict[str, np.ndarray]] = None) -> None:
    """Freeze whole ``layers`` (no gradient, no update), and/or freeze single
    elements: ``masks`` maps a parameter name to an array of its shape, 1 where
    the element trains and 0 where it stays fixed.

    All or nothing: every layer name and every mask is checked before
    anything changes, so a request with one bad entry changes nothing.  A
    single layer name may be given as a str."""
    if isinstance(layers, str):
        layers = [layers]
    try:
        layers = list(layers)
    except TypeError:
        raise TypeError(f"freeze: layers must be an iterable of layer names, got {type(layers).__name__}") from None
    for l in layers:
        if not isinstance(l, str) or l not in model.layers:
            raise KeyError(f"freeze: model '{model.name}' has no layer {l!r}; layers: {model.layers}")
    if masks is not None and not isinstance(masks, dict):
        raise TypeError(f"freeze: masks must be a dict parameter name -> 0/1 array, got {type(masks).__name__}")
    views = model.masks
    checked = {}
    for n, m in (masks or {}).items():
        if n not in views:
            raise KeyError(f"freeze: model '{model.name}' has no parameter {n!r}")
        m = np.asarray(m)
        if m.shape != views[n].shape:
            raise ValueError(f"freeze: mask of {n!r} must have shape {views[n].shape}, got {m.shape}")
        if m.dtype.kind not in "biuf":
            raise TypeError(f"freeze: mask of {n!r} must be numeric 0/1, got dtype {m.dtype}")
        if not np.all((m == 0) | (m == 1)):
            raise ValueError(f"freeze: mask of {n!r} must hold only 0 and 1")
        checked[n] = m
    for l in layers:
        model.layer(l).trainable = False
    for n, m in checked.items():
        views[n][...] = m
