"""A tiny replay section for tests/test_replay_section.py: the shape of
CONTRIBUTING.md's "How to add a replay", on data made up here."""
import numpy as np

from tlearn import layers as L, optim
from tlearn.layers import Input
from tlearn.model import Model
from tlearn.replay import Claim, Sel, Unit

TITLE = "A toy section"
SCALES = {"quick": {"seeds": 1, "epochs": 2}, "full": {"seeds": 3, "epochs": 3}}


class ToyData:
    def __init__(self, n=64):
        rng = np.random.default_rng(0)
        self.y = rng.integers(0, 2, n)
        self.x = (rng.normal(size=(n, 4)) + 2.0 * self.y[:, None]).astype(np.float32)

    def describe(self):
        return {"name": "toy", "train": len(self.y), "description": f"two Gaussian blobs, {len(self.y)} examples"}


def load(s, data=None):
    return ToyData() if data is None else data


def units(s):
    return [Unit("net", {"units": 3}), Unit("draws", {"shift": 10.0})]


def measure(data, unit, seed, s):
    rows = [("seed", unit.name, "value", int(seed)), ("seed", unit.name, "index", seed.index)]
    if unit.name == "net":
        x = Input((4,), name="x")
        m = Model(x, L.Dense(2, name="out")(L.ReLU()(L.Dense(unit.args["units"], name="h")(x))), seed=int(seed))
        m.compile(optim.SGD(0.1), loss="softmax_ce")
        m.fit(data.x, data.y, epochs=s["epochs"], batch_size=16, verbose=False)
        rows.append(("net", "", "accuracy", m.score(data.x, data.y)))
        return {"rows": rows, "keep": m.predict(data.x[:4])}
    rng = np.random.default_rng(seed.derive("draw"))
    for k in (1, 2):
        rows.append(("big", f"k={k}", "score", unit.args["shift"] + rng.normal()))
        rows.append(("small", f"k={k}", "score", rng.normal()))
    return rows


def derive(results, s):
    for i in results.seeds:
        yield "big minus small", "k=1", i, "score", (results.values("big", "k=1", "score")[i]
                                                     - results.values("small", "k=1", "score")[i])


CLAIMS = [
    Claim("big_beats_small", "big beats small by more than 5", "none", a=Sel("big", "k=1", "score"),
          b=Sel("small", "k=1", "score"), threshold=5.0),
    Claim("small_beats_big", "small beats big", "none", a=Sel("small", "k=2", "score"), b=Sel("big", "k=2", "score"),
          why_not="it is made up not to"),
    Claim("big_above_constant", "big is above 1", "none", a=Sel("big", "k=2", "score"), b=1.0),
    Claim("derived", "the derived difference is positive", "none",
          paired=lambda r, s: r.values("big minus small", "k=1", "score")),
]


def figures(results, s):
    def draw(plt):
        ks = [1, 2]
        for m in ("big", "small"):
            plt.plot(ks, [results.values(m, f"k={k}", "score").mean() for k in ks], marker="o", label=m)
        plt.xticks(ks)
        plt.xlabel("k")
        plt.ylabel("score (units)")
        plt.legend()
    return {"scores": draw}
