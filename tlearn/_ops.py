"""The core's op table as Python reads it: each op's named attributes (kind,
default, limits, whether they may change between steps, the (H, W) pair a
layer takes as one argument), its parameters, its target kind and whether it
counts correct predictions.  Layers and losses (their arguments, defaults,
validation and configuration), the model and the tests take names from
here; nothing is listed twice."""
from __future__ import annotations

import inspect
import keyword
from typing import Dict, List, Tuple

import numpy as np

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


REQUIRED = inspect.Parameter.empty  # the default of an argument that must be given


def default(attrs: List[dict]):
    """An argument's default from its row attributes (a pair: both halves), or ``REQUIRED``."""
    d = [a["default"] for a in attrs]
    if any(v is None for v in d):
        return REQUIRED
    if attrs[0]["kind"] == "bool":
        return bool(d[0])
    if attrs[0]["kind"] == "choice":
        return attrs[0]["choices"][d[0]]
    return tuple(d) if len(d) == 2 else d[0]


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _limit_words(a: dict) -> str:
    """The limits of attribute ``a`` in words: the row's own, or its bounds."""
    if a["must"]:
        return a["must"]
    lo, hi = a["min"], a["max"]
    parts = []
    if lo is not None and lo != float("-inf"):
        parts.append(f"{'>' if a['min_open'] else '>='} {lo}")
    if hi is not None and hi not in (float("inf"), _core.INT_MAX):
        parts.append(f"{'<' if a['max_open'] else '<='} {hi}")
    return " and ".join(parts) or "finite"


def _within(a: dict, v) -> bool:
    lo, hi = a["min"], a["max"]
    return (v > lo if a["min_open"] else v >= lo) and (v < hi if a["max_open"] else v <= hi)


def checked(what: str, attrs: List[dict], v):
    """``v`` as the value of an argument of row attributes ``attrs`` (one, or the two halves of a
    pair), or a ValueError that starts with ``what`` (the class and the argument)."""
    a = attrs[0]
    if len(attrs) == 2:  # an (H, W) pair: an int or two
        vals = (v, v) if _is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else None
        if vals is None or len(vals) != 2 or not all(_is_int(x) for x in vals):
            raise ValueError(f"{what} must be an int or a pair of ints, got {v!r}")
        for x, h in zip(vals, attrs):
            if not _within(h, x):
                raise ValueError(f"{what} must be {_limit_words(h)}, got {v!r}")
        return tuple(int(x) for x in vals)
    if a["kind"] == "int":
        if not _is_int(v) or not _within(a, v):
            raise ValueError(f"{what} must be a{'' if a['must'] else 'n'} {_limit_words(a)} int, got {v!r}"
                             if a["must"] else f"{what} must be an int {_limit_words(a)}, got {v!r}")
        return int(v)
    if a["kind"] == "bool":
        if isinstance(v, (bool, np.bool_)) or (_is_int(v) and v in (0, 1)):
            return bool(v)
        raise ValueError(f"{what} must be True or False, got {v!r}")
    if a["kind"] == "choice":
        if v not in a["choices"]:
            raise ValueError(f"{what} must be one of {sorted(a['choices'])}, got {v!r}")
        return v
    if isinstance(v, (str, bytes, bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} must be a real number ({_limit_words(a)}), got {v!r}")
    f = float(v)
    if not (np.isfinite(f) and _within(a, f)):
        raise ValueError(f"{what} must be {_limit_words(a)}, got {v!r}")
    return f
