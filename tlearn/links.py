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


# layer object -> weak reference to its home engine (nothing is stored on the layer: it stays picklable)
_HOMES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

# The functions take engines (tlearn.engine.Engine), the state a model keeps of its network: a home is
# the engine of the first model built from the layer, and ``engine.links`` maps a linked parameter's name
# to (home engine, name there).


def attach(engine, layers, replaces=None) -> None:
    """Make ``engine`` the home of the layers that have none (alive), and link
    its parameters of the others to their home.  ``layers``: the model's layer
    objects; ``replaces``: the engine ``engine`` takes the place of in the same
    model (a rebuilt Sequential), whose layers now have their home here."""
    if replaces is not None:
        replaces.successor = engine  # the models linked to ``replaces`` follow its model to ``engine``
    links: Dict[str, Tuple[object, str]] = {}
    for layer in layers:
        ref = _HOMES.get(layer)
        home = _current(ref()) if ref is not None else None
        if home is None or home is engine:
            _HOMES[layer] = weakref.ref(engine)
            continue
        for n in engine.param_index:
            if n.split(".", 1)[0] == layer.name and n in home.param_index:
                links[n] = (home, n)
    engine.links = links
    engine.links_dirty = False
    if links:
        pull(engine)


def _current(home):
    """The engine now in ``home``'s model (``home`` itself unless that model was rebuilt)."""
    while home is not None and home.successor is not None:
        home = home.successor
    return home


def _pairs(engine):
    """(own parameter index, home engine, home parameter index) of each link still valid."""
    for n, (home, hn) in engine.links.items():
        home = _current(home)
        hp = home.param_index.get(hn)
        if hp is not None:
            yield engine.param_index[n], home, hp


def pull(engine) -> None:
    """Read the home's values and trainable flags (after writing back steps not yet written)."""
    if not engine.links:
        return
    if engine.links_dirty:
        push(engine)
    net = engine.net
    for p, home, hp in _pairs(engine):
        net.view("value", p)[...] = home.net.view("value", hp)
        t = home.net.param_info(hp)["trainable"]
        if net.param_info(p)["trainable"] != t:
            net.set_trainable(p, t)


def push(engine) -> None:
    """Write the values of the linked parameters back to their home."""
    if not engine.links:
        return
    net = engine.net
    for p, home, hp in _pairs(engine):
        home.net.view("value", hp)[...] = net.view("value", p)
    engine.links_dirty = False


def dirty(engine) -> None:
    """Training steps are about to change the linked parameters' copies."""
    if engine.links:
        engine.links_dirty = True


def where(engine, name: str):
    """``(net, index)`` holding parameter ``name``: its home's for a linked one."""
    link = engine.links.get(name)
    if link is not None:
        home, hn = link
        home = _current(home)
        hp = home.param_index.get(hn)
        if hp is not None:
            return home.net, hp
    return engine.net, engine.param_index[name]


def set_trainable(engine, name: str, value: bool) -> None:
    """Set whether parameter ``name`` trains, here and in its home."""
    engine.net.set_trainable(engine.param_index[name], bool(value))
    net, p = where(engine, name)
    if net is not engine.net:
        net.set_trainable(p, bool(value))
