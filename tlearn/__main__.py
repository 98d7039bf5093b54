"""Command line: ``tlearn demo`` (or ``python -m tlearn demo``).

The demo replays layer transfer and fine-tuning on the 8x8 digits shipped
with the package: a source network learns five digit classes; a target task
with the five other classes has only a few labelled examples per class.  It
compares training from scratch, transferring frozen layers, fine-tuning all
layers, and conservative training (L2-SP toward the source weights), and
prints the target test accuracy of each.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _mlp(tl, n_classes: int, seed: int, hidden=(128, 64)):
    from tlearn import layers as L

    x = tl.Input((1, 8, 8), name="x")
    h = L.Flatten()(x)
    for i, units in enumerate(hidden, 1):
        h = L.ReLU(name=f"relu{i}")(L.Dense(units, name=f"fc{i}")(h))
    y = L.Dense(n_classes, name="head")(h)
    return tl.Model(x, y, seed=seed)


def demo(quick: bool = False, seed: int = 0, shots: int = 10) -> dict:
    import tlearn as tl
    from tlearn import datasets

    t0 = time.perf_counter()
    x, y = datasets.load_digits()
    split = datasets.class_split(y, seed=seed)
    xa, ya = x[split.idx_a], split.y_a
    xb, yb = x[split.idx_b], split.y_b
    xb_train, yb_train, xb_test, yb_test = datasets.few_shot(xb, yb, shots, seed=seed)
    epochs_src, epochs_tgt = (15, 60) if quick else (40, 150)
    print(f"source task: digits {split.classes_a.tolist()} ({len(ya)} examples); "
          f"target task: digits {split.classes_b.tolist()}, {shots} labelled examples per class, "
          f"{len(yb_test)} test examples")

    src = _mlp(tl, 5, seed)
    src.compile(tl.optim.SGD(0.05, momentum=0.9), loss="softmax_ce")
    src.fit(xa, ya, epochs=epochs_src, batch_size=32, verbose=False)
    print(f"source network: training accuracy {src.score(xa, ya):.3f}")
    body = {k: v for k, v in src.state_dict().items() if not k.startswith("head.")}

    def target(name, copy, freeze=(), l2sp=0.0, lr=0.05):
        m = _mlp(tl, 5, seed + 1)
        if copy:
            m.load_weights({k: v for k, v in body.items() if k.split(".")[0] in copy}, strict=False)
        for layer in freeze:
            m.layer(layer).trainable = False
        if l2sp:
            m.snapshot()
            m.regularize(l2sp=l2sp, layers=["fc1", "fc2"])
        m.compile(tl.optim.SGD(lr, momentum=0.9), loss="softmax_ce")
        m.fit(xb_train, yb_train, epochs=epochs_tgt, batch_size=10, verbose=False)
        return name, m.score(xb_test, yb_test)

    rows = [
        target("from scratch (target data only)", copy=()),
        target("layer transfer: fc1 copied and frozen", copy=("fc1",), freeze=("fc1",)),
        target("layer transfer: fc1, fc2 copied and frozen", copy=("fc1", "fc2"), freeze=("fc1", "fc2")),
        target("fine-tuning: fc1, fc2 copied, all trained", copy=("fc1", "fc2"), lr=0.01),
        target("conservative training: fine-tuning + L2-SP", copy=("fc1", "fc2"), l2sp=0.1, lr=0.01),
    ]
    print(f"\n{'method':<46} target test accuracy")
    for name, acc in rows:
        print(f"{name:<46} {acc:.3f}")
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    return dict(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="tlearn", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="layer transfer and fine-tuning on the shipped 8x8 digits")
    d.add_argument("--quick", action="store_true", help="fewer epochs")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--shots", type=int, default=10, help="labelled target examples per class")
    args = p.parse_args(argv)
    if args.cmd == "demo":
        demo(quick=args.quick, seed=args.seed, shots=args.shots)
    return 0


if __name__ == "__main__":
    sys.exit(main())
