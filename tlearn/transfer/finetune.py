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

import math
from typing import Callable, Optional, Sequence

import numpy as np

from .. import layers as L
from .. import losses as _losses
from .. import optim as _optim
from ..graph import Tensor
from ..layers import Input
from ..model import Model
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


class FineTune:
    """Transfer a source model to a target task with few labels.

    Parameters
    ----------
    features : callable Tensor -> Tensor
        Builds the body; its layer names must match the source's.
    source : Model or None
        The trained source model (``features`` + a head named ``source_head``);
        ``None`` trains from scratch.
    n_classes : int
        Classes of the target task (the new head, output ``"head"``).
    train : {"all", "head"}
        Train every layer, or the new head only.
    l2sp, ewc, lwf : float
        Strengths of L2-SP, EWC and output consistency (0 = off); see the
        module docstring for the papers and defaults.
    source_data : (x, y)
        Source examples for EWC's Fisher (required when ``ewc > 0``).
    temperature : float
        Of the output-consistency term.
    lr, momentum, steps, batch_size : training by SGD with momentum for a
        fixed number of ``steps`` (the number of examples changes with k).
    fisher_examples : int
        Source examples used for the Fisher (one gradient each).
    fisher : dict, optional
        A Fisher diagonal already estimated (:func:`estimate_fisher`) instead
        of ``source_data``.
    seed : int
    """

    def __init__(self, features, source: Optional[Model] = None, n_classes: int = None, train: str = "all",
                 l2sp: float = 0.0, ewc: float = 0.0, lwf: float = 0.0, source_data=None,
                 temperature: float = TEMPERATURE_DEFAULT, head_decay: Optional[float] = None,
                 lr: float = 0.01, momentum: float = 0.9, steps: int = 300, batch_size: int = 32,
                 fisher_examples: int = 500, fisher: Optional[dict] = None, source_head: str = "head",
                 seed: int = 0):
        if n_classes is None or int(n_classes) != n_classes or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        if train not in ("all", "head"):
            raise ValueError(f"train must be 'all' or 'head', got {train!r}")
        for nm, v in (("l2sp", l2sp), ("ewc", ewc), ("lwf", lwf)):
            if not v >= 0:
                raise ValueError(f"{nm} must be >= 0, got {v!r}")
            if v and source is None:
                raise ValueError(f"{nm} > 0 needs a source model")
        if ewc and source_data is None and fisher is None:
            raise ValueError("ewc > 0 needs source_data=(x, y) for the Fisher")
        if source is not None and source_head not in source.layers:
            raise KeyError(f"source model has no head layer {source_head!r}")
        self.features, self.source, self.n_classes, self.train = features, source, int(n_classes), train
        self.l2sp, self.ewc, self.lwf = float(l2sp), float(ewc), float(lwf)
        self.source_data, self.temperature = source_data, float(temperature)
        self.head_decay = (HEAD_DECAY_DEFAULT if l2sp else 0.0) if head_decay is None else float(head_decay)
        self.lr, self.momentum, self.steps, self.batch_size = float(lr), float(momentum), int(steps), int(batch_size)
        self.fisher_examples, self.source_head, self.seed = int(fisher_examples), source_head, int(seed)
        self.fisher = fisher
        self.model_: Optional[Model] = None

    def _n_source_classes(self) -> int:
        return int(self.source.params[f"{self.source_head}.w"].shape[0])

    def _build(self, input_shape) -> Model:
        x = Input(tuple(input_shape), name="x")
        f = self.features(x)
        outs = {"head": L.Dense(self.n_classes, name="head_new")(f)}
        if self.source is not None:
            outs["old"] = L.Dense(self._n_source_classes(), name=self.source_head)(f)
        return Model(x, outs, seed=self.seed, name="target")

    def _teacher(self, input_shape) -> Model:
        """The source model with a softmax at temperature T on top (its head's
        weights divided by T), so the core computes the soft targets."""
        x = Input(tuple(input_shape), name="x")
        t = Model(x, L.Softmax(name="soft")(L.Dense(self._n_source_classes(), name=self.source_head)(self.features(x))),
                  seed=self.seed, name="teacher")
        w = {n: v for n, v in self.source.params.items() if n in t.params}
        for n in (f"{self.source_head}.w", f"{self.source_head}.b"):
            if n in w:
                w[n] = w[n] / self.temperature
        t.load_weights(w, strict=True)
        return t

    def fit(self, x, y) -> "FineTune":
        x = np.ascontiguousarray(x, dtype=np.float32)
        y = np.asarray(y)
        m = self._build(x.shape[1:])
        body = [l for l in parametric_layers(m) if l not in ("head_new", self.source_head)]
        loss = {"head": "softmax_ce"}
        targets = {"head": y}
        if self.source is not None:
            copy_layers(self.source, m, body + [self.source_head])
            m.snapshot()
            if self.train == "head":
                freeze(m, body)
            if not self.lwf:
                freeze(m, [self.source_head])
            if self.l2sp:
                m.regularize(l2sp=self.l2sp, layers=body + ([self.source_head] if self.lwf else []))
            if self.ewc:
                fisher = self.fisher
                if fisher is None:
                    xs, ys = self.source_data
                    n = min(self.fisher_examples, len(xs))
                    self.source.compile(_optim.SGD(0.0), loss="softmax_ce")
                    fisher = estimate_fisher(self.source, xs[:n], ys[:n])
                fv = m.fisher
                for name in fisher:
                    if name in fv:
                        fv[name][...] = fisher[name]
                m.regularize(ewc=self.ewc, layers=body)
            if self.lwf:
                loss["old"] = _losses.SoftTargetCE(self.temperature, weight=self.lwf)
                targets["old"] = self._teacher(x.shape[1:]).predict(x)
        if self.head_decay:
            m.regularize(l2=self.head_decay, layers=["head_new"])
        m.compile(_optim.SGD(self.lr, momentum=self.momentum), loss=loss)
        bs = min(self.batch_size, len(y))
        epochs = max(1, math.ceil(self.steps * bs / len(y)))
        m.fit(x, targets, epochs=epochs, batch_size=bs, verbose=False)
        self.model_ = m
        return self

    def _require(self):
        if self.model_ is None:
            raise RuntimeError("call fit first")

    def predict(self, x) -> np.ndarray:
        self._require()
        return np.argmax(self.model_.predict(x, outputs=["head"])["head"], axis=-1)

    def score(self, x, y) -> float:
        """Target-task accuracy."""
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def score_source(self, x, y) -> float:
        """Source-task accuracy of the kept source head on the (changed) body."""
        self._require()
        if "old" not in self.model_.output_names:
            raise RuntimeError("trained from scratch: there is no source head")
        return float(np.mean(np.argmax(self.model_.predict(x, outputs=["old"])["old"], axis=-1) == np.asarray(y)))

