"""Load the OpenBLAS of the scipy-openblas32 wheel before the extension.

The extension records an rpath to that library relative to itself; loading it
here first makes the import work as well from a source tree built in place.

OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) after each call before
they sleep.  Between the GEMMs of a training step that is all of the time, and
they take the CPUs from the core's own threads (csrc/core/pool.c), which run
im2col, pooling and activations meanwhile: with two CPUs, a conv training step
took 23 ms with the spinning and 18 ms without.  With a timeout of 2^8 cycles
they sleep at once and wake on the next GEMM (tens of microseconds, against
milliseconds of work).  OpenBLAS reads OPENBLAS_THREAD_TIMEOUT once, when the
library loads (``import scipy_openblas32`` loads it); a value set by the user
wins, and the variable is removed again so that it does not reach child
processes.
"""
import ctypes
import os

_KEY = "OPENBLAS_THREAD_TIMEOUT"


def preload() -> None:
    ours = _KEY not in os.environ
    if ours:
        os.environ[_KEY] = "8"
    try:
        try:
            import scipy_openblas32 as sob
        except ImportError:  # linked against a system OpenBLAS instead
            return
        path = os.path.join(sob.get_lib_dir(), "lib" + sob.get_library() + ".so")
        if os.path.exists(path):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    finally:
        if ours:
            del os.environ[_KEY]
