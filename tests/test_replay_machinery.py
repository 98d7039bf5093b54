"""The replay machinery: reports, their writer, the command line, the
shipped Fashion-MNIST subset."""
import hashlib
import json

import numpy as np
import pytest

from tlearn import datasets, replay
from tlearn.datasets import _data
from tlearn.replay import Report, mean_std


def test_mean_std_is_sample_std():
    ms = mean_std([1.0, 2.0, 4.0])
    assert ms["n"] == 3 and ms["mean"] == pytest.approx(7 / 3)
    assert ms["std"] == pytest.approx(np.std([1.0, 2.0, 4.0], ddof=1))
    assert mean_std([0.5])["std"] == 0.0
    with pytest.raises(ValueError):
        mean_std([])


def _report():
    from tlearn.replay._section import Claim, Results, Sel, build_claim

    res = Results([], [0, 1])
    for m, vals in (("a", [0.5, 0.7]), ("b", [0.9, 0.8])):
        for i, v in enumerate(vals):
            res.add(m, "k=1", i, "acc", v)
    r = Report("demo_section", "A title", {"name": "x", "description": "some data"}, [0, 1], quick=True)
    r.results = res
    r.add_table("accuracy", res.by_setting("acc"))
    r.claims.append(build_claim(Claim("b_beats_a", "b beats a", "n/a", a=Sel("b", "k=1", "acc"),
                                      b=Sel("a", "k=1", "acc")), res, {}))
    r.claims.append(build_claim(Claim("a_beats_b", "a beats b", "1.0", a=Sel("a", "k=1", "acc"),
                                      b=Sel("b", "k=1", "acc"), why_not="made up"), res, {}))
    r.figure("fig", lambda plt: plt.plot([0, 1], [0, 1]))
    return r.finish()


def test_report_writes_md_json_and_png(tmp_path):
    r = _report()
    paths = r.write(str(tmp_path / "s"))
    d = json.loads((tmp_path / "s" / "report.json").read_text())
    for key in ("section", "data", "seeds", "tables", "claims", "results", "scale", "verdict_rule"):
        assert key in d
    c = d["claims"][1]
    assert (c["key"], c["statement"], c["paper"], c["verdict"], c["holds"], c["why_not"]) == \
        ("a_beats_b", "a beats b", "1.0", "does not hold", False, "made up")
    assert c["diff"]["values"] == pytest.approx([-0.4, -0.1])
    assert d["tables"]["accuracy"][0]["k=1"]["values"] == [0.5, 0.7]
    assert len(d["results"]) == 4 and d["results"][0] == {"method": "a", "setting": "k=1", "seed": 0, "metric": "acc",
                                                          "value": 0.5}
    md = (tmp_path / "s" / "report.md").read_text()
    assert "| a beats b | 1.0 |" in md and "| does not hold: made up |" in md and "0.600 ± 0.141" in md
    assert md.splitlines()[2].startswith("Data: some data. Seeds: [0, 1]. Scale: quick.")
    pytest.importorskip("matplotlib")
    png = tmp_path / "s" / "fig.png"
    assert str(png) in paths and png.read_bytes()[:4] == b"\x89PNG"


def test_unknown_section_is_refused():
    with pytest.raises(ValueError, match="unknown replay section"):
        replay.run("nope")
    with pytest.raises(ValueError, match="seeds must be an integer from 1 to 100"):
        replay.run("finetune", seeds=0)
    with pytest.raises(ValueError, match="seeds must be an integer from 1 to 100"):
        replay.run("finetune", seeds=101)
    with pytest.raises(ValueError, match="scale must be one of"):
        replay.run("finetune", scale="huge")


def test_a_section_without_a_paper_scale_refuses_it(monkeypatch):
    # before anything runs (every section declares one: take one away)
    monkeypatch.delitem(replay.section("selftaught").SCALES, "paper")
    with pytest.raises(ValueError, match="no scale 'paper'"):
        replay.run("selftaught", scale="paper")
    from tlearn.__main__ import UsageError, _parse
    with pytest.raises(UsageError, match="section 'selftaught' has no 'paper' scale; it has"):
        _parse(["replay", "selftaught", "--scale", "paper"])


