"""Fisher information for EWC (Kirkpatrick et al., "Overcoming catastrophic
forgetting in neural networks", PNAS 2017).

The diagonal empirical Fisher of a compiled model on ``(x, y)``: the mean
of squared loss gradients over batches (``batch_size=1`` gives the
per-example estimate of the paper).  The squares and their sum are
computed by the core (``Net.accumulate_fisher``) into the model's Fisher
arena, which EWC's penalty reads.
"""
from __future__ import annotations

import math


def fill_fisher(model, x, y, batch_size: int = 1) -> None:
    """Replace ``model.fisher`` by the estimate on ``(x, y)`` (what
    :meth:`tlearn.Model.estimate_fisher` does)."""
    model._require_compiled()
    xs, ys, n = model._prepare(x, y)
    for v in model.fisher.values():
        v[...] = 0.0
    nb = math.ceil(n / batch_size)
    for s in range(nb):
        sl = slice(s * batch_size, min(n, (s + 1) * batch_size))
        model._net.accumulate_fisher([a[sl] for a in xs], [t[sl] for t in ys], 1.0 / nb)


def estimate_fisher(model, x, y, batch_size: int = 1) -> dict:
    """The diagonal empirical Fisher of ``model`` on ``(x, y)`` (computed by
    the core, left in ``model.fisher``); returns copies by parameter name.
    ``model`` must be compiled."""
    fill_fisher(model, x, y, batch_size)
    return {n: v.copy() for n, v in model.fisher.items()}
