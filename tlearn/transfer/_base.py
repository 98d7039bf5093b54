"""The one base of every recipe, with scikit-learn's contract.

* The constructor stores its arguments under their own names and does
  nothing else (no validation, no copy): ``get_params``, ``set_params``,
  ``__repr__`` and ``sklearn.base.clone`` work from the signature.
* ``fit`` validates the settings and the data, trains, and returns
  ``self``.  The fitted state (attributes ending in ``_``) is built apart
  and replaces the previous one whole only when the fit succeeds: a fit
  that fails or is interrupted leaves a fitted recipe as it was and an
  unfitted one unfitted.
* A recipe never modifies a model the caller passed in: it copies from it
  (:meth:`tlearn.Model.clone`, :func:`~tlearn.transfer.copy_layers`).
* Networks train through :meth:`tlearn.Model.fit` only: per-step values
  (learning rate, reversal lambda, loss weights) are ``schedules`` carried
  into the core's run of steps; per-epoch choices are callbacks.

A recipe implements ``_fit(*args, **kwargs) -> dict`` returning its fitted
attributes (names ending in ``_``); the base installs them.  The checks
below (``check_int`` ...) give every recipe the same messages: the setting
named, what was expected, what came.
"""
from __future__ import annotations

import copy
import inspect
import math
import sys
from numbers import Integral, Real
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..datasets.batches import permutation_stream


class NotFittedError(RuntimeError, AttributeError):
    """A recipe used before ``fit`` (scikit-learn's name and bases)."""


def sklearn_tags(kind: str):
    """scikit-learn's estimator tags for a ``"transformer"`` or a
    ``"classifier"`` of examples (N, ...), asked only by scikit-learn itself
    (>= 1.6), whose already loaded ``sklearn.utils`` makes them: tlearn does
    not import scikit-learn."""
    u = sys.modules.get("sklearn.utils")
    if u is None or not hasattr(u, "Tags"):
        raise AttributeError("__sklearn_tags__: scikit-learn's hook, for scikit-learn >= 1.6")
    inputs = u.InputTags(two_d_array=True, three_d_array=True)
    if kind == "classifier":
        return u.Tags(estimator_type="classifier", target_tags=u.TargetTags(required=True),
                      classifier_tags=u.ClassifierTags(), input_tags=inputs, non_deterministic=False)
    return u.Tags(estimator_type=None, target_tags=u.TargetTags(required=False), transformer_tags=u.TransformerTags(),
                  input_tags=inputs, non_deterministic=False)


