"""The 8x8 handwritten digits shipped with tlearn (UCI ML optdigits)."""

import numpy as np

from ._base import Dataset, _image_dtype, _scale
from ._data import DIGITS_SHA256, digits_raw

__all__ = ["load_digits", "DIGITS_CLASSES", "DIGITS_SHA256"]

#: Class names, indexed by label.
DIGITS_CLASSES = tuple(str(d) for d in range(10))


def load_digits(dtype="float32"):
    """Load the 1,797 8x8 handwritten digits shipped inside tlearn.

    Data: UCI ML optdigits, E. Alpaydin & C. Kaynak, CC BY 4.0 -- the test
    set of "Optical Recognition of Handwritten Digits" (UCI Machine Learning
    Repository, 1998), the same file scikit-learn ships as
    ``sklearn/datasets/data/digits.csv.gz``. 32x32 bitmaps of digits written
    by 13 people on NIST forms were divided into 4x4 blocks and the "on"
    pixels of each block counted, giving 8x8 images of integers 0..16.

    No download: the file lives in ``tlearn/datasets/data/digits.csv.gz``
    and its SHA-256 (``DIGITS_SHA256``) is checked when it is first read.

    Parameters
    ----------
    dtype : {"float32", "uint8"} or a float dtype
        ``"uint8"`` returns the original counts 0..16; a float dtype
        returns them divided by 16, in [0, 1].

    Returns
    -------
    Dataset
        A 2-tuple ``(x, y)`` with attributes ``x``, ``y``,
        ``class_names`` (``"0"`` .. ``"9"``) and ``name``.

        x : ndarray, shape (1797, 1, 8, 8), dtype uint8 (0..16) or float
            Images in NCHW layout with one channel.
        y : ndarray, shape (1797,), int64
            The digit, 0..9. Class counts: 178, 182, 177, 183, 181, 182,
            181, 179, 174, 180.

    Raises
    ------
    RuntimeError
        If the shipped file does not match its checksum.
    """
    dt = _image_dtype(dtype, "load_digits")
    pixels, labels = digits_raw()
    x = _scale(pixels.reshape(-1, 1, 8, 8).copy(), dt, 16)
    return Dataset(x, labels.astype(np.int64), DIGITS_CLASSES, "digits")
