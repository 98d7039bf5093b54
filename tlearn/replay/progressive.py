"""Replay: progressive neural networks (lecture: "Progressive Neural
Networks"; Rusu et al. 2016, arXiv:1606.04671).

Tasks, all on Fashion-MNIST images (disjoint training images per task,
drawn per seed; the test images transformed as each task sees them):

* ``source`` (column 1): the ten classes, many labelled images.
* ``shifted`` (column 2): the same ten classes with every image moved
  ``SHIFT`` pixels right and down, ten labelled images per class.
* ``shifted2`` (column 3): the same, moved ``2 SHIFT`` pixels, ten per
  class.  The convolutions of the earlier columns see the same strokes at
  other places: the input changes, the task does not.
* ``permuted`` (a third column trained instead of ``shifted2``, after the
  same two): the ten classes with the pixels in a fixed random order (one
  permutation per seed).  It shares nothing with the others: no pixel keeps
  its neighbours, so no feature of an earlier column means anything there.

Transfer is measured as the paper does (Rusu et al., section 5): the area
under the target task's learning curve (test accuracy after each epoch,
averaged over the epochs) relative to a single column trained from scratch
on the same examples (Baseline 1), in percent.  Against: Baseline 2, the
source column with only a new head trained; Baseline 3, the source column
fine-tuned whole (a chain: source -> shifted -> shifted2, the earlier heads
kept frozen to measure forgetting); Baseline 4, random frozen column(s)
with a new one.  Every method is the same convolutional column (ProgressiveNet's
own) trained by Adam for the same epochs over the same examples; the test
accuracy of each epoch is measured, never used to choose anything.
"""
from __future__ import annotations

import copy

import numpy as np

from .. import layers as L
from .. import optim
from ..model import Model
from ..transfer import ProgressiveNet
from ..transfer.progressive import _parse_layers
from ._data import fashion_for
from ._section import Claim, Sel, Unit

TITLE = "Progressive neural networks"
SCALES = {
    "quick": {"seeds": 2, "source_per_class": 300, "target_per_class": 10, "test_per_class": 50,
              "source_epochs": 3, "target_epochs": 10},
    "full": {"seeds": 5, "source_per_class": 900, "target_per_class": 10, "test_per_class": 100,
             "source_epochs": 4, "target_epochs": 20},
    # closer to the paper: more seeds and epochs, and the paper's three initial alphas side by side
    # (Rusu et al. sweep alpha in {1, 0.1, 0.01}; every value is reported, none is chosen)
    "paper": {"seeds": 10, "source_per_class": 1000, "target_per_class": 10, "test_per_class": 200,
              "source_epochs": 5, "target_epochs": 30, "alphas": (1.0, 0.1, 0.01)},
}
LAYERS = (("conv", 8, 5, 2), ("conv", 16, 5, 2), 64)
INPUT = (1, 28, 28)
ALPHA_INIT = 0.1
LR = 5e-3
BATCH = 32
SHIFT = 2
TARGETS = ("shifted", "shifted2", "permuted")
METHODS = ("progressive", "scratch", "head only", "fine-tune", "random column(s)")
PAPER = {"progressive": "209% (2 columns, Pong Soup mean)", "fine-tune": "181%", "head only": "35%",
         "scratch": "100% (by definition)", "random column(s)": "-"}
ABOUT = {"network": "column: conv 8 5x5 /2, conv 16 5x5 /2, dense 64, head 10 (ReLU between)", "alpha_init": ALPHA_INIT,
         "optimizer": f"Adam lr {LR}, batch {BATCH}", "shift_pixels": SHIFT}


# ------------------------------------------------------------------- data

def load(s, data=None):
    per = s["source_per_class"] + 3 * s["target_per_class"]
    return fashion_for(data, per_class_train=per, per_class_test=s["test_per_class"])


def _shift(x, dy, dx):
    out = np.zeros_like(x)
    h, w = x.shape[-2:]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = x[..., ys, xs]
    return out


def _transform(task: str, x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """``x`` (N, 1, 28, 28) as the task sees it, flattened to (N, 784)."""
    if task == "shifted":
        x = _shift(x, SHIFT, SHIFT)
    elif task == "shifted2":
        x = _shift(x, 2 * SHIFT, 2 * SHIFT)
    x = np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.float32)
    if task == "permuted":
        x = x[:, perm]
    return np.ascontiguousarray(x.reshape((len(x),) + INPUT))


