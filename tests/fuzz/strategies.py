"""Strategies that produce hostile arguments, and a reference of what the
binding must do with them.

``fuzz_array`` draws an array-like meant to stand for a batch of a given
shape: usually the right shape, sometimes not; any dtype (float32/64/16,
long double, signed and unsigned integers, bool, complex, object, strings,
datetimes); any layout (C, Fortran, strided, negative strides, read-only,
byte-swapped, unaligned, zero strides, nested lists and tuples); NaN,
infinity and huge values; for class labels, values outside the classes and
outside 32- and 64-bit integers.  Sometimes not an array at all.

``canon_input``, ``canon_labels`` and ``canon_target`` are the reference: from
the object alone they return the float32/int32 C-contiguous array the binding
must compute with, or raise ``Invalid(exception class)`` naming the error the
binding must raise, checked in the binding's order (type, then values).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

INT32_MAX = 2**31 - 1

#: dtypes drawn for arrays (float32 weighted up: it is the common case)
DTYPES = ["f4", "f4", "f4", "f8", "f2", "g", "i1", "i4", "i8", "u1", "u4", "u8", "?", "c8", "c16", "O", "U4",
          "S4", "M8[s]", "m8[s]"]
LAYOUTS = ["c", "c", "c", "fortran", "strided", "negstride", "readonly", "swapped", "unaligned", "broadcast", "list",
           "tuple"]
SPECIALS = [np.nan, np.inf, -np.inf, 1e30, -3.0e38, 3.4e38, 1e300, -1e300, 0.0, -0.0, 1e-45, 65504.0, 7e4]
JUNK = [None, 3, 2.5, "abc", b"\x00\x01", {"a": 1}, object(), memoryview(b"1234"), np.float32(1.0), {1, 2}, (),
        [], [[]], [None, 1], [[1, 2], [3]], ["x", "y"], [2**70], [1 + 2j], range(3)]


class Invalid(Exception):
    """The object must be refused with ``exc`` (a class)."""

    def __init__(self, exc, why=""):
        super().__init__(f"{exc.__name__}: {why}")
        self.exc = exc


def _wrong_shapes(shape):
    B, tail = shape[0], tuple(shape[1:])
    out = [(B,), (B,) + tail + (1,), (B + 1,) + tail, (max(B - 1, 0),) + tail, (0,) + tail, (B, 0) + tail[1:],
           tail, ()]
    if tail:
        out.append((B,) + tuple(t + 1 for t in tail))
        out.append((B,) + tail[::-1])
    return [s for s in out if s != tuple(shape)]


def _values(rng, mode, n, kind, label_classes):
    if label_classes is not None and kind in "iu":
        v = rng.integers(-1, label_classes, n).astype(np.float64)
        return v
    if mode == "small":
        return rng.standard_normal(n)
    if mode == "ints":
        return rng.integers(-5, 6, n).astype(np.float64)
    if mode == "large":
        return rng.standard_normal(n) * 1e6
    v = rng.standard_normal(n)
    if n:
        k = rng.integers(1, n + 1)
        v[rng.integers(0, n, k)] = rng.choice(SPECIALS, k)
    return v


def _typed(v, dt, shape, rng, label_classes, bad_labels):
    """v (float64 values) as an array of dtype dt and the given shape."""
    dt = np.dtype(dt)
    with np.errstate(all="ignore"):
        if dt.kind == "f":
            a = v.astype(dt)
        elif dt.kind in "iu":
            info = np.iinfo(dt)
            w = np.nan_to_num(v, nan=0.0, posinf=info.max, neginf=info.min)
            w = np.clip(np.round(w), info.min, info.max)
            a = w.astype(dt)
            if dt.kind == "u" and label_classes is not None:
                a = np.where(v < 0, 0, a).astype(dt)
            if bad_labels and a.size:
                cands = [label_classes or 3, -2, INT32_MAX, 2**31, 2**32 + 1, -2**31 - 1, 2**40, -2**40, 2**63 - 1,
                         2**64 - 1]
                cands = [c for c in cands if info.min <= c <= info.max]
                a.flat[rng.integers(0, a.size)] = cands[rng.integers(0, len(cands))]
        elif dt.kind == "b":
            a = v > 0
        elif dt.kind == "c":
            a = (v + 1j * rng.standard_normal(v.shape)).astype(dt)
        elif dt.kind == "O":
            a = np.array(list(v), dtype=object)
        elif dt.kind in "US":
            a = np.char.mod("%.2f", v).astype(dt)
        elif dt.kind in "Mm":
            a = np.nan_to_num(np.clip(v, -1e9, 1e9)).astype(np.int64).astype(dt)
        else:  # pragma: no cover
            raise AssertionError(dt)
    return a.reshape(shape)


def _layout(a, how, rng):
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "strided":
        big = np.zeros((a.shape[0] * 2,) + a.shape[1:], a.dtype) if a.ndim else np.zeros(2, a.dtype)[:1].reshape(())
        if a.ndim == 0:
            return a
        big[::2] = a
        return big[::2]
    if how == "negstride":
        return a if a.ndim == 0 else np.flip(np.flip(a, 0).copy(), 0)  # same values, negative strides
    if how == "readonly":
        a = a.copy()
        a.flags.writeable = False
        return a
    if how == "swapped":
        if a.dtype.byteorder in "|" or a.dtype.kind in "OUS":
            return a
        return a.astype(a.dtype.newbyteorder())
    if how == "unaligned":
        if a.dtype.kind == "O" or a.dtype.itemsize < 2:
            return a
        buf = np.zeros(a.nbytes + 1, np.uint8)
        u = np.frombuffer(buf.data, a.dtype, a.size, 1).reshape(a.shape)
        u = u.copy() if not u.flags.writeable else u
        u[...] = a
        return u
    if how == "broadcast":
        if a.ndim == 0 or a.shape[0] == 0:
            return a
        return np.broadcast_to(a[:1], a.shape)
    if how == "list":
        return a.tolist() if a.ndim else [a.tolist()]
    if how == "tuple":
        return tuple(a.tolist()) if a.ndim else (a.tolist(),)
    return a


@st.composite
def fuzz_array(draw, shape, label_classes=None, p_bad=0.5):
    """An array-like standing for a batch of ``shape`` (see the module doc)."""
    bad = draw(st.floats(0, 1)) < p_bad
    if bad and draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(JUNK))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shp = tuple(shape)
    if bad and draw(st.booleans()):
        shp = draw(st.sampled_from(_wrong_shapes(shp)))
    if label_classes is not None:
        dt = draw(st.sampled_from(["i8", "i4", "i8", "u1", "u8", "i1", "u4"] + (DTYPES if bad else [])))
    else:
        dt = draw(st.sampled_from(DTYPES if bad else ["f4", "f4", "f8", "f2", "i4", "i8", "u1", "?", "g"]))
    mode = draw(st.sampled_from(["small", "ints", "large", "special"] if bad else ["small", "ints"]))
    n = int(np.prod(shp)) if shp else 1
    v = _values(rng, mode, n, np.dtype(dt).kind, label_classes)
    a = _typed(v, dt, shp, rng, label_classes, bad and label_classes is not None and draw(st.booleans()))
    return _layout(a, draw(st.sampled_from(LAYOUTS)), rng)


# ---------------------------------------------------------------- reference

def _as_array(obj):
    if not isinstance(obj, (np.ndarray, list, tuple)):
        raise Invalid(TypeError, f"not an array: {type(obj).__name__}")
    try:
        return np.asarray(obj)
    except (ValueError, TypeError) as e:
        raise Invalid(ValueError, f"not convertible: {e}")


def canon_input(obj, tail):
    """The float32 C-contiguous batch the binding computes with, or Invalid."""
    a = _as_array(obj)
    if a.dtype.kind not in "biuf":
        raise Invalid(TypeError, f"dtype {a.dtype}")
    if a.ndim != len(tail) + 1 or tuple(a.shape[1:]) != tuple(tail):
        raise Invalid(ValueError, f"shape {a.shape}")
    with np.errstate(all="ignore"):
        return np.ascontiguousarray(a, dtype=np.float32)


def canon_labels(obj, C):
    a = _as_array(obj)
    if a.dtype.kind not in "iu":
        raise Invalid(TypeError, f"dtype {a.dtype}")
    if a.size and (a.min() < -2**31 or a.max() > INT32_MAX):
        raise Invalid(ValueError, "beyond int32")
    if a.ndim != 1:
        raise Invalid(ValueError, f"shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.int32)


def canon_target(obj, tail):
    a = _as_array(obj)
    if a.dtype.kind not in "biuf":
        raise Invalid(TypeError, f"dtype {a.dtype}")
    size = int(np.prod(tail))
    if a.ndim == 0 or a.size != a.shape[0] * size:
        raise Invalid(ValueError, f"shape {a.shape}")
    with np.errstate(all="ignore"):
        return np.ascontiguousarray(a, dtype=np.float32)


NO_TARGETS = object()


def canon_batch(inputs, targets, in_tails, loss_specs, check_finite=True, allow_empty=False, check_labels=True):
    """Reference of bind_arrays: canonical (inputs, targets) or Invalid.

    ``loss_specs``: per loss, ("int", C) or ("float", tail); targets
    NO_TARGETS for calls without targets (forward)."""
    has_targets = targets is not NO_TARGETS
    if not isinstance(inputs, (list, tuple)):
        raise Invalid(TypeError, "inputs container")
    if len(inputs) != len(in_tails):
        raise Invalid(ValueError, "number of inputs")
    if has_targets:
        if not isinstance(targets, (list, tuple)):
            raise Invalid(TypeError, "targets container")
        if len(targets) != len(loss_specs):
            raise Invalid(ValueError, "number of targets")
    B, xs, ys = None, [], []
    for obj, tail in zip(inputs, in_tails):
        a = canon_input(obj, tail)
        if B is not None and a.shape[0] != B:
            raise Invalid(ValueError, "batch mismatch")
        B = a.shape[0]
        xs.append(a)
    for obj, (kind, arg) in zip(targets if has_targets else [], loss_specs):
        if kind == "int":
            t = canon_labels(obj, arg)
        else:
            t = canon_target(obj, arg)
        if B is not None and t.shape[0] != B:
            raise Invalid(ValueError, "batch mismatch")
        B = t.shape[0] if B is None else B
        ys.append(t)
    if B == 0 and not allow_empty:
        raise Invalid(ValueError, "empty batch")
    # the values are the core's to check (tl_net_check_data), after every conversion
    if check_finite:
        for a in xs:
            if not np.isfinite(a).all():
                raise Invalid(ValueError, "non-finite input")
    if check_labels:
        for t, (kind, arg) in zip(ys, loss_specs):
            if kind == "int" and t.size and (t.min() < -1 or t.max() >= arg):
                raise Invalid(ValueError, "label out of range")
    return xs, ys


def lr_value(draw_value):
    """The float32 the binding's 'f' conversion gives, or Invalid."""
    if not isinstance(draw_value, (int, float, np.floating, np.integer)):
        raise Invalid(TypeError, "lr type")
    with np.errstate(all="ignore"):
        v = np.float32(float(draw_value))
    return v


LRS = st.one_of(st.sampled_from([0.0, 0.05, 0.1, -0.1, np.nan, np.inf, -np.inf, 1e39, 1e-40, 3, "0.1", None, 1j,
                                 np.float64(0.02), np.int64(0)]),
                st.floats(0, 0.2))
INTS = st.one_of(st.sampled_from([0, 1, 2, 3, 4, 7, -1, -2**31, 2**31 - 1, 2**31, 2**40, -2**63, 2**64, 1.5, "2",
                                  None, True, np.int64(2), np.int8(-3)]),
                 st.integers(-3, 9))
