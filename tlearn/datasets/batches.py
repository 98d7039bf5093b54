"""Samplers of two domains for domain adaptation: half-source/half-target
batches with domain labels (:func:`domain_batches`), one shuffled mixed set
(:func:`mix_domains`), and the stream of permutations they draw from.

All functions are deterministic for a given ``seed``
(``numpy.random.default_rng(seed)``).
"""

import numpy as np

__all__ = ["domain_batches", "DomainBatches", "mix_domains", "permutation_stream"]


def permutation_stream(n, count, rng):
    """``count`` row numbers: fresh permutations of ``range(n)`` drawn from
    ``rng`` one after another (every row once per ``n``, the last
    permutation cut short)."""
    reps = -(-count // n)
    return np.concatenate([rng.permutation(n) for _ in range(reps)])[:count]


def _check_pair(xs, xt, caller):
    xs = np.asarray(xs)
    xt = np.asarray(xt)
    if xs.ndim == 0 or xt.ndim == 0:
        raise ValueError(f"{caller}: xs and xt must be arrays of examples")
    if xs.shape[1:] != xt.shape[1:]:
        raise ValueError(
            f"{caller}: source and target examples must have the same shape: "
            f"xs has {xs.shape[1:]}, xt has {xt.shape[1:]}")
    if len(xs) == 0 or len(xt) == 0:
        raise ValueError(
            f"{caller}: both domains need examples, got {len(xs)} source "
            f"and {len(xt)} target")
    return xs, xt


def _check_labels(ys, n, caller):
    ys = np.asarray(ys)
    if ys.shape != (n,):
        raise ValueError(
            f"{caller}: ys must have shape ({n},) (one label per source "
            f"example), got {ys.shape}")
    if ys.dtype.kind not in "iu":
        raise ValueError(f"{caller}: ys must be integer labels, got {ys.dtype}")
    return ys.astype(np.int64)


class DomainBatches:
    """Half-source / half-target batches for domain-adversarial training.

    Made by :func:`domain_batches`; see there. Iterating again gives the
    same batches (same seed); ``len()`` is the number of batches.
    """

    def __init__(self, xs, xt, batch_size, seed=0, ys=None, n_batches=None):
        xs, xt = _check_pair(xs, xt, "domain_batches")
        if int(batch_size) != batch_size or batch_size < 2 or batch_size % 2:
            raise ValueError(
                f"domain_batches: batch_size must be an even integer >= 2 "
                f"(half source, half target), got {batch_size}")
        self.xs, self.xt = xs, xt
        self.ys = None if ys is None else _check_labels(ys, len(xs),
                                                        "domain_batches")
        self.batch_size = int(batch_size)
        self.half = self.batch_size // 2
        self.seed = seed
        if n_batches is None:
            n_batches = -(-max(len(xs), len(xt)) // self.half)
        if int(n_batches) != n_batches or n_batches < 1:
            raise ValueError(
                f"domain_batches: n_batches must be a positive integer, "
                f"got {n_batches}")
        self.n_batches = int(n_batches)

    def __len__(self):
        return self.n_batches

    def _indices(self):
        rng = np.random.default_rng(self.seed)
        total = self.n_batches * self.half
        return permutation_stream(len(self.xs), total, rng), permutation_stream(len(self.xt), total, rng)

    def rows(self):
        """The batches as row numbers of ``concatenate([xs, xt])`` (target rows
        offset by ``len(xs)``), batch after batch: the source half, then the
        target half, the rows :meth:`__iter__` yields."""
        i_s, i_t = self._indices()
        h = self.half
        out = np.empty((self.n_batches, 2, h), np.int64)
        out[:, 0] = i_s.reshape(self.n_batches, h)
        out[:, 1] = i_t.reshape(self.n_batches, h) + len(self.xs)
        return out.reshape(-1)

    def as_arrays(self):
        """``(x, targets, rows)``: both domains in one array, the targets in
        the order of :meth:`__iter__` (``[d]`` or ``[y, d]``, labels -1 on the
        target rows) and :meth:`rows`.  ``Model.fit(domain_batches)`` trains on
        them with one C call per run of steps."""
        x = np.concatenate([self.xs, self.xt])
        d = np.concatenate([np.zeros(len(self.xs), np.int64), np.ones(len(self.xt), np.int64)])
        if self.ys is None:
            return x, [d], self.rows()
        y = np.concatenate([self.ys, np.full(len(self.xt), -1, np.int64)])
        return x, [y, d], self.rows()

    def __iter__(self):
        i_s, i_t = self._indices()
        d = np.repeat(np.array([0, 1], np.int64), self.half)
        y_t = np.full(self.half, -1, np.int64)
        for b in range(self.n_batches):
            sl = slice(b * self.half, (b + 1) * self.half)
            x = np.concatenate([self.xs[i_s[sl]], self.xt[i_t[sl]]])
            if self.ys is None:
                yield x, d.copy()
            else:
                yield x, np.concatenate([self.ys[i_s[sl]], y_t]), d.copy()


def domain_batches(xs, xt, batch_size, seed=0, ys=None, n_batches=None):
    """Iterate over batches that are half source and half target examples.

    This is the batching of domain-adversarial training (DANN): the label
    predictor learns from the source half, the domain classifier from all.

    Parameters
    ----------
    xs : ndarray, shape (Ns, ...)
        Source-domain examples.
    xt : ndarray, shape (Nt, ...)
        Target-domain examples (same per-example shape as ``xs``).
    batch_size : int
        Even; each batch holds ``batch_size // 2`` of each domain.
    seed : int
        Seed of the shuffling.
    ys : ndarray, shape (Ns,), optional
        Source labels. When given, batches also carry labels, -1 for the
        target examples (unlabelled).
    n_batches : int, optional
        Number of batches. Default: enough for one pass over the larger
        domain, ``ceil(max(Ns, Nt) / (batch_size // 2))``.

    Returns
    -------
    DomainBatches
        An iterable (with ``len()``) yielding ``(x, d)``, or ``(x, y, d)``
        when ``ys`` is given:

        x : ndarray, shape (batch_size, ...)
            The first half from the source, the second from the target.
        y : ndarray, shape (batch_size,), int64
            Source labels, then -1 for the target half.
        d : ndarray, shape (batch_size,), int64
            Domain labels: 0 for source, 1 for target.

    Notes
    -----
    Each domain is drawn as a stream of fresh random permutations, so every
    batch is full, every example of the larger domain is seen once per
    ``len()`` batches, and the smaller domain is cycled (reshuffled at each
    cycle). Iterating twice gives the same batches; use another ``seed``
    for another epoch.
    """
    return DomainBatches(xs, xt, batch_size, seed=seed, ys=ys,
                         n_batches=n_batches)


def mix_domains(xs, ys, xt, seed=0):
    """Concatenate and shuffle a labelled source and an unlabelled target.

    Parameters
    ----------
    xs : ndarray, shape (Ns, ...)
        Source examples.
    ys : ndarray, shape (Ns,)
        Source labels (integers).
    xt : ndarray, shape (Nt, ...)
        Target examples, same per-example shape as ``xs``.
    seed : int
        Seed of the shuffle.

    Returns
    -------
    x : ndarray, shape (Ns + Nt, ...)
        All examples, shuffled.
    y : ndarray, shape (Ns + Nt,), int64
        Source labels, -1 for target examples.
    d : ndarray, shape (Ns + Nt,), int64
        Domain: 0 source, 1 target.
    """
    xs, xt = _check_pair(xs, xt, "mix_domains")
    ys = _check_labels(ys, len(xs), "mix_domains")
    x = np.concatenate([xs, xt])
    y = np.concatenate([ys, np.full(len(xt), -1, np.int64)])
    d = np.concatenate([np.zeros(len(xs), np.int64), np.ones(len(xt), np.int64)])
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order], y[order], d[order]
