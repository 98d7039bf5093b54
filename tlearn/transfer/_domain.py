"""The shared engine of the domain-adaptation recipes (labelled source,
unlabelled target).

One training loop serves every recipe: a feature extractor and a label
predictor trained on labelled source examples, plus whatever penalty a
recipe adds on the features (a domain classifier behind gradient reversal
for DANN, a CORAL loss for Deep CORAL, nothing for the source-only
baseline).  The loop arranges batches (half source, half target when the
penalty needs the target), the learning-rate schedule and the recipe's
per-step settings; every forward and backward runs in the core, one
``train_on_batch`` per step.

Model selection never looks at target labels: after each epoch the engine
records the accuracy on a held-out part of the source and the recipe's own
unsupervised signals, and ``selection`` picks the epoch whose weights are
kept (see :class:`DomainAdaptation`).
"""
from __future__ import annotations

import inspect
import math
import sys
from typing import Callable, Dict, List, Optional, Union

import numpy as np

from .. import optim as _optim
from ..graph import Tensor
from ..layers import Input, Softmax
from ..model import Model
from . import nets as _nets

Schedule = Callable[[int, int], float]

_SELECTIONS = ("source_val", "last")
_NORMALIZE = ("joint", "source", None)


def _as_images(x, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected a real numeric array, got dtype {a.dtype}")
    if a.ndim < 2:
        raise ValueError(f"{what}: expected an array of examples (N, ...), got shape {a.shape}")
    return a


class DomainAdaptation:
    """Base of the domain-adaptation recipes; used alone it is the
    source-only baseline (see :class:`SourceOnly`).

    Parameters
    ----------
    features : callable Tensor -> Tensor, optional
        The feature extractor.  Default: Ganin et al.'s MNIST extractor
        (:func:`tlearn.transfer.nets.ganin_features`) [1]_.
    classifier : callable Tensor -> Tensor, optional
        The label predictor, from the features to the logits.  Default:
        Ganin et al.'s (two dense layers of 100, ReLU), with as many outputs
        as classes in ``y``.
    epochs : int
        Passes over the source training examples (8).
    batch_size : int
        Examples per step.  With a penalty that needs the target, half come
        from the source and half from the target [1]_; without, a step holds
        ``batch_size // 2`` source examples, so that every recipe sees the
        same source examples per step.
    lr : float or callable (step, total_steps) -> float
        A float is the ``mu0`` of Ganin et al.'s annealing
        ``mu_p = mu0 / (1 + alpha p)^beta`` (``mu0=0.01, alpha=10,
        beta=0.75``, JMLR 2016 section 5.2.2) [1]_; a callable replaces the
        schedule.
    momentum : float
        SGD momentum (0.9, as [1]_).
    normalize : {"joint", "source", None}
        Input standardisation per channel: ``"joint"`` with the mean and
        standard deviation of the source and target training inputs
        together (both are available without labels; Ganin et al.
        subtract the mean image of both domains), ``"source"`` with the
        source's only, ``None`` not at all.
    validation_fraction : float
        Share of the source examples held out for model selection (and of
        the target examples, for the recipe's unsupervised signals).
    selection : {"source_val", "last"}
        Which epoch's weights are kept: the best accuracy on the held-out
        source examples (ties: the later epoch), or the last epoch.  Target
        labels are never used.
    seed : int
        Seed of the weights, the batches and the held-out split.
    verbose : bool
        One progress line per epoch on stderr.

    Attributes
    ----------
    model_ : tlearn.Model
        The trained network (inputs ``x``; outputs ``label``, the logits,
        ``proba``, their softmax, and the recipe's own).
    history_ : dict of lists
        Per epoch: ``label_loss``, ``label_acc`` (source training batches),
        ``source_val_acc``, and the recipe's signals (``domain_acc`` ...).
    selected_epoch_ : int
        The epoch (0-based) whose weights were kept, by ``selection``.
    n_classes_, classes_ : int, ndarray
    input_mean_, input_std_ : ndarray (1, C, 1, 1) or (1, F)

    References
    ----------
    .. [1] Y. Ganin, E. Ustinova, H. Ajakan, P. Germain, H. Larochelle,
       F. Laviolette, M. Marchand, V. Lempitsky, "Domain-Adversarial
       Training of Neural Networks", JMLR 17 (2016), section 5.2.2.
    """

    #: whether a step also takes target examples (the penalty needs them)
    _uses_target = False
    #: whether fit needs X_target at all
    _needs_target = False
    #: the feature extractor when ``features`` is None
    _default_features = staticmethod(_nets.ganin_features)

    def __init__(self, features=None, classifier=None, epochs: int = 8, batch_size: int = 128,
                 lr: Union[float, Schedule] = 0.01, momentum: float = 0.9, normalize: Optional[str] = "joint",
                 validation_fraction: float = 0.1, selection: str = "source_val", seed: int = 0,
                 verbose: bool = False):
        self.features = features
        self.classifier = classifier
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.normalize = normalize
        self.validation_fraction = validation_fraction
        self.selection = selection
        self.seed = seed
        self.verbose = verbose

    # ------------------------------------------------------ scikit-learn
    @classmethod
    def _param_names(cls) -> List[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> Dict[str, object]:
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params) -> "DomainAdaptation":
        names = self._param_names()
        for k, v in params.items():
            if k not in names:
                raise ValueError(f"{type(self).__name__}.set_params: unknown parameter {k!r}; parameters: {names}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -------------------------------------------------------- validation
    #: the setting that weighs the recipe's domain loss (checked >= 0), if any
    _weight_setting: Optional[str] = None

    def _check_settings(self) -> None:
        name = type(self).__name__
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"{name}: epochs must be a positive int, got {self.epochs!r}")
        bs = self.batch_size
        if isinstance(bs, bool) or not isinstance(bs, int) or bs < 2 or bs % 2:
            raise ValueError(f"{name}: batch_size must be an even int >= 2 (half source, half target), got {bs!r}")
        if not callable(self.lr) and not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"{name}: lr must be a positive float (mu0) or a schedule (step, total) -> lr, "
                             f"got {self.lr!r}")
        if self.normalize not in _NORMALIZE:
            raise ValueError(f"{name}: normalize must be one of {_NORMALIZE}, got {self.normalize!r}")
        if self.selection not in _SELECTIONS:
            raise ValueError(f"{name}: selection must be one of {_SELECTIONS}, got {self.selection!r}")
        vf = self.validation_fraction
        if not isinstance(vf, (int, float)) or not 0.0 <= vf < 0.5:
            raise ValueError(f"{name}: validation_fraction must be in [0, 0.5), got {vf!r}")
        if self.selection == "source_val" and vf == 0:
            raise ValueError(f"{name}: selection='source_val' needs validation_fraction > 0")
        if self._weight_setting is not None:
            w = getattr(self, self._weight_setting)
            if not (isinstance(w, (int, float)) and w >= 0):
                raise ValueError(f"{name}: {self._weight_setting} must be a number >= 0, got {w!r}")

    def _check_data(self, X, y, X_target, extra: dict):
        name = type(self).__name__
        if "y_target" in extra or "yt" in extra:
            raise TypeError(f"{name}.fit: the target domain is unlabelled in this recipe; got target labels "
                            f"({', '.join(k for k in extra if k in ('y_target', 'yt'))}=...). Pass only X_target "
                            "(train on labelled target data with SourceOnly().fit(X_target, y_target))")
        if extra:
            raise TypeError(f"{name}.fit: unexpected arguments {sorted(extra)}")
        if isinstance(X_target, tuple):
            raise TypeError(f"{name}.fit: X_target must be an array of unlabelled target examples, got a tuple "
                            f"of {len(X_target)} (labels are not used for the target domain)")
        X = _as_images(X, f"{name}.fit: X (source examples)")
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise ValueError(f"{name}.fit: y must hold one label per source example, shape ({len(X)},), got {y.shape}")
        if y.dtype.kind not in "iu":
            raise TypeError(f"{name}.fit: y must be integer class labels, got dtype {y.dtype}")
        if len(X) == 0:
            raise ValueError(f"{name}.fit: the source set is empty (0 examples)")
        if y.min() < 0:
            raise ValueError(f"{name}.fit: source labels must be >= 0 (every source example is labelled), "
                             f"got {int(y.min())}")
        if X_target is None:
            if self._needs_target:
                raise TypeError(f"{name}.fit: needs X_target, the unlabelled target examples")
            return X, y, None
        Xt = _as_images(X_target, f"{name}.fit: X_target (target examples)")
        if Xt.shape[1:] != X.shape[1:]:
            raise ValueError(f"{name}.fit: target examples must have the shape of the source examples: "
                             f"expected (N, {', '.join(map(str, X.shape[1:]))}), got X_target of shape {Xt.shape}")
        if len(Xt) == 0:
            raise ValueError(f"{name}.fit: the target set is empty (0 examples); domain adaptation needs "
                             "unlabelled target examples")
        if len(Xt) < 2:
            raise ValueError(f"{name}.fit: needs at least 2 target examples, got {len(Xt)}")
        return X, y, Xt

    # -------------------------------------------------------- pieces
    def _stats(self, X: np.ndarray, Xt: Optional[np.ndarray]):
        axes = (0,) + tuple(range(2, X.ndim)) if X.ndim > 2 else (0,)
        if self.normalize is None:
            shape = (1,) + tuple(X.shape[1:2]) + (1,) * (X.ndim - 2)
            return np.zeros(shape, np.float32), np.ones(shape, np.float32)
        parts = [X] if self.normalize == "source" or Xt is None else [X, Xt]
        # per channel: sums over the examples of each part in float64, no concatenated copy
        n = sum(len(p) * int(np.prod([p.shape[a] for a in axes[1:]], dtype=np.int64)) for p in parts)
        s = sum(p.astype(np.float64).sum(axis=axes, keepdims=True) for p in parts)
        mean = s / n
        var = sum(((p.astype(np.float64) - mean) ** 2).sum(axis=axes, keepdims=True) for p in parts) / n
        std = np.sqrt(np.maximum(var, 1e-12))
        return mean.astype(np.float32), std.astype(np.float32)

    def _norm(self, X) -> np.ndarray:
        return np.ascontiguousarray((np.asarray(X, dtype=np.float32) - self.input_mean_) / self.input_std_)

    def _build(self, shape, n_classes: int) -> Model:
        x = Input(shape, name="x")
        f = (self.features or self._default_features)(x)
        if not isinstance(f, Tensor):
            raise TypeError(f"{type(self).__name__}: features must return a tlearn Tensor, got {type(f).__name__}")
        logits = (self.classifier or _nets.ganin_classifier(n_classes))(f)
        if logits.shape != (n_classes,):
            raise ValueError(f"{type(self).__name__}: the classifier must give {n_classes} logits per example, "
                             f"got shape {logits.shape}")
        # class probabilities for predict_proba, computed by the core (no loss, no gradient)
        outputs = {"label": logits, "proba": Softmax(name="proba")(logits)}
        losses = {"label": "softmax_ce"}
        weights = {}
        for out, (t, loss, w) in self._heads(f).items():
            outputs[out], losses[out], weights[out] = t, loss, w
        self._feature_layer = f.name
        m = Model(x, outputs, seed=self.seed, name=type(self).__name__)
        m.check_finite = True  # a diverging run stops with the node named, before any weight is written
        m.compile(_optim.SGD(self._schedule(), momentum=self.momentum), loss=losses, loss_weights=weights)
        return m

    def _schedule(self):
        return self.lr if callable(self.lr) else _optim.GaninDecay(float(self.lr))

    # ---------------------------------------------------- recipe hooks
    def _heads(self, f: Tensor) -> Dict[str, tuple]:
        """Extra outputs: name -> (tensor, loss, weight).  None here."""
        return {}

    def _targets(self, y: np.ndarray, d: np.ndarray) -> Dict[str, np.ndarray]:
        """Targets of one step from the labels (-1 on target rows) and the domains."""
        return {"label": y}

    def _before_step(self, model: Model, step: int, total: int) -> None:
        """Per-step settings (DANN's lambda)."""

    def _epoch_signals(self, xs_val: np.ndarray, xt_val: Optional[np.ndarray]) -> Dict[str, float]:
        """Unsupervised signals after an epoch (DANN: the domain classifier's accuracy)."""
        return {}

    def _after_fit(self, Xt: Optional[np.ndarray]) -> None:
        """After training and selection (AdaBN re-estimates BatchNorm here)."""

    # ------------------------------------------------------------- fit
    def fit(self, X, y, X_target=None, callback: Optional[Callable[[int, "DomainAdaptation"], None]] = None,
            **kwargs) -> "DomainAdaptation":
        """Train on labelled source examples ``(X, y)`` and unlabelled target
        examples ``X_target`` (same per-example shape; no target labels).

        ``callback(epoch, self)`` is called after each epoch (0-based) with
        that epoch's weights in ``self.model_``, for monitoring: ``predict``,
        ``score`` and ``transform`` work there.  What it measures is never
        seen by the model selection.

        Returns ``self``.
        """
        if callback is not None and not callable(callback):
            raise TypeError(f"{type(self).__name__}.fit: callback must be callable (epoch, recipe), "
                            f"got {type(callback).__name__}")
        self._check_settings()
        X, y, Xt = self._check_data(X, y, X_target, kwargs)
        rng = np.random.default_rng(self.seed)
        self.classes_ = np.unique(y)
        self.n_classes_ = int(y.max()) + 1
        if self.n_classes_ < 2:
            raise ValueError(f"{type(self).__name__}.fit: y holds a single class; need at least 2")
        nv = int(round(self.validation_fraction * len(X)))
        perm = rng.permutation(len(X))
        sv, st = perm[:nv], perm[nv:]
        if len(st) < 1:
            raise ValueError(f"{type(self).__name__}.fit: no source example left for training")
        self.input_mean_, self.input_std_ = self._stats(X[st], Xt)
        xs, ys = self._norm(X[st]), y[st].astype(np.int64)
        xs_val, ys_val = self._norm(X[sv]), y[sv].astype(np.int64)
        xt = xt_val = None
        if Xt is not None:
            xt = self._norm(Xt)
            ntv = int(round(self.validation_fraction * len(xt)))
            pt = rng.permutation(len(xt))
            xt_val = xt[pt[:ntv]] if ntv else None
            if self._uses_target:
                xt = xt[pt[ntv:]]
        self.model_ = m = self._build(X.shape[1:], self.n_classes_)
        half = self.batch_size // 2
        steps = math.ceil(len(xs) / half)
        total = self.epochs * steps
        schedule = m._optimizer
        hist: Dict[str, List[float]] = {}
        self.step_log_: Dict[str, List[float]] = {}
        checkpoints = []
        step = 0
        for epoch in range(self.epochs):
            acc: Dict[str, List[float]] = {}
            if self._uses_target:
                from ..datasets import domain_batches

                batches = domain_batches(xs, xt, self.batch_size, seed=int(rng.integers(2**31)), ys=ys,
                                         n_batches=steps)
            else:
                order = rng.permutation(len(xs))
                batches = ((xs[order[i:i + half]], ys[order[i:i + half]], None) for i in range(0, len(xs), half))
            for xb, yb, db in batches:
                self._before_step(m, step, total)
                r = m.train_on_batch(xb, self._targets(yb, db), lr=schedule.lr_at(step, total))
                for k, v in r.items():
                    acc.setdefault(k, []).append(v)
                    self.step_log_.setdefault(k, []).append(v)
                step += 1
            for k, v in acc.items():
                hist.setdefault(k, []).append(float(np.mean(v)))
            signals = {}
            if len(xs_val):
                signals["source_val_acc"] = self._accuracy(xs_val, ys_val)
            signals.update(self._epoch_signals(xs_val, xt_val))
            for k, v in signals.items():
                hist.setdefault(k, []).append(v)
            if self.selection != "last":
                checkpoints.append(m.state_dict())
            if callback is not None:
                callback(epoch, self)
            if self.verbose:
                line = ", ".join(f"{k} {v[-1]:.3f}" for k, v in hist.items() if k not in ("reg", "loss"))
                print(f"{type(self).__name__} epoch {epoch + 1}/{self.epochs}: {line}", file=sys.stderr, flush=True)
        self.history_ = hist
        if self.selection == "source_val":
            vals = hist["source_val_acc"]
            best = max(range(len(vals)), key=lambda e: (vals[e], e))
            m.load_weights(checkpoints[best])
            self.selected_epoch_ = best
        else:
            self.selected_epoch_ = self.epochs - 1
        self._after_fit(xt)
        return self

    def _accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        p = self.model_.predict(x, outputs=["label"])["label"]
        return float(np.mean(p.argmax(1) == y))

    # ------------------------------------------------------- inference
    def _check_fitted(self, X, what: str) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise RuntimeError(f"{type(self).__name__}.{what}: not fitted; call fit first")
        X = _as_images(X, f"{type(self).__name__}.{what}: X")
        expect = tuple(self.model_._net.node(self.model_._node["x"])["shape"])
        if X.shape[1:] != expect:
            raise ValueError(f"{type(self).__name__}.{what}: expected examples of shape {expect}, "
                             f"got X of shape {X.shape}")
        return self._norm(X)

    def predict(self, X) -> np.ndarray:
        """Class labels, shape (N,)."""
        x = self._check_fitted(X, "predict")
        return self.model_.predict(x, outputs=["label"])["label"].argmax(1)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (softmax of the logits), shape (N, n_classes)."""
        x = self._check_fitted(X, "predict_proba")
        return self.model_.predict(x, outputs=["proba"])["proba"]

    def score(self, X, y) -> float:
        """Accuracy on ``(X, y)``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def transform(self, X) -> np.ndarray:
        """The learned features (the feature extractor's output), shape (N, D)."""
        x = self._check_fitted(X, "transform")
        f = self.model_.predict(x, outputs=[self._feature_layer])[self._feature_layer]
        return f.reshape(len(f), -1)


class SourceOnly(DomainAdaptation):
    """The baseline without adaptation: the same pieces and schedule,
    trained on the labelled source only.  ``fit(X_target, y_target)`` on
    labelled target data gives the train-on-target upper bound.  When
    ``X_target`` is given, it is used only for ``normalize="joint"``.
    """
