"""Replay: layer transfer (lecture: "Layer transfer"; Yosinski et al. 2014).

Part 1, the Yosinski protocol on Fashion-MNIST.  The ten classes are split
at random (per seed) into halves A and B.  Task A keeps all its training
images; task B is starved: ``yosinski_k`` labelled images per class, drawn
``draws`` times per seed (each draw its own run of the protocol; the
per-seed value is the mean over draws).  The network is a small convnet
with L = 5 parametric layers: conv 8 (3x3) - pool - conv 16 (3x3) - pool -
dense 64 - dense 64 - head.  For n = 1 .. 4 the variants BnB, BnB+, AnB,
AnB+ and the random-frozen control give the test accuracy on B, beside
baseB.  Every network trains for the same fixed number of SGD steps
(``steps`` batches of 32 drawn with replacement), not for epochs: with 25
images per class an epoch is four steps.

Part 2, the lecture's speech-versus-image point: which layers to copy
depends on what changed.  The network is an MLP whose four body layers hold
the same number of parameters (images average-pooled to 14x14 = 196 pixels;
196-196-196-196 and a head), so "copy the first n" and "copy the last n"
train exactly as many parameters (the report gives the counts).  A source
network learns the source task on all its images; the target has
``shift_ks`` labelled images per class (``draws`` draws per seed).

* Input shift, task kept: the target's pixels are shuffled by one fixed
  random permutation (per seed), the ten classes are the same.  A
  permutation leaves what a class is untouched but destroys every
  low-level pattern the first layer learnt (a first layer must be relearnt:
  for a dense layer, its input weights permuted), while everything above
  the first layer can be reused as it is: the lecture's speech case (copy
  the last layers, relearn the first).  The source head is kept (copied and
  frozen) in both arms.  An inversion (1 - x), in contrast, is an affine map
  of the input that the first layer absorbs (weights negated, bias
  shifted): it leaves nothing for "copy the last layers" to win.
* Task shift, input kept: source classes A, target classes B (the same
  images): the lecture's image case (copy the first layers).  A new head
  is trained in both arms.

In both, the copied layers are frozen and the others re-initialised and
trained for ``shift_steps`` steps.  Training from scratch is given as a
reference.

Seeds: the class split of seed number ``i`` is ``class_split(seed=i)``;
every network, draw, permutation and batch order comes from the unit's
seed (``Seed.derive``).  Units of one seed: one run of the Yosinski
protocol per draw, the input shift, the task shift.
"""
from __future__ import annotations

import numpy as np

from .. import datasets, layers as L, optim
from ..layers import Input
from ..model import Model
from ..transfer import copy_layers, first_n, freeze, last_n, parametric_layers, yosinski
from ._data import fashion_for
from ._section import Claim, Sel, Unit

TITLE = "Layer transfer: which layers transfer, and which to copy"
SCALES = {
    # CI and the notebook: <= 60 s
    "quick": {"seeds": 2, "draws": 1, "steps": 150, "yosinski_k": 25, "shift_ks": (20,), "shift_steps": 300,
              "source_steps": 600, "per_class_train": 500, "per_class_test": 200},
    # the default: <= 5 minutes on 2 cores
    "full": {"seeds": 3, "draws": 3, "steps": 300, "yosinski_k": 25, "shift_ks": (10, 50), "shift_steps": 1500,
             "source_steps": 1500, "per_class_train": 1200, "per_class_test": 400},
    # as close to Yosinski et al. 2014 as 2 cores allow in <= 30 minutes: the full Fashion-MNIST
    # (no per-class cut), 5 seeds, more draws and steps
    "paper": {"seeds": 5, "draws": 4, "steps": 600, "yosinski_k": 25, "shift_ks": (10, 50, 200),
              "shift_steps": 2000, "source_steps": 4000, "per_class_train": None, "per_class_test": None},
}
BATCH = 32
LR = 0.02                    # SGD, momentum 0.9 (the optimiser of Yosinski et al. 2014)
CONV_LAYERS = ("conv1", "conv2", "fc3", "fc4", "head")
NS = list(range(1, len(CONV_LAYERS)))    # Yosinski: the first n layers copied, n = 1 .. L-1
VARIANTS = ("BnB", "BnB+", "AnB", "AnB+", "random")
WIDTH, BODY = 196, 4                      # the shift MLP: 4 body layers of 196 units on 196 pixels
SHIFT_NS = list(range(1, BODY))           # first n / last n of the body
CLAIM_N = 2                               # the shift claims: half of the body copied
SHIFTS = {"input shift": "input shift (pixels permuted, same classes)",
          "task shift": "task shift (classes A -> B, same images)"}
