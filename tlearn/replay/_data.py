"""Fashion-MNIST for the replays: Debian's full set when installed, else
the subset shipped inside tlearn; the report says which."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import datasets


@dataclass
class FashionData:
    x_train: np.ndarray   # (N, 1, 28, 28) float32 in [0, 1]
    y_train: np.ndarray   # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    name: str             # "fashion_mnist" (full, Debian) or "fashion_subset" (shipped)

    def describe(self) -> dict:
        full = self.name == "fashion_mnist"
        return {"name": self.name, "full": full, "train": int(len(self.y_train)), "test": int(len(self.y_test)),
                "description": (f"{'full Fashion-MNIST (Debian dataset-fashion-mnist)' if full else 'Fashion-MNIST subset shipped in tlearn'}"
                                f", {len(self.y_train)} training and {len(self.y_test)} test images used")}


def fashion(prefer_full: bool = True, per_class_train=None, per_class_test=None, seed: int = 0) -> FashionData:
    """Fashion-MNIST, full when Debian's files are found (``prefer_full``),
    else the shipped subset; optionally cut to a balanced ``per_class_*``
    examples per class (chosen with ``seed``)."""
    name = "fashion_subset"
    if prefer_full:
        try:
            xtr, ytr = datasets.load_fashion_mnist(split="train")
            xte, yte = datasets.load_fashion_mnist(split="test")
            name = "fashion_mnist"
        except FileNotFoundError:
            pass
    if name == "fashion_subset":
        xtr, ytr = datasets.load_fashion_subset("train")
        xte, yte = datasets.load_fashion_subset("test")
    rng = np.random.default_rng(seed)

    def cut(x, y, k):
        if k is None:
            return x, y
        idx = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c in np.unique(y)]))
        return x[idx], y[idx]

    xtr, ytr = cut(xtr, ytr, per_class_train)
    xte, yte = cut(xte, yte, per_class_test)
    return FashionData(np.ascontiguousarray(xtr), ytr, np.ascontiguousarray(xte), yte, name)
