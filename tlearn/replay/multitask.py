"""Replay: multitask learning (lecture: "Multitask learning"; Huang et al.,
"Cross-language knowledge transfer using multilingual deep neural network
with shared hidden layers", ICASSP 2013).

The lecture's claim: with hidden layers shared with other languages,
Mandarin reaches with about 50 hours of its own data what it reaches alone
with about 100 (the figure of Huang et al.): the shared layers are worth
half of the target's data.  Here the target is starved the same way and the
question is the same: how many target examples does the multitask model
need to match the single-task model trained on N?

The pairing (per seed): Fashion-MNIST's ten classes are split at random
into a **target task** of five classes and an **auxiliary task** of the five
others (``datasets.class_split``, the finetune section's split).  Like the
languages of Huang et al. the two tasks read the same kind of input (28x28
greyscale photographs of clothing, as every language is speech) and have
their own label sets (their own softmax layers); the auxiliary task keeps
all its training data, as the European languages kept theirs.  The split is
drawn per seed rather than chosen, so the result does not rest on one
hand-picked pair of class groups and no auxiliary label names a target
class (no target label leaks through the auxiliary task).

The target is starved to 1, 2, 5, 10 and 25% of its training images (the
same fraction of every class; the smaller sets are subsets of the larger
ones within a seed).  Three models share the architecture of the target's
path (784-256-128-5 MLP, ReLU):

* ``single-task``: the target alone (``MultiTask`` with one task);
* ``multitask (shared trunk)``: the target and the auxiliary task share
  both hidden layers (the left-hand figure), one head each;
* ``multitask (input branches)``: the lecture's right-hand figure -- the
  target's images go through their own first layer (784-256), the 8x8
  UCI digits (all 1,797, ten classes) through theirs (64-256), and both
  into one shared middle layer (256-128) before their heads.  The pairing:
  different input features for the two tasks, as the right-hand figure
  draws; what can be shared is only the middle.

Every model trains for the same number of SGD steps with the same number of
target examples per step (32; a multitask step adds 32 auxiliary ones), with
momentum 0.9 and a cosine-decayed learning rate, and is scored on the
target's test images of the five classes: no model or step is chosen on test
labels.  The multitask models are also trained at N/2 for every N (0.5,
2.5, 12.5%), so that "N/2 against N" is measured, not interpolated.

Data-equivalence ratio: per seed and per single-task size N, the smallest
target-set size n at which the multitask learning curve (linear in
accuracy between measured sizes on the log-size axis) reaches the
single-task accuracy at N, divided by N.  The lecture's figure gives 0.5;
1 means no gain.  When the multitask model already matches at its smallest
size, the ratio is at most that size / N (recorded as that bound); when it
never does, at least the largest size / N.
"""
from __future__ import annotations

import math

import numpy as np

from .. import datasets, layers as L
from ..transfer import MultiTask
from ._data import fashion_for
from ._section import HOLDS, Claim, Sel, Unit, derive_seed, verdict

TITLE = "Multitask learning: how much target data is a shared trunk worth?"
SCALES = {
    "quick": {"seeds": 2, "fractions": (0.02, 0.10), "steps": 300, "lr": 0.02},
    "full": {"seeds": 5, "fractions": (0.01, 0.02, 0.05, 0.10, 0.25), "steps": 800, "lr": 0.02},
    # the full Fashion-MNIST (30,000 target training images: 1% is 300), twice the seeds, more steps
    "paper": {"seeds": 10, "fractions": (0.01, 0.02, 0.05, 0.10, 0.25), "steps": 1500, "lr": 0.02, "data": "full"},
}
ST, MT, BR = "single-task", "multitask (shared trunk)", "multitask (input branches)"
METHODS = (ST, MT, BR)
MULTI = (MT, BR)
HIDDEN = (256, 128)
BATCH = 32               # target rows per step for every model
TOLERANCE = 0.005        # "matches": at most half a point below


def pct(f: float) -> str:
    """The setting name of a fraction: ``0.025 -> "2.5%"``."""
    return f"{100 * f:g}%"


def sizes(s):
    """``(single-task fractions, multitask fractions)``: the latter add N/2 for every N."""
    fr = tuple(sorted(s["fractions"]))
    return fr, tuple(sorted(set(fr) | {f / 2 for f in fr}))


# ------------------------------------------------------------------ networks
def trunk(x):
    """784-256-128 with ReLU: both hidden layers (the shared-trunk model, and the single-task model)."""
    h = L.Flatten(name="flat")(x)
    for i, u in enumerate(HIDDEN, 1):
        h = L.ReLU(name=f"relu{i}")(L.Dense(u, name=f"fc{i}")(h))
    return h


