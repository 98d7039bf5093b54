"""tlearn: transfer learning with a C core.

Networks are built with a Keras-like functional API (:class:`Input`, the
layers of :mod:`tlearn.layers`, :class:`Model`); every forward and backward
computation runs in the C core (``tlearn._core``), one C call per training
step.  The techniques of transfer learning -- fine-tuning, layer transfer,
conservative training (L2-SP, EWC, output consistency), multitask heads,
gradient reversal -- are properties of a model: freezing, masks,
regularizers toward a source snapshot, several losses.
"""
from ._blas import preload as _preload

_preload()

from . import _core  # noqa: E402
from ._core import TlearnError  # noqa: E402
from . import layers, optim  # noqa: E402
from .graph import Input, Tensor  # noqa: E402
from .model import Model, load  # noqa: E402

__all__ = ["Input", "Tensor", "Model", "load", "layers", "optim", "TlearnError", "datasets"]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "datasets":
        import importlib

        return importlib.import_module(".datasets", __name__)
    raise AttributeError(f"module 'tlearn' has no attribute {name!r}")
