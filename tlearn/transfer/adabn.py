"""AdaBN: adaptive batch normalisation (Li, Wang, Shi, Liu & Hou,
"Revisiting Batch Normalization for Practical Domain Adaptation", ICLR
workshop 2017 / Pattern Recognition 2018).

Train on the source only, then replace the running statistics of every
BatchNorm layer by the target domain's (:func:`reestimate_batchnorm`, also
``Model.reestimate_batchnorm``): the weights stay, the normalisation moves
to the target.  The batch statistics are computed by the core.
"""
from __future__ import annotations

from functools import partial
from typing import Optional, Sequence

from . import nets as _nets
from ._domain import DomainAdaptation


def reestimate_batchnorm(model, x, batch_size: int = 256, layers: Optional[Sequence[str]] = None) -> None:
    """Re-estimate the running statistics of ``model``'s BatchNorm layers on
    ``x`` (AdaBN, Li et al. 2016); the same as
    :meth:`tlearn.Model.reestimate_batchnorm`, which documents it."""
    model.reestimate_batchnorm(x, batch_size, layers)


class AdaBN(DomainAdaptation):
    """Source-only training, then the BatchNorm statistics re-estimated on
    ``X_target`` (Li et al. 2018, section 3.2) [1]_.

    The default feature extractor is Ganin et al.'s MNIST extractor with a
    BatchNorm after each convolution (the method needs BatchNorm layers);
    ``features`` must contain at least one.  Parameters as
    :class:`~tlearn.transfer.DomainAdaptation`.

    References
    ----------
    .. [1] Y. Li, N. Wang, J. Shi, X. Hou, J. Liu, "Adaptive Batch
       Normalization for practical domain adaptation", Pattern Recognition
       80 (2018).
    """

    _needs_target = True

    _default_features = staticmethod(partial(_nets.ganin_features, batchnorm=True))

    def _build(self, shape, n_classes):
        m, feature_layer = super()._build(shape, n_classes)
        if not m.batchnorm_layers:
            raise ValueError("AdaBN: the feature extractor has no BatchNorm layer to re-estimate")
        return m, feature_layer

    def _after_fit(self, model, xt) -> None:
        model.reestimate_batchnorm(xt)
