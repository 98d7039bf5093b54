"""The Python cost of one call: ``train_on_batch`` or ``predict`` of a small MLP on a small batch.

    PYTHONPATH=. python bench/bench_calls.py train|predict N

Builds a 64-32-10 MLP (SGD with momentum, softmax cross-entropy), makes 200
warm-up calls of each verb, then N calls of the one named, on a batch of 32.
The core's step is a few microseconds here, so what a call costs beyond it
is the Python around it.  Measure it with instruction counts, which do not
depend on the machine's load: the difference between N and 0 calls, divided
by N, under ``valgrind --tool=callgrind`` (see bench/README.md, "Per-call
overhead").
"""
import sys

import numpy as np

import tlearn as tl
import tlearn.layers as L


def main(what: str, n: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 64)).astype(np.float32)
    Y = rng.integers(0, 10, 32)
    x = tl.Input(64, name="x")
    m = tl.Model(x, L.Dense(10, name="o")(L.ReLU(name="r")(L.Dense(32, name="h")(x))), seed=0)
    m.compile(tl.optim.SGD(0.01, momentum=0.9), loss="softmax_ce")
    for _ in range(200):
        m.train_on_batch(X, Y)
        m.predict(X)
    if what == "train":
        for _ in range(n):
            m.train_on_batch(X, Y)
    elif what == "predict":
        for _ in range(n):
            m.predict(X)
    else:
        raise SystemExit(f"usage: bench_calls.py train|predict N (got {what!r})")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: bench_calls.py train|predict N")
    main(sys.argv[1], int(sys.argv[2]))
