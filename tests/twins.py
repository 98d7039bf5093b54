"""Per-op test material: one class per op of the core's op table, its NumPy twin.

A twin names its ``op`` and holds, in one place, ``cases(rng)`` -- how to
build tiny networks around the op (input shapes, attributes by name, a batch
of inputs away from the op's kinks, targets for a loss) -- and the op's
forward and backward in float64, the second oracle for the C kernels.  A case
holds every attribute of the op: those not given take the op table's
default, so twins read them all by name.  Defining the class registers it
(TWINS[op]; BUILDERS[op] is its ``cases``).  What the tests expect of an
op's parameters (which exist, which are buffers) comes from the op table.

An op added to the core without a twin here makes test_gradcheck.py and
test_twins.py fail by name.
"""
from __future__ import annotations

import numpy as np

from tlearn import _core

OPS = {o["name"]: o for o in _core.ops()}

# --------------------------------------------------------------------- data


def away_from_zero(rng, shape, gap=0.2):
    """Normal-ish values with |x| >= gap (relu/leaky kinks at 0)."""
    u = rng.standard_normal(shape)
    return (np.sign(u) * (gap + np.abs(u))).astype(np.float32)


def distinct(rng, shape, step=0.05):
    """All values distinct by at least `step` (no ties for max pooling)."""
    n = int(np.prod(shape))
    v = (rng.permutation(n) - n / 2) * step
    return v.reshape(shape).astype(np.float32)