ABOUT = {"network (Yosinski)": "conv8-conv16-dense64-dense64-head convnet (L = 5 parametric layers)",
         "network (shifts)": f"{WIDTH}-{'-'.join([str(WIDTH)] * BODY)}-head MLP on 14x14 images",
         "training": f"SGD lr {LR} momentum 0.9, batch {BATCH}, fixed step counts (batches drawn with replacement)"}


def convnet(n_classes: int, seed: int) -> Model:
    x = Input((1, 28, 28), name="x")
    h = L.MaxPool2d(2, name="pool1")(L.ReLU(name="relu1")(L.Conv2d(8, 3, padding=1, name="conv1")(x)))
    h = L.MaxPool2d(2, name="pool2")(L.ReLU(name="relu2")(L.Conv2d(16, 3, padding=1, name="conv2")(h)))
    h = L.Flatten(name="flat")(h)
    h = L.ReLU(name="relu3")(L.Dense(64, name="fc3")(h))
    h = L.ReLU(name="relu4")(L.Dense(64, name="fc4")(h))
    return Model(x, L.Dense(n_classes, name="head")(h), seed=seed)


def mlp(n_classes: int, seed: int) -> Model:
    x = Input((1, 14, 14), name="x")
    h = L.Flatten(name="flat")(x)
    for i in range(1, BODY + 1):
        h = L.ReLU(name=f"relu{i}")(L.Dense(WIDTH, name=f"fc{i}")(h))
    return Model(x, L.Dense(n_classes, name="head")(h), seed=seed)


def n_params(m: Model, layers=None) -> int:
    """Parameters of ``layers`` of ``m`` (default: the trainable ones)."""
    names = [l for l in parametric_layers(m) if (m.layer(l).trainable if layers is None else l in layers)]
    p = m.params
    return int(sum(p[n].size for l in names for n in m.layer(l).param_names))


