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

Seeds: seed number ``i`` uses ``i`` and ``100 i + c`` as the replay before
the shared machinery did (the same numbers).  Units of one seed: the
Yosinski protocol, the input shift, the task shift.
"""
from __future__ import annotations

from .. import datasets, layers as L, optim
from ..layers import Input
from ..model import Model
from ..transfer import copy_layers, first_n, freeze, last_n, yosinski
from ._data import fashion_for
from ._section import Claim, Sel, Unit

TITLE = "Layer transfer: which layers transfer, and which to copy"
SCALES = {
    "quick": {"seeds": 1, "epochs": 2, "per_class_train": 300, "per_class_test": 200,
              "shift_target_examples_per_class": 100},
    "full": {"seeds": 3, "epochs": 4, "per_class_train": 1200, "per_class_test": 200,
             "shift_target_examples_per_class": 100},
}
HIDDEN = (128, 128, 64)
N_BODY = len(HIDDEN)
NS = list(range(1, N_BODY + 1))          # Yosinski: the first n layers copied
SHIFT_NS = list(range(1, N_BODY))        # first n / last n of the body
VARIANTS = ("BnB", "BnB+", "AnB", "AnB+", "random")
SHIFTS = {"input shift": "input shift (inverted images, same classes)",
          "task shift": "task shift (classes A -> B, same images)"}
ABOUT = {"network": f"784-{'-'.join(map(str, HIDDEN))}-head MLP (L = {N_BODY + 1})"}


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


def load(s, data=None):
    return fashion_for(data, per_class_train=s["per_class_train"], per_class_test=s["per_class_test"])


def units(s):
    return [Unit("yosinski"), Unit("input shift"), Unit("task shift")]


def measure(data, unit, seed, s):
    i = seed.index
    train = _trainer(s["epochs"])
    sp = datasets.class_split(data.y_train, seed=i)
    spt = datasets.class_split(data.y_test, classes_a=sp.classes_a)
    if unit.name == "yosinski":
        res = yosinski(lambda sd: network(5, sd), train, (data.x_train[sp.idx_a], sp.y_a),
                       (data.x_train[sp.idx_b], sp.y_b), (data.x_test[spt.idx_b], spt.y_b), seed=i * 100, ns=NS)
        rows = [(v, f"n={n}", "accuracy_B", res[v][n]) for v in VARIANTS for n in NS]
        return rows + [("baseB", f"n={n}", "accuracy_B", res["baseB"]) for n in NS]
    shots = s["shift_target_examples_per_class"]
    if unit.name == "input shift":  # same 10 classes, inverted images
        src = network(10, i * 100 + 50)
        train(src, data.x_train, data.y_train)
        src_acc = src.score(data.x_test, data.y_test)
        x, y, _, _ = datasets.few_shot(datasets.invert(data.x_train, max_value=1.0), data.y_train, shots, seed=i)
        test = (datasets.invert(data.x_test, max_value=1.0), data.y_test)
        n_cls = 10
    else:  # task shift: source A (5 classes), target B with few labels
        src = network(5, i * 100 + 60)
        train(src, data.x_train[sp.idx_a], sp.y_a)
        src_acc = src.score(data.x_test[spt.idx_a], spt.y_a)
        x, y, _, _ = datasets.few_shot(data.x_train[sp.idx_b], sp.y_b, shots, seed=i)
        test = (data.x_test[spt.idx_b], spt.y_b)
        n_cls = 5
    label = SHIFTS[unit.name]
    rows = [(f"source network ({unit.name})", "", "source_acc", src_acc)]
    for n in SHIFT_NS:
        for which, sel in (("first", first_n), ("last", last_n)):
            m = network(n_cls, i * 100 + 70 + n)
            layers = sel(m, n, exclude=["head"])
            copy_layers(src, m, layers)
            freeze(m, layers)
            train(m, x, y)
            rows.append((f"{label}: copy {which} n", f"n={n}", "target_acc", m.score(*test)))
    return rows


def tables(res, s):
    shots = s["shift_target_examples_per_class"]
    return {
        "Yosinski curves": (res.by_setting("accuracy_B", VARIANTS + ("baseB",)),
                            "Test accuracy on task B (fraction); the first n layers copied (or random) and frozen "
                            "(+: fine-tuned)."),
        "input shift vs task shift": (res.by_setting("target_acc"),
                                      f"Target accuracy (fraction) with {shots} labelled examples per class; body "
                                      "layers copied from the source and frozen, the other body layers and a new "
                                      "head trained."),
        "source networks": (res.by_metric({"test accuracy": "source_acc"},
                                          methods=[f"source network ({u})" for u in SHIFTS]),
                            "The source networks of the shifts, on their own test sets (fraction)."),
    }


def _worst_over_n(a, b, ns, metric):
    """Per-seed a(n) - b(n) at the n where its mean is smallest."""
    def paired(res, s):
        ds = [res.values(a.format(n=n), f"n={n}", metric) - res.values(b.format(n=n), f"n={n}", metric) for n in ns]
        return min(ds, key=lambda d: d.mean())
    return paired


def _random_collapse(res, s):
    base = res.values("baseB", f"n={NS[0]}", "accuracy_B")
    best = max((n for n in NS if n >= 2), key=lambda n: res.values("random", f"n={n}", "accuracy_B").mean())
    return base - res.values("random", f"n={best}", "accuracy_B")


def _describe_worst(a, b, ns, metric, what):
    def describe(res, s):
        ds = {n: (res.values(a.format(n=n), f"n={n}", metric) - res.values(b.format(n=n), f"n={n}", metric)).mean()
              for n in ns}
        return f"{what} at n = {min(ds, key=ds.get)}"
    return describe


def claims(s):
    top = f"n={NS[-1]}"
    out = [
        Claim("anb_below_bnb_top", f"Features of the top layers are specific: AnB falls below BnB at n = {NS[-1]} "
                                   "(per seed: BnB minus AnB)",
              "Yosinski et al. 2014, Fig. 2: AnB drops at n = 6-7 (ImageNet, 8 layers)",
              a=Sel("BnB", top, "accuracy_B"), b=Sel("AnB", top, "accuracy_B"),
              why_not="a 3-hidden-layer MLP trained for a few epochs"),
        Claim("anbplus_ge_baseb", "Transfer plus fine-tuning does not hurt: AnB+ above baseB at every n "
                                  "(per seed: AnB+ minus baseB at the n where it is smallest)",
              "Yosinski et al. 2014, Fig. 2: AnB+ above baseB at every n (by about 1-2 points)",
              paired=_worst_over_n("AnB+", "baseB", NS, "accuracy_B"),
              describe=_describe_worst("AnB+", "baseB", NS, "accuracy_B", "AnB+ minus baseB"),
              why_not="with all of task B's examples the baseline leaves transfer little to add"),
        Claim("random_collapses", "Random frozen lower layers collapse for n >= 2 (at least 10 points below baseB; "
                                  "per seed: baseB minus the best random-frozen n >= 2)",
              "Yosinski et al. 2014, Fig. 4: random filters fall to near chance from n = 2-3",
              paired=_random_collapse, threshold=0.10,
              why_not="random wide dense layers keep much of the input (as random filters did for Jarrett et al. "
                      "2009 and Saxe et al. 2011); the trained top layers recover the rest"),
    ]
    for u, want in (("input shift", "last"), ("task shift", "first")):
        other = "first" if want == "last" else "last"
        label = SHIFTS[u]
        a, b = f"{label}: copy {want} n", f"{label}: copy {other} n"
        out.append(Claim(f"{u.split()[0]}_shift_{want}",
                         f"On the {u}, copying the {want} n layers beats copying the {other} n "
                         f"(every n = 1..{N_BODY - 1}; per seed at the n where the difference is smallest)",
                         "lecture: speech copies the last layers, images the first ones",
                         paired=_worst_over_n(a, b, SHIFT_NS, "target_acc"),
                         describe=_describe_worst(a, b, SHIFT_NS, "target_acc", f"{want} minus {other}"),
                         why_not="unequal arms (the first layer holds most of the body's parameters) and few steps: "
                                 "the verdict measures which variant optimises fastest"))
    return out


def figures(res, s):
    return {"yosinski": lambda plt: _plot_curves(plt, res),
            "first_vs_last": lambda plt: _plot_shift(plt, res)}


def _ms(res, m, st, metric):
    v = res.values(m, st, metric)
    return v.mean(), (v.std(ddof=1) if len(v) > 1 else 0.0)


def _plot_curves(plt, res):
    for v, style in (("BnB", "o-"), ("BnB+", "o--"), ("AnB", "s-"), ("AnB+", "s--"), ("random", "x:")):
        ms = [_ms(res, v, f"n={n}", "accuracy_B") for n in NS]
        plt.errorbar(NS, [m for m, _ in ms], yerr=[e for _, e in ms], fmt=style, capsize=3, label=v)
    plt.axhline(res.values("baseB", f"n={NS[0]}", "accuracy_B").mean(), color="k", lw=1, label="baseB")
    plt.xticks(NS)
    plt.xlabel("layers copied from the base network (n)")
    plt.ylabel("test accuracy on task B (fraction)")
    plt.title("Yosinski et al. 2014 on Fashion-MNIST halves")
    plt.legend(fontsize=8)


def _plot_shift(plt, res):
    for key in res.methods("target_acc"):
        ms = [_ms(res, key, f"n={n}", "target_acc") for n in SHIFT_NS]
        plt.errorbar(SHIFT_NS, [m for m, _ in ms], yerr=[e for _, e in ms], marker="o", capsize=3, label=key,
                     ls="-" if "first" in key else "--")
    plt.xticks(SHIFT_NS)
    plt.xlabel("body layers copied and frozen (n)")
    plt.ylabel("target test accuracy (fraction)")
    plt.title("Copy the first n or the last n layers?")
    plt.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1)
