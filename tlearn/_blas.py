"""Load the OpenBLAS of the scipy-openblas32 wheel before the extension.

The extension records an rpath to that library relative to itself; loading it
here first makes the import work as well from a source tree built in place.

The core runs OpenBLAS on one thread and spreads its GEMMs over its own pool
(csrc/core/blas.c): one set of threads for the whole step, and results that do
not depend on the thread count.  So that OpenBLAS starts no threads of its own
that would only sleep, ``OPENBLAS_NUM_THREADS=1`` is set while the library
loads (OpenBLAS reads it then), unless the user set it; the variable is
removed again so that it does not reach child processes.  (tlearn used to set
``OPENBLAS_THREAD_TIMEOUT=16`` instead, to keep OpenBLAS's spinning threads
from taking the CPUs from the pool's: there are no such threads any more.)
"""
import ctypes
import functools
import os

_KEY = "OPENBLAS_NUM_THREADS"


def _path():
    """The shared library of the scipy-openblas32 wheel, or None (a system
    OpenBLAS is linked instead)."""
    try:
        import scipy_openblas32 as sob
    except ImportError:
        return None
    path = os.path.join(sob.get_lib_dir(), "lib" + sob.get_library() + ".so")
    return path if os.path.exists(path) else None


def preload() -> None:
    ours = _KEY not in os.environ
    if ours:
        os.environ[_KEY] = "1"
    try:
        _lib()
    finally:
        if ours:
            del os.environ[_KEY]


@functools.lru_cache(maxsize=None)
def _lib():
    """(the loaded OpenBLAS, its symbol prefix); loaded once."""
    path = _path()
    if path is None:
        return ctypes.CDLL(None), "openblas_"
    return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL), "scipy_openblas_"


def get_threads() -> int:
    """OpenBLAS's thread count in this process (0 if unknown)."""
    lib, prefix = _lib()
    fn = getattr(lib, prefix + "get_num_threads", None)
    if fn is None:
        return 0
    fn.argtypes, fn.restype = [], ctypes.c_int
    return int(fn())


def set_threads(n: int) -> bool:
    """Set OpenBLAS's thread count in this process (``openblas_set_num_threads``
    of the library :func:`preload` loaded).  False when not found."""
    lib, prefix = _lib()
    fn = getattr(lib, prefix + "set_num_threads", None)
    if fn is None:
        return False
    fn.argtypes, fn.restype = [ctypes.c_int], None
    fn(int(n))
    return True
