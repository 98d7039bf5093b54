"""Replay: layer transfer (lecture: "Layer transfer"; Yosinski et al. 2014).

Part 1, the Yosinski protocol on Fashion-MNIST: the ten classes are split
at random (per seed) into halves A and B; an MLP 784-128-128-64-5 has L = 4
parametric layers; for n = 1 .. 3 the curves BnB, BnB+, AnB, AnB+ and the
random-frozen control give the test accuracy on B, beside baseB.

Part 2, the lecture's speech-versus-image point: which layers to copy
depends on what changed.  A source network (all ten classes) is transferred
to a target with few labels (100 per class), either with the *input*
changed and the task kept (the images inverted, the same ten classes) or
with the *task* changed and the input kept (source: classes A, target:
classes B).  The first n or the last n layers of the body are copied and
frozen, the others and a new head trained.
"""
from __future__ import annotations

import numpy as np

from .. import datasets, layers as L, optim
from ..layers import Input
from ..model import Model
from ..transfer import copy_layers, first_n, freeze, last_n, yosinski
from ._data import fashion
from ._report import Progress, Report, fmt, mean_std, summarize

HIDDEN = (128, 128, 64)


def network(n_classes: int, seed: int) -> Model:
    x = Input((1, 28, 28), name="x")
    h = L.Flatten(name="flat")(x)
    for i, u in enumerate(HIDDEN, 1):
        h = L.ReLU(name=f"relu{i}")(L.Dense(u, name=f"fc{i}")(h))
    return Model(x, L.Dense(n_classes, name="head")(h), seed=seed)


def _trainer(epochs: int):
    # SGD with momentum 0.9 and learning rate 0.01: the (Caffe ImageNet) settings of Yosinski et al. 2014
    def train(m, x, y):
        m.compile(optim.SGD(0.01, momentum=0.9), loss="softmax_ce")
        m.fit(x, y, epochs=epochs, batch_size=64, verbose=False)
    return train


def run(quick=False, seeds=None, data=None, progress=None) -> Report:
    n_seeds = seeds or (1 if quick else 3)
    epochs = 2 if quick else 4
    per_class = 300 if quick else 1200
    shots = 100
    data = data or fashion(per_class_train=per_class, per_class_test=200)
    report = Report("layers", "Layer transfer: which layers transfer, and which to copy", data.describe(),
                    range(n_seeds), quick)
    n_body = len(HIDDEN)
    ns = list(range(1, n_body + 1))
    report.data.update(network=f"784-{'-'.join(map(str, HIDDEN))}-head MLP (L = {n_body + 1})", epochs=epochs,
                       shift_target_examples_per_class=shots)
    prog = Progress("layers", n_seeds * (2 + 5 * len(ns) + 1 + 2 * 2 * (n_body - 1) + 1), progress)
    train = _trainer(epochs)
    curves, base_b = {}, []
    shift = {}
    for seed in range(n_seeds):
        sp = datasets.class_split(data.y_train, seed=seed)
        spt = datasets.class_split(data.y_test, classes_a=sp.classes_a)
        task_a = (data.x_train[sp.idx_a], sp.y_a)
        task_b = (data.x_train[sp.idx_b], sp.y_b)
        test_b = (data.x_test[spt.idx_b], spt.y_b)
        res = yosinski(lambda s: network(5, s), train, task_a, task_b, test_b, seed=seed * 100, ns=ns,
                       progress=lambda what, v=None: prog(what + ": accuracy on B", v))
        prog.i += 1  # baseA is trained inside the protocol without a line of its own
        base_b.append(res["baseB"])
        for v in ("BnB", "BnB+", "AnB", "AnB+", "random"):
            for n in ns:
                curves.setdefault(v, {}).setdefault(f"n={n}", []).append(res[v][n])
        _shifts(data, sp, spt, seed, shots, train, shift, prog)
    rows = summarize(curves)
    rows.append({"method": "baseB", **{f"n={n}": dict(mean_std(base_b), values=base_b) for n in ns}})
    report.add_table("Yosinski curves", rows, "Test accuracy on task B; the first n layers copied (or random) and "
                                              "frozen (+: fine-tuned).")
    report.add_table("input shift vs task shift", summarize(shift),
                     f"Target accuracy with {shots} labelled examples per class; body layers copied from the source "
                     "and frozen, the other body layers and a new head trained.")
    _claims(report, curves, base_b, shift, ns, n_body)
    report.figure("yosinski", lambda plt: _plot_curves(plt, curves, base_b, ns))
    report.figure("first_vs_last", lambda plt: _plot_shift(plt, shift, n_body))
    return report.finish()


