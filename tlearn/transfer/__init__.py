"""Transfer-learning recipes, each a class named after its technique with
scikit-learn's verbs (``fit``, ``predict``, ``score``, ``transform``) and
the trained :class:`tlearn.Model` reachable as ``model_``.

Labelled source, unlabelled target (domain adaptation):
:class:`DANN`, :class:`AdaBN`, and the baseline
:class:`SourceOnly` (trained on labelled target data it is the
train-on-target bound); :func:`proxy_a_distance` measures how well a linear
classifier tells two domains apart.
"""
from ._domain import DomainAdaptation, SourceOnly
from .adabn import AdaBN
from .dann import DANN
from .pad import proxy_a_distance
from . import nets

__all__ = ["DomainAdaptation", "SourceOnly", "AdaBN", "DANN", "proxy_a_distance", "nets"]