def _trainer(steps: int, seed: int, halfway=None):
    """``train(m, x, y)``: ``steps`` SGD steps of ``BATCH`` rows drawn with
    replacement (the draws in call order from ``seed``); ``halfway(m)``,
    when given, is called after the first half of the steps."""
    rng = np.random.default_rng(seed)

    def train(m, x, y):
        rows = rng.integers(0, len(y), steps * BATCH)
        m.compile(optim.SGD(LR, momentum=0.9), loss="softmax_ce")
        if halfway is None:
            m.fit(x, y, epochs=1, batch_size=BATCH, sampler=lambda epoch: rows, verbose=False)
            return
        half = (steps // 2) * BATCH
        m.fit(x, y, epochs=1, batch_size=BATCH, sampler=lambda epoch: rows[:half], verbose=False)
        halfway(m)
        m.fit(x, y, epochs=1, batch_size=BATCH, sampler=lambda epoch: rows[half:], verbose=False)
    return train


def pool14(x: np.ndarray) -> np.ndarray:
    """(N, 1, 28, 28) -> (N, 1, 14, 14) by 2x2 averages."""
    return np.ascontiguousarray(x.reshape(len(x), 1, 14, 2, 14, 2).mean(axis=(3, 5)), dtype=np.float32)


def load(s, data=None):
    return fashion_for(data, per_class_train=s["per_class_train"], per_class_test=s["per_class_test"])


def units(s):
    return ([Unit(f"yosinski draw {d}", d) for d in range(s["draws"])]
            + [Unit("input shift"), Unit("task shift")])


def _yosinski(data, unit, seed, s):
    i = seed.index
    sp = datasets.class_split(data.y_train, seed=i)
    spt = datasets.class_split(data.y_test, classes_a=sp.classes_a)
    xb, yb, _, _ = datasets.few_shot(data.x_train[sp.idx_b], sp.y_b, s["yosinski_k"], seed=seed.derive("draw"))
    train = _trainer(s["steps"], seed.derive("batches"))
    net_seed = seed.derive("networks") % 1_000_000
    res = yosinski(lambda sd: convnet(5, sd), train, (data.x_train[sp.idx_a], sp.y_a), (xb, yb),
                   (data.x_test[spt.idx_b], spt.y_b), seed=net_seed, ns=NS)
    d = unit.args
    rows = [(v, f"n={n}", f"accuracy_B draw {d}", res[v][n]) for v in VARIANTS for n in NS]
    return rows + [("baseB", f"n={n}", f"accuracy_B draw {d}", res["baseB"]) for n in NS]


def _shift(data, unit, seed, s):
    i = seed.index
    train_src = _trainer(s["source_steps"], seed.derive("source batches"))
    xtr, xte = pool14(data.x_train), pool14(data.x_test)
    if unit.name == "input shift":  # same 10 classes, pixels permuted
        perm = np.random.default_rng(seed.derive("permutation")).permutation(14 * 14)
        src = mlp(10, seed.derive("source") % 1_000_000)
        train_src(src, xtr, data.y_train)
        src_acc = src.score(xte, data.y_test)
        xs = xtr.reshape(len(xtr), -1)[:, perm].reshape(xtr.shape)
        pool_x, pool_y = np.ascontiguousarray(xs), data.y_train
        test = (np.ascontiguousarray(xte.reshape(len(xte), -1)[:, perm].reshape(xte.shape)), data.y_test)
        n_cls, kept = 10, ["head"]
    else:  # task shift: source A (5 classes), target B
        sp = datasets.class_split(data.y_train, seed=i)
        spt = datasets.class_split(data.y_test, classes_a=sp.classes_a)
        src = mlp(5, seed.derive("source") % 1_000_000)
        train_src(src, xtr[sp.idx_a], sp.y_a)
        src_acc = src.score(xte[spt.idx_a], spt.y_a)
        pool_x, pool_y = xtr[sp.idx_b], sp.y_b
        test = (xte[spt.idx_b], spt.y_b)
        n_cls, kept = 5, []
    label = SHIFTS[unit.name]
    rows = [(f"source network ({unit.name})", "", "source_acc", src_acc)]
    for k in s["shift_ks"]:
        acc, fit, fit_half = {}, {}, {}
        for d in range(s["draws"]):
            x, y, _, _ = datasets.few_shot(pool_x, pool_y, k, seed=seed.derive(f"draw {d} k={k}"))
            arms = [("scratch", 0, None)] + [(which, n, sel) for n in SHIFT_NS
                                             for which, sel in (("first", first_n), ("last", last_n))]
            for which, n, sel in arms:
                m = mlp(n_cls, seed.derive(f"target {which} {n}") % 1_000_000)
                if sel is not None:
                    layers = sel(m, n, exclude=["head"]) + kept
                    copy_layers(src, m, layers)
                    freeze(m, layers)
                key = (which, n)
                if d == 0 and k == s["shift_ks"][0]:
                    for nn in (SHIFT_NS if which == "scratch" else [n]):
                        rows.append((_arm(label, which), f"n={nn}", "trainable_params", n_params(m)))
                train = _trainer(s["shift_steps"], seed.derive(f"batches {d} {k} {which} {n}"),
                                 halfway=lambda mm: fit_half.setdefault(key, []).append(mm.score(x, y)))
                train(m, x, y)
                acc.setdefault(key, []).append(m.score(*test))
                fit.setdefault(key, []).append(m.score(x, y))
        for (which, n), v in acc.items():
            for nn in (SHIFT_NS if which == "scratch" else [n]):  # scratch: the same value beside every n
                st = f"n={nn} k={k}"
                rows.append((_arm(label, which), st, "target_acc", float(np.mean(v))))
                rows.append((_arm(label, which), st, "train_acc_half", float(np.mean(fit_half[(which, n)]))))
                rows.append((_arm(label, which), st, "train_acc", float(np.mean(fit[(which, n)]))))
    return rows


def _arm(label, which):
    return f"{label}: {'train from scratch' if which == 'scratch' else f'copy {which} n'}"


def measure(data, unit, seed, s):
    if unit.name.startswith("yosinski"):
        return _yosinski(data, unit, seed, s)
    return _shift(data, unit, seed, s)


def derive(res, s):
    """Per seed, the mean over the draws of the Yosinski protocol (metric ``accuracy_B``)."""
    out = []
    for m in res.methods(f"accuracy_B draw 0"):
        for st in res.settings(f"accuracy_B draw 0", m):
            v = np.mean([res.values(m, st, f"accuracy_B draw {d}") for d in range(s["draws"])], axis=0)
            out += [(m, st, i, "accuracy_B", float(x)) for i, x in zip(res.seeds, v)]
    return out


def tables(res, s):
    labels = list(SHIFTS.values())
    arms = [_arm(lb, w) for lb in labels for w in ("first", "last", "scratch")]
    params = []
    for a in arms:
        row = {"method": a}
        for st in res.settings("trainable_params", a):
            row[st] = int(res.values(a, st, "trainable_params")[0])
        params.append(row)
    k = s["yosinski_k"]
    return {
        "Yosinski curves": (res.by_setting("accuracy_B", VARIANTS + ("baseB",)),
                            f"Test accuracy on task B (fraction; mean over {s['draws']} draw(s) of {k} labelled "
                            "images per class, then mean ± std over seeds); the first n layers copied (or random) "
                            f"and frozen (+: fine-tuned); every network {s['steps']} SGD steps."),
        "input shift vs task shift": (res.by_setting("target_acc", arms),
                                      "Target test accuracy (fraction; mean over draws, then over seeds) with k "
                                      "labelled images per class; n body layers copied from the source and frozen, "
                                      f"the others trained for {s['shift_steps']} steps (input shift: the source "
                                      "head kept and frozen; task shift: a new head trained)."),
        "training accuracy at half the steps": (res.by_setting("train_acc_half", arms),
                                                "Accuracy on the arm's own k labelled images per class after "
                                                f"{s['shift_steps'] // 2} of its {s['shift_steps']} steps (fraction)."),
        "training accuracy at the end (convergence)": (res.by_setting("train_acc", arms),
                                                       "The same after all the steps: an arm has converged when it "
                                                       "is near 1 or no higher than at half the steps (its frozen "
                                                       "layers then limit it, not the steps)."),
        "trainable parameters": (params, "Trainable parameters of each arm (equal for copy first n and copy "
                                         "last n at every n)."),
        "source networks": (res.by_metric({"test accuracy": "source_acc"},
                                          methods=[f"source network ({u})" for u in SHIFTS]),
                            "The source networks of the shifts, on their own test sets (fraction)."),
    }


def _worst_over_n(a, b, ns, metric):
    """Per-seed a(n) - b(n) at the n where its mean is smallest."""
    def paired(res, s):
        ds = [res.values(a, f"n={n}", metric) - res.values(b, f"n={n}", metric) for n in ns]
        return min(ds, key=lambda d: d.mean())
    return paired


def _describe_worst(a, b, ns, metric, what):
    def describe(res, s):
        ds = {n: (res.values(a, f"n={n}", metric) - res.values(b, f"n={n}", metric)).mean() for n in ns}
        n = min(ds, key=ds.get)
        return f"{what} smallest at n = {n}: {a} {res.values(a, f'n={n}', metric).mean():.3f}, " \
               f"{b} {res.values(b, f'n={n}', metric).mean():.3f}"
    return describe


def _random_collapse(res, s):
    base = res.values("baseB", f"n={NS[0]}", "accuracy_B")
    best = max((n for n in NS if n >= 2), key=lambda n: res.values("random", f"n={n}", "accuracy_B").mean())
    return base - res.values("random", f"n={best}", "accuracy_B")


def claims(s):
    top = f"n={NS[-1]}"
    k, kc = s["yosinski_k"], s["shift_ks"][0]
    out = [
        Claim("anb_below_bnb_top", f"Features of the top layers are specific to their task: AnB falls below BnB "
                                   f"at n = {NS[-1]} (per seed: BnB minus AnB)",
              "Yosinski et al. 2014, Fig. 2: AnB drops at n = 6-7 (ImageNet, 8 layers)",
              a=Sel("BnB", top, "accuracy_B"), b=Sel("AnB", top, "accuracy_B"),
              why_not="a 5-layer convnet trained on few images: BnB's own copied layers overfit B's few images"),
        Claim("anbplus_ge_baseb", f"Transfer plus fine-tuning helps a starved target: AnB+ above baseB at every n "
                                  f"({k} images per class of B; per seed: AnB+ minus baseB at the n where it is "
                                  "smallest)",
              "Yosinski et al. 2014, Fig. 2: AnB+ above baseB at every n (by about 1-2 points, with all of B)",
              paired=lambda res, s: min((res.values("AnB+", f"n={n}", "accuracy_B")
                                         - res.values("baseB", f"n={n}", "accuracy_B") for n in NS), key=np.mean),
              describe=lambda res, s: "AnB+ minus baseB at n = " + ", ".join(
                  f"{n}: {(res.values('AnB+', f'n={n}', 'accuracy_B') - res.values('baseB', f'n={n}', 'accuracy_B')).mean():+.3f}"
                  for n in NS),
              why_not=f"AnB+ and baseB end within a fraction of a point: both fit B's few images in {s['steps']} "
                      "steps and the start copied from A leaves no measurable trace (Yosinski's 1-2 points came "
                      "from 8-layer networks on ImageNet)"),
        Claim("random_collapses", "Random frozen lower layers collapse for n >= 2 (at least 10 points below baseB; "
                                  "per seed: baseB minus the best random-frozen n >= 2)",
              "Yosinski et al. 2014, Fig. 4: random filters fall to near chance from n = 2-3",
              paired=_random_collapse, threshold=0.10,
              why_not="at this scale random frozen layers keep most of the input: small random convolutions and "
                      "dense layers are good generic features, as Jarrett et al. 2009 and Saxe et al. 2011 found "
                      "for random filters; Yosinski's collapse came from 8 layers on ImageNet"),
    ]
    for u, want in (("input shift", "last"), ("task shift", "first")):
        other = "first" if want == "last" else "last"
        label = SHIFTS[u]
        a, b = Sel(_arm(label, want), f"n={CLAIM_N} k={kc}", "target_acc"), \
            Sel(_arm(label, other), f"n={CLAIM_N} k={kc}", "target_acc")
        why = ("a dense first layer relearns a permutation from few images no better than it learns upper layers"
               if u == "input shift" else "the upper layers of a source trained on five classes fit B as well as "
                                          "the lower ones")
        out.append(Claim(f"{u.split()[0]}_shift_{want}",
                         f"On the {label}, copying the {want} {CLAIM_N} body layers beats copying the {other} "
                         f"{CLAIM_N} (equal trainable parameters; {kc} labelled images per class)",
                         "lecture: speech copies the last layers, images the first ones (no number)",
                         a=a, b=b, why_not=why))
    return out


def figures(res, s):
    return {"yosinski": lambda plt: _plot_curves(plt, res, s),
            "first_vs_last": lambda plt: _plot_shift(plt, res, s)}


def _diff(res, a, b, st, metric):
    """Mean and std over seeds of the paired difference a - b at setting ``st``."""
    d = res.values(a, st, metric) - res.values(b, st, metric)
    return d.mean(), (d.std(ddof=1) if len(d) > 1 else 0.0)


def _plot_curves(plt, res, s):
    for j, (v, style) in enumerate((("BnB", "o-"), ("BnB+", "o--"), ("AnB", "s-"), ("AnB+", "s--"),
                                    ("random", "x:"))):
        ms = [_diff(res, v, "baseB", f"n={n}", "accuracy_B") for n in NS]
        plt.errorbar([n + 0.04 * (j - 2) for n in NS], [m for m, _ in ms], yerr=[e for _, e in ms], fmt=style,
                     capsize=3, label=v)
    plt.axhline(0.0, color="k", lw=1, label="baseB (trained on B alone)")
    plt.xticks(NS)
    plt.xlabel("layers copied from the base network (n)")
    plt.ylabel("test accuracy on B minus baseB's (fraction)")
    plt.title(f"Yosinski et al. 2014 on Fashion-MNIST halves, {s['yosinski_k']} images per class of B;\n"
              "mean ± std over seeds of the per-seed difference", fontsize=9)
    plt.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))