def _shifts(data, sp, spt, seed, shots, train, shift, prog):
    """First n vs last n body layers copied, on an input shift and a task shift."""
    n_body = len(HIDDEN)
    # input shift: same 10 classes, inverted images
    src10 = network(10, seed * 100 + 50)
    train(src10, data.x_train, data.y_train)
    xk, yk, _, _ = datasets.few_shot(datasets.invert(data.x_train, max_value=1.0), data.y_train, shots, seed=seed)
    inv_test = (datasets.invert(data.x_test, max_value=1.0), data.y_test)
    prog(f"seed {seed} source network for the input shift (10 classes)", src10.score(data.x_test, data.y_test))
    # task shift: source A (5 classes), target B with few labels
    srcA = network(5, seed * 100 + 60)
    train(srcA, data.x_train[sp.idx_a], sp.y_a)
    xb, yb, _, _ = datasets.few_shot(data.x_train[sp.idx_b], sp.y_b, shots, seed=seed)
    test_b = (data.x_test[spt.idx_b], spt.y_b)
    prog(f"seed {seed} source network for the task shift (classes A)", srcA.score(data.x_test[spt.idx_a], spt.y_a))
    for shift_name, src, n_cls, (x, y), test in (("input shift (inverted images, same classes)", src10, 10, (xk, yk), inv_test),
                                              ("task shift (classes A -> B, same images)", srcA, 5, (xb, yb), test_b)):
        for n in range(1, n_body):
            for which, sel in (("first", first_n), ("last", last_n)):
                m = network(n_cls, seed * 100 + 70 + n)
                layers = sel(m, n, exclude=["head"])
                copy_layers(src, m, layers)
                freeze(m, layers)
                train(m, x, y)
                a = m.score(*test)
                shift.setdefault(f"{shift_name}: copy {which} n", {}).setdefault(f"n={n}", []).append(a)
                prog(f"seed {seed} {shift_name}, copy the {which} {n}", a)


def _diffs(a, b):
    return mean_std(np.asarray(a) - np.asarray(b))


def _claims(report, curves, base_b, shift, ns, n_body):
    top = f"n={ns[-1]}"
    d = _diffs(curves["AnB"][top], curves["BnB"][top])
    report.claim(f"Features of the top layers are specific: AnB falls below BnB at n = {ns[-1]}",
                 "Yosinski et al. 2014, Fig. 2: AnB drops at n = 6-7 (ImageNet, 8 layers)",
                 f"AnB {fmt(mean_std(curves['AnB'][top]))} vs BnB {fmt(mean_std(curves['BnB'][top]))}; "
                 f"difference {fmt(d)}", d["mean"] < 0.0, key="anb_below_bnb_top", diff=d)
    worst = min(ns, key=lambda n: _diffs(curves["AnB+"][f"n={n}"], base_b)["mean"])
    d = _diffs(curves["AnB+"][f"n={worst}"], base_b)
    report.claim("Transfer plus fine-tuning does not hurt: AnB+ >= baseB at every n",
                 "Yosinski et al. 2014, Fig. 2: AnB+ above baseB at every n (by about 1-2 points)",
                 f"smallest AnB+ minus baseB (n = {worst}): {fmt(d)}", d["mean"] >= 0.0, key="anbplus_ge_baseb", diff=d)
    n2 = [n for n in ns if n >= 2]
    best = max(n2, key=lambda n: mean_std(curves["random"][f"n={n}"])["mean"])
    d = _diffs(curves["random"][f"n={best}"], base_b)
    report.claim("Random frozen lower layers collapse for n >= 2 (at least 10 points below baseB)",
                 "Yosinski et al. 2014, Fig. 4: random filters fall to near chance from n = 2-3",
                 f"best random-frozen minus baseB over n >= 2 (n = {best}): {fmt(d)}", d["mean"] <= -0.10,
                 key="random_collapses", diff=d)
    for shift_name, want in (("input shift (inverted images, same classes)", "last"),
                             ("task shift (classes A -> B, same images)", "first")):
        other = "first" if want == "last" else "last"
        worst = None
        for n in range(1, n_body):
            dd = _diffs(shift[f"{shift_name}: copy {want} n"][f"n={n}"], shift[f"{shift_name}: copy {other} n"][f"n={n}"])
            if worst is None or dd["mean"] < worst[1]["mean"]:
                worst = (n, dd)
        report.claim(f"On an {shift_name.split(' (')[0]}, copying the {want} n layers beats copying the {other} n "
                     f"(every n = 1..{n_body - 1})",
                     "lecture: speech copies the last layers, images the first ones",
                     f"smallest {want} minus {other} (n = {worst[0]}): {fmt(worst[1])}", worst[1]["mean"] > 0.0,
                     key=f"{shift_name.split()[0]}_shift_{want}", diff=worst[1])


def _plot_curves(plt, curves, base_b, ns):
    for v, style in (("BnB", "o-"), ("BnB+", "o--"), ("AnB", "s-"), ("AnB+", "s--"), ("random", "x:")):
        m = [mean_std(curves[v][f"n={n}"])["mean"] for n in ns]
        s = [mean_std(curves[v][f"n={n}"])["std"] for n in ns]
        plt.errorbar(ns, m, yerr=s, fmt=style, capsize=3, label=v)
    plt.axhline(mean_std(base_b)["mean"], color="k", lw=1, label="baseB")
    plt.xticks(ns)
    plt.xlabel("layers copied from the base network (n)")
    plt.ylabel("test accuracy on task B")
    plt.title("Yosinski et al. 2014 on Fashion-MNIST halves")
    plt.legend(fontsize=8)


def _plot_shift(plt, shift, n_body):
    ns = list(range(1, n_body))
    for key, cols in shift.items():
        m = [mean_std(cols[f"n={n}"])["mean"] for n in ns]
        s = [mean_std(cols[f"n={n}"])["std"] for n in ns]
        plt.errorbar(ns, m, yerr=s, marker="o", capsize=3, label=key, ls="-" if "first" in key else "--")
    plt.xticks(ns)
    plt.xlabel("body layers copied and frozen (n)")
    plt.ylabel("target test accuracy")
    plt.title("Copy the first n or the last n layers?")
    plt.legend(fontsize=7)
