"""Convolutional training speed: tlearn against PyTorch CPU and a NumPy reference.

The network is the MNIST-M feature extractor + label predictor of Ganin et
al. (conv 5x5x32, ReLU, max-pool 2; conv 5x5x48, ReLU, max-pool 2; dense 100,
ReLU, dense 100, ReLU, dense 10) on 28x28x1 images (Fashion-MNIST when
installed, else uniform noise of the same shape), Adam 1e-3, softmax
cross-entropy.  Reported per batch size:

* seconds per epoch of 60,000 examples, timed on a fraction of an epoch
  (``--examples``, default 6,400) and scaled; the median of ``--reps`` runs
  (their range beside it), the frameworks interleaved so that a busy machine
  penalises them alike;
* the same with both conv layers frozen (no weight gradient, no backward
  through the trunk);
* prediction throughput on 10,000 images;
* the fraction of this machine's sgemm peak that training reaches (the
  network's FLOPs per example divided by the time, over the best GFLOP/s of
  ``tlearn._core.sgemm_probe``).

PyTorch is optional (``pip install torch``; 2 threads) and never a
dependency of tlearn.  Results are printed as a table and written to
bench/results/conv.json.

    python bench/bench_conv.py [--batches 64 128] [--examples 6400] [--reps 3] [--no-numpy]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

import tlearn as tl
from tlearn import _core
from tlearn import layers as L

EPOCH = 60_000
HERE = os.path.dirname(os.path.abspath(__file__))

# FLOPs per example (multiply-adds count 2)
F_C1 = 2 * 32 * (1 * 5 * 5) * 24 * 24
F_C2 = 2 * 48 * (32 * 5 * 5) * 8 * 8
F_FC = 2 * (768 * 100 + 100 * 100 + 100 * 10)
FLOPS_TRAIN = (F_C1 + F_C1) + 3 * F_C2 + 3 * F_FC  # conv1 needs no input gradient
FLOPS_FROZEN = F_C1 + F_C2 + 3 * F_FC
FLOPS_PREDICT = F_C1 + F_C2 + F_FC


def load_data(n):
    try:
        from tlearn.datasets import load_fashion_mnist

        X, Y = load_fashion_mnist(split="train")
        return X[:n], Y[:n], "Fashion-MNIST"
    except Exception:  # noqa: BLE001 - any failure: fall back to noise
        rng = np.random.default_rng(0)
        return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n), "uniform noise"


# ------------------------------------------------------------------ tlearn


def tlearn_model(frozen=False):
    x = tl.Input((1, 28, 28))
    h = L.MaxPool2d(2)(L.ReLU()(L.Conv2d(32, 5, name="c1")(x)))
    h = L.MaxPool2d(2)(L.ReLU()(L.Conv2d(48, 5, name="c2")(h)))
    h = L.ReLU()(L.Dense(100)(L.Flatten()(h)))
    h = L.ReLU()(L.Dense(100)(h))
    m = tl.Model(x, L.Dense(10)(h), seed=0)
    m.compile(tl.optim.Adam(1e-3), loss="softmax_ce")
    if frozen:
        m.layer("c1").trainable = False
        m.layer("c2").trainable = False
    return m


class TlearnRunner:
    name = "tlearn"

    def __init__(self, B, frozen, X, Y):
        self.m, self.B, self.X, self.Y = tlearn_model(frozen), B, X, Y
        self.m.fit(X[: 4 * B], Y[: 4 * B], batch_size=B, verbose=False)  # plan buffers, warm up

    def epoch_part(self):
        self.m.fit(self.X, self.Y, epochs=1, batch_size=self.B, verbose=False)

    def predict(self, X):
        self.m.predict(X, batch_size=1000)


# ----------------------------------------------------------------- PyTorch


class TorchRunner:
    name = "pytorch"

    def __init__(self, B, frozen, X, Y):
        import torch
        from torch import nn

        self.torch = torch
        m = nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 48, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(768, 100), nn.ReLU(), nn.Linear(100, 100),
                          nn.ReLU(), nn.Linear(100, 10))
        if frozen:
            for p in list(m[0].parameters()) + list(m[3].parameters()):
                p.requires_grad_(False)
        self.m, self.B = m, B
        self.opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], 1e-3)
        self.loss = nn.CrossEntropyLoss()
        self.X, self.Y = torch.from_numpy(X), torch.from_numpy(Y.astype(np.int64))
        self.rng = np.random.default_rng(0)
        self._steps(4 * B)

    def _steps(self, n):
        perm = self.torch.from_numpy(self.rng.permutation(len(self.X))[:n])
        for i in range(0, n, self.B):
            idx = perm[i:i + self.B]
            self.opt.zero_grad(set_to_none=True)
            self.loss(self.m(self.X[idx]), self.Y[idx]).backward()
            self.opt.step()

    def epoch_part(self):
        self._steps(len(self.X))

    def predict(self, X):
        with self.torch.no_grad():
            Xt = self.torch.from_numpy(X)
            for i in range(0, len(Xt), 1000):
                self.m(Xt[i:i + 1000])


# ------------------------------------------------------------------- NumPy


class NumpyRunner:
    """A plain NumPy training step (sliding windows + tensordot, float32): the
    reference of what a vectorised array library gives without a C core."""

    name = "numpy"

    def __init__(self, B, frozen, X, Y):
        rng = np.random.default_rng(0)
        he = lambda *s: (rng.standard_normal(s) * np.sqrt(2.0 / np.prod(s[1:]))).astype(np.float32)  # noqa: E731
        self.P = {"c1": he(32, 1, 5, 5), "c1b": np.zeros(32, np.float32), "c2": he(48, 32, 5, 5),
                  "c2b": np.zeros(48, np.float32), "f1": he(100, 768), "f1b": np.zeros(100, np.float32),
                  "f2": he(100, 100), "f2b": np.zeros(100, np.float32), "f3": he(10, 100),
                  "f3b": np.zeros(10, np.float32)}
        self.frozen = {"c1", "c1b", "c2", "c2b"} if frozen else set()
        self.M = {k: np.zeros_like(v) for k, v in self.P.items()}
        self.V = {k: np.zeros_like(v) for k, v in self.P.items()}
        self.t, self.B, self.X, self.Y = 0, B, X, Y
        self._steps(2 * B)

    @staticmethod
    def _conv(x, w, b):
        win = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))  # B,C,OH,OW,KH,KW
        return np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2) + b[:, None, None], win

    @staticmethod
    def _pool(x):
        B, C, H, W = x.shape
        r = x.reshape(B, C, H // 2, 2, W // 2, 2)
        y = r.max((3, 5))
        return y, (r == y[:, :, :, None, :, None])

    def _forward(self, x, keep):
        P = self.P
        a1, win1 = self._conv(x, P["c1"], P["c1b"])
        r1 = np.maximum(a1, 0)
        p1, m1 = self._pool(r1)
        a2, win2 = self._conv(p1, P["c2"], P["c2b"])
        r2 = np.maximum(a2, 0)
        p2, m2 = self._pool(r2)
        f = p2.reshape(len(x), -1)
        h1 = np.maximum(f @ P["f1"].T + P["f1b"], 0)
        h2 = np.maximum(h1 @ P["f2"].T + P["f2b"], 0)
        z = h2 @ P["f3"].T + P["f3b"]
        if keep:
            self.ctx = (win1, a1, m1, p1, win2, a2, m2, f, h1, h2)
        return z

    def _step(self, x, y):
        P, G = self.P, {}
        z = self._forward(x, True)
        win1, a1, m1, p1, win2, a2, m2, f, h1, h2 = self.ctx
        e = np.exp(z - z.max(1, keepdims=True))
        dz = e / e.sum(1, keepdims=True)
        dz[np.arange(len(y)), y] -= 1
        dz /= len(y)
        G["f3"], G["f3b"] = dz.T @ h2, dz.sum(0)
        dh2 = (dz @ P["f3"]) * (h2 > 0)
        G["f2"], G["f2b"] = dh2.T @ h1, dh2.sum(0)
        dh1 = (dh2 @ P["f2"]) * (h1 > 0)
        G["f1"], G["f1b"] = dh1.T @ f, dh1.sum(0)
        if not self.frozen:
            dp2 = (dh1 @ P["f1"]).reshape(len(x), 48, 4, 4)
            da2 = (m2 * dp2[:, :, :, None, :, None]).reshape(a2.shape) * (a2 > 0)
            G["c2"] = np.tensordot(da2, win2, axes=([0, 2, 3], [0, 2, 3]))
            G["c2b"] = da2.sum((0, 2, 3))
            dpad = np.pad(da2, ((0, 0), (0, 0), (4, 4), (4, 4)))
            dp1, _ = self._conv(dpad, P["c2"][:, :, ::-1, ::-1].transpose(1, 0, 2, 3).copy(),
                                np.zeros(32, np.float32))
            da1 = (m1 * dp1[:, :, :, None, :, None]).reshape(a1.shape) * (a1 > 0)
            G["c1"] = np.tensordot(da1, win1, axes=([0, 2, 3], [0, 2, 3]))
            G["c1b"] = da1.sum((0, 2, 3))
        self.t += 1
        b1, b2, lr = 0.9, 0.999, 1e-3
        for k, g in G.items():
            self.M[k] = b1 * self.M[k] + (1 - b1) * g
            self.V[k] = b2 * self.V[k] + (1 - b2) * g * g
            mh, vh = self.M[k] / (1 - b1 ** self.t), self.V[k] / (1 - b2 ** self.t)
            P[k] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)

    def _steps(self, n):
        for i in range(0, n, self.B):
            self._step(self.X[i:i + self.B], self.Y[i:i + self.B])

    def epoch_part(self):
        self._steps(len(self.X))

    def predict(self, X):
        for i in range(0, len(X), 1000):
            self._forward(X[i:i + 1000], False)


# -------------------------------------------------------------------- main


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def sgemm_peak():
    best = 0.0
    for M, N, K, r in ((1024, 1024, 1024, 10), (2048, 2048, 2048, 3), (512, 4096, 800, 10)):
        s = min(_core.sgemm_probe(M, N, K, r) for _ in range(3))
        best = max(best, 2.0 * M * N * K * r / s)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--examples", type=int, default=6400, help="examples timed per run (scaled to 60,000)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-numpy", action="store_true")
    args = ap.parse_args()

    runners = [TlearnRunner]
    try:
        import torch

        torch.set_num_threads(2)
        runners.append(TorchRunner)
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
        print("PyTorch not installed: tlearn and NumPy only")
    if not args.no_numpy:
        runners.append(NumpyRunner)

    X, Y, data = load_data(args.examples)
    Xp = load_data(10_000)[0]
    peak = sgemm_peak()
    scale = EPOCH / args.examples
    print(f"data: {data}, timed on {args.examples} examples per run, scaled to {EPOCH}; median of {args.reps}")
    print(f"sgemm peak (tlearn._core.sgemm_probe): {peak / 1e9:.1f} GFLOP/s")

    rows = []
    for B in args.batches:
        for frozen in (False, True):
            rs = [R(B, frozen, X, Y) for R in runners]
            times = {r.name: [] for r in rs}
            for _ in range(args.reps):  # interleaved
                for r in rs:
                    times[r.name].append(timed(r.epoch_part) * scale)
            flops = (FLOPS_FROZEN if frozen else FLOPS_TRAIN) * EPOCH
            for r in rs:
                t = statistics.median(times[r.name])
                rows.append({"what": "train", "batch": B, "frozen_convs": frozen, "framework": r.name,
                             "sec_per_epoch": t, "all_sec_per_epoch": times[r.name], "gflops": flops / t / 1e9,
                             "sgemm_fraction": flops / t / peak})
    rs = [R(128, False, X[:512], Y[:512]) for R in runners]
    for r in rs:
        r.predict(Xp[:1000])
    ptimes = {r.name: [] for r in rs}
    for _ in range(args.reps):
        for r in rs:
            ptimes[r.name].append(timed(lambda: r.predict(Xp)))
    for r in rs:
        t = statistics.median(ptimes[r.name])
        rows.append({"what": "predict", "batch": 1000, "frozen_convs": False, "framework": r.name,
                     "sec_per_10k": t, "all_sec_per_10k": ptimes[r.name], "images_per_sec": len(Xp) / t,
                     "gflops": FLOPS_PREDICT * len(Xp) / t / 1e9, "sgemm_fraction": FLOPS_PREDICT * len(Xp) / t / peak})

    # ratios to PyTorch and the frozen saving
    ref = {(r["what"], r["batch"], r["frozen_convs"]): r for r in rows if r["framework"] == "pytorch"}
    unfrozen = {(r["framework"], r["batch"]): r["sec_per_epoch"] for r in rows
                if r["what"] == "train" and not r["frozen_convs"]}
    for r in rows:
        p = ref.get((r["what"], r["batch"], r["frozen_convs"]))
        key = "sec_per_epoch" if r["what"] == "train" else "sec_per_10k"
        r["ratio_to_pytorch"] = r[key] / p[key] if p else None
        if r["what"] == "train" and r["frozen_convs"]:
            r["frozen_saving"] = 1.0 - r["sec_per_epoch"] / unfrozen[(r["framework"], r["batch"])]

    print()
    print(f"{'':8} {'batch':>5} {'convs':>6} {'framework':>9} {'s/epoch':>8} {'range':>13} {'x torch':>7} "
          f"{'GFLOP/s':>8} {'% peak':>6} {'frozen saves':>12}")
    for r in rows:
        t = r.get("sec_per_epoch", r.get("sec_per_10k"))
        every = r.get("all_sec_per_epoch", r.get("all_sec_per_10k"))
        span = f"{min(every):.2f}-{max(every):.2f}"
        ratio = f"{r['ratio_to_pytorch']:.2f}" if r["ratio_to_pytorch"] is not None else "-"
        save = f"{100 * r['frozen_saving']:.0f}%" if "frozen_saving" in r else ""
        convs = "frozen" if r["frozen_convs"] else ("train" if r["what"] == "train" else "-")
        extra = f"  ({r['images_per_sec']:.0f} images/s, s per 10k)" if r["what"] == "predict" else ""
        print(f"{r['what']:8} {r['batch']:>5} {convs:>6} {r['framework']:>9} {t:8.2f} {span:>13} {ratio:>7} "
              f"{r['gflops']:8.1f} "
              f"{100 * r['sgemm_fraction']:5.1f}% {save:>12}{extra}")

    out = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "numpy": np.__version__,
                       "torch": torch_version, "sgemm_peak_gflops": peak / 1e9},
           "data": data, "examples_timed": args.examples, "epoch": EPOCH, "reps": args.reps,
           "flops_per_example": {"train": FLOPS_TRAIN, "train_frozen_convs": FLOPS_FROZEN, "predict": FLOPS_PREDICT},
           "rows": rows}
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", "conv.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