def _plot_shift(plt, res, s):
    fig = plt.gcf()
    fig.set_size_inches(11, 4.2)
    colors = {"first": "tab:blue", "last": "tab:orange"}
    for j, (u, label) in enumerate(SHIFTS.items()):
        ax = fig.add_subplot(1, 2, j + 1)
        for kk, (k, ls) in enumerate(zip(s["shift_ks"], ("-", "--", ":"))):
            for w, which in enumerate(("first", "last")):
                ms = [_diff(res, _arm(label, which), _arm(label, "scratch"), f"n={n} k={k}", "target_acc")
                      for n in SHIFT_NS]
                ax.errorbar([n + 0.03 * (2 * kk + w - 1) for n in SHIFT_NS], [m for m, _ in ms],
                            yerr=[e for _, e in ms], marker="o" if which == "first" else "s", capsize=3, ls=ls,
                            color=colors[which], label=f"copy {which} n, k = {k}")
        ax.axhline(0.0, color="k", lw=1, label="train from scratch")
        ax.set_xticks(SHIFT_NS)
        ax.set_xlabel("body layers copied and frozen (n)")
        ax.set_ylabel("target accuracy minus scratch's (fraction)")
        ax.set_title(f"{label}\nk labelled images per class; mean ± std over seeds", fontsize=9)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