def tasks_of(data, s, index: int) -> dict:
    """The four tasks of seed ``index``: name -> (x, y, x_test, y_test);
    disjoint training images per task, the whole test set transformed per task."""
    rng = np.random.default_rng(1000 + index)
    sizes = {"source": s["source_per_class"], "shifted": s["target_per_class"],
             "shifted2": s["target_per_class"], "permuted": s["target_per_class"]}
    pools = {t: [] for t in sizes}
    for c in np.unique(data.y_train):
        idx = rng.permutation(np.flatnonzero(data.y_train == c))
        at = 0
        for t, n in sizes.items():
            pools[t].append(idx[at:at + n])
            at += n
    perm = rng.permutation(28 * 28)
    out = {}
    for t in sizes:
        idx = rng.permutation(np.concatenate(pools[t]))
        out[t] = (_transform(t, data.x_train[idx], perm), data.y_train[idx].astype(np.int64),
                  _transform(t, data.x_test, perm), data.y_test.astype(np.int64))
    return out


# ------------------------------------------------------------ the methods

def _column(prefix_old: dict, n_out: int, seed: int) -> Model:
    """A single column (ProgressiveNet's own) with its head renamed ``new``
    and the heads named in ``prefix_old`` (output name -> classes) kept
    beside it on its last hidden layer."""
    x = L.Input(INPUT, name="x")
    hs = ProgressiveNet._column(0, x, _parse_layers(LAYERS, "replay"), n_out, [], 2)
    outs = {"new": hs[-1]}
    for name, n in prefix_old.items():
        outs[name] = L.Dense(n, name=name)(hs[-2])
    return Model(x, outs, seed=seed, name="column")


def _train_column(m: Model, x, y, xt, yt, epochs: int) -> list:
    m.check_finite = True
    m.compile(optim.Adam(LR), loss={"new": "softmax_ce"})
    h = m.fit(x, {"new": y}, epochs=epochs, batch_size=BATCH, validation_data=(xt, {"new": yt}), verbose=0)
    return [float(v) for v in h["val_new_acc"]]


def _source_net(T, s, seed: int) -> ProgressiveNet:
    net = ProgressiveNet(layers=LAYERS, alpha_init=ALPHA_INIT, lr=LR, batch_size=BATCH, epochs=s["target_epochs"],
                         seed=seed)
    x, y, _, _ = T["source"]
    return net.add_task(x, y, task="source", epochs=s["source_epochs"])


def _head_weights(m: Model, head: str, as_name: str) -> dict:
    return {f"{as_name}.w": m.params[f"{head}.w"], f"{as_name}.b": m.params[f"{head}.b"]}


def _curve_rows(method, task, curve):
    rows = [(method, task, f"acc_epoch{e + 1}", v) for e, v in enumerate(curve)]
    rows.append((method, task, "auc", float(np.mean(curve))))
    rows.append((method, task, "final_acc", curve[-1]))
    return rows


