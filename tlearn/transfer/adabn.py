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

from ..layers import BatchNorm
from . import nets as _nets
from ._domain import DomainAdaptation


def reestimate_batchnorm(model, x, batch_size: int = 256, layers: Optional[Sequence[str]] = None) -> None:
    """Re-estimate the running statistics of the BatchNorm layers on ``x``
    (AdaBN, Li et al. 2016: normalise with the target domain's statistics).

    The running mean and variance are reset, then forward passes in
    training mode over batches of ``batch_size`` average the batch
    statistics (weighted by batch size).  Weights, the optimizer state,
    the dropout RNG and each layer's momentum are left as they were.
    ``layers`` names the BatchNorm layers to re-estimate (default all).
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    bns = [n for n, l in model._layers.items() if isinstance(l, BatchNorm)]
    if layers is not None:
        unknown = [n for n in layers if n not in bns]
        if unknown:
            raise KeyError(f"not BatchNorm layers of model '{model.name}': {unknown}; BatchNorm layers: {bns}")
        bns = list(layers)
    if not bns:
        raise ValueError(f"model '{model.name}' has no BatchNorm layer")
    shared = [n for n in bns if len(model._uses[n]) > 1]
    if shared:
        raise ValueError(f"reestimate_batchnorm: BatchNorm layers {shared} are shared (used several times "
                         "per forward pass); their running statistics mix the uses and cannot be re-estimated")
    xs = model._input_list(x)
    n = len(xs[0])
    if n == 0:
        raise ValueError("reestimate_batchnorm: no examples")
    others = [nm for nm, l in model._layers.items() if isinstance(l, BatchNorm) and nm not in bns]
    params, net = model.params, model._net
    momentum = {nm: net.attr(model._node[nm], "momentum") for nm in bns + others}
    rng = net.rng_state
    for nm in bns:
        params[nm + ".running_mean"][...] = 0.0
        params[nm + ".running_var"][...] = 1.0
    try:
        for nm in others:  # only the named layers move
            net.set_attr(model._node[nm], "momentum", 0.0)
        seen = 0
        for s in range(0, n, batch_size):
            b = min(n, s + batch_size) - s
            seen += b
            for nm in bns:  # cumulative average: the k-th batch weighs b_k / (b_1 + ... + b_k)
                net.set_attr(model._node[nm], "momentum", b / seen)
            net.forward([a[s:s + b] for a in xs], [], True, 0)
    finally:
        for nm, m in momentum.items():
            net.set_attr(model._node[nm], "momentum", m)
        net.rng_state = rng


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
        reestimate_batchnorm(self.model_, xt)
