"""Class splits and samplers for transfer, few-shot and zero-shot learning
(the samplers of two domains are in :mod:`tlearn.datasets.batches`).

All functions are deterministic for a given ``seed``
(``numpy.random.default_rng(seed)``).
"""

from typing import NamedTuple

import numpy as np

__all__ = ["ClassSplit", "class_split", "few_shot", "SeenUnseenSplit",
           "seen_unseen_split", "zero_shot_split", "relabel"]


def _labels(y, caller):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{caller}: y must have shape (N,), got {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"{caller}: y must hold integer labels, got {y.dtype}")
    if len(y) == 0:
        raise ValueError(f"{caller}: y is empty")
    return y


def _class_list(classes, present, caller, name="classes"):
    c = np.asarray(classes).ravel()
    if c.size and c.dtype.kind not in "iu":
        raise ValueError(f"{caller}: {name} must be integers, got {c.dtype}")
    c = c.astype(np.int64)
    if len(np.unique(c)) != len(c):
        raise ValueError(f"{caller}: {name} has duplicates: {c.tolist()}")
    missing = np.setdiff1d(c, present)
    if missing.size:
        raise ValueError(
            f"{caller}: {name} {missing.tolist()} do not occur in y; "
            f"expected a subset of {present.tolist()}")
    return c


def relabel(y, classes):
    """Map labels to their position in ``classes``.

    Parameters
    ----------
    y : ndarray, shape (N,)
        Labels, each in ``classes``.
    classes : sequence of int, length k
        ``classes[j]`` becomes label ``j``.

    Returns
    -------
    ndarray, shape (N,), int64
        Labels in 0..k-1.
    """
    y = np.asarray(y)
    classes = np.asarray(classes, np.int64)
    order = np.argsort(classes, kind="stable")
    pos = np.searchsorted(classes[order], y)
    pos = np.clip(pos, 0, len(classes) - 1)
    if not np.all(classes[order][pos] == y):
        bad = np.setdiff1d(y, classes)
        raise ValueError(
            f"relabel: labels {bad.tolist()} are not in classes "
            f"{classes.tolist()}")
    return order[pos].astype(np.int64)


class ClassSplit(NamedTuple):
    """Result of :func:`class_split`.

    Attributes
    ----------
    classes_a, classes_b : ndarray of int64
        The original labels in each half; disjoint, together all classes
        of ``y``. Label ``j`` of ``y_a`` is class ``classes_a[j]``.
    idx_a, idx_b : ndarray of intp
        Indices (ascending) of the examples of each half into ``y``.
    y_a, y_b : ndarray of int64
        ``y[idx_a]`` / ``y[idx_b]`` relabelled to 0..len(classes_a)-1 /
        0..len(classes_b)-1.
    """

    classes_a: np.ndarray
    classes_b: np.ndarray
    idx_a: np.ndarray
    idx_b: np.ndarray
    y_a: np.ndarray
    y_b: np.ndarray


def class_split(y, seed=0, classes_a=None, n_a=None):
    """Split the classes of ``y`` into two disjoint halves A and B.

    The usual setting of transfer between tasks: train on the classes of
    A, transfer to the (different) classes of B.

    Parameters
    ----------
    y : ndarray, shape (N,)
        Integer labels.
    seed : int
        Seed of the random choice of A (ignored when ``classes_a`` is
        given).
    classes_a : sequence of int, optional
        The classes of A, in the order that defines their new labels.
        Default: ``n_a`` classes chosen at random, sorted.
    n_a : int, optional
        Size of A when it is random; default half the classes (rounded
        down). Both halves must be non-empty.

    Returns
    -------
    ClassSplit
        Named tuple ``(classes_a, classes_b, idx_a, idx_b, y_a, y_b)``;
        ``classes_b`` is sorted.

    Examples
    --------
    >>> s = class_split(y, seed=0)                      # doctest: +SKIP
    >>> xa, ya = x[s.idx_a], s.y_a                      # 5 classes, 0..4
    """
    y = _labels(y, "class_split")
    present = np.unique(y).astype(np.int64)
    k = len(present)
    if k < 2:
        raise ValueError(
            f"class_split: need at least 2 classes, got {k} ({present.tolist()})")
    if classes_a is None:
        n_a = k // 2 if n_a is None else int(n_a)
        if not 1 <= n_a <= k - 1:
            raise ValueError(
                f"class_split: n_a must be in 1..{k - 1} (both halves "
                f"non-empty), got {n_a}")
        rng = np.random.default_rng(seed)
        a = np.sort(rng.permutation(present)[:n_a])
    else:
        a = _class_list(classes_a, present, "class_split", "classes_a")
        if not 1 <= len(a) <= k - 1:
            raise ValueError(
                f"class_split: classes_a must hold 1..{k - 1} of the {k} "
                f"classes (both halves non-empty), got {len(a)}")
    b = np.setdiff1d(present, a)
    in_a = np.isin(y, a)
    idx_a = np.flatnonzero(in_a)
    idx_b = np.flatnonzero(~in_a)
    return ClassSplit(a, b, idx_a, idx_b, relabel(y[idx_a], a),
                      relabel(y[idx_b], b))


