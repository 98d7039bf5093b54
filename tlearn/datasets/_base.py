"""Shared helpers: the ``Dataset`` pair and dtype handling."""

import numpy as np

__all__ = ["Dataset"]


class Dataset(tuple):
    """An ``(x, y)`` pair that also carries the class names.

    It is a plain 2-tuple, so ``x, y = load_digits()`` works, and it also
    has the attributes below.

    Attributes
    ----------
    x : numpy.ndarray
        Images, shape (N, 1, H, W) (NCHW with one channel).
    y : numpy.ndarray
        Integer labels, shape (N,), dtype int64.
    class_names : tuple of str
        ``class_names[k]`` is the name of label ``k``.
    name : str
        Name of the data set and split, e.g. ``"fashion_mnist/train"``.
    """

    def __new__(cls, x, y, class_names, name=""):
        self = super().__new__(cls, (x, y))
        self.class_names = tuple(class_names)
        self.name = name
        return self

    def __getnewargs__(self):
        return (self[0], self[1], self.class_names, self.name)

    @property
    def x(self):
        return self[0]

    @property
    def y(self):
        return self[1]

    def __repr__(self):
        return (f"Dataset(name={self.name!r}, x={self[0].dtype}{self[0].shape}, "
                f"y={self[1].dtype}{self[1].shape}, "
                f"{len(self.class_names)} classes)")


def _image_dtype(dtype, caller):
    """Normalise the ``dtype`` argument of the loaders: uint8 or a float."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(
            f"{caller}: dtype must be 'uint8' or a float dtype such as "
            f"'float32', got {dtype!r}") from None
    if dt != np.uint8 and dt.kind != "f":
        raise ValueError(
            f"{caller}: dtype must be 'uint8' or a float dtype such as "
            f"'float32', got {dt.name!r}")
    return dt


def _scale(x_uint8, dt, max_value):
    """uint8 -> ``dt``: unchanged for uint8, divided by ``max_value`` for floats."""
    if dt == np.uint8:
        return x_uint8
    out = x_uint8.astype(dt)
    out /= dt.type(max_value)
    return out