def first_layer(x):
    """A task's input branch: its own first layer (input -> 256, ReLU)."""
    return L.ReLU()(L.Dense(HIDDEN[0])(L.Flatten()(x)))


def middle(h):
    """The shared middle of the input-branch model (256 -> 128, ReLU)."""
    return L.ReLU(name="relu2")(L.Dense(HIDDEN[1], name="fc2")(h))


BRANCHES = {"target": first_layer, "auxiliary": first_layer}


# ---------------------------------------------------------------------- data
class Data:
    """Fashion-MNIST (the shipped subset by default) and the UCI digits."""

    def __init__(self, fashion, digits):
        self.fashion = fashion
        self.x_digits, self.y_digits = digits

    def describe(self) -> dict:
        d = dict(self.fashion.describe())
        d["description"] = (f"{d['description']} (target: 5 classes, auxiliary: the other 5, split per seed); "
                            f"UCI digits, {len(self.y_digits)} 8x8 images (auxiliary task of the input-branch model)")
        d["digits"] = int(len(self.y_digits))
        return d


def load(s, data=None):
    # the shipped subset unless the full set is asked for (or the scale's "data"): "on shipped data", the same
    # on every machine
    fash = data.fashion if isinstance(data, Data) else fashion_for(s.get("data", "subset") if data is None else data)
    return Data(fash, datasets.load_digits())


def split(data: Data, index: int):
    """The seed's class split and its nested per-class order of target training images."""
    f = data.fashion
    sp = datasets.class_split(f.y_train, seed=derive_seed("multitask", index, "split"))
    spt = datasets.class_split(f.y_test, classes_a=sp.classes_a)
    rng = np.random.default_rng(derive_seed("multitask", index, "starve"))
    order = [rng.permutation(np.flatnonzero(sp.y_b == c)) for c in range(len(sp.classes_b))]
    return sp, spt, order


def starved(order, frac: float) -> np.ndarray:
    """The target rows kept at ``frac``: the first ``round(frac * n_c)`` (at least 1) of every class."""
    return np.sort(np.concatenate([o[:max(1, int(round(frac * len(o))))] for o in order]))


# ------------------------------------------------------------------- measure
def units(s):
    return [Unit(pct(f), f) for f in sizes(s)[1]]


def measure(data, unit, seed, s):
    frac = unit.args
    single, _ = sizes(s)
    f = data.fashion
    sp, spt, order = split(data, seed.index)
    keep = starved(order, frac)
    x, y = f.x_train[sp.idx_b][keep], sp.y_b[keep]
    xa, ya = f.x_train[sp.idx_a], sp.y_a
    xt, yt = f.x_test[spt.idx_b], spt.y_b
    kw = dict(steps=s["steps"], lr=s["lr"], lr_schedule="cosine", momentum=0.9)
    rows = [("target examples", unit.name, "n_target", float(len(y)))]
    if frac in single:
        r = MultiTask(trunk, batch_size=BATCH, seed=seed.derive("single"), **kw).fit(x, {"target": y})
        rows.append((ST, unit.name, "accuracy", r.score(xt, yt, task="target")))
    n, na = len(x), len(xa)
    both = np.concatenate([x, xa])
    labels = {"target": np.concatenate([y, np.full(na, -1)]), "auxiliary": np.concatenate([np.full(n, -1), ya])}
    r = MultiTask(trunk, batch_size=2 * BATCH, seed=seed.derive("shared"), **kw).fit(both, labels)
    rows.append((MT, unit.name, "accuracy", r.score(xt, yt, task="target")))
    rows.append((MT, unit.name, "aux_accuracy", r.score(f.x_test[spt.idx_a], spt.y_a, task="auxiliary")))
    r = MultiTask(middle, branches=BRANCHES, batch_size=2 * BATCH, seed=seed.derive("branches"), **kw).fit(
        {"target": x, "auxiliary": data.x_digits}, {"target": y, "auxiliary": data.y_digits})
    rows.append((BR, unit.name, "accuracy", r.score(xt, yt, task="target")))
    return rows


# --------------------------------------------------- data-equivalence ratio
def equivalent_size(sizes_mt, acc_mt, goal: float):
    """``(n, censored)``: the smallest size at which the piecewise-linear
    curve (accuracy against log size) reaches ``goal``; ``censored`` is -1
    when the curve starts above it (n is then the smallest size, an upper
    bound), +1 when it never reaches it (the largest size, a lower bound)."""
    ls = np.log(np.asarray(sizes_mt, dtype=np.float64))
    a = np.asarray(acc_mt, dtype=np.float64)
    if a[0] >= goal:
        return float(sizes_mt[0]), -1
    for k in range(1, len(a)):
        if a[k] >= goal:
            t = (goal - a[k - 1]) / (a[k] - a[k - 1])
            return float(math.exp(ls[k - 1] + t * (ls[k] - ls[k - 1]))), 0
    return float(sizes_mt[-1]), 1


