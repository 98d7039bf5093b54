"""A model's whole state as a JSON-able description plus named arrays, and a
model rebuilt from them (save, load, clone and pickle go through here; the
bytes on disk are :mod:`tlearn.io`'s)."""
from __future__ import annotations

import threading
from typing import Dict

import numpy as np

from . import _core, _ops, layers as _layers, losses as _losses, optim as _optim

ARENAS = ("value", "mask", "snapshot", "fisher", "m", "v")  # the arrays a saved model carries


class StateLock:
    """A model's lock: held by ``fit`` around each call of the core's steps and
    by every reader or writer of the whole state (see ``Model``, "Threads").

    Re-entrant, and fair: holders are served in the order they asked (a ticket
    lock), so a reader waits one core call at most however fast ``fit`` takes
    the lock again, and ``fit`` waits one read at most however often another
    thread reads.  (A plain lock is not fair: the training thread releases
    and re-takes it before a woken waiter runs, and a save could wait for the
    whole fit.)  A wait interrupted by an exception gives its turn up.
    """

    __slots__ = ("_cond", "_next", "_serving", "_gone", "_owner", "_depth")

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._next = self._serving = 0
        self._gone = set()  # tickets whose waiter left (an exception in the wait)
        self._owner, self._depth = None, 0

    def _skip_gone(self) -> None:
        while self._serving in self._gone:
            self._gone.discard(self._serving)
            self._serving += 1

    def __enter__(self):
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return self
            ticket = self._next
            self._next += 1
            try:
                while self._serving != ticket:
                    self._cond.wait()
            except BaseException:
                self._gone.add(ticket)
                self._skip_gone()
                self._cond.notify_all()
                raise
            self._owner, self._depth = me, 1
        return self

    def __exit__(self, *exc):
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._serving += 1
                self._skip_gone()
                self._cond.notify_all()
        return False


IN_USE = ("this network is in use by another thread; a network runs one call at a time "
          "(use model.clone() for a second thread)")  # the core's words (csrc/py/nettype.c)


def refuse_if_trained_elsewhere(model) -> None:
    """A TlearnError with the core's "in use" message when another thread is in
    ``fit`` or ``train_on_batch`` on ``model`` (predict, evaluate, compile and a
    second training call are refused for the whole fit, not only while a core
    call runs)."""
    owner = getattr(model, "_trainer", None)
    if owner is not None and owner[0] != threading.get_ident():
        raise _core.TlearnError(IN_USE)


class training:
    """``with training(model):`` -- this thread trains ``model`` (``fit``,
    ``train_on_batch``); refused as the core refuses a busy network when
    another thread does.  Re-entrant in one thread (a callback may train)."""

    __slots__ = ("model",)

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        m, me = self.model, threading.get_ident()
        with m._lock:
            owner = getattr(m, "_trainer", None)
            if owner is not None and owner[0] != me:
                raise _core.TlearnError(IN_USE)
            m._trainer = (me, 1 if owner is None else owner[1] + 1)
        return m

    def __exit__(self, *exc):
        m = self.model
        with m._lock:
            me, depth = m._trainer
            m._trainer = None if depth == 1 else (me, depth - 1)
        return False


def get_state(model):
    """``(meta, arrays)``: everything needed to rebuild ``model`` and continue training it.

    Taken under the model's lock: when another thread is in ``fit``, at a step
    boundary, so weights, optimizer moments and step counts are of one step."""
    with model._lock:
        return _get_state(model)


