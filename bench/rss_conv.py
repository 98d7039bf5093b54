"""Peak memory (RSS) of a training run of the MNIST-M network, tlearn against PyTorch.

Each framework trains in a process of its own (bench_conv.py's networks and
data: 6,400 examples, one epoch, Adam), and the process reports its peak
resident set (``ru_maxrss``) after loading the data and after training, so
that the framework's share shows apart from the data's.

    python bench/rss_conv.py [--batches 64 128] [--examples 6400]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def child(framework: str, B: int, n: int) -> None:
    sys.path.insert(0, HERE)
    import bench_conv as bc

    X, Y, _ = bc.load_data(n)
    loaded = peak_mb()
    runner = {"tlearn": bc.TlearnRunner, "pytorch": bc.TorchRunner}[framework](B, False, X, Y)
    runner.epoch_part()
    print(json.dumps({"framework": framework, "batch": B, "data_mb": loaded, "peak_mb": peak_mb()}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--examples", type=int, default=6400)
    ap.add_argument("--child", nargs=3, metavar=("FRAMEWORK", "BATCH", "EXAMPLES"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], int(a.child[1]), int(a.child[2]))
        return
    try:
        import torch  # noqa: F401

        frameworks = ["tlearn", "pytorch"]
    except ImportError:
        frameworks = ["tlearn"]
    print(f"{'framework':10s} {'batch':>5s} {'data MB':>8s} {'peak MB':>8s}")
    for B in a.batches:
        for fw in frameworks:
            out = subprocess.run([sys.executable, __file__, "--child", fw, str(B), str(a.examples)], check=True,
                                 capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{fw:10s} {B:5d} {r['data_mb']:8.0f} {r['peak_mb']:8.0f}")


if __name__ == "__main__":
    main()
