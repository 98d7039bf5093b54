"""The core's op table as Python reads it: each op's named attributes (kind,
default, limits, whether they may change between steps, the (H, W) pair a
layer takes as one argument), its parameters, its target kind and whether it
counts correct predictions.  Layers (their arguments, validation and
configuration), losses, the model and the tests take names from here;
nothing is listed twice."""
from __future__ import annotations

import keyword
from typing import Dict, List, Tuple

from . import _core

OPS: Dict[str, dict] = {o["name"]: o for o in _core.ops()}


def py_name(attr: str) -> str:
    """The Python spelling of an attribute name (``lambda`` -> ``lambda_``)."""
    return attr + "_" if keyword.iskeyword(attr) else attr


def attrs(op: str) -> List[dict]:
    return OPS[op]["attrs"]


def settable(op: str) -> Tuple[Tuple[str, str], ...]:
    """``(python name, core name)`` of the attributes of ``op`` that may change on a built model."""
    return tuple((py_name(a["name"]), a["name"]) for a in OPS[op]["attrs"] if a["settable"])


def choices(op: str, attr: str) -> Tuple[str, ...]:
    return next(a["choices"] for a in OPS[op]["attrs"] if a["name"] == attr)


def params(op: str) -> List[dict]:
    """The parameters ``op`` declares: ``name`` (the suffix of ``"<node>.<name>"``), ``buffer``
    (saved, never trained) and ``when`` (the bool attribute it needs, or None)."""
    return OPS[op]["params"]


def trained_params(op: str, attr_values: dict) -> List[str]:
    """The suffixes of the trained parameters of an ``op`` node with these attribute values."""
    return [p["name"] for p in OPS[op]["params"]
            if not p["buffer"] and (p["when"] is None or attr_values[p["when"]])]


def layer_args(op: str) -> List[Tuple[str, List[dict]]]:
    """The arguments of a layer of ``op``, in the row's order: ``(name, attributes)``, one
    attribute each, or the two halves of an (H, W) pair under the pair's name."""
    out: List[Tuple[str, List[dict]]] = []
    for a in OPS[op]["attrs"]:
        if a["pair"] is None:
            out.append((py_name(a["name"]), [a]))
        elif out and out[-1][0] == a["pair"]:
            out[-1][1].append(a)
        else:
            out.append((a["pair"], [a]))
    return out