def _get_state(model):
    spec = []
    owner_of = {nm: ln for ln, ns in model._uses.items() for nm in ns}
    for name in model._node:
        l = model._layers[owner_of[name]]
        if name != l.name:  # a further use of a shared layer
            spec.append({"use_of": l.name, "node": name, "inputs": model._inputs_of[name]})
            continue
        cfg = l.get_config()
        for py, attr in _ops.settable(l.op):  # their values now, not at construction
            cfg[py] = model._net.attr(model._node[name], attr)
        spec.append({"class": type(l).__name__, "config": cfg, "inputs": model._inputs_of[name]})
    params = []
    for n, p in model._param_index.items():
        info = model._net.param_info(p)
        params.append({"name": n, "trainable": info["trainable"], "l2": info["l2"], "l2sp": info["l2sp"],
                       "ewc": info["ewc"]})
    meta = {
        "format": "tlearn.Model", "name": model.name, "seed": model.seed, "layers": spec,
        # lists of (name, node) pairs: the file's JSON header sorts dict keys, and the order of the inputs is
        # the order a list of arrays is matched to them (files with dicts still load, in sorted order)
        "inputs": list(model._input_alias.items()), "outputs": list(model._output_alias.items()), "params": params,
        "losses": [{"name": s.name, "output": s.output, "class": type(s.loss).__name__,
                    "config": s.loss.get_config()} for s in model._losses],
        "optimizer": model._optimizer.get_config() if model._optimizer is not None else None,
        "metrics": getattr(model, "_metric_spec", None),
        "optim_steps": model._net.optim_steps, "step": model._step, "rng_state": str(model._net.rng_state),
        "shuffle_rng": model._rng.bit_generator.state, "check_finite": model.check_finite,
    }
    arrays = {}
    for arena in ARENAS:
        for n, v in model._views(arena).items():
            arrays[f"{arena}/{n}"] = v.copy()
    return meta, arrays


def from_state(cls, meta: dict, arrays: Dict[str, np.ndarray], optimizer=None):
    """A ``cls`` (Model) rebuilt from :func:`get_state`'s output; ``optimizer`` replaces the saved one."""
    if meta.get("format") != "tlearn.Model":
        raise ValueError("not a tlearn.Model state")
    model = cls.__new__(cls)
    model.name, model.seed = meta["name"], int(meta["seed"])
    model._input_alias = dict(meta["inputs"])
    model._output_alias = dict(meta["outputs"])
    nodes, by_name, inputs_of = [], {}, {}
    for s in meta["layers"]:
        if "use_of" in s:
            nm, layer = str(s["node"]), by_name[s["use_of"]]
        else:
            layer = _layers.from_config(s["class"], s["config"])
            nm = by_name.setdefault(layer.name, layer).name
        nodes.append((nm, layer))
        inputs_of[nm] = list(s["inputs"])
    model._build(nodes, inputs_of)
    for p in meta["params"]:
        if p["name"] not in model._param_index:
            raise ValueError(f"saved parameter {p['name']!r} does not exist in the rebuilt model")
        i = model._param_index[p["name"]]
        model._net.set_trainable(i, bool(p["trainable"]))
        model._net.set_reg(i, p["l2"], p["l2sp"], p["ewc"])
    for arena in ARENAS:
        for n, v in model._views(arena).items():
            key = f"{arena}/{n}"
            if key not in arrays or arrays[key].shape != v.shape:
                raise ValueError(f"saved array {key!r} is missing or has the wrong shape")
            if arena == "value" and n.endswith(".running_var") and np.any(arrays[key] < 0):
                raise ValueError(f"saved array {key!r}: a BatchNorm running variance must be >= 0, "
                                 f"got {float(arrays[key].min())!r}")
            v[...] = arrays[key]
    opt = optimizer
    if opt is None and meta["optimizer"] is not None:
        opt = _optim.from_config(meta["optimizer"])
    if meta["losses"] and opt is not None:
        loss = {}
        for s in meta["losses"]:
            cfg = dict(s["config"])
            cfg["name"] = s["name"]
            loss.setdefault(s["output"], []).append(_losses.from_config(s["class"], cfg))
        model.compile(opt, loss=loss, metrics=meta.get("metrics"))
    model._net.optim_steps = int(meta["optim_steps"])
    model._net.rng_state = int(meta["rng_state"])
    model._step = int(meta["step"])
    model._rng.bit_generator.state = meta["shuffle_rng"]
    if meta.get("check_finite"):
        model.check_finite = True
    return model


def rebuild(cls, meta: dict, arrays: Dict[str, np.ndarray], optimizer, source: str):
    """:func:`from_state` with every failure a ValueError naming ``source`` (a file, a pickle)."""
    try:
        return from_state(cls, meta, arrays, optimizer=optimizer)
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None
    except (KeyError, TypeError, IndexError, AttributeError, OverflowError, _core.TlearnError) as e:
        # the checksum matched but the settings do not describe a model this tlearn can build
        raise ValueError(f"{source}: inconsistent model file ({e!r})") from None
