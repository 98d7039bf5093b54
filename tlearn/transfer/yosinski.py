"""The layer-transfer protocol of Yosinski, Clune, Bengio & Lipson, "How
transferable are features in deep neural networks?" (NIPS 2014), section 2:
two tasks A and B (halves of the classes), base networks baseA and baseB,
and for each n = 1 .. L-1 (L parametric layers, the head included):

* ``BnB``: the first n layers copied from baseB and frozen, the rest
  re-initialised and trained on B (the "selffer" network);
* ``BnB+``: the same, every layer fine-tuned;
* ``AnB``: the first n layers copied from baseA and frozen, the rest trained on B;
* ``AnB+``: the same, every layer fine-tuned;
* ``random``: the first n layers left random and frozen (their control of
  section 4.3 / Figure 3).

Networks are built by ``build(seed)`` (a :class:`tlearn.Model` with
parametric layers named the same for every seed) and trained by
``train(model, x, y)``.  The core does the training; this module only
copies, freezes and re-initialises.
"""
from __future__ import annotations

from typing import Callable, Dict, Sequence

from ..model import Model
from .layers import copy_layers, first_n, freeze, parametric_layers

VARIANTS = ("BnB", "BnB+", "AnB", "AnB+", "random")


def transferred(build: Callable[[int], Model], base: Model, layers: Sequence[str], frozen: bool, seed: int,
                copy: bool = True) -> Model:
    """A new network from ``build(seed)`` with ``layers`` copied from ``base``
    (when ``copy``) and frozen (when ``frozen``); its other layers keep their
    fresh initialisation."""
    m = build(seed)
    if copy:
        copy_layers(base, m, layers)
    if frozen:
        freeze(m, layers)
    return m


def yosinski(build: Callable[[int], Model], train: Callable, task_a, task_b, test_b, seed: int = 0,
             ns: Sequence[int] = None, variants: Sequence[str] = VARIANTS, progress=None) -> Dict:
    """Run the protocol for one seed.  ``task_a``, ``task_b``: ``(x, y)``
    training sets of A and B (both with the same number of classes, so the
    networks have the same shapes); ``test_b``: ``(x, y)``.  Returns
    ``{"baseB": acc, variant: {n: acc}}``
    with every accuracy on ``test_b``."""
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f"unknown variant {v!r}; expected some of {VARIANTS}")
    say = progress or (lambda what, value=None: None)
    base_a = build(seed)
    train(base_a, *task_a)
    base_b = build(seed + 1)
    train(base_b, *task_b)
    out = {"baseB": base_b.score(*test_b)}
    say(f"seed {seed} baseB", out["baseB"])
    n_layers = len(parametric_layers(base_a))
    ns = list(range(1, n_layers)) if ns is None else list(ns)
    plan = {"BnB": (base_b, True, True), "BnB+": (base_b, False, True), "AnB": (base_a, True, True),
            "AnB+": (base_a, False, True), "random": (None, True, False)}
    for n in ns:
        layers = first_n(base_a, n)
        for v in variants:
            base, frozen, copy = plan[v]
            m = transferred(build, base, layers, frozen, seed=seed + 2 + n, copy=copy)
            train(m, *task_b)
            out.setdefault(v, {})[n] = m.score(*test_b)
            say(f"seed {seed} {v} n={n}", out[v][n])
    return out
