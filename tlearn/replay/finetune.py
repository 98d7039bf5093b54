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
"""
from __future__ import annotations

import numpy as np

from .. import datasets, layers as L, optim
from ..transfer import FineTune, estimate_fisher, source_network
from ._data import fashion
from ._report import Progress, Report, fmt, mean_std, summarize

HIDDEN = (128, 64)


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


def run(quick=False, seeds=None, data=None, progress=None) -> Report:
    ks = (1, 10) if quick else (1, 5, 10, 50)
    n_seeds = seeds or (2 if quick else 5)
    src_epochs, steps = (2, 40) if quick else (3, 60)
    per_class = 600 if quick else 1200
    data = data or fashion(per_class_train=per_class, per_class_test=200)
    report = Report("finetune", "Fine-tuning, few-shot learning and conservative training", data.describe(),
                    range(n_seeds), quick)
    report.data.update(source_classes=5, target_classes=5, k=list(ks), network=f"784-{'-'.join(map(str, HIDDEN))}-5 MLP",
                       source_epochs=src_epochs, target_steps=steps)
    n_methods = 6
    prog = Progress("finetune", n_seeds * (1 + len(ks) * n_methods), progress)
    acc = {}     # method -> k -> [per seed]
    keep = {}    # method -> k -> [source accuracy per seed]
    src_acc = []
    for seed in range(n_seeds):
        sp = datasets.class_split(data.y_train, seed=seed)
        spt = datasets.class_split(data.y_test, classes_a=sp.classes_a)
        xa, ya, xat, yat = data.x_train[sp.idx_a], sp.y_a, data.x_test[spt.idx_a], spt.y_a
        xb, yb, xbt, ybt = data.x_train[sp.idx_b], sp.y_b, data.x_test[spt.idx_b], spt.y_b
        src = source_network(features, xa.shape[1:], 5, seed=seed)
        src.compile(optim.SGD(0.05, momentum=0.9), loss="softmax_ce")
        src.fit(xa, ya, epochs=src_epochs, batch_size=64, verbose=False)
        src_acc.append(src.score(xat, yat))
        prog(f"seed {seed}: source network on classes {sp.classes_a.tolist()}, test accuracy", src_acc[-1])
        fisher = estimate_fisher(src, xa[:500], ya[:500])
        for k in ks:
            xk, yk, _, _ = datasets.few_shot(xb, yb, k, seed=seed)
            for name, kw in _methods(src, fisher).items():
                r = FineTune(features, n_classes=5, steps=steps, batch_size=16, seed=seed, **kw).fit(xk, yk)
                a = r.score(xbt, ybt)
                acc.setdefault(name, {}).setdefault(f"k={k}", []).append(a)
                if kw["source"] is not None:
                    keep.setdefault(name, {}).setdefault(f"k={k}", []).append(r.score_source(xat, yat))
                prog(f"seed {seed} k={k} {name}: target accuracy", a)
    report.add_table("target accuracy", summarize(acc),
                     "Test accuracy on the five target classes, k labelled examples per class.")
    report.add_table("source accuracy retained", summarize(keep),
                     f"Accuracy on the source test set through the kept source head; the source network itself: "
                     f"{fmt(mean_std(src_acc))}.")
    _claims(report, acc, keep, ks, src_acc)
    report.figure("accuracy_vs_k", lambda plt: _plot(plt, acc, ks))
    return report.finish()


def _diff(a, b):
    return mean_std(np.asarray(a) - np.asarray(b))


def _claims(report, acc, keep, ks, src_acc):
    k1 = f"k={ks[0]}"
    d = _diff(acc["fine-tune all"][k1], acc["scratch"][k1])
    report.claim("With one labelled example per class, fine-tuning a source network beats training from scratch "
                 "by at least 10 points", "lecture (no number at this scale)",
                 f"fine-tune {fmt(mean_std(acc['fine-tune all'][k1]))} vs scratch {fmt(mean_std(acc['scratch'][k1]))}; "
                 f"difference {fmt(d)}", d["mean"] >= 0.10, key="finetune_vs_scratch_k1", diff=d)
    best = max(("L2-SP", "output consistency (LwF)"),
               key=lambda m: _diff(acc[m][k1], acc["fine-tune all"][k1])["mean"])
    d = _diff(acc[best][k1], acc["fine-tune all"][k1])
    report.claim("At k = 1, conservative training (L2-SP or output consistency) is at least as good as plain "
                 "fine-tuning", "Li et al. 2018 (L2-SP above fine-tuning on every target set)",
                 f"{best} minus fine-tune all: {fmt(d)}", d["mean"] >= 0.0, key="conservative_vs_finetune_k1", diff=d)
    kl = f"k={ks[-1]}"
    d = _diff(acc["fine-tune all"][kl], acc["scratch"][kl])
    report.claim(f"The gain of fine-tuning over scratch shrinks as target data grows (k = {ks[-1]} vs k = {ks[0]})",
                 "lecture", f"difference at k={ks[-1]}: {fmt(d)}; at k={ks[0]}: "
                 f"{fmt(_diff(acc['fine-tune all'][k1], acc['scratch'][k1]))}",
                 d["mean"] < _diff(acc["fine-tune all"][k1], acc["scratch"][k1])["mean"], key="gain_shrinks", diff=d)
    papers = {"L2-SP": "Li et al. 2018 (motivation: stay near the source solution; no old-task number)",
              "EWC": "Kirkpatrick et al. 2017 (old tasks kept while learning new ones)",
              "output consistency (LwF)": "Li & Hoiem 2016 (old-task accuracy kept close to the original)"}
    for m in ("L2-SP", "EWC", "output consistency (LwF)"):
        d = _diff(keep[m][kl], keep["fine-tune all"][kl])
        report.claim(f"{m} retains more of the source task than plain fine-tuning (k = {ks[-1]})",
                     papers[m],
                     f"source accuracy {fmt(mean_std(keep[m][kl]))} vs {fmt(mean_std(keep['fine-tune all'][kl]))}; "
                     f"difference {fmt(d)}", d["mean"] > 0.0, key=f"retains_{m.split()[0].lower()}", diff=d)


def _plot(plt, acc, ks):
    for name, cols in acc.items():
        m = [mean_std(cols[f"k={k}"])["mean"] for k in ks]
        s = [mean_std(cols[f"k={k}"])["std"] for k in ks]
        plt.errorbar(ks, m, yerr=s, marker="o", capsize=3, label=name)
    plt.xscale("log")
    plt.xlabel("labelled target examples per class (k)")
    plt.ylabel("target test accuracy")
    plt.title("Fashion-MNIST: 5 source classes -> 5 target classes")
    plt.legend(fontsize=8)
