"""Replay: zero-shot learning (lecture: "Zero-shot learning": attributes,
attribute embedding, convex combination of semantic embeddings).

On Fashion-MNIST and on the 8x8 digits, three fixed splits each hold four
of the ten classes out as unseen; the attribute tables of
:func:`tlearn.datasets.attributes` describe all ten.  DAP, the attribute
embedding (two towers, softmax over compatibilities) and ConSE train on the
six seen classes and are measured:

* zero-shot: top-1 accuracy on the unseen classes, averaged over classes,
  choosing among the unseen classes (Xian et al.'s protocol), against
  chance (1/4) and against a classifier trained on 1 and 2 labelled images
  per unseen class (Alabdulmohsin et al., ECCV 2016);
* generalized: test images of all ten classes, candidates all ten classes:
  accuracy on the seen and on the unseen classes and their harmonic mean H,
  raw and with calibrated stacking (Chao et al., ECCV 2016): a constant
  subtracted from the seen classes' scores, chosen to maximise H on
  seen-class data only -- two of the six seen classes are held out as
  pseudo-unseen, a copy of the method trains on the other four, and H is
  measured on held-out images of the six; the unseen test labels are never
  used;
* the lecture's warning: where two unseen classes have nearly the same
  attribute signature (the pair of a split at the smallest Hamming
  distance), how often each is taken for the other, against the other
  unseen pairs.

Anchors: Xian et al., "Zero-shot learning - the good, the bad and the
ugly" (TPAMI 2019), AwA2 proposed split, 10 unseen of 50 classes: unseen
top-1 DAP 46.1, ConSE 44.5, DeViSE 59.7 (4.6x to 6x chance); generalized
H: DAP 0.0, ConSE 1.0, DeViSE 27.8.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from .. import datasets, layers as L, optim
from ..layers import Input
from ..model import Model
from ..transfer import AttributeEmbedding, ClassTable, ConSE, DAP, per_class_accuracy
from ..transfer.zeroshot import MLP
from ._data import fashion_for
from ._section import Claim, Sel, Unit

TITLE = "Zero-shot learning: DAP, attribute embedding and ConSE"
SCALES = {
    "quick": {"seeds": 2, "epochs": 4, "per_class_train": 200, "per_class_test": 100, "shot_steps": 60},
    "full": {"seeds": 3, "epochs": 8, "per_class_train": 400, "per_class_test": 200, "shot_steps": 100},
    # closer to Xian et al.'s protocol where 2 cores allow: more images, epochs and seeds (their AwA2 split of
    # 40 seen / 10 unseen classes has no counterpart among ten classes: the splits stay)
    "paper": {"seeds": 5, "epochs": 12, "per_class_train": 1200, "per_class_test": 1000, "shot_steps": 200},
}
#: unseen classes of each split (the other six are seen)
SPLITS = {
    "fashion": {"A": (0, 3, 7, 8), "B": (2, 4, 5, 9), "C": (1, 6, 7, 8)},
    "digits": {"A": (0, 3, 7, 8), "B": (2, 5, 6, 9), "C": (1, 3, 4, 7)},
}
METHODS = ("DAP", "attribute embedding", "ConSE")
HIDDEN = (128,)
ABOUT = {"splits": {d: {k: list(v) for k, v in sp.items()} for d, sp in SPLITS.items()},
         "network": f"MLP {HIDDEN} for every image tower and classifier; g: 1x1 convolutions 64 -> 64",
         "chance": "1/4 (four unseen classes)",
         "embedding loss": "softmax cross-entropy over the compatibilities f(x) . g(a) of the seen classes, not "
                           "DeViSE's hinge (see tlearn.transfer.AttributeEmbedding)",
         "calibration": "constant maximising H on held-out images of the seen classes, two of them held out "
                        "of training as pseudo-unseen"}


class ZeroShotData:
    """Fashion-MNIST (subset or full) and the digits, with their attribute tables."""

    def __init__(self, fashion, digits_split, tables):
        self.sets = {"fashion": (fashion.x_train, fashion.y_train, fashion.x_test, fashion.y_test),
                     "digits": digits_split}
        self.tables = tables
        self.fashion_name = fashion.name

    def describe(self) -> dict:
        f, d = self.sets["fashion"], self.sets["digits"]
        return {"name": self.fashion_name, "full": self.fashion_name == "fashion_mnist",
                "train": int(len(f[1]) + len(d[1])), "test": int(len(f[3]) + len(d[3])),
                "description": f"{'full Fashion-MNIST' if self.fashion_name == 'fashion_mnist' else 'Fashion-MNIST subset shipped in tlearn'}"
                               f" ({len(f[1])} training, {len(f[3])} test images) and the UCI digits "
                               f"({len(d[1])} training, {len(d[3])} test)"}


def load(s, data=None):
    if isinstance(data, ZeroShotData):
        return data
    fa = fashion_for(data, per_class_train=s["per_class_train"], per_class_test=s["per_class_test"])
    x, y = datasets.load_digits()
    order = np.random.default_rng(0).permutation(len(y))
    cut = len(y) * 2 // 3
    tr, te = order[:cut], order[cut:]
    tables = {"fashion": datasets.attributes("fashion_mnist")[0].astype(np.float64),
              "digits": datasets.attributes("digits")[0].astype(np.float64)}
    return ZeroShotData(fa, (x[tr], y[tr], x[te], y[te]), tables)


def units(s):
    return [Unit(f"{d}/{k}", (d, k)) for d, sp in SPLITS.items() for k in sp]


def _recipe(method, s, seed):
    kw = dict(hidden=HIDDEN, epochs=s["epochs"], seed=seed)
    if method == "DAP":
        return DAP(**kw)
    if method == "attribute embedding":
        return AttributeEmbedding(**kw)
    return ConSE(**kw)


def harmonic(a, b) -> float:
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def _generalized(scores, cand, seen, y, gamma):
    s = scores.copy()
    s[:, np.isin(cand, seen)] -= gamma
    pred = cand[np.argmax(s, axis=1)]
    ms, mu = np.isin(y, seen), ~np.isin(y, seen)
    a_s = per_class_accuracy(y[ms], pred[ms]) if ms.any() else 0.0
    a_u = per_class_accuracy(y[mu], pred[mu]) if mu.any() else 0.0
    return a_s, a_u, harmonic(a_s, a_u)


def choose_gamma(method, s, seed, x, y, table: ClassTable):
    """Calibrated stacking's constant, from seen classes only: two of them
    play unseen (a copy of the method trains on the other ones), and the
    constant maximising H on held-out images of all of them is returned."""
    rng = np.random.default_rng(seed)
    seen = np.unique(y)
    pseudo = rng.choice(seen, 2, replace=False)
    val = np.zeros(len(y), bool)
    for c in seen:
        idx = np.flatnonzero(y == c)
        val[rng.choice(idx, max(1, len(idx) // 5), replace=False)] = True
    train = ~val & ~np.isin(y, pseudo)
    r = _recipe(method, s, seed).fit(x[train], y[train], table.subset(seen))
    sc = r.decision_function(x[val])
    cand = r.candidates().classes
    sub = r.classes_
    gap = sc[:, np.isin(cand, sub)].max(1) - sc[:, ~np.isin(cand, sub)].max(1)
    grid = np.unique(np.concatenate([[0.0], np.quantile(gap, np.linspace(0.0, 1.0, 41))]))
    hs = [_generalized(sc, cand, sub, y[val], g)[2] for g in grid]
    return float(grid[int(np.argmax(hs))])


def few_shot(x, y, xt, yt, k, s, seed) -> float:
    """A classifier of the unseen classes from k labelled images each."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False) for c in classes])
    xi = Input(x.shape[1:], name="x")
    m = Model(xi, L.Dense(len(classes), name="head")(MLP(HIDDEN)(xi)), seed=seed, name=f"{k}-shot")
    m.compile(optim.Adam(1e-3), loss="softmax_ce")
    pos = np.searchsorted(classes, y[idx]).astype(np.int32)
    reps = max(1, s["shot_steps"] * 16 // len(idx))  # shot_steps steps of up to 16 images
    m.fit(np.repeat(x[idx], reps, axis=0), np.repeat(pos, reps), epochs=1, batch_size=16, verbose=0)
    pred = classes[np.argmax(m.predict(xt), axis=1)]
    return per_class_accuracy(yt, pred)


def _pairs(table, unseen):
    """(closest pair, its Hamming distance, the other pairs) of the unseen classes."""
    d = {(a, b): int(np.abs(table[a] - table[b]).sum()) for a, b in combinations(sorted(unseen), 2)}
    close = min(d, key=lambda p: (d[p], p))
    return close, d[close], [p for p in d if p != close]


def _mistaken(conf, classes, a, b) -> float:
    """How often a is taken for b and b for a (mean of the two rates)."""
    i, j = list(classes).index(a), list(classes).index(b)
    return float((conf[i, j] + conf[j, i]) / 2)


def measure(data, unit, seed, s):
    ds, split = unit.args
    x, y, xt, yt = data.sets[ds]
    table = ClassTable(data.tables[ds])
    unseen = np.array(SPLITS[ds][split])
    seen = np.setdiff1d(np.arange(10), unseen)
    tr, te_u = np.isin(y, seen), np.isin(yt, unseen)
    setting = f"{ds}/{split}"
    rows = [("chance", setting, "unseen top-1", 1.0 / len(unseen))]
    close, dist, others = _pairs(data.tables[ds], unseen)
    keep = {"unseen": unseen.tolist(), "close": list(close), "distance": dist, "confusion": {}}
    for method in METHODS:
        r = _recipe(method, s, seed).fit(x[tr], y[tr], table)
        # zero-shot: the unseen classes only
        r.set_params(predict_on="unseen")
        pred = r.predict(xt[te_u])
        rows.append((method, setting, "unseen top-1", per_class_accuracy(yt[te_u], pred)))
        conf = np.array([[np.mean(pred[yt[te_u] == a] == b) for b in unseen] for a in unseen])
        keep["confusion"][method] = conf.tolist()
        rows.append((method, setting, "close-pair confusion", _mistaken(conf, unseen, *close)))
        rows.append((method, setting, "other-pair confusion",
                     float(np.mean([_mistaken(conf, unseen, a, b) for a, b in others]))))
        # generalized: every class a candidate
        r.set_params(predict_on="table")
        sc = r.decision_function(xt)
        cand = r.candidates().classes
        a_s, a_u, h = _generalized(sc, cand, seen, yt, 0.0)
        gamma = choose_gamma(method, s, seed.derive(f"gamma/{method}"), x[tr], y[tr], table)
        c_s, c_u, c_h = _generalized(sc, cand, seen, yt, gamma)
        rows += [(method, setting, "seen (generalized)", a_s), (method, setting, "unseen (generalized)", a_u),
                 (method, setting, "H", h), (method, setting, "seen (calibrated)", c_s),
                 (method, setting, "unseen (calibrated)", c_u), (method, setting, "H (calibrated)", c_h),
                 (method, setting, "gamma", gamma)]
    yu = np.isin(y, unseen)
    for k in (1, 2):
        rows.append((f"{k}-shot classifier", setting, "unseen top-1",
                     few_shot(x[yu], y[yu], xt[te_u], yt[te_u], k, s, seed.derive(f"{k}-shot"))))
    return {"rows": rows, "keep": keep}


def derive(results, s):
    """Means over the splits of each data set ("fashion", "digits") and over all six ("all")."""
    units_ = [f"{d}/{k}" for d, sp in SPLITS.items() for k in sp]
    groups = {d: [u for u in units_ if u.startswith(d + "/")] for d in SPLITS}
    groups["all"] = units_
    for method in results.methods():
        for metric in results.metrics():
            if not results.has(method, units_[0], metric):
                continue
            vals = {u: results.values(method, u, metric) for u in units_}
            for g, us in groups.items():
                m = np.mean([vals[u] for u in us], axis=0)
                for i, v in zip(results.seeds, m):
                    yield method, g, i, metric, float(v)


def _ratio_to_chance(method):
    return lambda res, s: res.values(method, "all", "unseen top-1") / res.values("chance", "all", "unseen top-1")


def claims(s):
    ceiling = ("with four unseen classes chance is 1/4, so the ratio cannot pass 4 (it would take 100% accuracy); "
               "the anchors' 4.6-6x come from 10 unseen classes of 50 (chance 1/10)")
    paper = {"DAP": "Xian et al. 2019, AwA2 PS: DAP 46.1% on 10 unseen classes (4.6x chance)",
             "attribute embedding": "Xian et al. 2019, AwA2 PS: DeViSE 59.7% (6.0x chance)",
             "ConSE": "Xian et al. 2019, AwA2 PS: ConSE 44.5% (4.5x chance)"}
    hpaper = {"DAP": "Xian et al. 2019, AwA2 PS: H 0.0 (u 0.0, s 84.7)",
              "attribute embedding": "Xian et al. 2019, AwA2 PS: DeViSE H 27.8 (u 17.1, s 74.7)",
              "ConSE": "Xian et al. 2019, AwA2 PS: H 1.0 (u 0.5, s 90.6)"}
    key = {"DAP": "dap", "attribute embedding": "embedding", "ConSE": "conse"}
    out = []
    for m in METHODS:
        out.append(Claim(f"{key[m]}_4x_chance", f"{m} reaches at least 4x chance on the unseen classes "
                         "(mean over six splits)", paper[m], paired=_ratio_to_chance(m), threshold=4.0,
                         why_not=ceiling))
        out.append(Claim(f"{key[m]}_above_chance", f"{m} recognises unseen classes at more than 1.5x chance "
                         "(mean over six splits)", paper[m], paired=_ratio_to_chance(m), threshold=1.5,
                         why_not="the attributes learnt on six seen classes do not carry to the unseen ones"))
    for m in METHODS:
        out.append(Claim(f"{key[m]}_calibration_raises_h", f"calibrated stacking raises {m}'s generalized H",
                         hpaper[m] + "; Chao et al. 2016 (calibrated stacking)",
                         a=Sel(m, "all", "H (calibrated)"), b=Sel(m, "all", "H"),
                         why_not="the constant chosen on pseudo-unseen seen classes does not carry to the "
                                 "real unseen ones"))
    out.append(Claim("embedding_beats_dap", "the attribute embedding beats DAP on the unseen classes",
                     "Xian et al. 2019, AwA2 PS: DeViSE 59.7 vs DAP 46.1",
                     a=Sel("attribute embedding", "all", "unseen top-1"), b=Sel("DAP", "all", "unseen top-1"),
                     why_not="with six seen attribute vectors the class tower g has six training points; "
                             "DAP's per-attribute classifiers need no such tower"))
    for m in ("DAP", "ConSE"):
        out.append(Claim(f"embedding_h_above_{key[m]}", f"without calibration the attribute embedding keeps a higher "
                         f"generalized H than {m} (the seen-class bias is worst for {m})",
                         f"Xian et al. 2019, AwA2 PS: H DeViSE 27.8 vs {m} {'0.0' if m == 'DAP' else '1.0'}",
                         a=Sel("attribute embedding", "all", "H"), b=Sel(m, "all", "H"),
                         why_not="the embedding's scores favour the seen classes as much as the others' do"))
    for m in METHODS:
        out.append(Claim(f"{key[m]}_beats_1shot", f"{m} beats a classifier given one labelled image per unseen class",
                         "Alabdulmohsin et al. 2016: attribute methods are worth about two labelled examples "
                         "per class", a=Sel(m, "all", "unseen top-1"), b=Sel("1-shot classifier", "all", "unseen top-1"),
                         why_not="one labelled image per class already beats attributes learnt from six classes"))
    out.append(Claim("close_pair_confused", "unseen classes with nearly the same attribute signature are taken for "
                     "each other more often than other unseen pairs (mean over methods and splits)",
                     "the lecture: every class needs its own attributes, or the method fails",
                     paired=lambda res, s: np.mean([res.values(m, "all", "close-pair confusion")
                                                    - res.values(m, "all", "other-pair confusion")
                                                    for m in METHODS], axis=0),
                     describe=_describe_close, why_not="the closest pairs differ in attributes the image tower does learn"))
    return out


def _describe_close(res, s) -> str:
    """Which pair of Fashion-MNIST split B is closest, and how often each method confuses it."""
    (a, b), dist, _ = _pairs(datasets.attributes("fashion_mnist")[0].astype(float), SPLITS["fashion"]["B"])
    names = datasets.FASHION_MNIST_CLASSES
    parts = [f"{m} {res.values(m, 'fashion/B', 'close-pair confusion').mean():.0%} vs "
             f"{res.values(m, 'fashion/B', 'other-pair confusion').mean():.0%}" for m in METHODS]
    return (f"fashion/B: {names[a]} and {names[b]} ({dist} attributes apart) taken for each other: "
            + ", ".join(parts) + " for the other unseen pairs")


def tables(res, s):
    order = list(METHODS) + ["1-shot classifier", "2-shot classifier", "chance"]
    groups = ["fashion", "digits", "all"]
    t = {}
    t["zero-shot top-1 on unseen classes"] = (
        _by_groups(res, "unseen top-1", order, groups),
        "Per-class averaged top-1 accuracy over the four unseen classes (candidates: unseen classes), mean over "
        "the three splits of each data set. Anchors (AwA2, 10 unseen): DAP 46.1, ConSE 44.5, DeViSE 59.7.")
    gen = {}
    cols = [(g, title, metric) for g in groups[:-1] for title, metric in (("H", "H"), ("H cal", "H (calibrated)"))]
    cols += [("all", title, metric) for title, metric in (
        ("s", "seen (generalized)"), ("u", "unseen (generalized)"), ("H", "H"), ("s cal", "seen (calibrated)"),
        ("u cal", "unseen (calibrated)"), ("H cal", "H (calibrated)"), ("constant", "gamma"))]
    for m in METHODS:
        gen[m] = {"method": m, **{f"{g} {title}": _cell(res.values(m, g, metric)) for g, title, metric in cols}}
    t["generalized zero-shot"] = (list(gen.values()),
                                  "All ten classes as candidates: per-class accuracy on seen (s) and unseen (u) test "
                                  "images and H = 2su/(s+u), raw and with calibrated stacking (the constant subtracted "
                                  "from the seen classes' scores, chosen on seen-class data; mean over the six "
                                  "splits). Anchors (AwA2): H DAP 0.0, ConSE 1.0, DeViSE 27.8.")
    splits = [f"{d}/{k}" for d, sp in SPLITS.items() for k in sp] + ["all"]
    t["close attribute signatures"] = (_by_groups(res, "close-pair confusion", list(METHODS), splits)
                                       + [dict(r, method=r["method"] + " (other pairs)")
                                          for r in _by_groups(res, "other-pair confusion", list(METHODS), splits)],
                                       "Mean rate at which one class of the split's closest unseen pair (smallest "
                                       "Hamming distance of attribute rows) is taken for the other, against the "
                                       "mean over the other unseen pairs. " + _pair_text())
    return t


def _pair_text() -> str:
    out = []
    tabs = {"fashion": (datasets.attributes("fashion_mnist")[0], datasets.FASHION_MNIST_CLASSES),
            "digits": (datasets.attributes("digits")[0], [str(i) for i in range(10)])}
    for d, sp in SPLITS.items():
        table, names = tabs[d]
        for k, u in sp.items():
            (a, b), dist, _ = _pairs(table.astype(float), u)
            out.append(f"{d}/{k}: {names[a]} - {names[b]} ({dist} attribute{'s' if dist != 1 else ''} apart)")
    return "Closest pairs: " + "; ".join(out) + "."


def _cell(v):
    from ._report import mean_std
    return dict(mean_std(v), values=[float(x) for x in v])


def _by_groups(res, metric, methods, groups):
    rows = []
    for m in methods:
        if not res.has(m, groups[0], metric):
            continue
        row = {"method": m}
        for g in groups:
            row[g] = _cell(res.values(m, g, metric))
        rows.append(row)
    return rows


def figures(res, s):
    def confusion(plt):
        ds, split = "fashion", "B"
        keeps = [res.keep[(i, f"{ds}/{split}")] for i in res.seeds if (i, f"{ds}/{split}") in res.keep]
        fig = plt.gcf()
        if not keeps:  # a report read back from JSON keeps no matrices
            fig.text(0.5, 0.5, "confusion matrices are drawn when the replay runs", ha="center")
            return
        unseen = keeps[0]["unseen"]
        labels = [datasets.FASHION_MNIST_CLASSES[c] for c in unseen]
        fig.set_size_inches(13, 5.2)
        gs = fig.add_gridspec(1, 4, width_ratios=[1, 1, 1, 0.05])
        for j, m in enumerate(METHODS):
            ax = fig.add_subplot(gs[0, j])
            conf = np.mean([k["confusion"][m] for k in keeps], axis=0) * 100
            im = ax.imshow(conf, vmin=0, vmax=100, cmap="Blues")
            for a in range(len(unseen)):
                for b in range(len(unseen)):
                    ax.text(b, a, f"{conf[a, b]:.0f}", ha="center", va="center",
                            color="white" if conf[a, b] > 50 else "black", fontsize=9)
            ax.set_xticks(range(len(unseen)))
            ax.set_xticklabels(labels, rotation=30, ha="right")
            ax.set_yticks(range(len(unseen)))
            ax.set_yticklabels(labels if j == 0 else [])
            ax.set_xlabel("predicted class")
            if j == 0:
                ax.set_ylabel("true class")
            ax.set_title(m)
        fig.colorbar(im, cax=fig.add_subplot(gs[0, 3]), label="% of the true class's test images")
        table = datasets.attributes("fashion_mnist")[0].astype(float)
        (a, b), dist, _ = _pairs(table, unseen)
        fig.suptitle(f"Fashion-MNIST split {split}: unseen classes only, mean over {len(keeps)} seed(s); closest "
                     f"signatures: {datasets.FASHION_MNIST_CLASSES[a]} / {datasets.FASHION_MNIST_CLASSES[b]} "
                     f"({dist} attributes apart)")

    def bars(plt):
        order = list(METHODS) + ["1-shot classifier", "2-shot classifier", "chance"]
        groups = ["fashion", "digits"]
        fig = plt.gcf()
        fig.set_size_inches(9, 4)
        ax = plt.gca()
        w = 0.8 / len(order)
        for j, m in enumerate(order):
            v = [res.values(m, g, "unseen top-1") * 100 for g in groups]
            ax.bar(np.arange(len(groups)) + (j - len(order) / 2 + 0.5) * w, [x.mean() for x in v], w,
                   yerr=[x.std(ddof=1) if len(x) > 1 else 0 for x in v], label=m, capsize=2)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(["Fashion-MNIST", "digits"])
        ax.set_ylabel("unseen-class top-1 accuracy (%, per-class mean)")
        ax.set_xlabel("data set (mean over 3 splits; bars: std over seeds)")
        ax.legend(fontsize=8, ncol=2)

    def harmonic_fig(plt):
        fig = plt.gcf()
        fig.set_size_inches(6, 4)
        ax = plt.gca()
        x = np.arange(len(METHODS))
        raw = [res.values(m, "all", "H") * 100 for m in METHODS]
        cal = [res.values(m, "all", "H (calibrated)") * 100 for m in METHODS]
        ax.bar(x - 0.2, [v.mean() for v in raw], 0.4, label="raw scores")
        ax.bar(x + 0.2, [v.mean() for v in cal], 0.4, label="calibrated stacking")
        ax.set_xticks(x)
        ax.set_xticklabels(METHODS)
        ax.set_ylabel("generalized H (%, mean over 6 splits)")
        ax.set_xlabel("method")
        ax.legend()
    return {"confusion": confusion, "unseen_accuracy": bars, "generalized_h": harmonic_fig}
