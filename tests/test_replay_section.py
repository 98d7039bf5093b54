"""The replay machinery (tlearn.replay._section) on the toy section of
tests/toy_section.py: seed derivation, workers, the long results table,
claims and their verdicts, report.json."""
import json
import pickle

import numpy as np
import pytest

import toy_section as toy
from tlearn.replay import Results, _section
from tlearn.replay._section import Claim, Seed, Sel, derive_seed, run_section, verdict


def _run(**kw):
    kw.setdefault("progress", False)
    return run_section(toy, **kw)


def test_seed_rule_is_fnv1a_of_section_index_unit():
    # 32-bit FNV-1a by hand, so that a change of the rule (which would change every replay's numbers) fails here
    def fnv(text):
        h = 0x811C9DC5
        for b in text.encode():
            h = ((h ^ b) * 0x01000193) % 2 ** 32
        return h % 2 ** 31
    assert derive_seed("toy_section", 2, "net") == fnv("toy_section/2/net")
    assert derive_seed("dann", 0, "dann") != derive_seed("dann", 1, "dann") != derive_seed("dann", 1, "adabn")
    s = Seed("toy_section", 2, "net")
    assert int(s) == fnv("toy_section/2/net") and s.index == 2 and s.derive("x") == fnv("toy_section/2/net/x")
    t = pickle.loads(pickle.dumps(s))
    assert type(t) is Seed and t == s and t.index == 2 and t.derive("x") == s.derive("x")


def test_runs_get_their_derived_seeds_and_adding_a_unit_shifts_none(monkeypatch):
    rep = _run(scale="full")
    r = rep.results
    for u in ("net", "draws"):
        np.testing.assert_array_equal(r.values("seed", u, "value"), [derive_seed("toy_section", i, u) for i in range(3)])
        np.testing.assert_array_equal(r.values("seed", u, "index"), [0, 1, 2])
    before = r.values("big", "k=1", "score")
    monkeypatch.setattr(toy, "units", lambda s: [toy.Unit("new", None), toy.Unit("draws", {"shift": 10.0})])
    monkeypatch.setattr(toy, "CLAIMS", toy.CLAIMS[:3])
    measure = toy.measure
    monkeypatch.setattr(toy, "measure", lambda d, u, seed, s: [] if u.name == "new" else measure(d, u, seed, s))
    np.testing.assert_array_equal(_run(scale="full").results.values("big", "k=1", "score"), before)


def test_one_worker_or_two_give_the_same_table():
    one, two = _run(scale="full", workers=1), _run(scale="full", workers=2)
    assert one.results.rows == two.results.rows
    assert len(one.results.rows) == 3 * (4 + 1 + 4) + 3   # per seed: 2 units' seed rows, net, 4 draws; derived
    for k in one.results.keep:
        np.testing.assert_array_equal(one.results.keep[k], two.results.keep[k])
    assert one.to_dict()["tables"] == two.to_dict()["tables"]
    assert [c["diff"] for c in one.claims] == [c["diff"] for c in two.claims]


def test_claims_verdicts():
    rep = _run(scale="full")
    by = {c["key"]: c for c in rep.claims}
    assert [c["key"] for c in rep.claims] == [c.key for c in toy.CLAIMS]
    assert by["big_beats_small"]["verdict"] == "holds" and by["big_beats_small"]["holds"]
    d = rep.results.values("big", "k=1", "score") - rep.results.values("small", "k=1", "score")
    assert by["big_beats_small"]["diff"]["values"] == pytest.approx(list(d))
    assert by["big_beats_small"]["threshold"] == 5.0
    assert by["small_beats_big"]["verdict"] == "does not hold" and not by["small_beats_big"]["holds"]
    assert by["small_beats_big"]["why_not"] == "it is made up not to"
    assert by["big_above_constant"]["verdict"] == "holds"
    assert by["derived"]["diff"]["values"] == pytest.approx(list(d))
    assert by["big_beats_small"]["ours"].startswith("big (k=1): ") and " vs small (k=1): " in by["big_beats_small"]["ours"]
    assert by["big_above_constant"]["ours"].startswith("big (k=2): ") and " vs 1;" in by["big_above_constant"]["ours"]
    same = _section.build_claim(Claim("m", "s", "p", a=Sel("big", "k=1", "score"), b=Sel("big", "k=1", "x")),
                                Results([{"method": "big", "setting": "k=1", "seed": i, "metric": m, "value": v}
                                         for i in (0, 1) for m, v in (("score", 2.0 + i), ("x", 1.0))], [0, 1]), {})
    assert same["ours"].startswith("big (k=1) score: 2.500 ± 0.707 vs big (k=1) x: 1.000 ± 0.000; difference +1.500")
    one = _run(scale="quick")
    assert one.seeds == [0] and {c["verdict"] for c in one.claims} == {"not determined"}
    assert not any(c["holds"] for c in one.claims)
    assert "not determined" in one.claims_markdown()


