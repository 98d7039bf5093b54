"""Fisher information for EWC (Kirkpatrick et al., "Overcoming catastrophic
forgetting in neural networks", PNAS 2017).

The diagonal empirical Fisher of a model on ``(x, y)``: the mean of squared
loss gradients over batches (``batch_size=1`` gives the per-example
estimate of the paper), computed by the core (see
:meth:`tlearn.Model.estimate_fisher`).
"""
from __future__ import annotations

from typing import Dict

import numpy as np


def estimate_fisher(model, x, y, batch_size: int = 1, loss=None) -> Dict[str, np.ndarray]:
    """The diagonal empirical Fisher of ``model`` on ``(x, y)``, by parameter
    name.  ``model`` is left as it was (its Fisher arena included): the
    estimate is made on a copy with every parameter trainable, with ``loss``
    (default: the compiled losses, or ``"softmax_ce"``).  To fill a model's
    own Fisher arena, call :meth:`tlearn.Model.estimate_fisher`."""
    from ._base import check_model

    return check_model("estimate_fisher", "model", model).clone().estimate_fisher(x, y, batch_size, loss)
