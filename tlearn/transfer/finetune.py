"""Fine-tuning, one-/few-shot learning and conservative training.

:class:`FineTune` starts a target network from a source :class:`tlearn.Model`:
the layers built by ``features`` are copied from the source by name, a new
head (``Dense(n_classes)``) is initialised, and the network is trained on
the few labelled target examples (``k`` per class; ``k = 1`` is one-shot).
Options keep the new model close to the old one (conservative training):

* ``l2sp``: L2-SP, ``l2sp/2 |w - w0|^2`` toward the source weights on the
  copied layers (Li, Grandvalet & Davoine, ICML 2018).  Default strength
  when used: 0.1 with weight decay 0.01 on the new head, the alpha/beta
  pair of their experiments (section 4).
* ``ewc``: EWC, ``ewc/2 sum F (w - w0)^2`` with ``F`` the Fisher diagonal
  estimated on the source data with the source model (Kirkpatrick et al.,
  PNAS 2017).  The paper tunes lambda per experiment and gives no value for
  this setting; :data:`EWC_DEFAULT` is chosen so the Fisher-weighted term is
  of the order of L2-SP's.
* ``lwf``: output consistency / Learning without Forgetting (Li & Hoiem,
  ECCV 2016 / TPAMI 2017): the source head is kept as a second output
  (``"old"``) and trained toward the source model's probabilities on the same
  target inputs, by :class:`~tlearn.losses.SoftTargetCE` at ``temperature``
  T = 2 with loss weight lambda_o = 1 (their section 3, the defaults of all
  their experiments).

Every target network keeps the source head as the output ``"old"``
(frozen unless ``lwf``), so :meth:`FineTune.score_source` measures how much
of the source task each method retains.  ``train="head"`` trains the new
head only (the copied layers frozen).  ``source=None`` trains from scratch.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import numpy as np

from .. import layers as L
from .. import losses as _losses
from .. import optim as _optim
from ..graph import Tensor
from ..layers import Input
from ..model import Model
from ._base import Recipe, check_choice, check_examples, check_float, check_int, check_labels, check_model, train_steps
from .fisher import estimate_fisher
from .layers import copy_layers, freeze, parametric_layers

L2SP_DEFAULT = 0.1
HEAD_DECAY_DEFAULT = 0.01
EWC_DEFAULT = 100.0
LWF_DEFAULT = 1.0
TEMPERATURE_DEFAULT = 2.0


def source_network(features: Callable[[Tensor], Tensor], input_shape, n_classes: int, seed: int = 0,
                   head: str = "head") -> Model:
    """``features`` followed by ``Dense(n_classes, name=head)``: a source model
    whose layers :class:`FineTune` can copy by name."""
    x = Input(tuple(input_shape), name="x")
    return Model(x, L.Dense(n_classes, name=head)(features(x)), seed=seed, name="source")


class FineTune(Recipe):
    """Transfer a source model to a target task with few labels.

    Parameters
    ----------
    features : callable Tensor -> Tensor
        Builds the body; its layer names must match the source's.
    source : Model or None
        The trained source model (``features`` + a head named ``source_head``);
        ``None`` trains from scratch.  It is only read: its weights are
        copied, its Fisher is estimated on a copy.
    n_classes : int, optional
        Classes of the target task (the new head, output ``"head"``);
        default: inferred from ``y`` (its largest label + 1).
    train : {"all", "head"}
        Train every layer, or the new head only.
    l2sp, ewc, lwf : float
        Strengths of L2-SP, EWC and output consistency (0 = off); see the
        module docstring for the papers and defaults.
    source_data : (x, y)
        Source examples for EWC's Fisher (required when ``ewc > 0`` and no
        ``fisher`` is given).
    temperature : float
        Of the output-consistency term.
    head_decay : float, optional
        Weight decay on the new head (default 0.01 with L2-SP, else 0).
    lr, momentum, steps, batch_size : SGD with momentum for exactly
        ``steps`` steps of ``batch_size`` examples (the examples drawn as
        fresh permutations of the training set one after another).  Steps,
        not epochs: with k examples per class an epoch is a handful of
        steps, and every method and every k gets the same updates.
    fisher_examples : int
        Source examples used for the Fisher (one gradient each).
    fisher : dict, optional
        A Fisher diagonal already estimated (:func:`estimate_fisher`) instead
        of ``source_data``: non-negative finite arrays by parameter name.
    source_head : str
        The name of the source model's head layer.
    seed : int

    Attributes
    ----------
    model_ : Model
        The target network (outputs ``"head"``, its softmax ``"proba"`` and, with a source, ``"old"``).
    n_classes_ : int
    input_shape_ : tuple
        The shape of one example, as in ``fit``.
    history_ : dict of lists
    """

    def __init__(self, features, source: Optional[Model] = None, n_classes: Optional[int] = None,
                 train: str = "all", l2sp: float = 0.0, ewc: float = 0.0, lwf: float = 0.0, source_data=None,
                 temperature: float = TEMPERATURE_DEFAULT, head_decay: Optional[float] = None,
                 lr: float = 0.01, momentum: float = 0.9, steps: int = 300, batch_size: int = 32,
                 fisher_examples: int = 500, fisher: Optional[dict] = None, source_head: str = "head",
                 seed: int = 0):
        self.features = features
        self.source = source
        self.n_classes = n_classes
        self.train = train
        self.l2sp = l2sp
        self.ewc = ewc
        self.lwf = lwf
        self.source_data = source_data
        self.temperature = temperature
        self.head_decay = head_decay
        self.lr = lr
        self.momentum = momentum
        self.steps = steps
        self.batch_size = batch_size
        self.fisher_examples = fisher_examples
        self.fisher = fisher
        self.source_head = source_head
        self.seed = seed

    # -------------------------------------------------------- validation
    def _check_settings(self) -> dict:
        me = "FineTune"
        if not callable(self.features):
            raise TypeError(f"{me}: features must be a callable Tensor -> Tensor, got {type(self.features).__name__}")
        if self.source is not None:
            check_model(me, "source", self.source)
            if self.source_head not in self.source.layers:
                raise KeyError(f"{me}: the source model has no head layer {self.source_head!r}; its layers: "
                               f"{self.source.layers} (set source_head=)")
        check_choice(me, "train", self.train, ("all", "head"))
        c = {nm: check_float(me, nm, getattr(self, nm), 0.0) for nm in ("l2sp", "ewc", "lwf")}
        for nm, v in c.items():
            if v and self.source is None:
                raise ValueError(f"{me}: {nm} > 0 needs a source model (source=None trains from scratch)")
        if self.train == "head" and self.source is None:
            raise ValueError(f"{me}: train='head' needs a source model to copy the body from")
        if c["ewc"] and self.source_data is None and self.fisher is None:
            raise ValueError(f"{me}: ewc > 0 needs source_data=(x, y) or fisher= for the Fisher")
        c["temperature"] = check_float(me, "temperature", self.temperature, 0.0, lo_open=True)
        c["head_decay"] = ((HEAD_DECAY_DEFAULT if c["l2sp"] else 0.0) if self.head_decay is None
                           else check_float(me, "head_decay", self.head_decay, 0.0))
        c["lr"] = check_float(me, "lr", self.lr, 0.0, lo_open=True)
        c["momentum"] = check_float(me, "momentum", self.momentum, 0.0, 1.0, hi_open=True)
        c["steps"] = check_int(me, "steps", self.steps, 1)
        c["batch_size"] = check_int(me, "batch_size", self.batch_size, 1)
        c["fisher_examples"] = check_int(me, "fisher_examples", self.fisher_examples, 1)
        c["seed"] = check_int(me, "seed", self.seed, 0)
        if self.n_classes is not None:
            c["n_classes"] = check_int(me, "n_classes", self.n_classes, 2)
        return c

    def _check_fisher(self, m: Model, body: Sequence[str]) -> Dict[str, np.ndarray]:
        fisher = self.fisher
        if not isinstance(fisher, dict):
            raise TypeError(f"FineTune: fisher must be a dict parameter name -> array, got {type(fisher).__name__}")
        params = m.params
        wanted = [p for l in body for p in m.layer(l).param_names]
        out = {}
        for name, v in fisher.items():
            if name not in params:
                continue  # the source head and other layers the target does not regularize
            a = np.asarray(v, dtype=np.float64)
            if a.shape != params[name].shape:
                raise ValueError(f"FineTune: fisher[{name!r}] has shape {a.shape}, expected {params[name].shape}")
            if not np.all(np.isfinite(a)) or a.min(initial=0.0) < 0:
                raise ValueError(f"FineTune: fisher[{name!r}] must hold finite values >= 0")
            out[name] = a.astype(np.float32)
        missing = [p for p in wanted if p not in out and not p.endswith(("running_mean", "running_var"))]
        if missing:
            raise KeyError(f"FineTune: fisher has no values for {missing}; expected the body's parameters "
                           f"{wanted}")
        return out

    # -------------------------------------------------------- pieces
    def _n_source_classes(self) -> int:
        return int(self.source.params[f"{self.source_head}.w"].shape[0])

    def _build(self, input_shape, n_classes: int, seed: int) -> Model:
        x = Input(tuple(input_shape), name="x")
        f = self.features(x)
        if not isinstance(f, Tensor):
            raise TypeError(f"FineTune: features must return a tlearn Tensor, got {type(f).__name__}")
        outs = {"head": L.Dense(n_classes, name="head_new")(f)}
        outs["proba"] = L.Softmax(name="proba")(outs["head"])
        if self.source is not None:
            outs["old"] = L.Dense(self._n_source_classes(), name=self.source_head)(f)
        return Model(x, outs, seed=seed, name="target")

    def _teacher(self, input_shape, temperature: float, seed: int) -> Model:
        """The source model with a softmax at temperature T on top (its head's
        weights divided by T), so the core computes the soft targets."""
        x = Input(tuple(input_shape), name="x")
        t = Model(x, L.Softmax(name="soft")(L.Dense(self._n_source_classes(), name=self.source_head)(self.features(x))),
                  seed=seed, name="teacher")
        w = {n: v for n, v in self.source.params.items() if n in t.params}
        for n in (f"{self.source_head}.w", f"{self.source_head}.b"):
            if n in w:
                w[n] = w[n] / temperature
        t.load_weights(w, strict=True)
        return t

    # ------------------------------------------------------------- fit
    def fit(self, x, y) -> "FineTune":
        """Train the target network on ``(x, y)`` (integer labels 0..n-1); returns ``self``."""
        return super().fit(x, y)

    def _fit(self, x, y) -> dict:
        c = self._check_settings()
        x = check_examples("FineTune.fit", "x", x)
        y = check_labels("FineTune.fit", "y", y, len(x))
        n_classes = c.get("n_classes", int(y.max()) + 1)
        if y.max() >= n_classes:
            raise ValueError(f"FineTune.fit: labels must be in 0..{n_classes - 1} (n_classes={n_classes}), "
                             f"got {int(y.max())}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        m = self._build(x.shape[1:], n_classes, c["seed"])
        body = [l for l in parametric_layers(m) if l not in ("head_new", self.source_head)]
        loss = {"head": "softmax_ce"}
        targets = {"head": y}
        if self.source is not None:
            copy_layers(self.source, m, body + [self.source_head])
            m.snapshot()
            if self.train == "head":
                freeze(m, body)
            if not c["lwf"]:
                freeze(m, [self.source_head])
            if c["l2sp"]:
                m.regularize(l2sp=c["l2sp"], layers=body + ([self.source_head] if c["lwf"] else []))
            if c["ewc"]:
                if self.fisher is not None:
                    fisher = self._check_fisher(m, body)
                else:
                    xs, ys = self.source_data
                    n = min(c["fisher_examples"], len(xs))
                    fisher = estimate_fisher(self.source, xs[:n], ys[:n])  # on a copy: the source stays as it is
                fv = m.fisher
                for name in fisher:
                    if name in fv:
                        fv[name][...] = fisher[name]
                m.regularize(ewc=c["ewc"], layers=body)
            if c["lwf"]:
                loss["old"] = _losses.SoftTargetCE(c["temperature"], weight=c["lwf"])
                targets["old"] = self._teacher(x.shape[1:], c["temperature"], c["seed"]).predict(x)
        if c["head_decay"]:
            m.regularize(l2=c["head_decay"], layers=["head_new"])
        m.check_finite = True  # a diverging run stops with the node named, before any weight is written
        m.compile(_optim.SGD(c["lr"], momentum=c["momentum"]), loss=loss)
        hist = train_steps(m, x, targets, c["steps"], c["batch_size"], c["seed"])
        return {"model_": m, "n_classes_": n_classes, "input_shape_": x.shape[1:], "history_": hist}

    # ------------------------------------------------------- inference
    def _outputs(self, x, what: str, output: str) -> np.ndarray:
        self._check_is_fitted(what)
        x = check_examples(f"FineTune.{what}", "x", x)
        if x.shape[1:] != self.input_shape_:
            raise ValueError(f"FineTune.{what}: expected examples of shape {self.input_shape_} (as in fit), got x of "
                             f"shape {x.shape}")
        return self.model_.predict(x, outputs=[output])[output]

    def predict(self, x) -> np.ndarray:
        """Target-task labels, shape (N,)."""
        return np.argmax(self._outputs(x, "predict", "head"), axis=-1)

    def predict_proba(self, x) -> np.ndarray:
        """Target-task class probabilities (the core's softmax of the new head), shape (N, n_classes)."""
        return self._outputs(x, "predict_proba", "proba")

    def decision_function(self, x) -> np.ndarray:
        """Target-task logits (the new head's output), shape (N, n_classes)."""
        return self._outputs(x, "decision_function", "head")

    def score(self, x, y) -> float:
        """Target-task accuracy."""
        p = self.predict(x)
        return float(np.mean(p == check_labels("FineTune.score", "y", y, len(p))))

    def score_source(self, x, y) -> float:
        """Source-task accuracy of the kept source head on the (changed) body."""
        self._check_is_fitted("score_source")
        if "old" not in self.model_.output_names:
            raise RuntimeError("FineTune.score_source: trained from scratch, there is no source head")
        p = np.argmax(self._outputs(x, "score_source", "old"), axis=-1)
        return float(np.mean(p == check_labels("FineTune.score_source", "y", y, len(p))))