def derive(res, s):
    single, multi = sizes(s)
    n_of = {f: res.values("target examples", pct(f), "n_target") for f in multi}
    for i, seed in enumerate(res.seeds):
        for m in MULTI:
            n_mt = [n_of[f][i] for f in multi]
            a_mt = [res.values(m, pct(f), "accuracy")[i] for f in multi]
            for f in single:
                goal = res.values(ST, pct(f), "accuracy")[i]
                n, cens = equivalent_size(n_mt, a_mt, goal)
                yield m, pct(f), seed, "data_ratio", n / n_of[f][i]
                yield m, pct(f), seed, "ratio_censored", float(cens)
                yield m, pct(f), seed, "gain", res.values(m, pct(f), "accuracy")[i] - goal
                yield m, pct(f), seed, "half_gap", res.values(m, pct(f / 2), "accuracy")[i] - goal


# -------------------------------------------------------------------- claims
def _half(m, f):
    return Claim(f"half_data_{'trunk' if m == MT else 'branches'}_{pct(f)}",
                 f"{m} with N/2 = {pct(f / 2)} of the target data matches single-task with N = {pct(f)} "
                 f"(at most {100 * TOLERANCE:g} point below)",
                 "Huang et al. 2013 (lecture): ~50 h with shared layers = ~100 h alone",
                 a=Sel(m, pct(f / 2), "accuracy"), b=Sel(ST, pct(f), "accuracy"), threshold=-TOLERANCE,
                 why_not=("the five auxiliary classes share the kind of input but no label with the target: what they "
                          "teach an MLP on pixels is worth less than half the target's own images (Huang et al.'s "
                          "languages share phonetic units)" if m == MT else
                          "only the middle layer is shared, with an unrelated task (8x8 digits): the target's own "
                          "first layer learns as it would alone"))


def _gain(m, f):
    return Claim(f"gain_{'trunk' if m == MT else 'branches'}_{pct(f)}",
                 f"{m} beats single-task at the same N = {pct(f)}",
                 "Huang et al. 2013 (shared layers help every language)",
                 a=Sel(m, pct(f), "accuracy"), b=Sel(ST, pct(f), "accuracy"), threshold=0.0,
                 why_not="no gain beyond the standard error at this size: the auxiliary task neither helps nor hurts "
                         "the target by more than the seeds vary")


def claims(s):
    single, _ = sizes(s)
    return [_half(m, f) for m in MULTI for f in single] + [_gain(m, f) for m in MULTI for f in single]


# -------------------------------------------------------------- tables, figures
def tables(res, s):
    single, multi = sizes(s)
    nt = {pct(f): int(res.values("target examples", pct(f), "n_target")[0]) for f in multi}
    ex = ", ".join(f"{k}: {v}" for k, v in nt.items())
    cens = {m: {pct(f): res.values(m, pct(f), "ratio_censored") for f in single} for m in MULTI}
    bounds = []
    for m in MULTI:
        for k, v in cens[m].items():
            lo, hi = int((v < 0).sum()), int((v > 0).sum())
            if lo or hi:
                bounds.append(f"{m} at {k}: {lo} seed(s) at most (already matched at the smallest size), "
                              f"{hi} at least (never matched)")
    where = []
    for m in MULTI:
        helps = [pct(f) for f in single if verdict(res.values(m, pct(f), "gain"))[0] == HOLDS]
        rest = [pct(f) for f in single if pct(f) not in helps]
        where.append(f"{m} is ahead by more than its standard error at " + (", ".join(helps) if helps else "no size")
                     + (f" and not at {', '.join(rest)}" if helps and rest else ""))
    return {
        "target accuracy": (res.by_setting("accuracy", METHODS),
                            "Test accuracy on the five target classes (fraction), by the share of the target's "
                            f"training images kept (target examples: {ex})."),
        "data-equivalence ratio": (res.by_setting("data_ratio", MULTI),
                                   "Target examples the multitask model needs to match the single-task model at N, "
                                   "divided by N (1: no gain; the lecture: 0.5). "
                                   + ("Bounds: " + "; ".join(bounds) + "." if bounds else "No bound: every ratio "
                                      "was interpolated between measured sizes.")),
        "gain over single-task": (res.by_setting("gain", MULTI),
                                  "Per seed, multitask accuracy minus single-task accuracy at the same N (fraction; "
                                  "mean ± std over seeds). Where it helps: " + "; ".join(where) + "."),
        "multitask at N/2 minus single-task at N": (res.by_setting("half_gap", MULTI),
                                                    "The lecture's goal is >= 0 (fraction, mean ± std over seeds)."),
        "auxiliary accuracy": (res.by_setting("aux_accuracy", (MT,)),
                               "Test accuracy of the shared-trunk model on the auxiliary task (fraction)."),
    }


