"""Network pieces of Ganin et al. for digit-sized images.

The MNIST architecture of Ganin et al., "Domain-Adversarial Training of
Neural Networks" (JMLR 2016), section 5.2.2 and Figure 4 (the same as
Ganin & Lempitsky, ICML 2015, supplementary): a feature extractor of two
5x5 convolutions (32 and 48 filters, each followed by 2x2 max pooling and a
ReLU), a label predictor of two dense layers of 100 units and the output,
and a domain classifier of one hidden layer.  Each piece is a function from
a symbolic tensor to a tensor, the way recipes take their pieces.
"""
from __future__ import annotations

from typing import Callable, Sequence

from .. import layers as L
from ..graph import Tensor

Piece = Callable[[Tensor], Tensor]


def ganin_features(x: Tensor, batchnorm: bool = False, prefix: str = "feat") -> Tensor:
    """conv 5x5 (32) - pool 2 - ReLU - conv 5x5 (48) - pool 2 - ReLU - flatten.

    A 28x28 input gives 768 features.  ``batchnorm`` puts a BatchNorm after
    each convolution (AdaBN needs BatchNorm layers to re-estimate).  Input
    sides below 16 (e.g. 8x8 digits) use 3x3 kernels padded by 1, so the
    network keeps its depth on small images.
    """
    small = min(x.shape[-2:]) < 16
    k, pad = (3, 1) if small else (5, 0)
    h = x
    for i, filters in enumerate((32, 48)):
        h = L.Conv2d(filters, k, padding=pad, name=f"{prefix}_conv{i + 1}")(h)
        if batchnorm:
            h = L.BatchNorm(name=f"{prefix}_bn{i + 1}")(h)
        h = L.ReLU(name=f"{prefix}_relu{i + 1}")(L.MaxPool2d(2, name=f"{prefix}_pool{i + 1}")(h))
    return L.Flatten(name=prefix)(h)


def ganin_classifier(n_classes: int, hidden: Sequence[int] = (100, 100), prefix: str = "label") -> Piece:
    """The label predictor: dense ``hidden`` layers with ReLU, then ``n_classes`` logits."""

    def piece(f: Tensor) -> Tensor:
        h = f
        for i, u in enumerate(hidden):
            h = L.ReLU(name=f"{prefix}_relu{i + 1}")(L.Dense(u, name=f"{prefix}_fc{i + 1}")(h))
        return L.Dense(n_classes, name=prefix)(h)

    return piece


def domain_classifier(hidden: Sequence[int] = (100,), prefix: str = "domain") -> Piece:
    """A domain classifier: dense ``hidden`` layers with ReLU, then 2 logits
    (source, target).  ``(100,)`` is Ganin et al.'s MNIST classifier; their
    SVHN and Office ones have two layers of 1024 (JMLR 2016, section 5.2.2)."""

    def piece(f: Tensor) -> Tensor:
        h = f
        for i, u in enumerate(hidden):
            h = L.ReLU(name=f"{prefix}_relu{i + 1}")(L.Dense(u, name=f"{prefix}_fc{i + 1}")(h))
        return L.Dense(2, name=prefix)(h)

    return piece
