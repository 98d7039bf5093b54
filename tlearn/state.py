"""A model's whole state as a JSON-able description plus named arrays, and a
model rebuilt from them (save, load, clone and pickle go through here; the
bytes on disk are :mod:`tlearn.io`'s)."""
from __future__ import annotations

from typing import Dict

import numpy as np

from . import _core, _ops, layers as _layers, losses as _losses, optim as _optim
from .engine import Engine

ARENAS = ("value", "mask", "snapshot", "fisher", "m", "v")  # the arrays a saved model carries


def get_state(model, engine):
    """``(meta, arrays)``: everything needed to rebuild ``model`` (whose engine is
    ``engine``) and continue training it.

    Taken under the model's lock: when another thread is in ``fit``, at a step
    boundary, so weights, optimizer moments and step counts are of one step."""
    with engine.lock:
        return _get_state(model, engine)


def _get_state(model, engine):
    spec = []
    owner_of = {nm: ln for ln, ns in engine.uses.items() for nm in ns}
    for name in engine.node:
        l = engine.layers[owner_of[name]]
        if name != l.name:  # a further use of a shared layer
            spec.append({"use_of": l.name, "node": name, "inputs": engine.inputs_of[name]})
            continue
        cfg = l.get_config()
        for py, attr in _ops.settable(l.op):  # their values now, not at construction
            cfg[py] = engine.net.attr(engine.node[name], attr)
        spec.append({"class": type(l).__name__, "config": cfg, "inputs": engine.inputs_of[name]})
    params = []
    for n, p in engine.param_index.items():
        info = engine.net.param_info(p)
        params.append({"name": n, "trainable": info["trainable"], "l2": info["l2"], "l2sp": info["l2sp"],
                       "ewc": info["ewc"]})
    meta = {
        "format": "tlearn.Model", "name": model.name, "seed": model.seed, "layers": spec,
        # lists of (name, node) pairs: the file's JSON header sorts dict keys, and the order of the inputs is
        # the order a list of arrays is matched to them (files with dicts still load, in sorted order)
        "inputs": list(engine.input_alias.items()), "outputs": list(engine.output_alias.items()), "params": params,
        "losses": [{"name": s.name, "output": s.output, "class": type(s.loss).__name__,
                    "config": s.loss.get_config()} for s in engine.losses],
        "optimizer": engine.optimizer.get_config() if engine.optimizer is not None else None,
        "metrics": engine.metric_spec,
        "optim_steps": engine.net.optim_steps, "step": engine.step, "rng_state": str(engine.net.rng_state),
        "shuffle_rng": engine.rng.bit_generator.state, "check_finite": engine.check_finite,
    }
    arrays = {}
    for arena in ARENAS:
        for n, v in engine.views(arena).items():
            arrays[f"{arena}/{n}"] = v.copy()
    return meta, arrays


def from_state(make_model, meta: dict, arrays: Dict[str, np.ndarray], optimizer=None):
    """A model rebuilt from :func:`get_state`'s output: the engine is built here,
    ``make_model(engine, name, seed)`` makes the model around it (``Model`` hands
    its own maker), and the model is compiled as it was; ``optimizer`` replaces
    the saved one."""
    if meta.get("format") != "tlearn.Model":
        raise ValueError("not a tlearn.Model state")
    nodes, by_name, inputs_of = [], {}, {}
    for s in meta["layers"]:
        if "use_of" in s:
            nm, layer = str(s["node"]), by_name[s["use_of"]]
        else:
            layer = _layers.from_config(s["class"], s["config"])
            nm = by_name.setdefault(layer.name, layer).name
        nodes.append((nm, layer))
        inputs_of[nm] = list(s["inputs"])
    seed = int(meta["seed"])
    engine = Engine(nodes, inputs_of, dict(meta["inputs"]), dict(meta["outputs"]), seed)
    for p in meta["params"]:
        if p["name"] not in engine.param_index:
            raise ValueError(f"saved parameter {p['name']!r} does not exist in the rebuilt model")
        i = engine.param_index[p["name"]]
        engine.net.set_trainable(i, bool(p["trainable"]))
        engine.net.set_reg(i, p["l2"], p["l2sp"], p["ewc"])
    for arena in ARENAS:
        for n, v in engine.views(arena).items():
            key = f"{arena}/{n}"
            if key not in arrays or arrays[key].shape != v.shape:
                raise ValueError(f"saved array {key!r} is missing or has the wrong shape")
            if arena == "value" and n.endswith(".running_var") and np.any(arrays[key] < 0):
                raise ValueError(f"saved array {key!r}: a BatchNorm running variance must be >= 0, "
                                 f"got {float(arrays[key].min())!r}")
            v[...] = arrays[key]
    model = make_model(engine, meta["name"], seed)
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
    engine.net.optim_steps = int(meta["optim_steps"])
    engine.net.rng_state = int(meta["rng_state"])
    engine.step = int(meta["step"])
    engine.rng.bit_generator.state = meta["shuffle_rng"]
    if meta.get("check_finite"):
        model.check_finite = True
    return model


def rebuild(make_model, meta: dict, arrays: Dict[str, np.ndarray], optimizer, source: str):
    """:func:`from_state` with every failure a ValueError naming ``source`` (a file, a pickle)."""
    try:
        return from_state(make_model, meta, arrays, optimizer=optimizer)
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None
    except (KeyError, TypeError, IndexError, AttributeError, OverflowError, _core.TlearnError) as e:
        # the checksum matched but the settings do not describe a model this tlearn can build
        raise ValueError(f"{source}: inconsistent model file ({e!r})") from None
