"""Replay: fine-tuning, one-/few-shot learning and conservative training
(lecture: "Model fine-tuning", "Conservative training").

Fashion-MNIST's ten classes are split at random (per seed) into a source
task A of five classes and a target task B of the five others.  A source
network (784-128-64 MLP + head) learns A; the target network learns B from
k labelled examples per class, k in {1, 5, 10, 50}, by: training from
scratch, fine-tuning all layers, fine-tuning the new head only, L2-SP, EWC
(Fisher on source data) and output consistency (LwF, the source head kept).
Every method trains for the same number of SGD steps.  The source head is
kept in every transferred model, so the table of retention measures how
much of task A each method keeps.

Seeds: seed number ``i`` uses ``i`` itself for its class split, source
network, few-shot draw and recipes (the numbers of the replay before the
shared machinery); one unit of work per k retrains the seed's source network
(the same network for every k).
"""
from __future__ import annotations

import numpy as np

from .. import datasets, layers as L, optim
from ..transfer import FineTune, estimate_fisher, source_network
from ._data import fashion_for
from ._report import fmt, mean_std
from ._section import Claim, Sel, Unit

TITLE = "Fine-tuning, few-shot learning and conservative training"
SCALES = {
    "quick": {"seeds": 2, "ks": (1, 10), "source_epochs": 2, "target_steps": 40, "per_class_train": 600,
              "per_class_test": 200},
    "full": {"seeds": 5, "ks": (1, 5, 10, 50), "source_epochs": 3, "target_steps": 60, "per_class_train": 1200,
             "per_class_test": 200},
}
HIDDEN = (128, 64)
METHODS = ("scratch", "fine-tune all", "fine-tune head only", "L2-SP", "EWC", "output consistency (LwF)")
TRANSFERRED = METHODS[1:]
ABOUT = {"source_classes": 5, "target_classes": 5, "network": f"784-{'-'.join(map(str, HIDDEN))}-5 MLP"}


def features(x):
    h = L.Flatten(name="flat")(x)
    for i, u in enumerate(HIDDEN, 1):
        h = L.ReLU(name=f"relu{i}")(L.Dense(u, name=f"fc{i}")(h))
    return h


def _methods(src, fisher):
    return {
        "scratch": dict(source=None),
        "fine-tune all": dict(source=src),
        "fine-tune head only": dict(source=src, train="head"),
        "L2-SP": dict(source=src, l2sp=0.1),
        "EWC": dict(source=src, ewc=100.0, fisher=fisher),
        "output consistency (LwF)": dict(source=src, lwf=1.0),
    }


def load(s, data=None):
    return fashion_for(data, per_class_train=s["per_class_train"], per_class_test=s["per_class_test"])


def units(s):
    return [Unit(f"k={k}", k) for k in s["ks"]]


def measure(data, unit, seed, s):
    i = seed.index
    k = unit.args
    sp = datasets.class_split(data.y_train, seed=i)
    spt = datasets.class_split(data.y_test, classes_a=sp.classes_a)
    xa, ya, xat, yat = data.x_train[sp.idx_a], sp.y_a, data.x_test[spt.idx_a], spt.y_a
    xb, yb, xbt, ybt = data.x_train[sp.idx_b], sp.y_b, data.x_test[spt.idx_b], spt.y_b
    src = source_network(features, xa.shape[1:], 5, seed=i)
    src.compile(optim.SGD(0.05, momentum=0.9), loss="softmax_ce")
    src.fit(xa, ya, epochs=s["source_epochs"], batch_size=64, verbose=False)
    rows = []
    if k == s["ks"][0]:
        rows.append(("source network", "", "source_acc", src.score(xat, yat)))
    fisher = estimate_fisher(src, xa[:500], ya[:500])
    xk, yk, _, _ = datasets.few_shot(xb, yb, k, seed=i)
    for name, kw in _methods(src, fisher).items():
        r = FineTune(features, n_classes=5, steps=s["target_steps"], batch_size=16, seed=i, **kw).fit(xk, yk)
        rows.append((name, unit.name, "target_acc", r.score(xbt, ybt)))
        if kw["source"] is not None:
            rows.append((name, unit.name, "source_acc", r.score_source(xat, yat)))
    return rows


