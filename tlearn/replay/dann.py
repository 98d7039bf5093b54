"""Replay of the lecture's domain-adversarial training (ML Lecture 19,
"labelled source, unlabelled target": domain-adversarial training).

Source: Fashion-MNIST as RGB; target: Fashion-MNIST-M, the same kind of
images blended with the shipped colour photographs as in MNIST-M (Ganin et
al., JMLR 2016, section 5.2.2); quick mode: the 8x8 digits and digits-M.
Ganin's MNIST network; for every seed: source only, AdaBN, Deep CORAL,
DANN and train on target (labelled target, the upper bound).  The share of
the source-only -> train-on-target gap each method closes is computed per
seed, beside the papers' (JMLR 2016 Table 2, MNIST -> MNIST-M: .5225 ->
.7666 of .9596 = 52.9%; ICML 2015 Table 1: .5749 -> .8149 of .9891 = 57.9%).

Model selection never looks at target labels: every recipe keeps the epoch
with the best accuracy on held-out *source* examples.

Units of one seed: the five methods (the costliest first, so that two
workers finish together).  Seeds: seed number ``i`` keeps this replay's own
rule, ``_seed(i, what)`` (FNV-1a of ``"i/what/0"``), for its data draw and
each method's recipe, so its numbers are those of the replay before the
shared machinery.  A seed's source/target pair is built where a unit runs
(and kept for the next unit of the same seed), never written to disk.
"""
from __future__ import annotations

import functools
import time
from typing import Dict, List

import numpy as np

from .. import datasets as ds
from .. import transfer as T
from .._core import TlearnError
from ._report import fmt, mean_std
from ._section import Claim, Sel, Unit

SECTION = "dann"
TITLE = "Domain-adversarial training (labelled source, unlabelled target)"

#: the second pair of the full replay: the 8x8 digits -> digits-M, with the quick scale's settings
DIGITS = {"pair": "digits", "n_per_domain": 700, "n_test": 397, "epochs": 20, "batch_size": 64}
SCALES = {
    # CI and the notebook: the digits pair only, no t-SNE figure (minutes of scikit-learn's t-SNE where installed)
    "quick": {"seeds": 3, **DIGITS, "tsne": False},
    # the default: Fashion-MNIST -> Fashion-MNIST-M, and the digits as a second pair with its own gap
    "full": {"seeds": 3, "pair": "fashion", "n_per_domain": 6000, "n_test": 2000, "epochs": 8, "batch_size": 128,
             "second_pair": "digits"},
    # as close to Ganin et al. as 2 cores allow: the papers train MNIST -> MNIST-M on all 60,000 source
    # images (batches of 64 source and 64 target) for tens of thousands of steps; here all of Fashion-MNIST
    # (its 60,000 training images split into the two domains, its 10,000 test images the target test set)
    # and 5 passes over the source's 27,000 training images: 2,110 DANN steps (3.1x the default's 680).
    # About 17 minutes of 2 idle cores (docs/results/dann/README.md: its run's CPU time); 30 minutes would
    # allow about 10 passes, but the committed report had to be run on a machine shared with other runs
    "paper": {"seeds": 3, "pair": "fashion", "n_per_domain": 30000, "n_test": 10000, "epochs": 5,
              "batch_size": 128, "second_pair": "digits"},
}
#: the setting that names the second pair's rows (the first pair's have setting "")
SECOND = "digits -> digits-M"
METHODS = ("source_only", "adabn", "deep_coral", "dann", "train_on_target")
LABELS = {"source_only": "source only", "adabn": "AdaBN", "deep_coral": "Deep CORAL", "dann": "DANN",
          "train_on_target": "train on target"}
