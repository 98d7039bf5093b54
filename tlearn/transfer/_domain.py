"""The shared recipe of domain adaptation (labelled source, unlabelled
target).

Every recipe of the family has a feature extractor and a label predictor
trained on labelled source examples, plus whatever a recipe adds on the
features (a domain classifier behind gradient reversal for DANN, a CORAL
loss for Deep CORAL, nothing for the source-only baseline).  Training is
one :meth:`tlearn.Model.fit`: the batches (half source, half target when
the recipe needs the target) come as row numbers of one array of both
domains (a :class:`~tlearn.datasets.DomainBatches` per epoch), the
learning rate and the recipe's per-step settings (DANN's reversal lambda)
are schedules the core sets before each step, one C call per run of steps.

Model selection never looks at target labels: after each epoch a callback
records the accuracy on a held-out part of the source and the recipe's
own unsupervised signals, and :class:`~tlearn.callbacks.KeepBestEpoch`
keeps the weights of the epoch chosen by ``selection``.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Union

import numpy as np

from .. import callbacks as _callbacks
from .. import optim as _optim
from ..graph import Tensor
from ..layers import Input, Softmax
from ..model import Model
from . import nets as _nets
from ._base import Recipe, check_choice, check_examples, check_float, check_int, check_labels

Schedule = Callable[[int, int], float]

_SELECTIONS = ("source_val", "last")
_NORMALIZE = ("joint", "source", None)


class DomainAdaptation(Recipe):
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
        same source examples per step.  Capped at the data: a batch never
        holds more than twice the source training examples.
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
        One progress line per epoch.

    Attributes
    ----------
    model_ : tlearn.Model
        The trained network (inputs ``x``; outputs ``label``, the logits,
        ``proba``, their softmax, and the recipe's own).
    history_ : dict of lists
        Per epoch: ``label`` (the label loss), ``label_acc`` (source training
        batches), ``source_val_acc``, and the recipe's own (``domain_acc`` ...).
    step_log_ : dict of lists
        Per step: each loss and ``<loss>_acc`` (see :class:`~tlearn.callbacks.StepLog`).
    selected_epoch_ : int
        The epoch (0-based) whose weights were kept, by ``selection``.
    n_classes_, classes_ : int, ndarray
    input_mean_, input_std_ : ndarray (1, C, 1, 1) or (1, F)
    input_shape_ : tuple
    feature_layer_ : str
        The layer whose output :meth:`transform` returns.

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

    # -------------------------------------------------------- validation
    #: the setting that weighs the recipe's domain loss (checked >= 0), if any
    _weight_setting: Optional[str] = None

    def _check_settings(self) -> None:
        name = type(self).__name__
        check_int(name, "epochs", self.epochs, 1)
        bs = check_int(name, "batch_size", self.batch_size, 2)
        if bs % 2:
            raise ValueError(f"{name}: batch_size must be an even int >= 2 (half source, half target), got {bs!r}")
        if not callable(self.lr):
            check_float(name, "lr (mu0 of the schedule, or a callable (step, total) -> lr)", self.lr, 0.0,
                        lo_open=True)
        check_float(name, "momentum", self.momentum, 0.0, 1.0, hi_open=True)
        check_choice(name, "normalize", self.normalize, _NORMALIZE)
        check_choice(name, "selection", self.selection, _SELECTIONS)
        vf = check_float(name, "validation_fraction", self.validation_fraction, 0.0, 0.5, hi_open=True)
        if self.selection == "source_val" and vf == 0:
            raise ValueError(f"{name}: selection='source_val' needs validation_fraction > 0")
        check_int(name, "seed", self.seed, 0)
        if self._weight_setting is not None:
            check_float(name, self._weight_setting, getattr(self, self._weight_setting), 0.0)
        for nm in ("features", "classifier"):
            v = getattr(self, nm)
            if v is not None and not callable(v):
                raise TypeError(f"{name}: {nm} must be a callable Tensor -> Tensor or None, got {type(v).__name__}")

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
        if len(np.shape(X)) >= 2 and len(X) == 0:
            raise ValueError(f"{name}.fit: the source set is empty (0 examples)")
        X = check_examples(f"{name}.fit", "X (source examples)", X)
        y = check_labels(f"{name}.fit", "y (source labels)", y, len(X))
        if X_target is None:
            if self._needs_target:
                raise TypeError(f"{name}.fit: needs X_target, the unlabelled target examples")
            return X, y, None
        Xt = check_examples(f"{name}.fit", "X_target (target examples)", X_target, min_n=0)
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

    @staticmethod
    def _normed(X, mean, std) -> np.ndarray:
        return np.ascontiguousarray((np.asarray(X, dtype=np.float32) - mean) / std)

    def _norm(self, X) -> np.ndarray:
        return self._normed(X, self.input_mean_, self.input_std_)

    def _build(self, shape, n_classes: int):
        """The network and the name of its feature layer."""
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
        m = Model(x, outputs, seed=self.seed, name=type(self).__name__)
        m.check_finite = True  # a diverging run stops with the node named, before any weight is written
        m.compile(_optim.SGD(self._schedule(), momentum=self.momentum), loss=losses, loss_weights=weights)
        return m, f.name

    def _schedule(self):
        return self.lr if callable(self.lr) else _optim.GaninDecay(float(self.lr))

    # ---------------------------------------------------- recipe hooks
    def _heads(self, f: Tensor) -> Dict[str, tuple]:
        """Extra outputs: name -> (tensor, loss, weight).  None here."""
        return {}

    def _targets(self, y: np.ndarray, d: Optional[np.ndarray]) -> Dict[str, np.ndarray]:
        """Targets of the training rows from the labels (-1 on target rows) and the domains."""
        return {"label": y}

    def _schedules(self) -> Dict[str, Schedule]:
        """Per-step settings for :meth:`tlearn.Model.fit` (DANN's lambda)."""
        return {}

    def _epoch_signals(self, model: Model, xs_val: np.ndarray, xt_val: Optional[np.ndarray]) -> Dict[str, float]:
        """Unsupervised signals after an epoch (DANN: the domain classifier's accuracy)."""
        return {}

    def _after_fit(self, model: Model, Xt: Optional[np.ndarray]) -> None:
        """After training and selection (AdaBN re-estimates BatchNorm here)."""

    # ------------------------------------------------------------- fit
    def fit(self, X, y, X_target=None, callback: Optional[Callable[[int, "DomainAdaptation"], None]] = None,
            **kwargs) -> "DomainAdaptation":
        """Train on labelled source examples ``(X, y)`` and unlabelled target
        examples ``X_target`` (same per-example shape; no target labels).

        ``callback(epoch, recipe)`` is called after each epoch (0-based) with
        a recipe holding that epoch's weights, for monitoring: ``predict``,
        ``score`` and ``transform`` work on it.  What it measures is never
        seen by the model selection.  The fitted state of ``self`` is
        replaced only when the whole fit succeeds.

        Returns ``self``.
        """
        return super().fit(X, y, X_target, callback, **kwargs)

    def _fit(self, X, y, X_target=None, callback=None, **kwargs) -> Dict[str, object]:
        name = type(self).__name__
        if callback is not None and not callable(callback):
            raise TypeError(f"{name}.fit: callback must be callable (epoch, recipe), got {type(callback).__name__}")
        self._check_settings()
        X, y, Xt = self._check_data(X, y, X_target, kwargs)
        rng = np.random.default_rng(self.seed)
        st: Dict[str, object] = {"classes_": np.unique(y), "n_classes_": int(y.max()) + 1,
                                 "input_shape_": tuple(X.shape[1:])}
        if st["n_classes_"] < 2:
            raise ValueError(f"{name}.fit: y holds a single class; need at least 2")
        nv = int(round(self.validation_fraction * len(X)))
        perm = rng.permutation(len(X))
        sv, tr = perm[:nv], perm[nv:]
        if len(tr) < 1:
            raise ValueError(f"{name}.fit: no source example left for training")
        mean, std = st["input_mean_"], st["input_std_"] = self._stats(X[tr], Xt)
        xs, ys = self._normed(X[tr], mean, std), y[tr]
        xs_val, ys_val = self._normed(X[sv], mean, std), y[sv]
        xt = xt_val = None
        if Xt is not None:
            xt = self._normed(Xt, mean, std)
            ntv = int(round(self.validation_fraction * len(xt)))
            pt = rng.permutation(len(xt))
            xt_val = xt[pt[:ntv]] if ntv else None
            if self._uses_target:
                xt = xt[pt[ntv:]]
        m, st["feature_layer_"] = self._build(X.shape[1:], st["n_classes_"])
        half = min(self.batch_size // 2, len(xs))
        steps = math.ceil(len(xs) / half)
        if self._uses_target:
            from ..datasets import DomainBatches

            x_all = np.concatenate([xs, xt])
            y_all = np.concatenate([ys, np.full(len(xt), -1, np.int64)])
            d_all = np.concatenate([np.zeros(len(xs), np.int64), np.ones(len(xt), np.int64)])
            targets = self._targets(y_all, d_all)

            def sampler(epoch):  # a fresh half-source, half-target pass per epoch
                return DomainBatches(xs, xt, 2 * half, seed=int(rng.integers(2**31)), n_batches=steps).rows()

            fit_x, batch = x_all, 2 * half
        else:
            targets = self._targets(ys, None)
            fit_x, batch = xs, half

            def sampler(epoch):
                return rng.permutation(len(xs))

        monitor = _Signals(self, xs_val, ys_val, xt_val)
        steplog = _callbacks.StepLog()
        cbs = [monitor]
        keep = None
        if self.selection == "source_val":
            keep = _callbacks.KeepBestEpoch("source_val_acc", mode="max", ties="last")
            cbs.append(keep)
        if callback is not None:
            cbs.append(_EpochView(self, st, m, callback))
        cbs.append(steplog)
        hist = m.fit(fit_x, targets, epochs=self.epochs, batch_size=batch, sampler=sampler,
                     schedules=self._schedules(), callbacks=cbs, verbose=2 if self.verbose else 0)
        st["history_"] = {k: [float(v) for v in vals] for k, vals in hist.items()}
        st["step_log_"] = steplog.steps
        st["selected_epoch_"] = keep.best_epoch if keep is not None else self.epochs - 1
        self._after_fit(m, xt)
        st["model_"] = m
        return st

    # ------------------------------------------------------- inference
    def _check_fitted(self, X, what: str) -> np.ndarray:
        self._check_is_fitted(what)
        X = check_examples(f"{type(self).__name__}.{what}", "X", X)
        if X.shape[1:] != self.input_shape_:
            raise ValueError(f"{type(self).__name__}.{what}: expected examples of shape {self.input_shape_}, "
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
        p = self.predict(X)
        y = check_labels(f"{type(self).__name__}.score", "y", y, len(p))
        return float(np.mean(p == y))

    def transform(self, X) -> np.ndarray:
        """The learned features (the feature extractor's output), shape (N, D)."""
        x = self._check_fitted(X, "transform")
        f = self.model_.predict(x, outputs=[self.feature_layer_])[self.feature_layer_]
        return f.reshape(len(f), -1)


def _accuracy(model: Model, x: np.ndarray, y: np.ndarray) -> float:
    p = model.predict(x, outputs=["label"])["label"]
    return float(np.mean(p.argmax(1) == y))


class _Signals(_callbacks.Callback):
    """Adds ``source_val_acc`` and the recipe's unsupervised signals to each epoch's logs."""

    def __init__(self, recipe: DomainAdaptation, xs_val, ys_val, xt_val):
        self.recipe, self.xs_val, self.ys_val, self.xt_val = recipe, xs_val, ys_val, xt_val

    def on_epoch_end(self, epoch, logs=None):
        if len(self.xs_val):
            logs["source_val_acc"] = _accuracy(self.model, self.xs_val, self.ys_val)
        logs.update(self.recipe._epoch_signals(self.model, self.xs_val, self.xt_val))


class _EpochView(_callbacks.Callback):
    """Calls the user's ``callback(epoch, recipe)`` with a recipe that holds this epoch's weights."""

    def __init__(self, recipe, state, model, fn):
        self.recipe, self.state, self.net, self.fn = recipe, state, model, fn

    def on_epoch_end(self, epoch, logs=None):
        self.fn(epoch, self.recipe._with(dict(self.state, model_=self.net)))


class SourceOnly(DomainAdaptation):
    """The baseline without adaptation: the same pieces and schedule,
    trained on the labelled source only.  ``fit(X_target, y_target)`` on
    labelled target data gives the train-on-target upper bound.  When
    ``X_target`` is given, it is used only for ``normalize="joint"``.
    """