def tables(res, s):
    src = res.values("source network", "", "source_acc")
    return {
        "target accuracy": (res.by_setting("target_acc", METHODS),
                            "Test accuracy on the five target classes (fraction), k labelled examples per class."),
        "source accuracy retained": (res.by_setting("source_acc", TRANSFERRED),
                                     "Accuracy on the source test set (fraction) through the kept source head; the "
                                     f"source network itself: {fmt(mean_std(src))}."),
    }


def _gain_shrinks(s):
    k1, kl = f"k={s['ks'][0]}", f"k={s['ks'][-1]}"

    def paired(res, s):
        def gain(k):
            return res.values("fine-tune all", k, "target_acc") - res.values("scratch", k, "target_acc")
        return gain(k1) - gain(kl)
    return paired


_RETAIN = {"L2-SP": ("retains_l2-sp", "Li et al. 2018 (motivation: stay near the source solution; no old-task number)"),
           "EWC": ("retains_ewc", "Kirkpatrick et al. 2017 (old tasks kept while learning new ones)"),
           "output consistency (LwF)": ("retains_output",
                                        "Li & Hoiem 2016 (old-task accuracy kept close to the original)")}
_CONSERVATIVE = {
    "L2-SP": ("conservative_l2-sp_k1", "Li et al. 2018 (L2-SP above fine-tuning on every target set)"),
    "EWC": ("conservative_ewc_k1", "Kirkpatrick et al. 2017 (no new-task accuracy against fine-tuning)"),
    "output consistency (LwF)": ("conservative_lwf_k1",
                                 "Li & Hoiem 2016 (LwF at or above fine-tuning on most new tasks)")}


def claims(s):
    ks = s["ks"]
    k1, kl = f"k={ks[0]}", f"k={ks[-1]}"
    out = [Claim("finetune_vs_scratch_k1",
                 f"With {ks[0]} labelled example(s) per class, fine-tuning a source network beats training from "
                 "scratch by at least 10 points", "lecture (no number at this scale)",
                 a=Sel("fine-tune all", k1, "target_acc"), b=Sel("scratch", k1, "target_acc"), threshold=0.10,
                 why_not="one few-shot draw per seed and a small MLP source: the difference varies more from seed "
                         "to seed than the 10 points asked")]
    for m, (key, paper) in _CONSERVATIVE.items():
        out.append(Claim(key, f"At k = {ks[0]}, {m} beats plain fine-tuning", paper,
                         a=Sel(m, k1, "target_acc"), b=Sel("fine-tune all", k1, "target_acc"),
                         why_not=f"{s['target_steps']} steps from the same source: the regulariser has little "
                                 "room to move the fine-tuned network"))
    out.append(Claim("gain_shrinks",
                     f"The gain of fine-tuning over scratch shrinks as target data grows (k = {ks[-1]} vs "
                     f"k = {ks[0]}; per seed: gain at k = {ks[0]} minus gain at k = {ks[-1]})", "lecture",
                     paired=_gain_shrinks(s),
                     why_not="with one few-shot draw per seed the gain at small k is noisy"))
    for m, (key, paper) in _RETAIN.items():
        out.append(Claim(key, f"{m} retains more of the source task than plain fine-tuning (k = {ks[-1]})", paper,
                         a=Sel(m, kl, "source_acc"), b=Sel("fine-tune all", kl, "source_acc"),
                         why_not="the penalty is too weak at this scale"))
    return out


def figures(res, s):
    return {"accuracy_vs_k": lambda plt: _plot(plt, res, s["ks"])}


def _plot(plt, res, ks):
    for name in METHODS:
        v = [res.values(name, f"k={k}", "target_acc") for k in ks]
        plt.errorbar(ks, [x.mean() for x in v], yerr=[x.std(ddof=1) if len(x) > 1 else 0.0 for x in v],
                     marker="o", capsize=3, label=name)
    plt.xscale("log")
    plt.xticks(list(ks), [str(k) for k in ks])
    plt.minorticks_off()
    plt.xlabel("labelled target examples per class (k, log scale)")
    plt.ylabel("target test accuracy (fraction)")
    plt.title("Fashion-MNIST: 5 source classes -> 5 target classes")
    plt.legend(fontsize=8)
