"""Domain-adversarial training of neural networks (DANN).

Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation"
(ICML 2015) and Ganin et al., "Domain-Adversarial Training of Neural
Networks" (JMLR 2016): a domain classifier learns to tell source features
from target features, and a gradient reversal layer between it and the
feature extractor makes the extractor learn features on which it fails,
while the label predictor keeps them useful for the source labels.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np

from .. import layers as L
from .. import optim as _optim
from ..graph import Tensor
from ..model import Model
from . import nets as _nets
from ._domain import DomainAdaptation


class DANN(DomainAdaptation):
    """Domain-adversarial training (Ganin et al. 2015, 2016).

    A domain classifier behind a gradient reversal layer on the features.
    Each step takes ``batch_size // 2`` labelled source and as many
    unlabelled target examples; the label loss counts the source half, the
    domain loss (weight ``domain_weight``) all of it.  The domain classifier
    is trained at full strength; the gradient it sends back into the
    feature extractor is multiplied by ``-lambda_p``, with
    ``lambda_p = 2 / (1 + exp(-gamma p)) - 1`` and ``p`` the training
    progress from 0 to 1 (``gamma=10``) [1]_.

    Parameters
    ----------
    discriminator : callable Tensor -> Tensor, optional
        The domain classifier, from the features to 2 logits.  Default:
        :func:`tlearn.transfer.nets.domain_classifier` with one hidden
        layer of 100, Ganin et al.'s MNIST domain classifier [1]_ (their
        SVHN and Office ones have two layers of 1024).
    domain_weight : float
        Weight of the domain loss (1).
    lambda_schedule : callable p -> float, optional
        Replaces ``lambda_p``; ``p`` runs from 0 to 1 over training.
    gamma : float
        The ``gamma`` of the default ``lambda_p`` (10) [1]_.
    **others
        As :class:`~tlearn.transfer.DomainAdaptation` (features, classifier,
        epochs, batch_size, lr, momentum, normalize, validation_fraction,
        selection, seed, verbose).

    Attributes
    ----------
    history_ : dict of lists
        Also ``domain_acc`` (the domain classifier on the training batches)
        and ``domain_val_acc`` (on held-out source and target examples) per
        epoch; ``step_log_["domain_acc"]`` per step.

    References
    ----------
    .. [1] Y. Ganin et al., "Domain-Adversarial Training of Neural
       Networks", JMLR 17 (2016), sections 3-5 (schedules: section 5.2.2).
    """

    _uses_target = True
    _needs_target = True
    _weight_setting = "domain_weight"

    def __init__(self, features=None, classifier=None, discriminator=None, domain_weight: float = 1.0,
                 lambda_schedule: Optional[Callable[[float], float]] = None, gamma: float = 10.0,
                 epochs: int = 8, batch_size: int = 128, lr=0.01, momentum: float = 0.9, normalize="joint",
                 validation_fraction: float = 0.1, selection: str = "source_val", seed: int = 0,
                 verbose: bool = False):
        super().__init__(features=features, classifier=classifier, epochs=epochs, batch_size=batch_size, lr=lr,
                         momentum=momentum, normalize=normalize, validation_fraction=validation_fraction,
                         selection=selection, seed=seed, verbose=verbose)
        self.discriminator = discriminator
        self.domain_weight = domain_weight
        self.lambda_schedule = lambda_schedule
        self.gamma = gamma

    def _heads(self, f: Tensor) -> Dict[str, tuple]:
        r = L.GradReverse(0.0, name="grl")(f)
        d = (self.discriminator or _nets.domain_classifier())(r)
        if d.shape != (2,):
            raise ValueError(f"DANN: the discriminator must give 2 logits (source, target), got shape {d.shape}")
        return {"domain": (d, "softmax_ce", float(self.domain_weight))}

    def lambda_at(self, p: float) -> float:
        """The reversal weight at training progress ``p`` in [0, 1]."""
        if self.lambda_schedule is not None:
            if not callable(self.lambda_schedule):
                raise TypeError(f"DANN: lambda_schedule must be a callable p -> float, got "
                                f"{type(self.lambda_schedule).__name__}")
            return float(self.lambda_schedule(p))
        return _optim.ganin_lambda(p, self.gamma)

    def _targets(self, y, d):
        return {"label": y, "domain": d}

    def _schedules(self):
        return {"grl.lambda_": lambda step, total: self.lambda_at(step / total if total else 0.0)}

    def _epoch_signals(self, model, xs_val, xt_val) -> Dict[str, float]:
        if xt_val is None or not len(xs_val) or not len(xt_val):
            return {}
        return {"domain_val_acc": _domain_accuracy(model, xs_val, xt_val)}

    def domain_accuracy(self, X_source, X_target) -> float:
        """Accuracy of the trained domain classifier on source and target
        examples (balanced: the mean of the two domains' accuracies)."""
        xs = self._check_fitted(X_source, "domain_accuracy")
        xt = self._check_fitted(X_target, "domain_accuracy")
        return _domain_accuracy(self.model_, xs, xt)


def _domain_accuracy(model: Model, xs: np.ndarray, xt: np.ndarray) -> float:
    ps = model.predict(xs, outputs=["domain"])["domain"]
    pt = model.predict(xt, outputs=["domain"])["domain"]
    return float(0.5 * (np.mean(ps.argmax(1) == 0) + np.mean(pt.argmax(1) == 1)))
