"""NumPy reference of a ReLU MLP trained with softmax cross-entropy and SGD
with momentum, in float32: the same math as tlearn's core.

Weights are (out, in) with He-normal initialisation and zero biases, as in
``tlearn.layers.Dense``.  A step is

    forward:   h_k = relu(h_{k-1} W_k^T + b_k), logits = h_{L-1} W_L^T + b_L
    loss:      mean over the batch of -log softmax(logits)[y]
    backward:  dz = (softmax(logits) - onehot(y)) / B
               dW_k = dz^T h_{k-1},  db_k = sum_b dz,  dh_{k-1} = dz W_k (masked by h_{k-1} > 0)
    update:    m = mu m + g;  w -= lr m            (PyTorch's and tlearn's SGD)

The gradient of the input layer is not computed (no one needs it).
"""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np


class NumpyMLP:
    def __init__(self, sizes: Sequence[int], lr: float = 0.01, momentum: float = 0.9, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.sizes = list(sizes)
        self.lr, self.mu = np.float32(lr), np.float32(momentum)
        self.W = [(rng.standard_normal((o, i)) * np.sqrt(2.0 / i)).astype(np.float32)
                  for i, o in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(o, np.float32) for o in sizes[1:]]
        self.mW = [np.zeros_like(w) for w in self.W]
        self.mb = [np.zeros_like(b) for b in self.b]
        self.rng = np.random.default_rng(seed + 1)

    def forward(self, x: np.ndarray):
        hs = [x]
        h = x
        L = len(self.W)
        for k in range(L):
            z = h @ self.W[k].T
            z += self.b[k]
            if k < L - 1:
                np.maximum(z, 0.0, out=z)
            hs.append(z)
            h = z
        return hs

    @staticmethod
    def _softmax(z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        m = z.max(1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(1, keepdims=True)
        return e / s, (np.log(s) + m)[:, 0]

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        B = len(x)
        hs = self.forward(x)
        p, lse = self._softmax(hs[-1])
        loss = float(np.mean(lse - hs[-1][np.arange(B), y]))
        dz = p
        dz[np.arange(B), y] -= 1.0
        dz *= np.float32(1.0 / B)
        for k in range(len(self.W) - 1, -1, -1):
            h = hs[k]
            gW = dz.T @ h
            gb = dz.sum(0)
            if k > 0:
                dz = dz @ self.W[k]
                dz *= h > 0
            for w, m, g in ((self.W[k], self.mW[k], gW), (self.b[k], self.mb[k], gb)):
                m *= self.mu
                m += g
                w -= self.lr * m
        return loss

    def fit_epoch(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
        """One epoch over a shuffled index, one step per batch."""
        perm = self.rng.permutation(len(x))
        for s in range(0, len(x), batch_size):
            idx = perm[s:s + batch_size]
            self.step(x[idx], y[idx])

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 4096) -> Tuple[float, float]:
        """Mean cross-entropy and accuracy on (x, y)."""
        tot, ok = 0.0, 0
        for s in range(0, len(x), batch_size):
            z = self.forward(x[s:s + batch_size])[-1]
            yy = y[s:s + batch_size]
            _, lse = self._softmax(z)
            tot += float(np.sum(lse - z[np.arange(len(z)), yy]))
            ok += int(np.sum(z.argmax(1) == yy))
        return tot / len(x), ok / len(x)


def check_gradients(seed: int = 0) -> float:
    """Largest relative error of the analytic weight gradient against central
    differences (float64 copy) on a small network; for self-checking."""
    rng = np.random.default_rng(seed)
    net = NumpyMLP([5, 4, 3], seed=seed)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    y = rng.integers(0, 3, 6)
    W0 = [w.astype(np.float64) for w in net.W]
    b0 = [b.astype(np.float64) for b in net.b]

    def loss(Ws):
        h = x.astype(np.float64)
        for k, w in enumerate(Ws):
            h = h @ w.T + b0[k]
            if k < len(Ws) - 1:
                h = np.maximum(h, 0)
        m = h.max(1, keepdims=True)
        lse = np.log(np.exp(h - m).sum(1)) + m[:, 0]
        return np.mean(lse - h[np.arange(6), y])

    net.lr = np.float32(1.0)
    net.mu = np.float32(0.0)
    net.step(x, y)  # w_new = w_old - g
    worst = 0.0
    for k in range(2):
        g = W0[k] - net.W[k].astype(np.float64)
        num = np.zeros_like(g)
        for idx in np.ndindex(*g.shape):
            Wp = [w.copy() for w in W0]
            Wm = [w.copy() for w in W0]
            Wp[k][idx] += 1e-5
            Wm[k][idx] -= 1e-5
            num[idx] = (loss(Wp) - loss(Wm)) / 2e-5
        worst = max(worst, float(np.max(np.abs(g - num)) / (np.max(np.abs(num)) + 1e-12)))
    return worst


if __name__ == "__main__":
    print(f"max relative gradient error: {check_gradients():.2e}")
