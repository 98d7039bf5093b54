"""The core's op table as Python reads it: each op's named attributes (kind,
default, limits, whether they may change between steps), its target kind and
whether it counts correct predictions.  Layers, losses, the model and the
tests take names from here; nothing is listed twice."""
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
