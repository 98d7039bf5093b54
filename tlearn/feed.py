"""What the user passes, as the arrays the core takes: inputs by name or
position as C-contiguous float32, targets by loss (or output) name as int32
labels or float32 values, and the number of examples they agree on.  The
values (finite inputs, labels in range) are the core's to check."""
from __future__ import annotations

from typing import List

import numpy as np

from . import _core, _ops


def input_list(model, x) -> List[np.ndarray]:
    """The model's inputs from an array, a list or a dict, in input-node order."""
    names = model.input_names
    if isinstance(x, dict):
        unknown = [k for k in x if k not in model._input_alias]
        missing = [k for k in names if k not in x]
        if unknown or missing:
            raise KeyError(f"inputs: unknown names {unknown}, missing names {missing}; expected {names}")
        by_layer = {model._input_alias[k]: v for k, v in x.items()}
    elif isinstance(x, (list, tuple)) and len(names) > 1:
        if len(x) != len(names):
            raise ValueError(f"inputs: expected {len(names)} arrays ({names}), got {len(x)}")
        by_layer = {model._input_alias[k]: v for k, v in zip(names, x)}
    else:
        if len(names) != 1:
            raise ValueError(f"model has inputs {names}; pass a dict or a list of arrays")
        by_layer = {model._input_alias[names[0]]: x}
    inv = {v: k for k, v in model._node.items()}
    return [as_input(by_layer[inv[i]], inv[i]) for i in model._input_nodes]


def as_input(a, name):
    """``a`` as a C-contiguous float32 array (no copy when it already is one)."""
    if isinstance(a, np.ndarray) and a.dtype == np.float32 and a.flags.c_contiguous:
        return a
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":  # not complex, object, strings, datetime64 or timedelta64
        raise TypeError(f"input '{name}': expected a real numeric array (float32 preferred), got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def target_list(model, y) -> List[np.ndarray]:
    """One target array per loss, in loss order, typed for the core."""
    names = model.loss_names
    if isinstance(y, dict):
        by = {}
        for s in model._losses:
            if s.name in y:
                by[s.name] = y[s.name]
            elif s.output in y and sum(t.output == s.output for t in model._losses) == 1:
                by[s.name] = y[s.output]
        allowed = set(names) | {s.output for s in model._losses}
        unknown = [k for k in y if k not in allowed]
        missing = [k for k in names if k not in by]
        if unknown or missing:
            raise KeyError(f"targets: unknown names {unknown}, missing names {missing}; expected {names}")
    elif isinstance(y, (list, tuple)) and len(names) > 1:
        if len(y) != len(names):
            raise ValueError(f"targets: expected {len(names)} arrays ({names}), got {len(y)}")
        by = dict(zip(names, y))
    else:
        if len(names) != 1:
            raise ValueError(f"model has losses {names}; pass targets as a dict")
        by = {names[0]: y}
    out = []
    for s in model._losses:
        t = s.loss.target(np.asarray(by[s.name]))
        if t.ndim == 0:
            raise ValueError(f"target of loss '{s.name}': expected an array with one entry per example, "
                             f"got a 0-d value {t!r}")
        if _ops.OPS[s.loss.kind]["target"] == "int":
            # converted once here by the binding (other dtypes and values beyond int32 refused, the loss named);
            # the core checks the label range
            out.append(t if t.dtype == np.int32 and t.flags.c_contiguous else _core.labels(t, s.name))
        else:
            if t.dtype.kind not in "biuf":
                raise TypeError(f"target of loss '{s.name}': expected a real numeric array, got dtype {t.dtype}")
            out.append(np.ascontiguousarray(t, dtype=np.float32))
    return out


def prepare(model, x, y):
    """``(inputs, targets, n)``; inputs and targets must agree on ``n`` examples."""
    xs = input_list(model, x)
    ys = target_list(model, y) if y is not None else []
    ns = {len(a) for a in xs} | {len(t) for t in ys}
    if len(ns) != 1:
        raise ValueError(f"inputs and targets disagree on the number of examples: {sorted(ns)}")
    return xs, ys, ns.pop()


def _take(a, sl, several: bool):
    """Rows ``sl`` of an array, a dict of arrays, or (``several``) a list with one array per input or loss."""
    if isinstance(a, dict):
        return {k: np.asarray(v)[sl] for k, v in a.items()}
    if several and isinstance(a, (list, tuple)):
        return [np.asarray(v)[sl] for v in a]
    return np.asarray(a)[sl]


def split_last(model, x, y, fraction):
    """``(x_train, y_train, (x_val, y_val))``: the last ``fraction`` of the examples held out, as
    Keras's ``validation_split`` (before shuffling)."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be a float in (0, 1), got {fraction!r}")
    if y is None:
        raise ValueError("fit: validation_split needs targets y")
    n = len(input_list(model, x)[0])
    split = int(n * (1.0 - fraction))  # Keras: int(n * (1 - validation_split))
    if split <= 0 or split >= n:
        raise ValueError(f"validation_split={fraction!r} of {n} examples leaves {split} for training and "
                         f"{n - split} for validation; both need at least one")
    tr, va = slice(0, split), slice(split, n)
    mx, my = len(model.input_names) > 1, len(model.loss_names) > 1
    return _take(x, tr, mx), _take(y, tr, my), (_take(x, va, mx), _take(y, va, my))
