"""One layer object, one set of weights, in every model built from it.

In Keras and PyTorch a layer object *is* its weights: two models built from
the same layers, or a model used as a block of another (Keras's transfer
recipe ``base.trainable = False; y = Dense(n)(base(x))``), train the same
numbers.  In tlearn the numbers live in the arena of one C network, and the
core cannot point a parameter of one network at another network's memory
(an arena is one allocation, and its optimizer moments, gradients, masks and
snapshots are laid out beside it).  So a parameter has one *home*: the first
model built from the layer, while it lives.  Another model built from the
same layer holds a copy that is linked to the home:

- before it computes (``fit``, ``train_on_batch``, ``predict``, ``evaluate``,
  ``snapshot``, the Fisher and AdaBN estimates) it reads the home's values and
  whether each parameter trains;
- after its training steps (at the end of each epoch of ``fit``, after each
  ``train_on_batch``) it writes its values back to the home;
- ``params`` and ``state_dict`` of either model are the home's numbers, and
  setting ``trainable`` on a layer (or the model) sets the home's flag, so
  ``base.trainable = False`` freezes base's layers inside every model built
  from them, and ``outer.trainable = False`` freezes base too (as in Keras).

Within one network a layer called twice is shared by the core itself
(``Net.share``: one parameter, gradients summed).  Models that share layers
are meant to be used one after the other; two Python threads training two
such models at the same time would each overwrite the other's steps.  The
optimizer's moments, masks, snapshot and Fisher stay each model's own (each
compiled model has its optimizer, as in Keras).  A clone, a loaded model or
an unpickled one has layers of its own and is independent.
"""
from __future__ import annotations

import weakref
from typing import Dict, Tuple


# layer object -> weak reference to its home model (nothing is stored on the layer: it stays picklable)
_HOMES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def attach(model, layers) -> None:
    """Make ``model`` the home of the layers that have none (alive), and link
    its parameters of the others to their home.  ``layers``: the model's layer objects."""
    links: Dict[str, Tuple[object, str]] = {}
    for layer in layers:
        ref = _HOMES.get(layer)
        home = ref() if ref is not None else None
        if home is None or home is model or "_net" not in home.__dict__:
            _HOMES[layer] = weakref.ref(model)
            continue
        for n in model._param_index:
            if n.split(".", 1)[0] == layer.name and n in home._param_index:
                links[n] = (home, n)
    model._links = links
    model._links_dirty = False
    if links:
        pull(model)


def _pairs(model):
    """(own parameter index, home model, home parameter index) of each link still valid."""
    for n, (home, hn) in model._links.items():
        hp = home._param_index.get(hn)
        if hp is not None:
            yield model._param_index[n], home, hp


def pull(model) -> None:
    """Read the home's values and trainable flags (after writing back steps not yet written)."""
    if not getattr(model, "_links", None):
        return
    if model._links_dirty:
        push(model)
    net = model._net
    for p, home, hp in _pairs(model):
        net.view("value", p)[...] = home._net.view("value", hp)
        t = home._net.param_info(hp)["trainable"]
        if net.param_info(p)["trainable"] != t:
            net.set_trainable(p, t)


def push(model) -> None:
    """Write the values of the linked parameters back to their home."""
    if not getattr(model, "_links", None):
        return
    net = model._net
    for p, home, hp in _pairs(model):
        home._net.view("value", hp)[...] = net.view("value", p)
    model._links_dirty = False


def dirty(model) -> None:
    """Training steps are about to change the linked parameters' copies."""
    if getattr(model, "_links", None):
        model._links_dirty = True


def where(model, name: str):
    """``(net, index)`` holding parameter ``name`` of ``model``: its home's for a linked one."""
    link = getattr(model, "_links", {}).get(name)
    if link is not None:
        home, hn = link
        hp = home._param_index.get(hn)
        if hp is not None:
            return home._net, hp
    return model._net, model._param_index[name]


def set_trainable(model, name: str, value: bool) -> None:
    """Set whether parameter ``name`` trains, in ``model`` and in its home."""
    model._net.set_trainable(model._param_index[name], bool(value))
    net, p = where(model, name)
    if net is not model._net:
        net.set_trainable(p, bool(value))
