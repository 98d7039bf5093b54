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

from typing import Callable, Dict, Optional, Sequence

from ..model import Model
from ._base import Recipe, check_int, check_model
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


class Yosinski(Recipe):
    """The protocol of Yosinski et al. 2014 for one seed, as a recipe.

    Parameters
    ----------
    build : callable seed -> Model
        A fresh network (parametric layers named the same for every seed).
    train : callable (model, x, y) -> None
        Compiles and trains a network (through :meth:`tlearn.Model.fit`).
    ns : sequence of int, optional
        The numbers of copied layers; default ``1 .. L-1`` (``L``
        parametric layers, the head included).
    variants : sequence of str
        Some of ``VARIANTS``.
    seed : int
        ``build(seed)`` is baseA, ``build(seed + 1)`` baseB and
        ``build(seed + 2 + n)`` the networks with ``n`` layers transferred.

    ``fit(X_a, y_a, X_b, y_b)`` trains baseA, baseB and every variant for
    every ``n``; ``score(X, y)`` (on task B) gives ``{"baseB": acc,
    variant: {n: acc}}``.

    Attributes
    ----------
    base_a_, base_b_ : Model
    networks_ : dict variant -> {n: Model}
    ns_ : list of int
    """

    def __init__(self, build: Callable[[int], Model], train: Callable, ns: Optional[Sequence[int]] = None,
                 variants: Sequence[str] = VARIANTS, seed: int = 0):
        self.build = build
        self.train = train
        self.ns = ns
        self.variants = variants
        self.seed = seed

    def fit(self, X_a, y_a, X_b, y_b, progress=None) -> "Yosinski":
        """Train the networks on task A ``(X_a, y_a)`` and task B ``(X_b, y_b)``;
        ``progress(what)`` is called after each network.  Returns ``self``."""
        return super().fit(X_a, y_a, X_b, y_b, progress)

    def _fit(self, X_a, y_a, X_b, y_b, progress=None) -> dict:
        me = "Yosinski"
        for nm in ("build", "train"):
            if not callable(getattr(self, nm)):
                raise TypeError(f"{me}: {nm} must be callable, got {type(getattr(self, nm)).__name__}")
        for v in self.variants:
            if v not in VARIANTS:
                raise ValueError(f"{me}: unknown variant {v!r}; expected some of {VARIANTS}")
        seed = check_int(me, "seed", self.seed, 0)
        say = progress or (lambda what: None)
        base_a = self.build(seed)
        check_model(me, "build(seed)", base_a)
        self.train(base_a, X_a, y_a)
        say("baseA")
        base_b = self.build(seed + 1)
        self.train(base_b, X_b, y_b)
        say("baseB")
        n_layers = len(parametric_layers(base_a))
        ns = list(range(1, n_layers)) if self.ns is None else [check_int(me, "ns[i]", n, 0, n_layers)
                                                                 for n in self.ns]
        plan = {"BnB": (base_b, True, True), "BnB+": (base_b, False, True), "AnB": (base_a, True, True),
                "AnB+": (base_a, False, True), "random": (None, True, False)}
        nets: Dict[str, Dict[int, Model]] = {}
        for n in ns:
            layers = first_n(base_a, n)
            for v in self.variants:
                base, frozen, copy = plan[v]
                m = transferred(self.build, base, layers, frozen, seed=seed + 2 + n, copy=copy)
                self.train(m, X_b, y_b)
                nets.setdefault(v, {})[n] = m
                say(f"{v} n={n}")
        return {"base_a_": base_a, "base_b_": base_b, "networks_": nets, "ns_": ns}

    def score(self, X, y) -> Dict:
        """Accuracies on task B: ``{"baseB": acc, variant: {n: acc}}``."""
        self._check_is_fitted("score")
        out = {"baseB": self.base_b_.score(X, y)}
        for v, by_n in self.networks_.items():
            out[v] = {n: m.score(X, y) for n, m in by_n.items()}
        return out


def yosinski(build: Callable[[int], Model], train: Callable, task_a, task_b, test_b, seed: int = 0,
             ns: Sequence[int] = None, variants: Sequence[str] = VARIANTS, progress=None) -> Dict:
    """Run the protocol for one seed (:class:`Yosinski`).  ``task_a``,
    ``task_b``: ``(x, y)`` training sets of A and B (both with the same number
    of classes, so the networks have the same shapes); ``test_b``: ``(x, y)``.
    Returns ``{"baseB": acc, variant: {n: acc}}`` with every accuracy on
    ``test_b``; ``progress(what, value)`` is called after each network."""
    say = progress or (lambda what, value=None: None)
    r = Yosinski(build, train, ns=ns, variants=variants, seed=seed).fit(*task_a, *task_b)
    out = r.score(*test_b)
    say(f"seed {seed} baseB", out["baseB"])
    for n in r.ns_:
        for v in variants:
            say(f"seed {seed} {v} n={n}", out[v][n])
    return out
