"""Fashion-MNIST loader (Xiao, Rasul & Vollgraf, 2017; MIT licence).

The data are not shipped with tlearn; they are read from IDX files on disk,
which Debian packages as ``dataset-fashion-mnist`` (installed in
``/usr/share/datasets/fashion-mnist``).
"""

import os

import numpy as np

from ._base import Dataset, _image_dtype, _scale
from ._idx import read_idx

__all__ = ["load_fashion_mnist", "FASHION_MNIST_CLASSES",
           "FASHION_MNIST_FILES", "DEFAULT_FASHION_MNIST_DIR"]

#: Class names, indexed by label.
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

#: Directory where Debian's ``dataset-fashion-mnist`` installs the files.
DEFAULT_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

#: File name stems for each split: (images, labels). Each is looked for with
#: and without ``.gz``; the variant ``train-images.idx3-ubyte`` (dot before
#: ``idx``) is accepted too.
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _candidates(stem):
    dotted = stem.replace("-idx", ".idx")
    return [stem + ".gz", stem, dotted + ".gz", dotted]


def _find(directory, stem):
    for name in _candidates(stem):
        p = os.path.join(directory, name)
        if os.path.isfile(p):
            return p
    return None


def _search_dirs(path):
    if path is not None:
        return [os.fspath(path)], True
    dirs = []
    env = os.environ.get("TLEARN_DATA")
    if env:
        dirs += [os.path.join(env, "fashion-mnist"), env]
    dirs.append(DEFAULT_FASHION_MNIST_DIR)
    return dirs, False


def _not_found(split, dirs, explicit):
    img, lab = FASHION_MNIST_FILES[split]
    where = "\n".join(f"  - {d}" for d in dirs)
    how = ("the directory given as path" if explicit
           else "$TLEARN_DATA/fashion-mnist, $TLEARN_DATA or "
                f"{DEFAULT_FASHION_MNIST_DIR}")
    return FileNotFoundError(
        f"Fashion-MNIST {split} files not found. Searched:\n{where}\n"
        f"Expected, in {how}: {img}.gz and {lab}.gz "
        f"(uncompressed {img} / {lab} work too).\n"
        f"To get them: `apt-get install dataset-fashion-mnist` (Debian/Ubuntu; "
        f"installs them in {DEFAULT_FASHION_MNIST_DIR}), or download the four "
        f"IDX files of Fashion-MNIST (train-*-ubyte.gz and t10k-*-ubyte.gz) "
        f"into a directory and set TLEARN_DATA=/that/dir or pass "
        f"path='/that/dir'.")


def load_fashion_mnist(path=None, split="train", dtype="float32"):
    """Load Fashion-MNIST from its IDX files.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Directory holding the IDX files. If not given, the first of
        ``$TLEARN_DATA/fashion-mnist``, ``$TLEARN_DATA`` (when the
        environment variable ``TLEARN_DATA`` is set) and
        ``/usr/share/datasets/fashion-mnist`` (Debian's
        ``dataset-fashion-mnist``) that holds both files of the split is used.
        File names: ``train-images-idx3-ubyte.gz``,
        ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
        ``t10k-labels-idx1-ubyte.gz``, each also accepted without ``.gz``
        (gzip is detected from the content).
    split : {"train", "test"}
        ``"train"``: 60,000 images; ``"test"``: 10,000 images.
    dtype : {"float32", "uint8"} or a float dtype
        ``"uint8"`` returns the raw pixel values 0..255; a float dtype
        returns them divided by 255, in [0, 1].

    Returns
    -------
    Dataset
        A 2-tuple ``(x, y)`` (unpack it as usual) with attributes ``x``,
        ``y``, ``class_names`` (= ``FASHION_MNIST_CLASSES``) and ``name``.

        x : ndarray, shape (N, 1, 28, 28), dtype uint8 or float
            Images in NCHW layout with one (grey) channel, the layout the
            convolutional layers take. Use ``x.reshape(len(x), -1)`` for
            a dense network.
        y : ndarray, shape (N,), int64
            Labels 0..9, see ``FASHION_MNIST_CLASSES``.

    Raises
    ------
    FileNotFoundError
        When the files are not found; the message lists the directories
        searched, the file names expected and how to install them.
    ValueError
        For a bad ``split`` or ``dtype``, or a corrupt file: bad IDX header
        (magic, type code, dimensions), truncated data or gzip stream, label
        count different from image count, labels outside 0..9.

    Examples
    --------
    >>> x, y = load_fashion_mnist(split="test")          # doctest: +SKIP
    >>> x.shape, x.dtype, y[:3]                           # doctest: +SKIP
    ((10000, 1, 28, 28), dtype('float32'), array([9, 2, 1]))
    """
    if split not in FASHION_MNIST_FILES:
        raise ValueError(
            f"load_fashion_mnist: split must be 'train' or 'test', "
            f"got {split!r}")
    dt = _image_dtype(dtype, "load_fashion_mnist")
    dirs, explicit = _search_dirs(path)
    img_stem, lab_stem = FASHION_MNIST_FILES[split]
    for d in dirs:
        img_path, lab_path = _find(d, img_stem), _find(d, lab_stem)
        if img_path and lab_path:
            break
    else:
        raise _not_found(split, dirs, explicit)

    x = read_idx(img_path, expected_dtype=np.uint8, expected_ndim=3,
                 expected_shape=(None, 28, 28))
    y = read_idx(lab_path, expected_dtype=np.uint8, expected_ndim=1)
    if len(y) != len(x):
        raise ValueError(
            f"{lab_path}: label count does not match {img_path}: expected "
            f"{len(x)} labels, found {len(y)}")
    if len(y) and y.max() >= len(FASHION_MNIST_CLASSES):
        raise ValueError(
            f"{lab_path}: labels must be in 0..9, found {int(y.max())}")
    x = _scale(x.reshape(len(x), 1, 28, 28), dt, 255)
    return Dataset(x, y.astype(np.int64), FASHION_MNIST_CLASSES,
                   f"fashion_mnist/{split}")


def load_fashion_subset(split="train", dtype="float32"):
    """The balanced subset of Fashion-MNIST shipped inside tlearn.

    1,200 training images per class (12,000) and 200 test images per class
    (2,000): the first of each class in the original files (made by
    ``tools/make_fashion_subset.py``, checksum verified on load).
    Fashion-MNIST: Zalando Research, MIT licence.  Same layout and dtypes
    as :func:`load_fashion_mnist`.
    """
    if split not in FASHION_MNIST_FILES:
        raise ValueError(f"load_fashion_subset: split must be 'train' or 'test', got {split!r}")
    dt = _image_dtype(dtype, "load_fashion_subset")
    from ._data import fashion_subset_raw
    raw = fashion_subset_raw()
    x = raw[f"x_{split}"]
    x = _scale(x.reshape(len(x), 1, 28, 28).copy() if dt == np.uint8 else x.reshape(len(x), 1, 28, 28), dt, 255)
    return Dataset(x, raw[f"y_{split}"].astype(np.int64), FASHION_MNIST_CLASSES, f"fashion_subset/{split}")
