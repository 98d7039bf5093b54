"""The multitask model's training step against the single-task step plus
its heads (issue "The lecture in the product, part 2", Speed).

    PYTHONPATH=. python bench/bench_multitask.py [--reps 7] [--steps 400] [--batch 64] [--tasks 2 5]

The networks of the ``multitask`` replay: a 784-256-128 MLP trunk (ReLU)
and 5-way heads, SGD with momentum, ``Model.fit`` on arrays with a sampler
(the core runs the steps, about 20 calls per epoch).  Rows, each the median
over ``--reps`` timed runs of ``--steps`` steps of ``--batch`` rows
(round robin, so that the drifts of a shared machine hit all alike):

* ``single-task``: the trunk and one head;
* ``head``: one head alone (a 128-feature input, a 5-way head, its loss);
* ``multitask T``: the trunk and T heads, every row labelled for one
  task (-1 for the others), the same rows per step;
* ``input branches``: the replay's branched model, two inputs (784 and 64
  features) each through its own 256-unit layer into a shared 128-unit
  middle; every row runs both paths (see ``tlearn.transfer.multitask``).

Ratios: ``multitask T / (single-task + (T - 1) head)``, the goal being <= 1
(the heads cost what they cost, the sharing nothing more), and the
branched step against the single-task step.
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
from tlearn.replay import multitask as replay  # noqa: E402


def trunk_model(n_tasks):
    x = tl.Input((1, 28, 28), name="x")
    z = replay.trunk(x)
    outs = {f"t{k}": L.Dense(5, name=f"head{k}")(z) for k in range(n_tasks)}
    m = tl.Model(x, outs, seed=0)
    m.compile(tl.optim.SGD(0.01, momentum=0.9), loss={k: "softmax_ce" for k in outs})
    return m


def head_model():
    x = tl.Input(128, name="z")
    m = tl.Model(x, {"t0": L.Dense(5, name="head0")(x)}, seed=0)
    m.compile(tl.optim.SGD(0.01, momentum=0.9), loss={"t0": "softmax_ce"})
    return m


def branch_model():
    xt, xa = tl.Input((1, 28, 28), name="target"), tl.Input((1, 8, 8), name="auxiliary")
    mid = L.Dense(128, name="fc2")
    zt = L.ReLU()(mid(replay.first_layer(xt)))
    za = L.ReLU()(mid(replay.first_layer(xa)))
    m = tl.Model({"target": xt, "auxiliary": xa}, {"target": L.Dense(5)(zt), "auxiliary": L.Dense(10)(za)}, seed=0)
    m.compile(tl.optim.SGD(0.01, momentum=0.9), loss={"target": "softmax_ce", "auxiliary": "softmax_ce"})
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--tasks", type=int, nargs="+", default=[2, 5])
    a = ap.parse_args()
    B, S = a.batch, a.steps
    rng = np.random.default_rng(0)
    n = 4096
    X = rng.random((n, 1, 28, 28), dtype=np.float32)
    Z = rng.random((n, 128), dtype=np.float32)
    XD = rng.random((n, 1, 8, 8), dtype=np.float32)
    y = rng.integers(0, 5, n)
    rows = rng.integers(0, n, S * B)

    cases = {"single-task": (trunk_model(1), X, {"t0": y}), "head": (head_model(), Z, {"t0": y})}
    for T in a.tasks:
        owner = np.arange(n) % T        # every row labelled for one task, -1 for the others
        cases[f"multitask {T}"] = (trunk_model(T), X, {f"t{k}": np.where(owner == k, y, -1) for k in range(T)})
    half = np.arange(n) % 2
    cases["input branches"] = (branch_model(), {"target": np.where(half[:, None, None, None] == 0, X, 0),
                                                "auxiliary": np.where(half[:, None, None, None] == 1, XD, 0)},
                               {"target": np.where(half == 0, y, -1), "auxiliary": np.where(half == 1, y, -1)})
    times = {k: [] for k in cases}
    for k, (m, x, t) in cases.items():  # warm-up: plans and buffers
        m.fit(x, t, epochs=1, batch_size=B, sampler=lambda e: rows[:B * 20], verbose=0)
    for _ in range(a.reps):
        for k, (m, x, t) in cases.items():
            t0 = time.perf_counter()
            m.fit(x, t, epochs=1, batch_size=B, sampler=lambda e: rows, verbose=0)
            times[k].append((time.perf_counter() - t0) / S)
    med = {k: statistics.median(v) for k, v in times.items()}
    load = os.getloadavg()[0]
    print(f"# batch {B}, {S} steps, median of {a.reps} runs; load average {load:.2f}")
    for k, v in med.items():
        print(f"{k:>16}: {1e6 * v:8.1f} us/step")
    st, hd = med["single-task"], med["head"]
    for T in a.tasks:
        base = st + (T - 1) * hd
        print(f"multitask {T} / (single-task + {T - 1} head): {med[f'multitask {T}'] / base:.3f}   "
              f"(/ single-task: {med[f'multitask {T}'] / st:.3f})")
    print(f"input branches / single-task: {med['input branches'] / st:.3f}")


if __name__ == "__main__":
    main()
