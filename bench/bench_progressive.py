"""A progressive column's training step against the same network written
by hand as one model (issue 24, "Speed").

    PYTHONPATH=. python bench/bench_progressive.py [--reps 7] [--columns 3] [--kind conv|dense]

The network: ``--columns`` columns of ``ProgressiveNet`` (the replay's
convolutional column, or a 784-256-128 dense one), the last column
training, the earlier ones frozen.  Rows, each the median over ``--reps``
timed epochs (round robin, so that drifts of a shared machine hit all
alike) of ``--examples`` examples at ``--batch``:

* ``recipe model``: ``Model.fit`` on ``ProgressiveNet.model_`` after
  ``add_task`` (the earlier columns frozen, the loss on the last column);
* ``hand-written``: the same layers, laterals and frozen layers written
  out with ``tlearn.layers`` in one ``Model`` (weights copied from the recipe's);
* ``hand-written, all trainable``: the same, nothing frozen (what the
  frozen columns save);
* ``single column``: one column alone (what the earlier columns and the
  adapters cost);
* ``add_task``: the recipe's whole ``add_task`` of the last column for one
  epoch (building the network and copying the earlier columns included).

Ratios are to ``hand-written``.  Say the load average (``uptime``) next to
the figures.
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import tlearn as tl  # noqa: E402
import tlearn.layers as L  # noqa: E402
from tlearn.transfer import ProgressiveNet  # noqa: E402

CONV = (("conv", 8, 5, 2), ("conv", 16, 5, 2), 64)
DENSE = (256, 128)


def hand_written(kind: str, columns: int, n_classes: int = 10, reduction: int = 2):
    """The progressive network written out layer by layer (Rusu et al.'s
    equation 2), with the recipe's layer names so its weights can be copied."""
    x = tl.Input((1, 28, 28) if kind == "conv" else (784,), name="x")
    hidden = []  # hidden[j][i]: layer i of column j, after its ReLU
    outs = {}
    for k in range(columns):
        h = []
        if kind == "conv":
            c1 = L.Conv2d(8, 5, stride=2, name=f"c{k}_l0")(x)
            h.append(L.ReLU(name=f"c{k}_relu0")(c1))
            z = L.Conv2d(16, 5, stride=2, name=f"c{k}_l1")(h[0])
            lat = []
            for j in range(k):
                a = L.Scale(name=f"c{k}_alpha1_{j}")(hidden[j][0])
                v = L.ReLU(name=f"c{k}_Vrelu1_{j}")(L.Conv2d(8 // reduction, 1, name=f"c{k}_V1_{j}")(a))
                lat.append(L.Conv2d(16, 5, stride=2, use_bias=False, name=f"c{k}_U1_{j}")(v))
            h.append(L.ReLU(name=f"c{k}_relu1")(L.Add(name=f"c{k}_sum1")([z] + lat) if lat else z))
            z = L.Dense(64, name=f"c{k}_l2")(L.Flatten(name=f"c{k}_flat2")(h[1]))
            lat = []
            for j in range(k):
                a = L.Scale(name=f"c{k}_alpha2_{j}")(hidden[j][1])
                v = L.ReLU(name=f"c{k}_Vrelu2_{j}")(L.Conv2d(16 // reduction, 1, name=f"c{k}_V2_{j}")(a))
                lat.append(L.Dense(64, use_bias=False, name=f"c{k}_U2_{j}")(L.Flatten(name=f"c{k}_Vflat2_{j}")(v)))
            h.append(L.ReLU(name=f"c{k}_relu2")(L.Add(name=f"c{k}_sum2")([z] + lat) if lat else z))
        else:
            prev = x
            for i, units in enumerate(DENSE):
                z = L.Dense(units, name=f"c{k}_l{i}")(prev)
                lat = []
                if i > 0:
                    for j in range(k):
                        a = L.Scale(name=f"c{k}_alpha{i}_{j}")(hidden[j][i - 1])
                        v = L.ReLU(name=f"c{k}_Vrelu{i}_{j}")(L.Dense(DENSE[i - 1] // reduction,
                                                                       name=f"c{k}_V{i}_{j}")(a))
                        lat.append(L.Dense(units, use_bias=False, name=f"c{k}_U{i}_{j}")(v))
                prev = L.ReLU(name=f"c{k}_relu{i}")(L.Add(name=f"c{k}_sum{i}")([z] + lat) if lat else z)
                h.append(prev)
        i = len(h)
        z = L.Dense(n_classes, name=f"c{k}_out")(h[-1])
        lat = []
        for j in range(k):
            a = L.Scale(name=f"c{k}_alpha{i}_{j}")(hidden[j][-1])
            v = L.ReLU(name=f"c{k}_Vrelu{i}_{j}")(L.Dense(h[-1].shape[0] // reduction, name=f"c{k}_V{i}_{j}")(a))
            lat.append(L.Dense(n_classes, use_bias=False, name=f"c{k}_U{i}_{j}")(v))
        outs[f"c{k}"] = L.Add(name=f"c{k}_sum{i}")([z] + lat) if lat else z
        hidden.append(h)
    return tl.Model(x, outs, seed=0, name="hand")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--columns", type=int, default=3)
    ap.add_argument("--kind", choices=("conv", "dense"), default="conv")
    ap.add_argument("--examples", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    shape = (1, 28, 28) if a.kind == "conv" else (784,)
    X = rng.random((a.examples,) + shape, dtype=np.float32)
    Y = rng.integers(0, 10, a.examples).astype(np.int64)
    spec = CONV if a.kind == "conv" else DENSE
    base = ProgressiveNet(layers=spec, epochs=1, batch_size=a.batch, seed=0)
    for k in range(a.columns - 1):
        base.add_task(X[:256], Y[:256], task=f"t{k}")
    last = f"c{a.columns - 1}"
    rec = copy.copy(base).add_task(X[:256], Y[:256], task="last", epochs=0).model_
    rec.compile(tl.optim.Adam(1e-3), loss={last: "softmax_ce"})

    hand = hand_written(a.kind, a.columns)
    assert sorted(hand.params) == sorted(rec.params), set(hand.params) ^ set(rec.params)
    hand.load_weights(rec.params, strict=True)
    np.testing.assert_allclose(hand.predict(X[:64], outputs=[last])[last], rec.predict(X[:64], outputs=[last])[last],
                               rtol=1e-5, atol=1e-5)
    free = hand.clone()
    for nm in hand.layers:
        if hand.layer(nm).param_names and not nm.startswith(f"c{a.columns - 1}_"):
            hand.layer(nm).trainable = False
    for m in (hand, free):
        m.compile(tl.optim.Adam(1e-3), loss={last: "softmax_ce"})
    single = ProgressiveNet(layers=spec, epochs=0).fit(X[:256], Y[:256]).model_
    single.compile(tl.optim.Adam(1e-3), loss="softmax_ce")

    def fit(m, out):
        return lambda: m.fit(X, {out: Y}, epochs=1, batch_size=a.batch, verbose=0)

    def add_task():  # the last column added to a copy of the earlier ones, trained one epoch
        copy.copy(base).add_task(X, Y, task="last")

    rows = {"recipe model": fit(rec, last), "hand-written": fit(hand, last),
            "hand-written, all trainable": fit(free, last), "single column": fit(single, "c0")}
    times = {k: [] for k in rows}
    times["add_task (last column, 1 epoch)"] = []
    for fn in rows.values():
        fn()  # warm up
    for _ in range(a.reps):
        for k, fn in rows.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
        t = time.perf_counter()
        add_task()
        times["add_task (last column, 1 epoch)"].append(time.perf_counter() - t)
    steps = -(-a.examples // a.batch)
    ref = statistics.median(times["hand-written"])
    load = os.getloadavg()
    print(f"bench_progressive: {a.kind} columns x {a.columns}, {a.examples} examples at batch {a.batch} "
          f"({steps} steps), median of {a.reps}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'row':40s} {'ms/step':>9s} {'ratio':>7s}")
    for k, v in times.items():
        med = statistics.median(v)
        print(f"{k:40s} {1e3 * med / steps:9.3f} {med / ref:7.3f}")


if __name__ == "__main__":
    main()