def normal(rng, shape, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def case(op, inputs, B, xs, attrs=None, shape=(), target=None, tag=""):
    full = {a["name"]: a["default"] for a in OPS[op]["attrs"]}
    unknown = set(attrs or {}) - set(full)
    assert not unknown, f"{op}: no attributes {sorted(unknown)}"
    full.update(attrs or {})
    return {"op": op, "inputs": [tuple(s) for s in inputs], "B": B, "xs": xs, "attrs": full,
            "shape": tuple(shape), "target": target, "id": f"{op}[{tag}]" if tag else op}


def conv_attrs(filters, kernel, stride, padding, use_bias=1):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    return {"filters": filters, "kh": kh, "kw": kw, "sh": sh, "sw": sw, "ph": ph, "pw": pw, "use_bias": use_bias}


def pool_attrs(kernel, stride):
    (kh, kw), (sh, sw) = kernel, stride
    return {"kh": kh, "kw": kw, "sh": sh, "sw": sw}


def _labels(rng, B, C):
    y = rng.integers(0, C, B).astype(np.int32)
    y[1] = -1
    y[-1] = -1
    return y



class Built:
    """A tiny network around one op: inputs -> op -> loss (mse for a non-loss op)."""

    def __init__(self, c, seed=0, loss_weight=0.7, rng=None):
        self.case = c
        op = c["op"]
        self.is_loss = OPS[op]["is_loss"]
        net = self.net = _core.Net(seed)
        self.ins = [net.add("input", name=f"x{k}", shape=s) for k, s in enumerate(c["inputs"])]
        if op == "input" or self.is_loss:
            self.node = self.ins[0]
        else:
            self.node = net.add(op, self.ins, "op", c["attrs"], c["shape"])
        net.finalize()
        self.weight = loss_weight
        if self.is_loss:
            self.loss = net.add_loss(op, self.node, "l", loss_weight, c["attrs"])
            self.target = c["target"]
        else:
            self.loss = net.add_loss("mse", self.node, "l", loss_weight)
            rng = rng or np.random.default_rng(1)
            shp = (c["B"],) + tuple(net.node(self.node)["shape"])
            self.target = rng.standard_normal(shp).astype(np.float32)
        for i in self.ins:
            net.set_input_grad(i, True)
        self.xs = [np.ascontiguousarray(x, dtype=np.float32) for x in c["xs"]]
        self.params = {}  # suffix -> index, trained parameters and buffers
        for p in range(net.n_params):
            info = net.param_info(p)
            self.params[info["name"].split(".", 1)[1]] = p
        self.rng_state = net.rng_state

    def trained_params(self):
        return {s: p for s, p in self.params.items() if not self.net.param_info(p)["buffer"]}

    def objective(self):
        """weight * loss of one forward (train mode, dropout mask fixed)."""
        self.net.rng_state = self.rng_state
        losses = self.net.forward_backward(self.xs, [self.target], with_reg=False)["loss"]
        return self.weight * losses[0]

    def backward(self):
        self.net.rng_state = self.rng_state
        return self.net.forward_backward(self.xs, [self.target], with_reg=False)


# -------------------------------------------------------------------- twins
# A layer twin: forward(c, xs, P, train, ctx) -> y (float64); backward(c, xs, P, y, dy, ctx) -> (dxs, dP).
# P: parameter suffix -> float64 array; ctx: what the forward keeps for the backward (and, for a
# buffer parameter, its value after a training forward under the buffer's name).
# A loss twin: forward(c, x, t) -> mean loss (float); backward(c, x, t) -> d mean / dx.

TWINS: dict = {}


def _splitmix_uniform(state, n):
    M = (1 << 64) - 1
    out = np.empty(n, np.float32)
    s = state
    for i in range(n):
        s = (s + 0x9E3779B97F4A7C15) & M
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        z ^= z >> 31
        out[i] = np.float32(z >> 40) * np.float32(1.0 / 16777216.0)
    return out, s


class Twin:
    """Base of every twin.  ``op``: the op's name in the table; ``grad_tol``: the
    relative tolerance of its finite-difference check."""

    op = ""
    grad_tol = 1e-2

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.op:
            assert cls.op in OPS, f"twin of an op the core has not: {cls.op}"
            assert cls.op not in TWINS, f"two twins of {cls.op}"
            TWINS[cls.op] = cls()

    def cases(self, rng):
        raise NotImplementedError

    def grad_sign(self, c):
        """The factor between the input gradient and the finite differences of the objective."""
        return 1.0

    def param_values(self, suffix, shape, rng):
        """Values the twin test gives a parameter, away from its initial ones so that it matters."""
        return rng.standard_normal(shape).astype(np.float32) * 0.5

    def forward(self, c, xs, P, train, ctx):
        raise NotImplementedError

    def backward(self, c, xs, P, y, dy, ctx):
        raise NotImplementedError


class LossTwin(Twin):
    def missing(self, t):
        """The rows without a target (their gradient is zero): label -1, or every entry NaN."""
        return (t < 0) if t.dtype.kind == "i" else np.isnan(t).all(axis=tuple(range(1, t.ndim)))


class Elementwise(Twin):
    """y = f(x) elementwise; df(x, y, c) = dy/dx."""

    shapes = ((3, 4),)

    def make(self, rng, shape):
        return normal(rng, shape)

    def cases(self, rng):
        B = 5
        return [case(self.op, [s], B, [self.make(rng, (B,) + tuple(s))], tag=str(s)) for s in self.shapes]

    def forward(self, c, xs, P, train, ctx):
        return self.f(xs[0], c)

    def backward(self, c, xs, P, y, dy, ctx):
        return [dy * self.df(xs[0], y, c)], {}


class InputTwin(Elementwise):
    op = "input"
    shapes = ((5,), (2, 3))

    def f(self, x, c):
        return x.copy()

    def df(self, x, y, c):
        return np.ones_like(x)


class ReluTwin(Elementwise):
    op = "relu"

    def make(self, rng, shape):
        return away_from_zero(rng, shape)

    def f(self, x, c):
        return np.maximum(x, 0)

    def df(self, x, y, c):
        return (x > 0).astype(float)


class LeakyReluTwin(Elementwise):
    op = "leaky_relu"

    def cases(self, rng):
        return [case("leaky_relu", [(3, 4)], 5, [away_from_zero(rng, (5, 3, 4))], {"alpha": a}, tag=str(a))
                for a in (0.1, 0.0)]

    def f(self, x, c):
        return np.where(x > 0, x, c["attrs"]["alpha"] * x)

    def df(self, x, y, c):
        return np.where(x > 0, 1.0, c["attrs"]["alpha"])


class SigmoidTwin(Elementwise):
    op = "sigmoid"

    def make(self, rng, shape):
        return normal(rng, shape, 2.0)

    def f(self, x, c):
        return 1 / (1 + np.exp(-x))

    def df(self, x, y, c):
        return y * (1 - y)


class TanhTwin(Elementwise):
    op = "tanh"

    def f(self, x, c):
        return np.tanh(x)

    def df(self, x, y, c):
        return 1 - y * y


class DenseTwin(Twin):
    op = "dense"

    def cases(self, rng):
        B = 5
        return [case("dense", [(6,)], B, [normal(rng, (B, 6))], {"units": 4, "init": "he"}, tag="he,bias"),
                case("dense", [(2, 3)], B, [normal(rng, (B, 2, 3))], {"units": 3, "init": "glorot", "use_bias": 0},
                     tag="glorot,nobias")]

    def forward(self, c, xs, P, train, ctx):
        x = xs[0].reshape(len(xs[0]), -1)
        y = x @ P["w"].T
        return y + P["b"] if "b" in P else y

    def backward(self, c, xs, P, y, dy, ctx):
        x = xs[0].reshape(len(xs[0]), -1)
        dP = {"w": dy.T @ x}
        if "b" in P:
            dP["b"] = dy.sum(0)
        return [(dy @ P["w"]).reshape(xs[0].shape)], dP


class SoftmaxTwin(Twin):
    op = "softmax"

    def cases(self, rng):
        B = 5
        return [case("softmax", [s], B, [normal(rng, (B,) + s, 2.0)], tag=str(s)) for s in ((5,), (2, 3))]

    def forward(self, c, xs, P, train, ctx):
        z = xs[0].reshape(len(xs[0]), -1)
        e = np.exp(z - z.max(1, keepdims=True))
        return (e / e.sum(1, keepdims=True)).reshape(xs[0].shape)

    def backward(self, c, xs, P, y, dy, ctx):
        B = len(y)
        y2, d2 = y.reshape(B, -1), dy.reshape(B, -1)
        return [(y2 * (d2 - (d2 * y2).sum(1, keepdims=True))).reshape(y.shape)], {}


class AddTwin(Twin):
    op = "add"

    def cases(self, rng):
        B = 4
        return [case("add", [(4,)] * 3, B, [normal(rng, (B, 4)) for _ in range(3)], tag="3 inputs"),
                case("add", [(2, 3)] * 2, B, [normal(rng, (B, 2, 3)) for _ in range(2)], tag="2 inputs")]

    def forward(self, c, xs, P, train, ctx):
        return sum(xs)

    def backward(self, c, xs, P, y, dy, ctx):
        return [dy.copy() for _ in xs], {}


class ConcatTwin(Twin):
    op = "concat"

    def cases(self, rng):
        B = 3
        return [case("concat", [(2, 3, 3), (1, 3, 3)], B, [normal(rng, (B, 2, 3, 3)), normal(rng, (B, 1, 3, 3))],
                     tag="channels"),
                case("concat", [(3,), (5,), (2,)], B, [normal(rng, (B, 3)), normal(rng, (B, 5)), normal(rng, (B, 2))],
                     tag="features")]

    def forward(self, c, xs, P, train, ctx):
        return np.concatenate(xs, axis=1)

    def backward(self, c, xs, P, y, dy, ctx):
        cuts = np.cumsum([x.shape[1] for x in xs])[:-1]
        return list(np.split(dy, cuts, axis=1)), {}


class ReshapeTwin(Twin):
    op = "reshape"

    def cases(self, rng):
        B = 3
        return [case("reshape", [(2, 6)], B, [normal(rng, (B, 2, 6))], shape=(3, -1), tag="(3,-1)"),
                case("reshape", [(2, 2, 3)], B, [normal(rng, (B, 2, 2, 3))], shape=(12,), tag="flatten")]

    def forward(self, c, xs, P, train, ctx):
        return xs[0].reshape((len(xs[0]),) + c["shape"])

    def backward(self, c, xs, P, y, dy, ctx):
        return [dy.reshape(xs[0].shape)], {}


class DropoutTwin(Twin):
    op = "dropout"

    def cases(self, rng):
        B = 6
        return [case("dropout", [(10,)], B, [normal(rng, (B, 10))], {"rate": 0.4}, tag="0.4"),
                case("dropout", [(3, 2)], B, [normal(rng, (B, 3, 2))], {"rate": 0.0}, tag="0.0")]

    def forward(self, c, xs, P, train, ctx):
        p = np.float32(c["attrs"]["rate"])
        x = xs[0]
        if train and p > 0:
            u, _ = _splitmix_uniform(ctx["rng_state"], x.size)
            keep = np.float32(1) / (np.float32(1) - p)
            m = np.where(u >= p, keep, np.float32(0)).astype(np.float64).reshape(x.shape)
        else:
            m = np.ones_like(x)
        ctx["mask"] = m
        return x * m

    def backward(self, c, xs, P, y, dy, ctx):
        return [dy * ctx["mask"]], {}


class GrlTwin(Twin):
    op = "grad_reverse"

    def cases(self, rng):
        B = 4
        return [case("grad_reverse", [(5,)], B, [normal(rng, (B, 5))], {"lambda": 0.7}, tag="0.7"),
                case("grad_reverse", [(5,)], B, [normal(rng, (B, 5))], {"lambda": 1.0}, tag="1.0")]

    def grad_sign(self, c):
        return -c["attrs"]["lambda"]

    def forward(self, c, xs, P, train, ctx):
        return xs[0].copy()

    def backward(self, c, xs, P, y, dy, ctx):
        return [-c["attrs"]["lambda"] * dy], {}


def _geom(c, x):
    a = c["attrs"]
    KH, KW, SH, SW = a["kh"], a["kw"], a["sh"], a["sw"]
    PH, PW = a.get("ph", 0), a.get("pw", 0)
    H, W = x.shape[2], x.shape[3]
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    return KH, KW, SH, SW, PH, PW, OH, OW


class ConvTwin(Twin):
    op = "conv2d"

    def cases(self, rng):
        B = 2
        return [case("conv2d", [(2, 5, 6)], B, [normal(rng, (B, 2, 5, 6))],
                     conv_attrs(3, (3, 2), (1, 2), (1, 0), use_bias=1),
                     tag="k3x2,s1x2,p1x0,bias"),
                case("conv2d", [(1, 5, 6)], B, [normal(rng, (B, 1, 5, 6))],
                     conv_attrs(2, (2, 2), (2, 2), (0, 1), use_bias=0), tag="k2,s2,p0x1,nobias"),
                # stride 1: the forward takes the direct convolution (conv_direct.c) where the CPU has AVX2:
                # 10 channels (a block of 8 and one of 2), rows of 11 and 7 outputs (a full tile and masked ones)
                case("conv2d", [(3, 7, 11)], B, [normal(rng, (B, 3, 7, 11))], conv_attrs(10, (3, 3), (1, 1), (1, 1)),
                     tag="k3,s1,p1,oc10"),
                case("conv2d", [(1, 6, 9)], B, [normal(rng, (B, 1, 6, 9))],
                     conv_attrs(4, (2, 3), (1, 1), (0, 0), use_bias=0), tag="k2x3,s1,p0,nobias")]

    def forward(self, c, xs, P, train, ctx):
        x = xs[0]
        KH, KW, SH, SW, PH, PW, OH, OW = _geom(c, x)
        xp = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
        w = P["w"]
        y = np.zeros((len(x), w.shape[0], OH, OW))
        for i in range(OH):
            for j in range(OW):
                win = xp[:, :, i * SH:i * SH + KH, j * SW:j * SW + KW]
                y[:, :, i, j] = np.einsum("bchw,ochw->bo", win, w)
        if "b" in P:
            y += P["b"][None, :, None, None]
        return y

    def backward(self, c, xs, P, y, dy, ctx):
        x = xs[0]
        KH, KW, SH, SW, PH, PW, OH, OW = _geom(c, x)
        xp = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
        dxp = np.zeros_like(xp)
        w = P["w"]
        dw = np.zeros_like(w)
        for i in range(OH):
            for j in range(OW):
                win = xp[:, :, i * SH:i * SH + KH, j * SW:j * SW + KW]
                dw += np.einsum("bo,bchw->ochw", dy[:, :, i, j], win)
                dxp[:, :, i * SH:i * SH + KH, j * SW:j * SW + KW] += np.einsum("bo,ochw->bchw", dy[:, :, i, j], w)
        dP = {"w": dw}
        if "b" in P:
            dP["b"] = dy.sum((0, 2, 3))
        return [dxp[:, :, PH:PH + x.shape[2], PW:PW + x.shape[3]]], dP


class PoolTwin(Twin):
    kind = ""

    def cases(self, rng):
        B = 3
        return [case(self.op, [(2, 4, 5)], B, [distinct(rng, (B, 2, 4, 5))], pool_attrs((2, 2), (2, 2)), tag="k2s2"),
                case(self.op, [(2, 4, 5)], B, [distinct(rng, (B, 2, 4, 5))], pool_attrs((3, 2), (1, 2)),
                     tag="k3x2,s1x2")]

    def forward(self, c, xs, P, train, ctx):
        x = xs[0]
        KH, KW, SH, SW, _, _, OH, OW = _geom(c, x)
        y = np.zeros(x.shape[:2] + (OH, OW))
        for i in range(OH):
            for j in range(OW):
                win = x[:, :, i * SH:i * SH + KH, j * SW:j * SW + KW]
                y[:, :, i, j] = win.max((2, 3)) if self.kind == "max" else win.mean((2, 3))
        return y

    def backward(self, c, xs, P, y, dy, ctx):
        x = xs[0]
        KH, KW, SH, SW, _, _, OH, OW = _geom(c, x)
        dx = np.zeros_like(x)
        for i in range(OH):
            for j in range(OW):
                win = x[:, :, i * SH:i * SH + KH, j * SW:j * SW + KW]
                d = dx[:, :, i * SH:i * SH + KH, j * SW:j * SW + KW]
                if self.kind == "max":
                    d += (win == y[:, :, i:i + 1, j:j + 1]) * dy[:, :, i:i + 1, j:j + 1]
                else:
                    d += dy[:, :, i:i + 1, j:j + 1] / (KH * KW)
        return [dx], {}


class MaxPoolTwin(PoolTwin):
    op, kind = "maxpool2d", "max"


class AvgPoolTwin(PoolTwin):
    op, kind = "avgpool2d", "avg"


class BatchNormTwin(Twin):
    """``train``: True (batch statistics), False (running statistics) or
    "frozen": a layer whose gamma and beta are frozen, in a training step
    (Keras's rule: the running statistics, as constants of the backward)."""

    op = "batchnorm"
    grad_tol = 2e-2

    def cases(self, rng):
        B = 6
        return [case("batchnorm", [(3, 2, 2)], B, [normal(rng, (B, 3, 2, 2), 2.0) + 1.0],
                     {"momentum": 0.1, "eps": 1e-5}, tag="chw"),
                case("batchnorm", [(4,)], B, [normal(rng, (B, 4), 1.5) - 0.5], {"momentum": 0.0, "eps": 1e-3},
                     tag="flat")]

    def param_values(self, suffix, shape, rng):
        if suffix == "running_var":
            return rng.uniform(0.5, 2.0, shape)
        return rng.standard_normal(shape).astype(np.float32) * 0.5 + (1.0 if suffix == "w" else 0.0)

    @staticmethod
    def _bcs(x):
        return x.reshape(len(x), x.shape[1], -1)  # (B, C, S); a flat input has S = 1

    def forward(self, c, xs, P, train, ctx):
        m, eps = c["attrs"]["momentum"], c["attrs"]["eps"]
        x = self._bcs(xs[0])
        g, b = P["w"][None, :, None], P["b"][None, :, None]
        if train == "frozen":
            invstd = 1 / np.sqrt(P["running_var"] + eps)
            xhat = (x - P["running_mean"][None, :, None]) * invstd[None, :, None]
            ctx.update(xhat=xhat, invstd=invstd, frozen=True, running_mean=P["running_mean"],
                       running_var=P["running_var"])
        elif train:
            mu = x.mean((0, 2))
            var = x.var((0, 2))
            n = x.shape[0] * x.shape[2]
            xhat = (x - mu[None, :, None]) / np.sqrt(var + eps)[None, :, None]
            ctx.update(xhat=xhat, invstd=1 / np.sqrt(var + eps), n=n)
            if m:
                ctx["running_mean"] = (1 - m) * P["running_mean"] + m * mu
                ctx["running_var"] = (1 - m) * P["running_var"] + m * var * n / (n - 1)
            else:
                ctx["running_mean"], ctx["running_var"] = P["running_mean"], P["running_var"]
        else:
            xhat = (x - P["running_mean"][None, :, None]) / np.sqrt(P["running_var"] + eps)[None, :, None]
        return (g * xhat + b).reshape(xs[0].shape)

    def backward(self, c, xs, P, y, dy, ctx):
        d = self._bcs(dy)
        xhat, invstd = ctx["xhat"], ctx["invstd"]
        sdy, sdyx = d.sum((0, 2)), (d * xhat).sum((0, 2))
        if ctx.get("frozen"):  # the statistics are constants: y is affine in x
            return [((P["w"] * invstd)[None, :, None] * d).reshape(xs[0].shape)], {"w": sdyx, "b": sdy}
        n = ctx["n"]
        dx = (P["w"] * invstd)[None, :, None] / n * (n * d - sdy[None, :, None] - xhat * sdyx[None, :, None])
        return [dx.reshape(xs[0].shape)], {"w": sdyx, "b": sdy}


class ScaleTwin(Twin):
    """y = alpha x, alpha (C,) over (B, C, S) per channel, or one scalar."""

    op = "scale"

    def cases(self, rng):
        B = 5
        return [case("scale", [(3, 2, 2)], B, [normal(rng, (B, 3, 2, 2))], {"per_channel": 1}, tag="per channel"),
                case("scale", [(4,)], B, [normal(rng, (B, 4))], {"per_channel": 1}, tag="per feature"),
                case("scale", [(2, 3)], B, [normal(rng, (B, 2, 3))], {"per_channel": 0}, tag="scalar")]

    @staticmethod
    def _bcs(c, x):
        return x.reshape(len(x), x.shape[1], -1) if c["attrs"]["per_channel"] else x.reshape(len(x), 1, -1)

    def forward(self, c, xs, P, train, ctx):
        x = self._bcs(c, xs[0])
        return (P["alpha"][None, :, None] * x).reshape(xs[0].shape)

    def backward(self, c, xs, P, y, dy, ctx):
        x, d = self._bcs(c, xs[0]), self._bcs(c, dy)
        return [(P["alpha"][None, :, None] * d).reshape(xs[0].shape)], {"alpha": (x * d).sum((0, 2))}


# ------------------------------------------------------------------- losses


class SoftmaxCETwin(LossTwin):
    op = "softmax_ce"

    def cases(self, rng):
        B, C = 7, 4
        return [case("softmax_ce", [(C,)], B, [normal(rng, (B, C), 1.5)], target=_labels(rng, B, C))]

    def forward(self, c, x, t):
        lab = t >= 0
        z = x[lab]
        lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
        return float(np.mean(lse - z[np.arange(len(z)), t[lab]])) if lab.any() else 0.0

    def backward(self, c, x, t):
        lab = t >= 0
        e = np.exp(x - x.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True)
        p[np.arange(len(x))[lab], t[lab]] -= 1
        p[~lab] = 0
        return p / max(lab.sum(), 1)


class BCETwin(LossTwin):
    op = "sigmoid_bce"

    def cases(self, rng):
        B, F = 6, 3
        t = rng.integers(0, 2, (B, F)).astype(np.float32)
        t[0, 1] = np.nan
        t[3, :] = np.nan
        t[2, 2] = 0.3
        return [case("sigmoid_bce", [(F,)], B, [normal(rng, (B, F), 2.0)], target=t)]

    def forward(self, c, x, t):
        ok = ~np.isnan(t)
        z, tt = x[ok], t[ok]
        return float(np.mean(np.maximum(z, 0) - z * tt + np.log1p(np.exp(-np.abs(z))))) if ok.any() else 0.0

    def backward(self, c, x, t):
        ok = ~np.isnan(t)
        return np.where(ok, 1 / (1 + np.exp(-x)) - np.nan_to_num(t), 0.0) / max(ok.sum(), 1)


class MSETwin(LossTwin):
    op = "mse"

    def cases(self, rng):
        B, F = 5, 4
        t = normal(rng, (B, F))
        t[1, 2] = np.nan
        t[4, :] = np.nan
        return [case("mse", [(F,)], B, [normal(rng, (B, F))], target=t)]

    def forward(self, c, x, t):
        ok = ~np.isnan(t)
        return float(np.mean((x[ok] - t[ok]) ** 2)) if ok.any() else 0.0

    def backward(self, c, x, t):
        ok = ~np.isnan(t)
        return np.where(ok, 2 * (x - np.nan_to_num(t)), 0.0) / max(ok.sum(), 1)


class SoftCETwin(LossTwin):
    op = "soft_ce"
    grad_tol = 2e-2

    def cases(self, rng):
        B, C = 6, 5
        out = []
        for T in (1.0, 2.5):
            q = rng.dirichlet(np.ones(C), B).astype(np.float32)
            q[2, 0] = np.nan
            out.append(case("soft_ce", [(C,)], B, [normal(rng, (B, C), 2.0)], {"temperature": T}, target=q,
                            tag=f"T={T}"))
        return out

    def missing(self, t):
        return np.isnan(t).any(1)  # a distribution with a NaN is no target

    def _p(self, x, T):
        z = x / T
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def forward(self, c, x, t):
        T = c["attrs"]["temperature"]
        ok = ~np.isnan(t).any(1)
        logp = np.log(self._p(x[ok], T))
        return float(T * T * np.mean(-(t[ok] * logp).sum(1))) if ok.any() else 0.0

    def backward(self, c, x, t):
        T = c["attrs"]["temperature"]
        ok = ~np.isnan(t).any(1)
        q = np.nan_to_num(t)
        d = T * (self._p(x, T) * q.sum(1, keepdims=True) - q)
        d[~ok] = 0
        return d / max(ok.sum(), 1)


class CoralTwin(LossTwin):
    """Deep CORAL (Sun & Saenko 2016): |C_s - C_t|_F^2 / (4 D^2), unbiased covariances of the
    rows labelled 0 (source) and 1 (target); 0 unless both domains have two rows."""

    op = "coral"

    def cases(self, rng):
        B, D = 9, 4
        d = np.array([0, 1, 0, -1, 1, 0, 1, 0, 1], np.int32)
        return [case("coral", [(D,)], B, [normal(rng, (B, D), 1.5) + d[:, None] * 0.5], target=d, tag="mixed")]

    @staticmethod
    def _parts(x, t):
        s, g = x[t == 0], x[t == 1]
        return s, g, len(s) >= 2 and len(g) >= 2

    def forward(self, c, x, t):
        s, g, ok = self._parts(x, t)
        if not ok:
            return 0.0
        D = x.shape[1]
        return float(((np.cov(s, rowvar=False) - np.cov(g, rowvar=False)) ** 2).sum() / (4 * D * D))

    def backward(self, c, x, t):
        s, g, ok = self._parts(x, t)
        dx = np.zeros_like(x)
        if not ok:
            return dx
        D = x.shape[1]
        M = np.cov(s, rowvar=False) - np.cov(g, rowvar=False)
        dx[t == 0] = (s - s.mean(0)) @ M / ((len(s) - 1) * D * D)
        dx[t == 1] = -(g - g.mean(0)) @ M / ((len(g) - 1) * D * D)
        return dx


class CompatTwin(Twin):
    """Every example's features against each column of its class embeddings: dot or cosine."""

    op = "compat"

    def cases(self, rng):
        B, D, C = 4, 3, 5
        x, g = normal(rng, (B, D)), normal(rng, (B, D, C))
        return [case("compat", [(D,), (D, C)], B, [x, g], {"metric": "dot"}, tag="dot"),
                case("compat", [(D,), (D, C, 1)], B, [x, g.reshape(B, D, C, 1)], {"metric": "cosine"},
                     tag="cosine"),
                case("compat", [(2, 2), (4, 2)], 3, [normal(rng, (3, 2, 2)), normal(rng, (3, 4, 2))],
                     {"metric": "cosine"}, tag="cosine, shaped features")]

    def forward(self, c, xs, P, train, ctx):
        x = xs[0].reshape(len(xs[0]), -1)
        g = xs[1].reshape(len(x), x.shape[1], -1)
        s = np.einsum("bd,bdc->bc", x, g)
        if c["attrs"]["metric"] in (1, "cosine"):
            ctx["nx"] = np.maximum(np.linalg.norm(x, axis=1), 1e-8)
            ctx["ng"] = np.maximum(np.linalg.norm(g, axis=1), 1e-8)
            s = s / (ctx["nx"][:, None] * ctx["ng"])
        return s

    def backward(self, c, xs, P, y, dy, ctx):
        x = xs[0].reshape(len(xs[0]), -1)
        g = xs[1].reshape(len(x), x.shape[1], -1)
        if c["attrs"]["metric"] in (1, "cosine"):
            nx, ng = ctx["nx"], ctx["ng"]
            w = dy / (nx[:, None] * ng)
            dx = np.einsum("bc,bdc->bd", w, g) - (dy * y).sum(1)[:, None] * x / nx[:, None] ** 2
            dg = np.einsum("bd,bc->bdc", x, w) - g * (dy * y / ng ** 2)[:, None, :]
        else:
            dx = np.einsum("bc,bdc->bd", dy, g)
            dg = np.einsum("bd,bc->bdc", x, dy)
        return [dx.reshape(xs[0].shape), dg.reshape(xs[1].shape)], {}


class KLSparsityTwin(LossTwin):
    """sum_j KL(rho || rhohat_j), rhohat the mean of the rows labelled 0 (a sparse autoencoder's penalty)."""

    op = "kl_sparsity"

    def cases(self, rng):
        B, H = 7, 5
        m = np.array([0, 0, -1, 0, 0, -1, 0], np.int32)
        h = rng.uniform(0.05, 0.6, (B, H)).astype(np.float32)
        return [case("kl_sparsity", [(H,)], B, [h], {"rho": r}, target=m, tag=f"rho={r}") for r in (0.05, 0.3)]

    def forward(self, c, x, t):
        rho, r = c["attrs"]["rho"], x[t == 0]
        if not len(r):
            return 0.0
        q = r.mean(0)
        return float((rho * np.log(rho / q) + (1 - rho) * np.log((1 - rho) / (1 - q))).sum())

    def backward(self, c, x, t):
        rho, on = c["attrs"]["rho"], t == 0
        dx = np.zeros_like(x)
        if on.any():
            q = x[on].mean(0)
            dx[on] = (-rho / q + (1 - rho) / (1 - q)) / on.sum()
        return dx


BUILDERS = {op: t.cases for op, t in TWINS.items()}