def few_shot(x, y, k, seed=0, classes=None, return_indices=False):
    """Take ``k`` labelled examples per class; keep the rest for testing.

    Parameters
    ----------
    x : ndarray, shape (N, ...)
        Examples.
    y : ndarray, shape (N,)
        Integer labels.
    k : int
        Examples per class in the training set (``k=1``: one-shot).
    seed : int
        Seed of the choice of examples.
    classes : sequence of int, optional
        Restrict to these classes (examples of other classes are in
        neither output). Default: every class in ``y``.
    return_indices : bool
        Also return the indices into ``x`` of both parts.

    Returns
    -------
    x_train : ndarray, shape (k * n_classes, ...)
    y_train : ndarray, shape (k * n_classes,)
        Exactly ``k`` examples of each class, labels unchanged, in
        ascending order of index in ``x``.
    x_rest : ndarray, shape (M, ...)
    y_rest : ndarray, shape (M,)
        Every other example of those classes, ascending order of index.
    idx_train, idx_rest : ndarray of intp
        Only when ``return_indices``.

    Raises
    ------
    ValueError
        If a class has fewer than ``k`` examples (the message names it), or
        for bad arguments.
    """
    x = np.asarray(x)
    y = _labels(y, "few_shot")
    if len(x) != len(y):
        raise ValueError(
            f"few_shot: x and y must have the same length, got {len(x)} and "
            f"{len(y)}")
    if int(k) != k or k < 1:
        raise ValueError(f"few_shot: k must be a positive integer, got {k}")
    k = int(k)
    present = np.unique(y).astype(np.int64)
    cls = present if classes is None else _class_list(classes, present,
                                                      "few_shot")
    rng = np.random.default_rng(seed)
    train = []
    for c in cls:
        members = np.flatnonzero(y == c)
        if len(members) < k:
            raise ValueError(
                f"few_shot: class {int(c)} has {len(members)} examples, "
                f"fewer than k={k}")
        train.append(rng.choice(members, size=k, replace=False))
    idx_train = np.sort(np.concatenate(train))
    keep = np.isin(y, cls)
    keep[idx_train] = False
    idx_rest = np.flatnonzero(keep)
    out = (x[idx_train], y[idx_train], x[idx_rest], y[idx_rest])
    if return_indices:
        out += (idx_train, idx_rest)
    return out


def zero_shot_split(n_classes, n_unseen, seed=0):
    """Choose at random which classes are unseen in a zero-shot experiment.

    Parameters
    ----------
    n_classes : int
        Classes are 0..n_classes-1.
    n_unseen : int
        Number of unseen classes, 1..n_classes-1.
    seed : int
        Seed of the choice.

    Returns
    -------
    seen : ndarray of int64, sorted
    unseen : ndarray of int64, sorted
        Disjoint; together 0..n_classes-1.
    """
    n_classes, n_unseen = int(n_classes), int(n_unseen)
    if n_classes < 2:
        raise ValueError(
            f"zero_shot_split: n_classes must be >= 2, got {n_classes}")
    if not 1 <= n_unseen <= n_classes - 1:
        raise ValueError(
            f"zero_shot_split: n_unseen must be in 1..{n_classes - 1}, "
            f"got {n_unseen}")
    perm = np.random.default_rng(seed).permutation(n_classes)
    return np.sort(perm[n_unseen:]).astype(np.int64), \
        np.sort(perm[:n_unseen]).astype(np.int64)


class SeenUnseenSplit(NamedTuple):
    """Result of :func:`seen_unseen_split`.

    Attributes
    ----------
    seen, unseen : ndarray of int64
        Sorted class lists, disjoint.
    mask_seen, mask_unseen : ndarray of bool, shape (N,)
        Which examples of ``y`` belong to a seen / an unseen class.
    """

    seen: np.ndarray
    unseen: np.ndarray
    mask_seen: np.ndarray
    mask_unseen: np.ndarray


def seen_unseen_split(y, unseen=None, n_unseen=None, seed=0, n_classes=None):
    """Split examples by seen and unseen classes for zero-shot learning.

    Train on the seen classes (with their attribute vectors, see
    :func:`attributes`), test on the unseen ones.

    Parameters
    ----------
    y : ndarray, shape (N,)
        Integer labels in 0..n_classes-1.
    unseen : sequence of int, optional
        The unseen classes. If not given, ``n_unseen`` of them are chosen
        at random with :func:`zero_shot_split`.
    n_unseen : int, optional
        Number of random unseen classes (when ``unseen`` is not given).
    seed : int
        Seed of that choice.
    n_classes : int, optional
        Total number of classes; default ``y.max() + 1``.

    Returns
    -------
    SeenUnseenSplit
        Named tuple ``(seen, unseen, mask_seen, mask_unseen)``. The masks
        are complementary.
    """
    y = _labels(y, "seen_unseen_split")
    if y.min() < 0:
        raise ValueError(
            f"seen_unseen_split: labels must be >= 0, got {int(y.min())}")
    n = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.max() >= n:
        raise ValueError(
            f"seen_unseen_split: labels must be < n_classes={n}, got "
            f"{int(y.max())}")
    if unseen is None:
        if n_unseen is None:
            raise ValueError(
                "seen_unseen_split: give either unseen (a class list) or "
                "n_unseen (a count)")
        seen, uns = zero_shot_split(n, n_unseen, seed)
    else:
        uns = np.unique(np.asarray(unseen, np.int64))
        if len(uns) != len(np.ravel(unseen)):
            raise ValueError(
                f"seen_unseen_split: unseen has duplicates: "
                f"{np.ravel(unseen).tolist()}")
        if uns.size == 0 or uns.min() < 0 or uns.max() >= n or len(uns) >= n:
            raise ValueError(
                f"seen_unseen_split: unseen must be 1..{n - 1} distinct "
                f"classes in 0..{n - 1}, got {uns.tolist()}")
        seen = np.setdiff1d(np.arange(n, dtype=np.int64), uns)
    mask_unseen = np.isin(y, uns)
    return SeenUnseenSplit(seen, uns, ~mask_unseen, mask_unseen)