def measure(data, unit, seed, s):
    i = seed.index
    T = tasks_of(data, s, i)
    base = 7919 * (i + 1)  # the source column is the same in every unit of a seed
    ep = s["target_epochs"]
    xs_t, ys_t = T["source"][2], T["source"][3]
    rows = []
    if unit.name.startswith("progressive"):
        alpha = ALPHA_INIT if unit.args is None else unit.args
        me = "progressive" if unit.args is None else f"progressive (alpha0={alpha:g})"
        net = _source_net(T, s, base).set_params(alpha_init=alpha)
        w0 = net.column_weights("source")
        acc0 = net.score(xs_t, ys_t, task="source")
        if unit.args is None:
            rows.append(("source column", "source", "acc", acc0))
        net.add_task(*T["shifted"][:2], task="shifted", validation_data=T["shifted"][2:])
        w1 = net.column_weights("shifted")
        acc1 = net.score(*T["shifted"][2:], task="shifted")
        branch = copy.deepcopy(net)
        net.add_task(*T["shifted2"][:2], task="shifted2", validation_data=T["shifted2"][2:])
        for t in ("shifted", "shifted2"):
            rows += _curve_rows(me, t, net.history_[t]["val_acc"])
        same = all(np.array_equal(w0[k], v) for k, v in net.column_weights("source").items()) and \
            all(np.array_equal(w1[k], v) for k, v in net.column_weights("shifted").items())
        rows.append((me, "", "earlier_columns_bit_identical", float(same)))
        rows.append((me, "source", "acc_after", net.score(xs_t, ys_t, task="source")))
        rows.append((me, "source", "forgetting", acc0 - net.score(xs_t, ys_t, task="source")))
        rows.append((me, "shifted", "forgetting", acc1 - net.score(*T["shifted"][2:], task="shifted")))
        for (col, layer, frm), a in net.lateral_alphas().items():
            rows.append((me, col, f"alpha_l{layer}_from_{frm}", a))
        # the task that shares nothing: a third column after the same two
        net = branch
        net.add_task(*T["permuted"][:2], task="permuted", validation_data=T["permuted"][2:])
        rows += _curve_rows(me, "permuted", net.history_["permuted"]["val_acc"])
        for (col, layer, frm), a in net.lateral_alphas().items():
            if col == "permuted":
                rows.append((me, col, f"alpha_l{layer}_from_{frm}", a))
    elif unit.name == "scratch":
        for t in TARGETS:
            net = ProgressiveNet(layers=LAYERS, lr=LR, batch_size=BATCH, epochs=ep, seed=base + 1)
            net.fit(*T[t][:2], task=t, validation_data=T[t][2:])
            rows += _curve_rows("scratch", t, net.history_[t]["val_acc"])
    elif unit.name == "random column(s)":
        for t, before in (("shifted", 1), ("shifted2", 2)):
            net = ProgressiveNet(layers=LAYERS, alpha_init=ALPHA_INIT, lr=LR, batch_size=BATCH, epochs=ep,
                                 seed=base + 2)
            for k in range(before):
                net.add_task(*T["source"][:2], task=f"random{k}", epochs=0)
            net.add_task(*T[t][:2], task=t, validation_data=T[t][2:])
            rows += _curve_rows("random column(s)", t, net.history_[t]["val_acc"])
    else:  # "head only" or "fine-tune": a chain source -> shifted -> shifted2 through one column
        whole = unit.name == "fine-tune"
        src = _source_net(T, s, base).model_
        body = {k: v for k, v in src.params.items() if k.startswith("c0_l")}
        heads = {"source": _head_weights(src, "c0_out", "source")}
        acc0 = None
        for t in ("shifted", "shifted2"):
            m = _column({h: 10 for h in heads}, 10, base + 3)
            m.load_weights({**body, **{k: v for w in heads.values() for k, v in w.items()}}, strict=False)
            if acc0 is None:
                acc0 = float(np.mean(np.argmax(m.predict(xs_t, outputs=["source"])["source"], 1) == ys_t))
            for h in heads:
                m.layer(h).trainable = False
            if not whole:
                for k in range(len(LAYERS)):
                    m.layer(f"c0_l{k}").trainable = False
            rows += _curve_rows(unit.name, t, _train_column(m, *T[t], ep))
            acc = float(np.mean(np.argmax(m.predict(xs_t, outputs=["source"])["source"], 1) == ys_t))
            rows.append((unit.name, "source", f"acc_after_{t}", acc))
            rows.append((unit.name, "source", f"forgetting_after_{t}", acc0 - acc))
            if whole:  # the chain goes on from the fine-tuned body
                body = {k: v for k, v in m.params.items() if k.startswith("c0_l")}
            heads[t] = _head_weights(m, "c0_out", t)
    return rows


def units(s):
    """One unit per method; with ``alphas`` in the settings, one more
    progressive unit per further initial alpha (the paper's three)."""
    return [Unit(m) for m in METHODS] + [Unit(f"progressive alpha0={a:g}", float(a)) for a in s.get("alphas", ())
                                         if float(a) != ALPHA_INIT]


# ------------------------------------------------------------------ claims

def _transfer(res, method, task):
    return 100.0 * res.values(method, task, "auc") / res.values("scratch", task, "auc")


def derive(res, s):
    """Transfer (%) per seed: the area under the learning curve over the scratch column's."""
    out = []
    for m in res.methods("auc"):
        for t in TARGETS:
            if res.has(m, t, "auc"):
                for seed, v in zip(res.seeds, _transfer(res, m, t)):
                    out.append((m, t, seed, "transfer_pct", float(v)))
    return out


