"""Rebuild ``tlearn/datasets/data/fashion_subset.npz``: a balanced subset of
Fashion-MNIST (Zalando Research, MIT licence) shipped so that the replays run
on a machine without Debian's ``dataset-fashion-mnist``.

The subset holds the first 1,200 training images of each class (12,000) and
the first 200 test images of each class (2,000), in their original order
within a class, as uint8 (N, 28, 28) with uint8 labels; the .npz is
compressed (about 4 MB).  The script prints the SHA-256 of the arrays'
bytes that ``tlearn/datasets/_data.py`` checks (the array content is
hashed, so the check does not depend on how the container was written).

Usage::

    apt-get install dataset-fashion-mnist
    python tools/make_fashion_subset.py [/usr/share/datasets/fashion-mnist]
"""
import hashlib
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir))
OUT = os.path.join(HERE, os.pardir, "tlearn", "datasets", "data", "fashion_subset.npz")
PER_CLASS = {"train": 1200, "test": 200}


def subset(x, y, per_class):
    idx = np.sort(np.concatenate([np.flatnonzero(y == c)[:per_class] for c in range(10)]))
    return x[idx, 0], y[idx].astype(np.uint8)


def digest(arrays):
    h = hashlib.sha256()
    for k in ("x_train", "y_train", "x_test", "y_test"):
        h.update(np.ascontiguousarray(arrays[k]).tobytes())
    return h.hexdigest()


def main(path=None):
    from tlearn.datasets._idx import read_idx  # noqa: F401  (validated reader)
    from tlearn.datasets import load_fashion_mnist
    arrays = {}
    for split in ("train", "test"):
        x, y = load_fashion_mnist(path, split=split, dtype="uint8")
        arrays[f"x_{split}"], arrays[f"y_{split}"] = subset(x, y, PER_CLASS[split])
    np.savez_compressed(OUT, **arrays)
    print(f"{OUT}: {os.path.getsize(OUT)} bytes, SHA-256 of the arrays {digest(arrays)}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
