"""What the user passes, as the arrays the core takes: inputs by name or
position as C-contiguous float32, targets by loss (or output) name as int32
labels or float32 values, and the number of examples they agree on.  The
values (finite inputs, labels in range) are the core's to check."""
from __future__ import annotations

from typing import List

import numpy as np

from . import _core


def input_list(engine, x) -> List[np.ndarray]:
    """The model's inputs from an array, a list or a dict, in the order the core takes them."""
    order = engine.input_order
    if len(order) == 1 and type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous:
        return [x]  # the common case: one input, already as the core takes it
    names = engine.input_names
    if isinstance(x, dict):
        unknown = [k for k in x if k not in engine.input_alias]
        missing = [k for k in names if k not in x]
        if unknown or missing:
            raise KeyError(f"inputs: unknown names {unknown}, missing names {missing}; expected {names}")
        by_name = x
    elif isinstance(x, (list, tuple)) and len(names) > 1:
        if len(x) != len(names):
            raise ValueError(f"inputs: expected {len(names)} arrays ({names}), got {len(x)}")
        by_name = dict(zip(names, x))
    else:
        if len(names) != 1:
            raise ValueError(f"model has inputs {names}; pass a dict or a list of arrays")
        by_name = {names[0]: x}
    return [as_input(by_name[name], node) for name, node in order]


def as_input(a, name):
    """``a`` as a C-contiguous float32 array (no copy when it already is one)."""
    if isinstance(a, np.ndarray) and a.dtype == np.float32 and a.flags.c_contiguous:
        return a
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":  # not complex, object, strings, datetime64 or timedelta64
        raise TypeError(f"input '{name}': expected a real numeric array (float32 preferred), got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def target_list(engine, y) -> List[np.ndarray]:
    """One target array per loss, in loss order, typed for the core."""
    losses = engine.losses
    if len(losses) == 1 and type(y) is np.ndarray and y.ndim and losses[0].plain_target:
        s = losses[0]  # the common case: one loss, an array; its checks are those of the loop below
        if s.int_target:
            return [y if y.dtype == np.int32 and y.flags.c_contiguous else _core.labels(y, s.name)]
        if y.dtype.kind not in "biuf":
            raise TypeError(f"target of loss '{s.name}': expected a real numeric array, got dtype {y.dtype}")
        return [np.ascontiguousarray(y, dtype=np.float32)]
    names = [s.name for s in losses]
    if isinstance(y, dict):
        by = {}
        for s in losses:
            if s.name in y:
                by[s.name] = y[s.name]
            elif s.output in y and sum(t.output == s.output for t in losses) == 1:
                by[s.name] = y[s.output]
        allowed = set(names) | {s.output for s in losses}
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
    for s in losses:
        t = s.loss.target(np.asarray(by[s.name]))
        if t.ndim == 0:
            raise ValueError(f"target of loss '{s.name}': expected an array with one entry per example, "
                             f"got a 0-d value {t!r}")
        if s.int_target:
            # converted once here by the binding (other dtypes and values beyond int32 refused, the loss named);
            # the core checks the label range
            out.append(t if t.dtype == np.int32 and t.flags.c_contiguous else _core.labels(t, s.name))
        else:
            if t.dtype.kind not in "biuf":
                raise TypeError(f"target of loss '{s.name}': expected a real numeric array, got dtype {t.dtype}")
            out.append(np.ascontiguousarray(t, dtype=np.float32))
    return out


def prepare(engine, x, y):
    """``(inputs, targets, n)``; inputs and targets must agree on ``n`` examples."""
    xs = input_list(engine, x)
    ys = target_list(engine, y) if y is not None else []
    if len(xs) == 1 and len(ys) == 1 and len(xs[0]) == len(ys[0]):
        return xs, ys, len(xs[0])
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


def split_last(engine, x, y, fraction):
    """``(x_train, y_train, (x_val, y_val))``: the last ``fraction`` of the examples held out, as
    Keras's ``validation_split`` (before shuffling)."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be a float in (0, 1), got {fraction!r}")
    if y is None:
        raise ValueError("fit: validation_split needs targets y")
    n = len(input_list(engine, x)[0])
    split = int(n * (1.0 - fraction))  # Keras: int(n * (1 - validation_split))
    if split <= 0 or split >= n:
        raise ValueError(f"validation_split={fraction!r} of {n} examples leaves {split} for training and "
                         f"{n - split} for validation; both need at least one")
    tr, va = slice(0, split), slice(split, n)
    mx, my = len(engine.input_names) > 1, len(engine.losses) > 1
    return _take(x, tr, mx), _take(y, tr, my), (_take(x, va, mx), _take(y, va, my))