def test_verdict_rule_is_mean_minus_standard_error():
    v, s = verdict([1.0, 3.0], 0.0)   # mean 2, std sqrt(2), se 1
    assert s["se"] == pytest.approx(1.0) and v == "holds"
    assert verdict([1.0, 3.0], 1.0)[0] == "does not hold"   # 2 - 1 is not > 1
    assert verdict([1.0, 3.0], 0.99)[0] == "holds"
    assert verdict([5.0], 0.0)[0] == "not determined"
    assert verdict([1.0, float("nan")], 0.0)[0] == "not determined"
    assert verdict([-1.0, -3.0], -2.5)[0] == "does not hold"   # -2 - 1 = -3 is not > -2.5
    assert verdict([-1.0, -3.0], -3.5)[0] == "holds"


def test_report_json_round_trip(tmp_path):
    rep = _run(scale="full")
    paths = rep.write(str(tmp_path / "toy"))
    d = json.loads((tmp_path / "toy" / "report.json").read_text())
    assert d["results"] == rep.results.rows and d["scale"] == "full" and d["seeds"] == [0, 1, 2]
    assert {r["metric"] for r in d["results"]} == {"value", "index", "accuracy", "score"}
    back = Results.from_report(d)
    np.testing.assert_array_equal(back.values("big", "k=2", "score"), rep.results.values("big", "k=2", "score"))
    assert back.by_setting("score") == rep.results.by_setting("score") == d["tables"]["score"]
    # every claim's verdict recomputed from the serialised table
    for c, spec in zip(d["claims"], toy.CLAIMS):
        assert c["verdict"] == _section.build_claim(spec, back, toy.SCALES["full"])["verdict"]
    assert d["data"]["description"] == "two Gaussian blobs, 64 examples" and d["data"]["epochs"] == 3
    md = (tmp_path / "toy" / "report.md").read_text()
    assert "Data: two Gaussian blobs, 64 examples." in md and "mean - se > threshold" in md
    pytest.importorskip("matplotlib")
    assert str(tmp_path / "toy" / "scores.png") in paths


def test_bad_declarations_and_settings(monkeypatch):
    with pytest.raises(ValueError, match="no scale 'paper'"):
        _run(scale="paper")
    for bad in (0, 101, 2.0, True):
        with pytest.raises(ValueError, match="seeds must be an integer from 1 to 100"):
            _run(seeds=bad)
    with pytest.raises(ValueError, match="either a"):
        Claim("k", "s", "p")
    monkeypatch.setattr(toy, "units", lambda s: [toy.Unit("a"), toy.Unit("a")])
    with pytest.raises(ValueError, match="unit names must be unique"):
        _run()


def test_progress_counts_the_declared_runs():
    lines = []
    _run(scale="full", progress=lines.append, workers=1)
    assert lines[0].startswith("[toy_section] data: two Gaussian blobs, 64 examples; scale full; 3 seed(s) x 2 unit(s)")
    assert [l.split()[1] for l in lines[1:]] == [f"{i}/6" for i in range(1, 7)]
