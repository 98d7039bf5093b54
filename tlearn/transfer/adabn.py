"""AdaBN: adaptive batch normalisation (Li, Wang, Shi, Liu & Hou,
"Revisiting Batch Normalization for Practical Domain Adaptation", ICLR
workshop 2017 / Pattern Recognition 2018).

Train on the source only, then replace the running statistics of every
BatchNorm layer by the target domain's (``Model.reestimate_batchnorm``):
the weights stay, the normalisation moves to the target.
"""
from __future__ import annotations

from functools import partial

from ..layers import BatchNorm
from . import nets as _nets
from ._domain import DomainAdaptation


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
        m = super()._build(shape, n_classes)
        if not any(isinstance(m._layers[n], BatchNorm) for n in m.layers):
            raise ValueError("AdaBN: the feature extractor has no BatchNorm layer to re-estimate")
        return m

    def _after_fit(self, xt) -> None:
        self.model_.reestimate_batchnorm(xt)
