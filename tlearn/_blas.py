"""Load the OpenBLAS of the scipy-openblas32 wheel before the extension.

The extension records an rpath to that library relative to itself; loading it
here first makes the import work as well from a source tree built in place.
"""
import ctypes
import os


def preload() -> None:
    try:
        import scipy_openblas32 as sob
    except ImportError:  # linked against a system OpenBLAS instead
        return
    path = os.path.join(sob.get_lib_dir(), "lib" + sob.get_library() + ".so")
    if os.path.exists(path):
        ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