#: the papers' numbers (MNIST -> MNIST-M): source only, DANN, train on target, and the share of
#: the gap the paper states.  JMLR's accuracies give (.7666 - .5225) / (.9596 - .5225) = 55.8%;
#: the paper prints 52.9%, which is the number we quote.
PAPERS = {
    "JMLR 2016 Table 2": {"source_only": 0.5225, "dann": 0.7666, "train_on_target": 0.9596, "stated": 0.529},
    "ICML 2015 Table 1": {"source_only": 0.5749, "dann": 0.8149, "train_on_target": 0.9891, "stated": 0.579},
}
#: the share of the gap the claim asks for: the smaller of the papers' figures
PAPER_GAP = min(v["stated"] for v in PAPERS.values())
GOAL = 0.60
#: where the two non-adversarial baselines come from; neither paper reports MNIST -> MNIST-M, so
#: there is no figure of theirs to set beside ours
BASELINE_PAPERS = {
    "adabn": "Li et al. 2016 (AdaBN): Office-31 and Caltech-Bing only, no MNIST -> MNIST-M figure",
    "deep_coral": "Sun & Saenko 2016 (Deep CORAL): Office-31 only, no MNIST -> MNIST-M figure",
}
#: the runs that cost most first, so that two workers finish together (a DANN or
#: Deep CORAL step carries source and target images, the others source only)
_ORDER = ("dann", "deep_coral", "adabn", "source_only", "train_on_target")
#: held-out images whose features are kept (proxy A-distance, figures)
_N_PAD, _N_FIG = 1000, 600


def _gap(acc, lo, hi):
    return (acc - lo) / (hi - lo)


def paper_gaps() -> Dict[str, float]:
    """The share of the gap each paper states."""
    return {k: v["stated"] for k, v in PAPERS.items()}


def _seed(main: int, what: str, rep: int = 0) -> int:
    """Per-run seeds derived from (main seed, what, repetition), never drawn at import."""
    h = 2166136261
    for ch in f"{main}/{what}/{rep}":
        h = ((h ^ ord(ch)) * 16777619) & 0xFFFFFFFF
    return h & 0x7FFFFFFF


