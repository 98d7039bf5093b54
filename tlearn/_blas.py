"""Load the OpenBLAS of the scipy-openblas32 wheel before the extension.

The extension records an rpath to that library relative to itself; loading it
here first makes the import work as well from a source tree built in place.

OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) after each call before
they sleep.  Between the GEMMs of a conv training step that is all of the
time, and they take the CPUs from the core's own threads (csrc/core/threadpool.c),
which run im2col, pooling and activations meanwhile.  OPENBLAS_THREAD_TIMEOUT
sets the spin to 2^N cycles; measured on 2 CPUs, runs interleaved (minimum
ms per step of the MNIST-M network at batch 64 / s per epoch of the
784-256-256-10 MLP at batch 64):

    N = 8: 14-19 ms / 0.71-0.75 s    N = 16: 14-20 ms / 0.67-0.69 s
    N = 28 (OpenBLAS's default): 20-24 ms / 0.64-0.66 s

N = 16 (~20 us): the threads stay awake across the few microseconds between
the GEMMs of a dense step and sleep through the conv loops.  OpenBLAS reads
the variable once, when the library loads (``import scipy_openblas32`` loads
it); a value set by the user wins, and the variable is removed again so that
it does not reach child processes.
"""
import ctypes
import functools
import os

_KEY = "OPENBLAS_THREAD_TIMEOUT"


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
        os.environ[_KEY] = "16"
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