class Recipe:
    """Base of the recipes of :mod:`tlearn.transfer` (see the module doc)."""

    #: what scikit-learn should take the recipe for: "classifier", "transformer" or None (its tags unset)
    _sklearn_kind: Optional[str] = None

    def __sklearn_tags__(self):
        if self._sklearn_kind is None:
            raise AttributeError(f"{type(self).__name__} sets no scikit-learn tags")
        return sklearn_tags(self._sklearn_kind)

    # ------------------------------------------------------ scikit-learn
    @classmethod
    def _param_names(cls) -> List[str]:
        sig = inspect.signature(cls.__init__)
        for p in sig.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must name every parameter (no *args/**kwargs)")
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> Dict[str, Any]:
        """The constructor's arguments, by name (scikit-learn's protocol)."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params) -> "Recipe":
        """Set constructor arguments by name; unknown names are refused."""
        names = self._param_names()
        for k in params:
            if k not in names:
                raise ValueError(f"{type(self).__name__}.set_params: unknown parameter {k!r}; parameters: {names}")
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        parts = []
        for k, v in self.get_params().items():
            default = sig.parameters[k].default
            try:
                same = default is not inspect.Parameter.empty and (v is default or bool(v == default))
            except Exception:  # arrays and models compare element-wise or not at all
                same = False
            if not same:
                parts.append(f"{k}={_short_repr(v)}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -------------------------------------------------------------- fit
    def fit(self, *args, **kwargs) -> "Recipe":
        """Validate, train, and install the fitted state whole; returns ``self``."""
        fitted = self._fit(*args, **kwargs)
        bad = [k for k in fitted if not k.endswith("_") or k.startswith("_")]
        if bad:
            raise AssertionError(f"{type(self).__name__}._fit returned non-fitted names {bad}")
        for k in [k for k in vars(self) if _is_fitted_name(k)]:
            delattr(self, k)
        self.__dict__.update(fitted)
        return self

    def _fit(self, *args, **kwargs) -> Dict[str, Any]:  # pragma: no cover - every recipe overrides it
        raise NotImplementedError

    def _with(self, fitted: Dict[str, Any]) -> "Recipe":
        """A shallow copy of this recipe with ``fitted`` installed: what a
        per-epoch ``callback`` sees while ``self`` keeps its previous state."""
        view = copy.copy(self)
        for k in [k for k in vars(view) if _is_fitted_name(k)]:
            delattr(view, k)
        view.__dict__.update(fitted)
        return view

    def __sklearn_is_fitted__(self) -> bool:
        return any(_is_fitted_name(k) for k in vars(self))

    def _check_is_fitted(self, what: str) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"{type(self).__name__}.{what}: this recipe is not fitted yet; call fit first")

    def _check_width(self, what: str, X: np.ndarray) -> np.ndarray:
        """``X`` (n, features) after checking its width against the ``n_features_in_`` it was fitted on."""
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"{type(self).__name__}.{what}: X has {X.shape[1]} features per example, the recipe was "
                             f"fitted on {self.n_features_in_}")
        return X


def train_steps(model, x, targets, steps: int, batch_size: int, seed: int) -> Dict[str, List[float]]:
    """Train ``model`` for exactly ``steps`` steps of ``min(batch_size, n)`` rows drawn as fresh
    permutations of the ``n`` examples (every row once per pass), in one ``fit`` call; the history
    as plain floats.  The recipes that count steps rather than epochs train through it."""
    n = len(x)
    bs = min(batch_size, n)
    rows = permutation_stream(n, steps * bs, np.random.default_rng(seed))
    hist = model.fit(x, targets, epochs=1, batch_size=bs, sampler=lambda epoch: rows, verbose=0)
    return {k: [float(v) for v in vals] for k, vals in hist.items()}


def _is_fitted_name(k: str) -> bool:
    return k.endswith("_") and not k.startswith("_")


def _short_repr(v) -> str:
    if isinstance(v, np.ndarray):
        return f"array(shape={v.shape}, dtype={v.dtype})"
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


# ------------------------------------------------------------ the checks

def _who(owner: str, name: str) -> str:
    return f"{owner}: {name}" if owner else name


def check_int(owner: str, name: str, value, lo: Optional[int] = None, hi: Optional[int] = None) -> int:
    """``value`` as an int in ``[lo, hi]`` (bools refused), or a ValueError naming the setting."""
    if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)):
        raise TypeError(f"{_who(owner, name)} must be an int, got {value!r} ({type(value).__name__})")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else (f"<= {hi}" if lo is None else f"in [{lo}, {hi}]")
        raise ValueError(f"{_who(owner, name)} must be an int {rng}, got {v}")
    return v


def check_float(owner: str, name: str, value, lo: Optional[float] = None, hi: Optional[float] = None,
                lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a finite float within the limits, or an error naming the setting."""
    if isinstance(value, bool) or not isinstance(value, (Real, np.floating, np.integer)):
        raise TypeError(f"{_who(owner, name)} must be a number, got {value!r} ({type(value).__name__})")
    v = float(value)
    ok = math.isfinite(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        lim = []
        if lo is not None:
            lim.append(f"{'>' if lo_open else '>='} {lo:g}")
        if hi is not None:
            lim.append(f"{'<' if hi_open else '<='} {hi:g}")
        raise ValueError(f"{_who(owner, name)} must be a finite number{' ' + ' and '.join(lim) if lim else ''}, "
                         f"got {value!r}")
    return v


def check_choice(owner: str, name: str, value, choices: Sequence) -> Any:
    if value not in choices:
        raise ValueError(f"{_who(owner, name)} must be one of {list(choices)}, got {value!r}")
    return value


def check_examples(owner: str, name: str, x, min_n: int = 1) -> np.ndarray:
    """A real numeric array of examples ``(N, ...)`` with ``N >= min_n`` and
    finite values; errors name the array and, for a bad value, its row."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{_who(owner, name)}: expected a real numeric array, got dtype {a.dtype}")
    if a.ndim < 2:
        raise ValueError(f"{_who(owner, name)}: expected an array of examples (N, ...), got shape {a.shape}")
    if len(a) < min_n:
        raise ValueError(f"{_who(owner, name)}: expected at least {min_n} example(s), got {len(a)}")
    if a.dtype.kind == "f" and a.size:
        bad = ~np.isfinite(a.reshape(len(a), -1)).all(axis=1)
        if bad.any():
            row = int(np.argmax(bad))
            raise ValueError(f"{_who(owner, name)}: row {row} holds a NaN or infinite value "
                             f"({int(bad.sum())} such row(s)); expected finite values")
    return a


def check_labels(owner: str, name: str, y, n: int, allow_missing: bool = False) -> np.ndarray:
    """Integer class labels of shape ``(n,)`` (``-1``: no label, when allowed)."""
    a = np.asarray(y)
    if a.shape != (n,):
        raise ValueError(f"{_who(owner, name)}: expected one label per example, shape ({n},), got {a.shape}")
    if a.dtype.kind not in "iu":
        raise TypeError(f"{_who(owner, name)}: expected integer class labels, got dtype {a.dtype}")
    lo = -1 if allow_missing else 0
    if a.size and a.min() < lo:
        raise ValueError(f"{_who(owner, name)}: labels must be >= {lo}"
                         f"{' (-1: no label)' if allow_missing else ''}, got {int(a.min())} "
                         f"at row {int(np.argmin(a))}")
    return a.astype(np.int64)


def check_model(owner: str, name: str, model) -> Any:
    from ..model import Model

    if not isinstance(model, Model):
        raise TypeError(f"{_who(owner, name)}: expected a tlearn.Model, got {type(model).__name__}")
    return model
