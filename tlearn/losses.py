"""Losses: each becomes a loss node of the C core on one model output.

The training loss is the weighted sum of a model's losses; each is reported
separately.  Missing labels never count: ``-1`` for class labels, NaN for
float targets.  A batch in which a loss has no labelled example contributes 0.
Whether a loss reports an accuracy (``classification``) and the arguments
before ``weight`` and ``name`` (the op's attributes: their names, defaults,
limits and configuration) are its op's row in the core's table; every
subclass is registered by its ``kind`` (``LOSSES``).
"""
from __future__ import annotations

import inspect
from typing import Dict

import numpy as np

from . import _ops

LOSSES: Dict[str, type] = {}  # op name -> class, filled as subclasses are defined
_CLASSES: Dict[str, type] = {}  # class name -> class (for loading)


class Loss:
    """Base class.  A subclass names its ``kind`` (an op of the table that is a
    loss); its arguments are that op's attributes by their Python names, with
    the row's defaults and limits, then ``weight`` and ``name``:
    ``SoftTargetCE(temperature=2.0, weight=1.0, name=None)``."""

    kind = ""
    _attrs: list = []  # (python name, row attribute) of the op's attributes

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        _CLASSES[cls.__name__] = cls
        if "kind" in cls.__dict__ and cls.kind:  # a subclass that only prepares targets keeps its parent's op
            LOSSES[cls.kind] = cls
            cls._attrs = [(_ops.py_name(a["name"]), a) for a in _ops.attrs(cls.kind)]
            P = inspect.Parameter
            cls.__signature__ = inspect.Signature(
                [P(n, P.POSITIONAL_OR_KEYWORD, default=_ops.default([a])) for n, a in cls._attrs]
                + [P("weight", P.POSITIONAL_OR_KEYWORD, default=1.0), P("name", P.POSITIONAL_OR_KEYWORD, default=None)])

    def __init__(self, *args, **kwargs):
        cls = type(self).__name__
        sig = inspect.signature(type(self))
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{cls}(): {e}; its arguments: {cls}{sig}") from None
        bound.apply_defaults()
        given = bound.arguments
        for n, a in self._attrs:
            setattr(self, n, _ops.checked(f"{cls} {n}", [a], given[n]))
        self.weight = float(given["weight"])
        if not self.weight >= 0.0:
            raise ValueError(f"loss weight must be >= 0, got {given['weight']!r}")
        self.name = given["name"]

    def target(self, t):
        """The target array as the op takes it (the identity; see :class:`CategoricalCE`)."""
        return t

    @property
    def classification(self) -> bool:
        """Counts correct predictions (argmax or sign), so ``<name>_acc`` is reported."""
        return _ops.OPS[self.kind]["classification"]

    def attrs(self) -> dict:
        """The op's attributes by name, each read from the attribute of the same name."""
        return {a["name"]: getattr(self, n) for n, a in self._attrs}

    def get_config(self):
        """The op's attributes, ``weight`` and ``name``: ``type(self)(**get_config())`` rebuilds the loss."""
        return {**{n: getattr(self, n) for n, _ in self._attrs}, "weight": self.weight, "name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()})"


class SoftmaxCE(Loss):
    """Softmax cross-entropy on logits with integer labels (-1 = no label)."""

    kind = "softmax_ce"


class CategoricalCE(SoftmaxCE):
    """Keras's ``"categorical_crossentropy"`` on logits: softmax cross-entropy
    with one-hot targets (B, classes).  Each one-hot row is the label of its
    argmax, so the loss, its gradient and the accuracy are the core's
    ``softmax_ce``'s (the core's ``soft_ce`` at temperature 1 gives the same
    loss on one-hot rows but no accuracy); a row of zeros or NaN means "no
    label".  Rows that are not one-hot (soft labels, label smoothing) are
    refused: :class:`SoftTargetCE` with ``temperature=1`` is the
    cross-entropy to such soft targets."""

    def target(self, t):
        t = np.asarray(t)
        if t.ndim != 2:
            raise ValueError(f"categorical_crossentropy: expected one-hot targets of shape (batch, classes), got "
                             f"shape {t.shape}; integer labels go with 'sparse_categorical_crossentropy'")
        if t.dtype.kind not in "biuf":
            raise TypeError(f"categorical_crossentropy: expected numeric one-hot targets, got dtype {t.dtype}")
        f = np.asarray(t, dtype=np.float64)
        empty = np.isnan(f).all(1) | (f == 0).all(1)
        g = np.where(np.isnan(f), 0.0, f)
        onehot = ((g == 0) | (g == 1)).all(1) & (g.sum(1) == 1)
        bad = ~(onehot | empty)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"categorical_crossentropy: row {i} of the targets is not one-hot ({f[i][:8].tolist()}"
                             f"{' ...' if f.shape[1] > 8 else ''}); for soft targets use "
                             "tlearn.losses.SoftTargetCE(temperature=1.0), the cross-entropy to probabilities")
        return np.where(empty, -1, g.argmax(1)).astype(np.int32)


class SigmoidBCE(Loss):
    """Binary cross-entropy on logits with 0/1 targets (NaN = missing); multi-label."""

    kind = "sigmoid_bce"


class MSE(Loss):
    """Mean squared error (NaN targets = missing)."""

    kind = "mse"


class SoftTargetCE(Loss):
    """Cross-entropy to another model's probabilities at a temperature T,
    scaled by T^2 (Hinton et al. 2015): the output-consistency term of
    conservative training and Learning without Forgetting.  Rows with a NaN
    are skipped."""

    kind = "soft_ce"


class CORAL(Loss):
    """Deep CORAL (Sun & Saenko 2016): ``|C_s - C_t|_F^2 / (4 D^2)`` between
    the covariances of the features of the examples labelled 0 (source) and
    1 (target) in a batch; -1 marks examples in neither.  The target is the
    domain label per example; a batch with fewer than 2 of either domain
    contributes 0."""

    kind = "coral"


class KLSparsity(Loss):
    """The sparsity penalty of a sparse autoencoder (Ng, CS294A notes; the
    UFLDL exercise), on an output in (0, 1) such as a sigmoid code:
    ``sum_j KL(rho || rhohat_j)``, ``rhohat_j`` the mean activation of unit
    ``j`` over the batch's rows labelled 0 (``-1`` leaves a row out); the
    loss weight is the paper's ``beta``.  The target is one int per example
    (an array of zeros for "every row counts")."""

    kind = "kl_sparsity"


# Keras's names (on logits: Keras's from_logits=True)
ALIASES = {"sparse_categorical_crossentropy": SoftmaxCE, "categorical_crossentropy": CategoricalCE,
           "binary_crossentropy": SigmoidBCE, "mean_squared_error": MSE}


def get(spec) -> Loss:
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str):
        if spec in ALIASES:
            return ALIASES[spec]()
        if spec not in LOSSES:
            raise ValueError(f"unknown loss {spec!r}; expected one of {sorted(LOSSES)}, Keras's "
                             f"{sorted(ALIASES)} (on logits), or a tlearn.losses.Loss")
        return LOSSES[spec]()
    raise TypeError(f"a loss is a name or a tlearn.losses.Loss, got {type(spec).__name__}")


def from_config(class_name: str, config: dict) -> Loss:
    return _CLASSES[class_name](**config)
