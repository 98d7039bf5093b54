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


#: what ``--data`` accepts
CHOICES = ("subset", "full")


def full_installed() -> bool:
    """Whether the full Fashion-MNIST's four files are found."""
    from ..datasets import fashion_mnist as fm

    dirs, _ = fm._search_dirs(None)
    return any(all(fm._find(d, stem) for split in ("train", "test") for stem in fm.FASHION_MNIST_FILES[split])
               for d in dirs)


def check_choice(which) -> None:
    """``which`` is None, ``"subset"`` or ``"full"`` (and then installed)."""
    if which is None:
        return
    if which not in CHOICES:
        raise ValueError(f"data must be one of {list(CHOICES)} (or None: full when installed), got {which!r}")
    if which == "full" and not full_installed():
        raise ValueError("data 'full' asked for, but Fashion-MNIST's files are not installed "
                         "(apt-get install dataset-fashion-mnist, or set TLEARN_DATA); use data 'subset'")


def fashion(prefer_full: bool = True, per_class_train=None, per_class_test=None, seed: int = 0,
            which=None) -> FashionData:
    """Fashion-MNIST, full when Debian's files are found (``prefer_full``),
    else the shipped subset; optionally cut to a balanced ``per_class_*``
    examples per class (chosen with ``seed``).  ``which``: ``"subset"`` or
    ``"full"`` overrides ``prefer_full`` (``"full"`` raises ValueError when
    the files are not installed)."""
    check_choice(which)
    if which is not None:
        prefer_full = which == "full"
    name = "fashion_subset"
    if prefer_full:
        try:
            xtr, ytr = datasets.load_fashion_mnist(split="train")
            xte, yte = datasets.load_fashion_mnist(split="test")
            name = "fashion_mnist"
        except FileNotFoundError:
            if which == "full":
                raise
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


def fashion_for(data, per_class_train=None, per_class_test=None, seed: int = 0) -> FashionData:
    """The Fashion-MNIST a section's ``load(s, data)`` uses: ``data`` itself
    when it is a data object (a :class:`FashionData`), else :func:`fashion`
    with ``which=data`` (None, "subset" or "full") cut to ``per_class_*``."""
    if data is None or isinstance(data, str):
        return fashion(per_class_train=per_class_train, per_class_test=per_class_test, seed=seed, which=data)
    return data
