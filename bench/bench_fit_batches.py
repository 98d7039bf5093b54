"""Per-step Python overhead of ``Model.fit`` on an iterable of batches
against ``fit`` on arrays, on the tiny 64-32-10 MLP (ReLU, softmax
cross-entropy, SGD momentum 0.9) at batch 32.

    PYTHONPATH=. python bench/bench_fit_batches.py [--reps 7] [--steps 2000]

Rows, each the median over ``--reps`` timed epochs of ``--steps`` steps
(round robin, so that drifts of a shared machine hit all alike):

* ``core``: one ``Net.train_batches`` call over the epoch (no Python between steps);
* ``fit(arrays)``: ``fit(x, y, shuffle=False)``, the core runs about 20 calls per epoch;
* ``fit(list)``: a list of ``(x, y)`` batch tuples (the same batches);
* ``fit(generator)``: a generator slicing the same arrays;
* ``train_step loop``: a bare Python loop of ``Net.train_step`` on the same batches.

The overhead per step is a row's time per step minus ``core``'s.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import tlearn as tl  # noqa: E402
import tlearn.layers as L  # noqa: E402


def model():
    x = tl.Input(64, name="x")
    m = tl.Model(x, L.Dense(10, name="o")(L.ReLU(name="r")(L.Dense(32, name="h")(x))), seed=0)
    m.compile(tl.optim.SGD(0.01, momentum=0.9), loss="softmax_ce")
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    B, S = a.batch, a.steps
    rng = np.random.default_rng(0)
    X = rng.standard_normal((B * S, 64)).astype(np.float32)
    Y = rng.integers(0, 10, B * S).astype(np.int64)
    Y32 = Y.astype(np.int32)
    batches = [(X[i:i + B], Y[i:i + B]) for i in range(0, len(X), B)]
    lrs = np.full(S, 0.01, np.float32)
    m = model()

    def gen():
        for i in range(0, len(X), B):
            yield X[i:i + B], Y[i:i + B]

    def loop():
        for i in range(0, len(X), B):
            m._engine.net.train_step([X[i:i + B]], [Y32[i:i + B]], 0.01)

    runs = {
        "core": lambda: m._engine.net.train_batches([X], [Y32], B, lrs),
        "fit(arrays)": lambda: m.fit(X, Y, batch_size=B, shuffle=False, verbose=0),
        "fit(list)": lambda: m.fit(batches, verbose=0),
        "fit(generator)": lambda: m.fit(gen(), verbose=0),
        "train_step loop": loop,
    }
    times = {k: [] for k in runs}
    for f in runs.values():
        f()  # warm-up
    for _ in range(a.reps):
        for k, f in runs.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    core = statistics.median(times["core"]) / S * 1e6
    print(f"64-32-10 MLP, batch {B}, {S} steps per epoch, median of {a.reps}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'':<18}{'us/step':>10}{'overhead us/step':>18}")
    for k, v in times.items():
        us = statistics.median(v) / S * 1e6
        print(f"{k:<18}{us:>10.1f}{us - core:>18.1f}")


if __name__ == "__main__":
    main()