def test_available_is_a_subset_in_order():
    av = replay.available()
    assert av == [s for s in replay.SECTIONS if s in av]


def test_cli_refuses_unknown_section(capsys):
    from tlearn.__main__ import main
    assert main(["replay", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown section" in err and len(err.strip().splitlines()) == 1


def test_quick_env(monkeypatch):
    monkeypatch.setenv("TLEARN_QUICK", "1")
    assert replay.is_quick(False)
    monkeypatch.setenv("TLEARN_QUICK", "0")
    assert not replay.is_quick(False) and replay.is_quick(True)


def test_fashion_subset_checksum_and_balance():
    raw = _data.fashion_subset_raw()
    h = hashlib.sha256()
    for k in ("x_train", "y_train", "x_test", "y_test"):
        h.update(raw[k].tobytes())
    assert h.hexdigest() == _data.FASHION_SUBSET_SHA256
    x, y = datasets.load_fashion_subset("train")
    assert x.shape == (12000, 1, 28, 28) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert np.bincount(y).tolist() == [1200] * 10
    xt, yt = datasets.load_fashion_subset("test", dtype="uint8")
    assert xt.dtype == np.uint8 and np.bincount(yt).tolist() == [200] * 10
    with pytest.raises(ValueError, match="split"):
        datasets.load_fashion_subset("val")


def test_fashion_subset_matches_the_debian_files():
    try:
        x, y = datasets.load_fashion_mnist(split="test", dtype="uint8")
    except FileNotFoundError:
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    xs, ys = datasets.load_fashion_subset("test", dtype="uint8")
    idx = np.sort(np.concatenate([np.flatnonzero(y == c)[:200] for c in range(10)]))
    assert np.array_equal(xs, x[idx]) and np.array_equal(ys, y[idx])


def test_replay_data_says_which():
    d = replay.fashion(prefer_full=False, per_class_train=10, per_class_test=5)
    desc = d.describe()
    assert desc["name"] == "fashion_subset" and not desc["full"] and desc["train"] == 100 and desc["test"] == 50
    assert "shipped" in desc["description"]


def test_replay_data_falls_back_to_the_shipped_subset(monkeypatch):
    from tlearn.replay import _data as rd

    def missing(*a, **k):
        raise FileNotFoundError("no Debian files")
    monkeypatch.setattr(rd.datasets, "load_fashion_mnist", missing)
    d = rd.fashion(per_class_train=5, per_class_test=2)
    assert d.name == "fashion_subset" and len(d.y_train) == 50 and len(d.y_test) == 20


def test_a_reason_may_rest_on_the_runs_own_numbers():
    from tlearn.replay._section import Claim, Results, Sel, build_claim
    res = Results([], [0, 1])
    for m, vals in (("a", [0.5, 0.7]), ("b", [0.9, 0.8])):
        for i, v in enumerate(vals):
            res.add(m, "k=1", i, "acc", v)
    why = lambda r, s: f"b averages {r.values('b', 'k=1', 'acc').mean():.2f} at {s['what']}"  # noqa: E731
    c = build_claim(Claim("a_beats_b", "a beats b", "n/a", a=Sel("a", "k=1", "acc"), b=Sel("b", "k=1", "acc"),
                          why_not=why), res, {"what": "this scale"})
    assert c["verdict"] == "does not hold" and c["why_not"] == "b averages 0.85 at this scale"
    held = build_claim(Claim("b_beats_a", "b beats a", "n/a", a=Sel("b", "k=1", "acc"), b=Sel("a", "k=1", "acc"),
                             why_not=why), res, {})
    assert held["holds"] and "why_not" not in held  # a claim that holds is given no reason, computed or not