def figures(res, s):
    return {"accuracy_vs_size": lambda plt: _plot_accuracy(plt, res, s),
            "data_equivalence": lambda plt: _plot_ratio(plt, res, s)}


_STYLE = {ST: ("tab:gray", "o"), MT: ("tab:blue", "s"), BR: ("tab:orange", "^")}


def _plot_accuracy(plt, res, s):
    single, multi = sizes(s)
    plt.gcf().set_size_inches(8.0, 4.4)   # wide enough that the close ticks (3000 and 3750 images) stay apart
    n = {f: res.values("target examples", pct(f), "n_target").mean() for f in multi}
    for k, m in enumerate((MT, BR, ST)):  # single-task last, on top; each method nudged sideways to stay visible
        fr = single if m == ST else multi
        v = [res.values(m, pct(f), "accuracy") for f in fr]
        c, mk = _STYLE[m]
        shift = {MT: 0.96, BR: 1.04, ST: 1.0}[m]
        plt.errorbar([n[f] * shift for f in fr], [x.mean() for x in v],
                     yerr=[x.std(ddof=1) if len(x) > 1 else 0.0 for x in v], color=c, marker=mk, capsize=3,
                     ls="--" if m == ST else "-", mfc="white" if m == ST else c, zorder=3 if m == ST else 2, label=m)
    plt.xscale("log")
    ticks = [n[f] for f in multi]
    plt.xticks(ticks, [f"{int(t)}\n{pct(f)}" for t, f in zip(ticks, multi)], fontsize=7)
    plt.minorticks_off()
    plt.xlabel("target training images (count and share of the target's training set; log scale)")
    plt.ylabel("target test accuracy (fraction)")
    plt.title("Starved target: single-task vs multitask\n(mean ± std over seeds; each seed draws its own class split)", fontsize=9)
    handles, labels = plt.gca().get_legend_handles_labels()
    order = [labels.index(m) for m in METHODS]
    plt.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8)


def _plot_ratio(plt, res, s):
    single, _ = sizes(s)
    n = [res.values("target examples", pct(f), "n_target").mean() for f in single]
    for k, m in enumerate(MULTI):
        c, mk = _STYLE[m]
        r = np.array([res.values(m, pct(f), "data_ratio") for f in single])       # (sizes, seeds)
        cen = np.array([res.values(m, pct(f), "ratio_censored") for f in single])
        shift = 1.0 + 0.04 * (k - 0.5)
        plt.plot([x * shift for x in n], np.exp(np.log(r).mean(axis=1)), color=c, marker=mk,
                 label=f"{m} (geometric mean over seeds)")
        for sign, mark, what in ((0, ".", "seed, interpolated"), (-1, "v", "seed, at most (matched at the smallest size)"),
                                 (1, "^", "seed, at least (never matched)")):
            xs = [n[i] * shift for i in range(len(n)) for j in range(r.shape[1]) if cen[i, j] == sign]
            ys = [r[i, j] for i in range(len(n)) for j in range(r.shape[1]) if cen[i, j] == sign]
            if xs:
                plt.scatter(xs, ys, color=c, marker=mark, s=18, alpha=0.6, label=f"{m}: {what}")
    plt.axhline(1.0, color="black", lw=0.8, ls="--", label="1: no gain")
    plt.axhline(0.5, color="tab:green", lw=0.8, ls=":", label="0.5: the lecture (Huang et al. 2013)")
    plt.xscale("log")
    plt.yscale("log")
    plt.xticks(n, [f"{int(t)}\n{pct(f)}" for t, f in zip(n, single)], fontsize=7)
    yt = [0.25, 0.5, 1.0, 2.0]
    plt.yticks(yt, [f"{v:g}" for v in yt])
    plt.minorticks_off()
    plt.xlabel("single-task target set N (images and share; log scale)")
    plt.ylabel("multitask images needed / N (log scale)")
    plt.title("Data-equivalence ratio", fontsize=9)
    plt.legend(fontsize=6)