def _alphas(res, task):
    names = sorted({r["metric"] for r in res.rows if r["method"] == "progressive" and r["setting"] == task
                    and r["metric"].startswith("alpha_")})
    return {n: res.values("progressive", task, n) for n in names}


def _alpha_shrink(res, s):
    """Per seed: ALPHA_INIT minus the mean lateral alpha of the permuted column."""
    a = _alphas(res, "permuted")
    return ALPHA_INIT - np.mean(np.stack(list(a.values())), axis=0)


def _alpha_gap(res, s):
    """Per seed: the mean lateral alpha of the shifted2 column minus that of the permuted column."""
    def mean(t):
        return np.mean(np.stack(list(_alphas(res, t).values())), axis=0)
    return mean("shifted2") - mean("permuted")


CLAIMS = [
    Claim("transfer_col2", "The second column (shifted) transfers: area under its learning curve above a single "
          "column from scratch (transfer > 100%)", "Rusu et al. 2016, Table 1: 209% (Pong Soup mean)",
          a=Sel("progressive", "shifted", "transfer_pct"), b=100.0,
          why_not="ten images per class: a single column learns the shifted task almost as fast, and the "
                  "adapters start from random V and U"),
    Claim("transfer_col3", "The third column (shifted2) transfers: transfer > 100%",
          "Rusu et al. 2016: positive transfer on 8 of 12 Atari targets",
          a=Sel("progressive", "shifted2", "transfer_pct"), b=100.0,
          why_not="ten images per class: a single column learns the task almost as fast, and the adapters "
                  "start from random V and U"),
    Claim("pnn_ge_finetune_col2", "Progressive column 2 transfers at least as well as fine-tuning (shifted)",
          "Rusu et al. 2016, Table 1: 209% vs 181%",
          a=Sel("progressive", "shifted", "transfer_pct"), b=Sel("fine-tune", "shifted", "transfer_pct"),
          threshold=0.0, why_not="fine-tuning a column on a task this close to its source is as fast"),
    Claim("pnn_ge_finetune_col3", "Progressive column 3 transfers at least as well as fine-tuning (shifted2)",
          "Rusu et al. 2016, Table 1: 209% vs 181%",
          a=Sel("progressive", "shifted2", "transfer_pct"), b=Sel("fine-tune", "shifted2", "transfer_pct"),
          threshold=0.0, why_not="fine-tuning a column on a task this close to its source is as fast"),
    Claim("pnn_bit_identical", "Progressive networks do not forget: after columns 2 and 3 trained, every weight of "
          "columns 1 and 2 is bit-identical (1 per seed when all are)", "Rusu et al. 2016 (immune to forgetting by "
          "construction)", a=Sel("progressive", "", "earlier_columns_bit_identical"), b=0.5,
          why_not="a frozen layer changed: a defect"),
    Claim("pnn_forgets_less", "Fine-tuning forgets the source task by more than 5 points more than the "
          "progressive network does (source accuracy lost after shifted then shifted2)",
          "Rusu et al. 2016 (motivation)", a=Sel("fine-tune", "source", "forgetting_after_shifted2"),
          b=Sel("progressive", "source", "forgetting"), threshold=0.05,
          why_not="the fine-tuned body still serves the source head"),
    Claim("finetune_forgets", "Fine-tuning forgets: the source task's accuracy through its kept head drops by "
          "more than 5 points after fine-tuning on shifted then shifted2", "Rusu et al. 2016 (motivation)",
          a=Sel("fine-tune", "source", "forgetting_after_shifted2"), b=0.05,
          why_not="the fine-tuned body still serves the source head"),
    Claim("no_alpha_growth_unrelated", "On the task that shares nothing (permuted) the lateral alphas shrink "
          f"below their start ({ALPHA_INIT})", "lecture: a new column can ignore an unhelpful old one",
          paired=_alpha_shrink,
          why_not="alpha multiplies a learned V: the column can silence a lateral by V as well as by alpha, "
                  "and random features of the earlier columns still help a little"),
    Claim("unrelated_no_worse", "On the task that shares nothing the new column is no worse than a single "
          "column (transfer > 97%)", "lecture",
          a=Sel("progressive", "permuted", "transfer_pct"), b=97.0,
          why_not="the laterals' extra parameters slow the first epochs"),
    Claim("alpha_lower_unrelated", "The lateral alphas of the column on the task that shares nothing end lower than "
          "those of the column on a related task after the same two columns (permuted vs shifted2, mean over "
          "adapters)", "lecture: a new column can ignore an unhelpful old one", paired=_alpha_gap,
          why_not="alpha multiplies a learned V: the column can silence a lateral by V as well as by alpha"),
]