class _Base:
    """The images a seed's pair is drawn from, loaded once."""

    def __init__(self, s: dict, data=None):
        self.s = s
        if s["pair"] == "digits" and data is None:
            self.x, self.y = ds.load_digits()
            self.name = "UCI digits shipped in tlearn -> digits-M"
            self.split = "digits"
        else:
            from ._data import fashion_for

            f = fashion_for(data)
            self.xtr, self.ytr, self.xte, self.yte = f.x_train, f.y_train, f.x_test, f.y_test
            self.name = f.describe()["description"] + " -> Fashion-MNIST-M"
            self.split = "given"
        self.n_per_domain = min(s["n_per_domain"], self._n_train() // 2)

    def _n_train(self):
        return len(self.x) - self.s["n_test"] if self.split == "digits" else len(self.xtr)

    def describe(self) -> dict:
        return {"name": self.name, "description": f"{self.name}: {self.n_per_domain} training images per domain, "
                                                  f"{self.s['n_test']} target test images",
                "n_per_domain": self.n_per_domain, "n_test": self.s["n_test"], "pair": self.s["pair"]}

    def arrays(self, seed: int):
        if self.split == "digits":
            p = np.random.default_rng(_seed(seed, "digits-split")).permutation(len(self.x))
            n_test = self.s["n_test"]
            return self.x[p[n_test:]], self.y[p[n_test:]], self.x[p[:n_test]], self.y[p[:n_test]]
        return self.xtr, self.ytr, self.xte, self.yte


@functools.lru_cache(maxsize=2)
def _pair_cached(base_id: int, seed: int) -> dict:
    return load_pair(_BASES[base_id], seed)


_BASES: Dict[int, _Base] = {}


def load_pair(base: _Base, seed: int) -> dict:
    """Source (RGB), target (-M) training sets and the target test set of
    seed number ``seed``.  Source and target training images are disjoint;
    the target test images come from the test split."""
    xtr, ytr, xte, yte = base.arrays(seed)
    rng = np.random.default_rng(_seed(seed, "pair"))
    n = min(base.s["n_per_domain"], len(xtr) // 2)
    p = rng.permutation(len(xtr))
    s, t = p[:n], p[n:2 * n]
    q = rng.permutation(len(xte))[:base.s["n_test"]]
    photo_seed = _seed(seed, "photos")
    return {
        "xs": ds.to_rgb(xtr[s]), "ys": ytr[s],
        "xt": ds.mnist_m(xtr[t], seed=photo_seed), "yt": ytr[t],
        "xt_test": ds.mnist_m(xte[q], seed=photo_seed + 1), "yt_test": yte[q],
        "xs_test": ds.to_rgb(xte[q]),
    }


class _Pairs:
    """The first pair's base and, in the full replay, the second's."""

    def __init__(self, first: _Base, second=None):
        self.first, self.second = first, second

    def describe(self) -> dict:
        d = self.first.describe()
        if self.second is not None:
            d2 = self.second.describe()
            d["description"] += f"; second pair: {d2['description']}"
            d["second_pair"] = d2["name"]
        return d


def _second_settings(s: dict) -> dict:
    return dict(s, **DIGITS)


def load(s, data=None):
    first = _Base(s, data)
    _BASES[id(first)] = first
    second = None
    if s.get("second_pair"):
        if s["second_pair"] != "digits":
            raise ValueError(f"dann: second_pair must be 'digits', got {s['second_pair']!r}")
        second = _Base(_second_settings(s))
        _BASES[id(second)] = second
    return _Pairs(first, second)


def units(s):
    out = [Unit(m, m) for m in _ORDER]
    if s.get("second_pair"):
        out += [Unit(f"{SECOND}: {m}", (m, SECOND)) for m in _ORDER]
    return out


def _recipe(method: str, s: dict, seed: int):
    common = {"epochs": s["epochs"], "batch_size": s["batch_size"], "seed": _seed(seed, method)}
    cls = {"source_only": T.SourceOnly, "adabn": T.AdaBN, "deep_coral": T.DeepCORAL, "dann": T.DANN,
           "train_on_target": T.SourceOnly}[method]
    return cls(**common)


def measure(base, unit, seed, s):
    """Train one method for one seed and measure it: target and source test
    accuracy, the epoch kept; for source only and DANN the proxy A-distance
    of their features; for DANN the held-out domain accuracy at the end."""
    i, method = seed.index, unit.args
    pairs = base
    if isinstance(method, tuple):  # the second pair: accuracies only, no monitoring
        return _measure_second(pairs.second, method[0], i, _second_settings(s))
    base = pairs.first
    if id(base) not in _BASES:
        _BASES[id(base)] = base
    d = _pair_cached(id(base), i)
    rec = _recipe(method, s, i)
    curve: List[float] = []
    watch = None
    if method != "adabn":  # AdaBN's re-estimation comes after training: its epochs are source-only networks

        def watch(epoch, r):  # monitoring for the report; the selection never sees it
            curve.append(r.score(d["xt_test"], d["yt_test"]))

    try:
        if method == "train_on_target":
            rec.fit(d["xt"], d["yt"], d["xs"], callback=watch)  # the source only for the joint standardisation
        else:
            rec.fit(d["xs"], d["ys"], d["xt"], callback=watch)
    except TlearnError as e:  # a diverged run is reported, not hidden
        nan = float("nan")
        return {"rows": [(method, "", m, nan) for m in ("target_acc", "source_acc", "selected_epoch")],
                "notes": [f"{LABELS[method]} FAILED: {e}"]}
    rows = [(method, "", "target_acc", rec.score(d["xt_test"], d["yt_test"])),
            (method, "", "source_acc", rec.score(d["xs_test"], d["yt_test"])),
            (method, "", "selected_epoch", rec.selected_epoch_),
            (method, "", "steps", len(rec.step_log_["label"]))]
    rows += [(method, f"epoch {e + 1}", "target_acc_by_epoch", a) for e, a in enumerate(curve)]
    keep = {}
    if method in ("source_only", "dann"):
        m = min(len(d["xs_test"]), max(_N_PAD, _N_FIG))
        fs, ft = rec.transform(d["xs_test"][:m]), rec.transform(d["xt_test"][:m])
        rows.append((method, "", "proxy_a_distance", T.proxy_a_distance(fs[:_N_PAD], ft[:_N_PAD], seed=_seed(i, "pad"))))
        if i == 0:
            keep["features"] = (fs[:_N_FIG], ft[:_N_FIG])
            keep["y"] = np.asarray(d["yt_test"][:_N_FIG])
    if method == "dann":
        rows.append((method, "", "domain_val_acc_last", float(rec.history_.get("domain_val_acc", [float("nan")])[-1])))
        if i == 0:
            keep["steps"] = {k: list(v) for k, v in rec.step_log_.items() if k in ("domain_acc", "label_acc")}
    return {"rows": rows, "keep": keep or None}


def _measure_second(base: _Base, method: str, i: int, s: dict):
    if id(base) not in _BASES:
        _BASES[id(base)] = base
    d = _pair_cached(id(base), i)
    rec = _recipe(method, s, i)
    try:
        if method == "train_on_target":
            rec.fit(d["xt"], d["yt"], d["xs"])
        else:
            rec.fit(d["xs"], d["ys"], d["xt"])
    except TlearnError as e:
        nan = float("nan")
        return {"rows": [(method, SECOND, m, nan) for m in ("target_acc", "source_acc")],
                "notes": [f"{SECOND}, {LABELS[method]} FAILED: {e}"]}
    return [(method, SECOND, "target_acc", rec.score(d["xt_test"], d["yt_test"])),
            (method, SECOND, "source_acc", rec.score(d["xs_test"], d["yt_test"]))]


def derive(res, s):
    """The share of the source-only -> train-on-target gap, per seed, in percent."""
    for st in ("", SECOND) if s.get("second_pair") else ("",):
        lo, hi = res.values("source_only", st, "target_acc"), res.values("train_on_target", st, "target_acc")
        for m in METHODS:
            g = 100 * _gap(res.values(m, st, "target_acc"), lo, hi)
            for i, v in zip(res.seeds, g):
                yield m, st, i, "gap_closed", v
    lo, hi = res.values("source_only", "", "target_acc"), res.values("train_on_target", "", "target_acc")
    for e in res.settings("target_acc_by_epoch", "dann"):
        for i, v in zip(res.seeds, 100 * _gap(res.values("dann", e, "target_acc_by_epoch"), lo, hi)):
            yield "dann", e, i, "gap_closed_by_epoch", v


# ------------------------------------------------------------------ report

def _ms(v) -> str:
    return fmt(mean_std(v))


def tables(res, s) -> Dict[str, tuple]:
    seeds = res.seeds
    gap_note = ("accuracy as a fraction; gap closed (percent) = 100 (method - source only) / (train on target - "
                "source only) on the target test set, per seed")
    out = {"results": (res.by_metric({"target accuracy": "target_acc", "source accuracy": "source_acc",
                                      "gap closed (%)": "gap_closed"}, methods=METHODS, labels=LABELS), gap_note)}
    if s.get("second_pair"):
        out[f"second pair: {SECOND}"] = (
            res.by_metric({"target accuracy": "target_acc", "source accuracy": "source_acc",
                           "gap closed (%)": "gap_closed"}, setting=SECOND, methods=METHODS, labels=LABELS),
            gap_note + f"; {DIGITS['n_per_domain']} training images per domain, {DIGITS['epochs']} epochs")
    per_seed = []
    for m in ("adabn", "deep_coral", "dann"):
        g = res.values(m, "", "gap_closed")
        per_seed.append({"method": LABELS[m], **{f"seed {i}": f"{x:.1f}%" for i, x in zip(seeds, g)},
                         "mean ± std": fmt(mean_std(g), 1) + "%"})
    for name, gap in paper_gaps().items():
        per_seed.append({"method": f"DANN, {name}", **{f"seed {i}": "" for i in seeds},
                         "mean ± std": f"{100 * gap:.1f}%"})
    out["gap closed per seed (%)"] = (per_seed, "")
    out["proxy A-distance"] = ([
        {"method": "source only (before)", "proxy A-distance": _ms(res.values("source_only", "", "proxy_a_distance")),
         "held-out domain accuracy": ""},
        {"method": "DANN (after)", "proxy A-distance": _ms(res.values("dann", "", "proxy_a_distance")),
         "held-out domain accuracy": _ms(res.values("dann", "", "domain_val_acc_last"))}], "")
    by_epoch = res.by_setting("target_acc_by_epoch", [m for m in METHODS if m != "adabn"], LABELS)
    by_epoch += res.by_setting("gap_closed_by_epoch", ["dann"], {"dann": "DANN, gap closed (%, final baselines)"})
    out["target accuracy after each epoch (monitoring only: selection never sees it)"] = (by_epoch, "")
    out["epoch kept (best source-validation accuracy; target labels never used)"] = ([
        {"method": LABELS[m], **{f"seed {i}": ("failed" if np.isnan(e) else str(int(e) + 1))
                                 for i, e in zip(seeds, res.values(m, "", "selected_epoch"))}} for m in METHODS], "")
    return out


def _steps(res) -> str:
    """DANN's training steps per seed, as a text (the same for every seed unless the data differ)."""
    if not res.has("dann", "", "steps"):
        return "?"
    v = sorted({int(x) for x in res.values("dann", "", "steps") if np.isfinite(x)})
    return "/".join(f"{x:,}" for x in v) or "?"


def claims(s) -> List[Claim]:
    papers = paper_gaps()
    paper_txt = ", ".join(f"{100 * v:.1f}% ({k})" for k, v in papers.items())
    budget = (f"{s['epochs']} epochs (DANN's step count is given with the first claim), where the papers train "
              "for tens of thousands of steps")
    out = [
        Claim("dann_gap_closed", f"DANN closes at least {100 * PAPER_GAP:.1f}% of the source-only -> "
                                 f"train-on-target gap, the papers' figure (JMLR 2016 Table 2; per seed: its share "
                                 f"of the gap in percent; our goal beyond it: {100 * GOAL:.0f}%)",
              paper_txt, a=Sel("dann", "", "gap_closed"), b=0.0, threshold=100 * PAPER_GAP, why_not=budget,
              describe=lambda res, s: (f"DANN closes {fmt(mean_std(res.values('dann', '', 'gap_closed')), 1)}% of the gap "
                                       f"after {_steps(res)} steps; goal "
                                       f"{100 * GOAL:.0f}%: "
                                       f"{'reached' if res.values('dann', '', 'gap_closed').mean() >= 100 * GOAL else 'not reached'}"
                                       " (mean over seeds)")),
        Claim("dann_beats_source_only", "DANN beats source only on the target domain (per seed: DANN minus source "
                                        "only, target test accuracy)", ".7666 vs .5225 (JMLR 2016 Table 2)",
              a=Sel("dann", "", "target_acc"), b=Sel("source_only", "", "target_acc"), why_not=budget),
        Claim("domain_classifier_fooled", "the domain classifier struggles towards chance (per seed: 0.60 minus "
                                          "its held-out balanced accuracy at the end, above 0)",
              "lecture: the domain classifier is fooled",
              paired=lambda res, s: 0.60 - res.values("dann", "", "domain_val_acc_last"),
              describe=lambda res, s: f"held-out domain accuracy {_ms(res.values('dann', '', 'domain_val_acc_last'))}",
              why_not=budget),
        Claim("source_accuracy_kept", "the label accuracy on the source stays high under DANN (per seed: DANN minus "
                                      "source only on the source test set, above -0.05)",
              "lecture: the label predictor still works",
              a=Sel("dann", "", "source_acc"), b=Sel("source_only", "", "source_acc"), threshold=-0.05,
              why_not="the adversarial gradient costs the source more than 5 points at this budget"),
        Claim("pad_drops", "adaptation brings the domains closer: the proxy A-distance of DANN's features is below "
                           "the source-only features' (per seed: source only minus DANN)",
              "JMLR 2016 section 5.1.4 (PAD drops)",
              a=Sel("source_only", "", "proxy_a_distance"), b=Sel("dann", "", "proxy_a_distance"), why_not=budget),
    ]
    if s.get("second_pair"):
        out.append(Claim("dann_gap_closed_digits", f"On the second pair ({SECOND}), DANN closes at least "
                                                   f"{100 * PAPER_GAP:.1f}% of its own source-only -> "
                                                   "train-on-target gap (per seed, percent)",
                         paper_txt + " on MNIST -> MNIST-M", a=Sel("dann", SECOND, "gap_closed"), b=0.0,
                         threshold=100 * PAPER_GAP,
                         why_not=f"{DIGITS['n_per_domain']} 8x8 images per domain and {DIGITS['epochs']} epochs"))
    for m in ("adabn", "deep_coral"):
        out.append(Claim(f"{m}_closes_gap", f"{LABELS[m]} closes part of the gap (per seed: its share of the gap in "
                                            "percent, above 0)", BASELINE_PAPERS[m],
                         a=Sel(m, "", "gap_closed"), b=0.0,
                         why_not="no paper figure on this pair; the statistics of small batches of digits shift "
                                 "little between the domains" if m == "adabn" else
                                 "no paper figure on this pair; the correlation loss is weak at this budget"))
    return out


def _pca2(a: np.ndarray) -> np.ndarray:
    a = a - a.mean(0)
    _, _, vt = np.linalg.svd(a, full_matrices=False)
    return a @ vt[:2].T


def _embedders(tsne: bool = True) -> Dict[str, object]:
    out = {"pca": _pca2}
    if not tsne:
        return out
    try:
        from sklearn.manifold import TSNE

        out["tsne"] = lambda a: TSNE(2, init="pca", perplexity=30, random_state=0).fit_transform(a)
    except ImportError:
        pass
    return out


def _draw_features(plt, keep: dict, ename: str, embed) -> None:
    """2 x 2 panels: before (source only) / after (DANN), by domain / by class."""
    from matplotlib.lines import Line2D

    y = np.asarray(keep["y"])
    classes = [int(c) for c in np.unique(y)]
    cmap = plt.get_cmap("tab10")
    fig = plt.gcf()
    fig.set_size_inches(11, 8)
    unit = "PCA component" if ename == "pca" else "t-SNE dimension"
    for r, (method, title) in enumerate((("source_only", "before (source only)"), ("dann", "after (DANN)"))):
        fs, ft = keep["features"][method]
        e = embed(np.concatenate([fs, ft]).astype(np.float64))
        es, et = e[:len(fs)], e[len(fs):]
        for c, panel in enumerate(("by domain", "by class")):
            ax = plt.subplot(2, 2, 2 * r + c + 1)
            if panel == "by domain":
                ax.scatter(es[:, 0], es[:, 1], s=5, c="tab:blue", marker="o", label="source (o)")
                ax.scatter(et[:, 0], et[:, 1], s=9, c="tab:red", marker="^", label="target (triangle)")
                ax.legend(markerscale=2, fontsize=8, loc="best")
            else:
                ax.scatter(es[:, 0], es[:, 1], s=7, c=cmap(y % 10), marker="o")
                ax.scatter(et[:, 0], et[:, 1], s=14, facecolors="none", edgecolors=cmap(y % 10), marker="^",
                           linewidths=0.6)
            ax.set_title(f"{title}: {panel}", fontsize=9)
            ax.set_xlabel(f"{unit} 1 (feature units)" if ename == "pca" else f"{unit} 1 (arbitrary units)",
                          fontsize=8)
            ax.set_ylabel(f"{unit} 2 (feature units)" if ename == "pca" else f"{unit} 2 (arbitrary units)",
                          fontsize=8)
            ax.tick_params(labelsize=7)
            if r == 0 and panel == "by class":
                key_ax = ax
    handles = [Line2D([], [], ls="", marker="s", color=cmap(c % 10), label=f"class {c}") for c in classes]
    handles += [Line2D([], [], ls="", marker="o", color="grey", label="source: filled circle"),
                Line2D([], [], ls="", marker="^", markerfacecolor="none", color="grey", label="target: open triangle")]
    key_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, title="key (by class)",
                  title_fontsize=8)
    fig.suptitle(f"features of target test images and their source twins ({ename.upper()})")


def _draw_domain_accuracy(plt, steps: dict) -> None:
    k = max(1, len(steps["domain_acc"]) // 50)
    for key, label in (("domain_acc", "domain classifier (training batches)"),
                       ("label_acc", "label predictor on the source")):
        v = np.asarray(steps[key], dtype=float)
        sm = np.convolve(v, np.ones(k) / k, mode="valid")
        plt.plot(np.arange(len(sm)) + k, sm, label=label)
    plt.axhline(0.5, color="grey", ls="--", lw=1, label="chance (domain)")
    plt.xlabel("training step")
    plt.ylabel(f"accuracy (fraction; mean over {k} steps)")
    plt.ylim(0.3, 1.02)
    plt.legend(fontsize=8)
    plt.title("DANN: the domain classifier against the label predictor", fontsize=10)


def _draw_by_epoch(plt, res, s) -> None:
    n_ep = 0
    for m in METHODS:
        eps = res.settings("target_acc_by_epoch", m)
        if not eps:
            continue
        v = np.array([res.values(m, e, "target_acc_by_epoch") for e in eps])
        x = np.arange(1, len(eps) + 1)
        n_ep = max(n_ep, len(eps))
        plt.errorbar(x, v.mean(1), yerr=v.std(1, ddof=1) if v.shape[1] > 1 else None, label=LABELS[m], capsize=2,
                     marker="o", ms=3)
    # AdaBN re-estimates its statistics once, after training: one value, drawn at the last epoch
    a = res.values("adabn", "", "target_acc")
    plt.errorbar([n_ep], [a.mean()], yerr=[a.std(ddof=1)] if len(a) > 1 else None, ls="", marker="D", ms=6,
                 color="k", capsize=3, label="AdaBN (after training only)")
    plt.xticks(np.arange(1, n_ep + 1), fontsize=7 if n_ep > 12 else None)
    plt.xlabel("epoch")
    plt.ylabel("target test accuracy (fraction)")
    plt.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    plt.title("accuracy on the target domain after each epoch\n(mean ± std over seeds; monitoring only)", fontsize=9)


def _draw_gap_by_step(plt, res, s) -> None:
    """DANN's share of the gap after each epoch against its training steps, per seed and their mean, with the
    papers' figure and the goal.  Monitoring: the step schedules (learning rate, lambda) run over the whole
    training, so the share after an early epoch is not that of a shorter run."""
    eps = res.settings("gap_closed_by_epoch", "dann")
    v = np.array([res.values("dann", e, "gap_closed_by_epoch") for e in eps])  # (epochs, seeds)
    per_epoch = np.nanmean(res.values("dann", "", "steps")) / len(eps)
    x = per_epoch * np.arange(1, len(eps) + 1)
    for j, i in enumerate(res.seeds):
        plt.plot(x, v[:, j], color="tab:blue", alpha=0.35, lw=1, marker=".", label="DANN, each seed" if j == 0 else None)
    plt.plot(x, np.nanmean(v, 1), color="tab:blue", lw=2, marker="o", ms=4, label="DANN, mean over seeds")
    for name, gap in paper_gaps().items():
        plt.axhline(100 * gap, ls="--", lw=1, color="tab:red" if gap == PAPER_GAP else "tab:orange",
                    label=f"{name}: {100 * gap:.1f}%")
    plt.axhline(100 * GOAL, ls=":", lw=1, color="k", label=f"goal: {100 * GOAL:.0f}%")
    plt.axhline(0, color="grey", lw=0.8)
    half = s["batch_size"] // 2
    plt.xlabel(f"DANN training steps (batches of {half} source + {half} target images)")
    plt.ylabel("gap closed on the target test set (%)")
    plt.legend(fontsize=8, loc="lower right")
    plt.title("DANN's share of the source-only -> train-on-target gap after each epoch\n(the final baselines; "
              "monitoring only: the schedules span the whole run)", fontsize=9)


def figures(res, s) -> Dict[str, object]:
    """name -> draw(plt): the features before/after adaptation (PCA, and
    t-SNE when scikit-learn is installed), the domain classifier's accuracy
    over DANN's training, the target accuracy after each epoch, DANN's share
    of the gap against its training steps."""
    k0 = {m: (res.keep.get((res.seeds[0], m)) or {}) for m in ("source_only", "dann")}
    out = {}
    if all("features" in k for k in k0.values()):  # else the first seed's run failed (reported in the notes)
        keep = {"y": k0["dann"]["y"], "features": {m: k["features"] for m, k in k0.items()}}
        for ename, embed in _embedders(s.get("tsne", True)).items():
            out[f"features_{ename}"] = lambda plt, e=ename, f=embed: _draw_features(plt, keep, e, f)
        out["domain_accuracy"] = lambda plt: _draw_domain_accuracy(plt, k0["dann"]["steps"])
    if res.settings("target_acc_by_epoch"):
        out["target_accuracy_by_epoch"] = lambda plt: _draw_by_epoch(plt, res, s)
    if res.settings("gap_closed_by_epoch", "dann") and res.has("dann", "", "steps"):
        out["gap_closed_by_step"] = lambda plt: _draw_gap_by_step(plt, res, s)
    return out
