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


def _core_missing(err: ImportError) -> ImportError:
    """The error for a tlearn whose extension ``tlearn._core`` is absent: from
    a source tree (``setup.py`` beside the package) it says what to run there,
    as NumPy does; elsewhere it names the broken install."""
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    if os.path.exists(os.path.join(root, "setup.py")) and os.path.isdir(os.path.join(root, "csrc")):
        msg = (f"tlearn's C extension (tlearn._core) is not built, and this is tlearn's source tree ({root}). "
               "Build it there first: `pip install -e .` (an editable install), or "
               "`python setup.py build_ext --inplace`; or start Python from another directory to import an "
               "installed tlearn.")
    else:
        msg = (f"tlearn's C extension (tlearn._core) cannot be loaded from {here}: reinstall tlearn "
               "(`pip install --force-reinstall tlearn`, or `pip install .` from its source tree)")
    return ImportError(msg)


try:
    from . import _core  # noqa: E402
except ImportError as _e:
    if not getattr(_e, "name", None) or _e.name.rsplit(".", 1)[-1] not in ("_core", "tlearn"):
        raise
    raise _core_missing(_e) from None
from ._core import TlearnError  # noqa: E402
from . import callbacks, layers, optim  # noqa: E402
from .graph import Tensor  # noqa: E402
from .layers import Input  # noqa: E402
from .model import Model, load  # noqa: E402
from .sequential import Sequential  # noqa: E402

__all__ = ["Input", "Tensor", "Model", "Sequential", "load", "layers", "optim", "callbacks", "TlearnError",
           "datasets", "transfer", "replay", "set_num_threads", "get_num_threads"]
__version__ = "0.1.0"


def set_num_threads(n: int) -> int:
    """Threads of the core (GEMMs, im2col, col2im, pooling, activations) for
    the whole process; returns the number in effect (at most
    ``tlearn._core.MAX_THREADS``).  OpenBLAS runs on one thread inside the
    core's parts, whatever ``OPENBLAS_NUM_THREADS`` says.  The default is the
    number of CPUs the process may run on, or ``$TLEARN_NUM_THREADS``.
    Results do not depend on it: the parts are fixed by the shapes and every
    thread writes its own."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"set_num_threads: expected an int, got {type(n).__name__}")
    return _core.set_num_threads(n)


def get_num_threads() -> int:
    """Threads of the core (see :func:`set_num_threads`)."""
    return _core.num_threads()


def _threads_from_env() -> None:
    import os

    v = os.environ.get("TLEARN_NUM_THREADS")
    if v is None:
        return
    try:
        n = int(v)
        if n < 1:
            raise ValueError
    except ValueError:
        import warnings

        warnings.warn(f"TLEARN_NUM_THREADS={v!r} ignored: expected a positive integer", RuntimeWarning, stacklevel=2)
        return
    _core.set_num_threads(n)


_threads_from_env()


def __getattr__(name):
    # subpackages imported on first use, so that `import tlearn` stays quick
    if name in ("datasets", "transfer", "replay"):
        import importlib

        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'tlearn' has no attribute {name!r}")