def tables(res, s):
    methods = res.methods("transfer_pct")
    return {
        "transfer (%)": (res.by_setting("transfer_pct", methods),
                         "Area under the target learning curve (test accuracy after each epoch, averaged) "
                         "relative to a single column from scratch, percent; per seed. Paper (Rusu et al. 2016, "
                         "Table 1, Pong Soup): " + "; ".join(f"{k} {v}" for k, v in PAPER.items()) + "."),
        "final accuracy": (res.by_setting("final_acc", methods),
                           "Target test accuracy after the last epoch (fraction)."),
        "forgetting": (res.by_metric({"source acc before": "acc", "after shifted": "acc_after_shifted",
                                      "after shifted2": "acc_after_shifted2", "progressive, after": "acc_after"},
                                     setting="source", methods=["source column", "fine-tune", "head only",
                                                                "progressive"]),
                       "Source-task test accuracy (fraction) through its own head or column: before, and after the "
                       "later tasks trained."),
    }


# ----------------------------------------------------------------- figures

def figures(res, s):
    return {"learning_curves": lambda plt: _curves(plt, res, s), "lateral_alpha": lambda plt: _alpha_plot(plt, res)}


def _curves(plt, res, s):
    ep = list(range(1, s["target_epochs"] + 1))
    fig = plt.gcf()
    fig.set_size_inches(13, 4)
    for k, t in enumerate(TARGETS):
        ax = fig.add_subplot(1, 3, k + 1)
        for m in METHODS:
            if not res.has(m, t, "auc"):
                continue
            v = np.stack([res.values(m, t, f"acc_epoch{e}") for e in ep])
            ax.errorbar(ep, v.mean(1), yerr=v.std(1, ddof=1) if v.shape[1] > 1 else None, marker="o", ms=3,
                        capsize=2, label=m)
        ax.set_xticks(ep if len(ep) <= 10 else ep[::2])
        ax.set_xlabel("epoch over the target examples")
        ax.set_ylabel("target test accuracy (fraction,\nmean ± std over seeds)")
        ax.set_title(f"target: {t}")
        ax.legend(fontsize=7)
    fig.tight_layout()


LAYER_NAMES = {2: "2nd conv", 3: "dense 64", 4: "head"}


def _alpha_plot(plt, res):
    fig = plt.gcf()
    fig.set_size_inches(12, 3.8)
    colors = {"source": "tab:blue", "shifted": "tab:orange"}
    cols = ("shifted", "shifted2", "permuted")
    axes = [fig.add_subplot(1, 3, k + 1) for k in range(3)]
    top = max([v.max() for t in cols for v in _alphas(res, t).values()] + [ALPHA_INIT]) * 1.15
    for ax, t in zip(axes, cols):
        a = _alphas(res, t)
        layers = sorted({int(n.split("_")[1][1:]) for n in a})
        froms = [f for f in ("source", "shifted") if any(n.endswith("_from_" + f) for n in a)]
        w = 0.8 / len(froms)
        for k, f in enumerate(froms):
            v = [a[f"alpha_l{l}_from_{f}"] for l in layers]
            ax.bar(np.arange(len(layers)) + (k - (len(froms) - 1) / 2) * w, [x.mean() for x in v], width=w,
                   yerr=[x.std(ddof=1) if len(x) > 1 else 0.0 for x in v], capsize=3, color=colors[f],
                   label=f"from column: {f}")
        ax.axhline(ALPHA_INIT, color="k", ls="--", lw=1, label=f"initial alpha ({ALPHA_INIT})")
        ax.set_xticks(np.arange(len(layers)))
        ax.set_xticklabels([LAYER_NAMES.get(l, f"layer {l}") for l in layers])
        ax.set_ylim(0, top)
        ax.set_xlabel("receiving layer of the new column")
        ax.set_ylabel("lateral alpha after training\n(mean ± std over seeds)")
        ax.set_title(f"column: {t}")
        ax.legend(fontsize=7)
    fig.tight_layout()
