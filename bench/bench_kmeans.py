"""k-means and the sparse autoencoder against scikit-learn and PyTorch.

1. k-means, 10,000 x 784 (Fashion-MNIST training images, float32), k = 10,
   2 threads each: tlearn.cluster.KMeans against sklearn.cluster.KMeans
   (algorithm="lloyd") from the same k-means++ centres (tlearn's seeding,
   passed as init to both), tol = 0 and max_iter = --iters, so both run the
   same Lloyd iterations (checked); then the seeding alone (tlearn's
   kmeans_plusplus against scikit-learn's, the same greedy algorithm,
   2 + floor(ln k) trials).
2. The sparse autoencoder 784-200-784 (sigmoid code, cross-entropy
   reconstruction, KL sparsity, Adam, batch 128): --steps training steps of
   tlearn (Model.fit, one C call per run of steps) against the same network
   in PyTorch (torch.set_num_threads(2)).

Runs alternate (tlearn, other, tlearn, other, ...), --reps pairs; the
medians and their ratio are printed with the load average.  scikit-learn,
threadpoolctl and torch are needed here only.

    python bench/bench_kmeans.py [--reps 5] [--iters 30] [--steps 300] [--threads 2]
"""
import argparse
import os
import statistics
import time

import numpy as np

import tlearn
from tlearn import losses, optim
from tlearn import layers as L
from tlearn.cluster import KMeans, kmeans_plusplus


def load():
    try:
        x, _ = tlearn.datasets.load_fashion_mnist(split="train")
    except FileNotFoundError:
        x, _ = tlearn.datasets.load_fashion_subset("train")
    x = np.asarray(x, np.float32).reshape(len(x), -1)[:10000]
    return np.ascontiguousarray(x)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def load_avg():
    return "load %.2f %.2f %.2f" % os.getloadavg()


def bench_kmeans(X, reps, iters, threads=2):
    from sklearn.cluster import KMeans as SKMeans
    from sklearn.cluster import kmeans_plusplus as sk_plusplus
    from threadpoolctl import threadpool_limits

    k = 10
    init, _ = kmeans_plusplus(X, k, random_state=0)
    ours_t, sk_t, seed_ours, seed_sk = [], [], [], []
    tlearn.set_num_threads(threads)
    with threadpool_limits(threads):
        for r in range(reps):
            t, a = timed(lambda: KMeans(k, init=init, max_iter=iters, tol=0.0).fit(X))
            ours_t.append(t)
            t, b = timed(lambda: SKMeans(k, init=init, n_init=1, max_iter=iters, tol=0.0, algorithm="lloyd").fit(X))
            sk_t.append(t)
            t, _ = timed(lambda: kmeans_plusplus(X, k, random_state=r))
            seed_ours.append(t)
            t, _ = timed(lambda: sk_plusplus(X, k, random_state=r))
            seed_sk.append(t)
    mo, ms = statistics.median(ours_t), statistics.median(sk_t)
    same = a.n_iter_ == b.n_iter_ and bool((a.labels_ == b.labels_).all())
    print(f"k-means 10000x784 k=10, Lloyd from the same centres, {a.n_iter_} iterations (tlearn) and {b.n_iter_} "
          f"(scikit-learn), same labels: {same}, {threads} thread(s): tlearn {mo * 1e3:.1f} ms, scikit-learn {ms * 1e3:.1f} ms, "
          f"ratio {mo / ms:.2f}x; per iteration {mo / a.n_iter_ / (ms / b.n_iter_):.2f}x  [{load_avg()}]")
    so, ss = statistics.median(seed_ours), statistics.median(seed_sk)
    print(f"k-means++ seeding (greedy, {2 + int(np.log(k))} trials): tlearn {so * 1e3:.1f} ms, scikit-learn "
          f"{ss * 1e3:.1f} ms, ratio {so / ss:.2f}x  [{load_avg()}]")


def bench_autoencoder(X, reps, steps, H=200, bs=128, threads=2):
    import torch

    torch.set_num_threads(threads)
    tlearn.set_num_threads(threads)
    D = X.shape[1]
    rows = np.concatenate([np.random.default_rng(r).permutation(len(X)) for r in range(-(-steps * bs // len(X)))])
    rows = rows[: steps * bs]
    zeros = np.zeros(len(X), np.int32)

    def ours():
        x = tlearn.Input((D,), name="x")
        code = L.Sigmoid(name="code")(L.Dense(H, init="glorot", name="encoder")(x))
        m = tlearn.Model(x, {"recon": L.Dense(D, init="glorot", name="decoder")(code), "code": code}, seed=0)
        m.compile(optim.Adam(3e-3), loss={"recon": "sigmoid_bce", "code": losses.KLSparsity(0.1, weight=0.02)})
        t, _ = timed(lambda: m.fit(X, {"recon": X, "code": zeros}, epochs=1, batch_size=bs,
                                   sampler=lambda e: rows, verbose=0))
        return t

    xt = torch.from_numpy(X)
    idx = torch.from_numpy(rows.astype(np.int64))

    def theirs():
        torch.manual_seed(0)
        enc, dec = torch.nn.Linear(D, H), torch.nn.Linear(H, D)
        opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=3e-3)
        bce = torch.nn.BCEWithLogitsLoss()

        def run():
            for s in range(steps):
                xb = xt[idx[s * bs:(s + 1) * bs]]
                h = torch.sigmoid(enc(xb))
                q = h.mean(0).clamp(1e-6, 1 - 1e-6)
                kl = (0.1 * torch.log(0.1 / q) + 0.9 * torch.log(0.9 / (1 - q))).sum()
                loss = bce(dec(h), xb) + 0.02 * kl
                opt.zero_grad()
                loss.backward()
                opt.step()
        return timed(run)[0]

    a, b = [], []
    for _ in range(reps):
        a.append(ours())
        b.append(theirs())
    mo, mt = statistics.median(a), statistics.median(b)
    print(f"sparse autoencoder {D}-{H}-{D}, batch {bs}, {steps} Adam steps, {threads} thread(s): tlearn {mo:.3f} s, PyTorch "
          f"{mt:.3f} s, ratio {mo / mt:.2f}x  [{load_avg()}]")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2, help="threads of each side (the goals are stated for 2)")
    a = ap.parse_args()
    X = load()
    print(f"start [{load_avg()}]")
    bench_kmeans(X, a.reps, a.iters, a.threads)
    bench_autoencoder(X, a.reps, a.steps, threads=a.threads)


if __name__ == "__main__":
    main()
