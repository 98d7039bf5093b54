"""Build of tlearn._core: the C core (csrc/core) and its binding (csrc/py),
linked against OpenBLAS from the scipy-openblas32 wheel.

The wheel's library lives in site-packages/scipy_openblas32/lib; the extension
finds it at run time through an rpath relative to itself ($ORIGIN), and
tlearn/__init__.py also loads it first, so no environment variable is needed.
Set TLEARN_SANITIZE=1 for an AddressSanitizer + UBSan build.
"""
import glob
import os

import numpy as np
import scipy_openblas32 as sob
from setuptools import Extension, setup

sanitize = os.environ.get("TLEARN_SANITIZE") == "1"
# -fno-trapping-math: the core never reads floating-point exception flags, and
# with it GCC vectorizes selects such as ReLU's (x > 0 ? x : a x): 30x faster
# on the activations of a conv layer.  Values, NaN and inf are unchanged.
# -fno-math-errno: the core never reads errno; sqrtf then vectorizes (Adam).
# -pthread: the core's pool of threads for its memory-bound loops (threadpool.c).
cflags = ["-std=c11", "-O3", "-fno-trapping-math", "-fno-math-errno", "-pthread", "-Wall", "-Wextra",
          "-fvisibility=hidden"]
ldflags = ["-pthread"]
if sanitize:
    cflags = ["-std=c11", "-O1", "-g", "-fno-trapping-math", "-fno-math-errno", "-pthread", "-Wall", "-Wextra", "-fsanitize=address,undefined", "-fno-omit-frame-pointer",
              "-fno-sanitize-recover=undefined"]
    ldflags = ["-pthread", "-fsanitize=address,undefined"]

ext = Extension(
    "tlearn._core",
    sources=sorted(glob.glob("csrc/core/*.c")) + sorted(glob.glob("csrc/py/*.c")),
    depends=sorted(glob.glob("csrc/core/*.h")) + ["csrc/core/ops.def"],
    include_dirs=[np.get_include(), sob.get_include_dir(), "csrc/core"],
    define_macros=[("TL_BLAS_SCIPY_PREFIX", "1")],
    library_dirs=[sob.get_lib_dir()],
    libraries=[sob.get_library()],
    runtime_library_dirs=["$ORIGIN/../scipy_openblas32/lib"],
    extra_compile_args=cflags,
    extra_link_args=ldflags,
)

setup(ext_modules=[ext])
