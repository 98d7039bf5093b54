"""The `dann` replay (its notebook runs in tests/test_notebooks.py): its report in quick mode (digits -> digits-M), the
papers' numbers, and (slow) the full replay on Fashion-MNIST -> Fashion-MNIST-M
with the claims that hold by a margin wider than the seed spread."""
import os

import numpy as np
import pytest

from tlearn import replay
from tlearn.replay import Results, dann
from tlearn.replay._section import verdict


@pytest.fixture(scope="module")
def quick():
    return replay.run("dann", scale="quick", progress=False)


def test_papers_share_of_the_gap():
    g = dann.paper_gaps()
    assert g == {"JMLR 2016 Table 2": 0.529, "ICML 2015 Table 1": 0.579}
    assert dann.PAPER_GAP == 0.529
    # recomputed from the tables' accuracies: ICML agrees, JMLR gives 55.8% where it prints 52.9%
    rec = {k: dann._gap(v["dann"], v["source_only"], v["train_on_target"]) for k, v in dann.PAPERS.items()}
    assert rec["ICML 2015 Table 1"] == pytest.approx(0.579, abs=5e-4)
    assert rec["JMLR 2016 Table 2"] == pytest.approx(0.558, abs=5e-4)


def test_quick_report(quick):
    res = quick.results
    assert quick.seeds == [0, 1, 2] and quick.scale == "quick"
    assert not [n for n in quick.notes if "FAILED" in n]
    for m in dann.METHODS:
        assert len(res.values(m, "", "target_acc")) == 3
    # the gap is measured per seed between that seed's baselines
    np.testing.assert_allclose(res.values("source_only", "", "gap_closed"), 0.0)
    np.testing.assert_allclose(res.values("train_on_target", "", "gap_closed"), 1.0)
    lo, hi = res.values("source_only", "", "target_acc"), res.values("train_on_target", "", "target_acc")
    g = res.values("dann", "", "gap_closed")
    np.testing.assert_allclose(g, (res.values("dann", "", "target_acc") - lo) / (hi - lo))
    # the claim that holds at this scale with a margin: labelled target data beat the source by far
    assert (hi - lo).min() > 0.25
    assert [r["method"] for r in quick.tables["results"]] == [dann.LABELS[m] for m in dann.METHODS]
    by = {c["key"]: c for c in quick.claims}
    assert set(by) == {"dann_gap_closed", "dann_beats_source_only", "domain_classifier_fooled", "source_accuracy_kept",
                       "pad_drops", "adabn_closes_gap", "deep_coral_closes_gap"}
    for c in quick.claims:
        assert c["paper"] and c["verdict"] in ("holds", "does not hold")
        assert c["verdict"] != "does not hold" or c["why_not"]
    # every verdict follows the per-seed numbers
    assert by["dann_gap_closed"]["diff"]["values"] == pytest.approx(list(g))
    assert by["dann_gap_closed"]["verdict"] == verdict(g, dann.PAPER_GAP)[0]
    d = res.values("dann", "", "target_acc") - lo
    assert by["dann_beats_source_only"]["verdict"] == verdict(d, 0.0)[0]
    pad = res.values("dann", "", "proxy_a_distance")
    assert ((0 <= pad) & (pad <= 2)).all()
    assert len(res.settings("target_acc_by_epoch", "dann")) == dann.SCALES["quick"]["epochs"]


def test_quick_report_written(quick, tmp_path):
    pytest.importorskip("matplotlib")
    paths = quick.write(str(tmp_path / "dann"))
    assert {"features_pca", "domain_accuracy", "target_accuracy_by_epoch"} <= set(quick.figures)
    for name in quick.figures:
        assert (tmp_path / "dann" / f"{name}.png").stat().st_size > 1000
    assert str(tmp_path / "dann" / "report.json") in paths


@pytest.mark.slow
def test_full_replay():
    if not os.path.isdir("/usr/share/datasets/fashion-mnist") and not os.environ.get("TLEARN_DATA"):
        pytest.skip("Fashion-MNIST is not installed")
    from test_replay_claims import report_of   # the report of TLEARN_REPLAY_DIR when CI made it, else run here

    rep = report_of("dann")
    res = Results.from_report(rep)
    assert rep["scale"] == "full" and rep["data"]["pair"] == "fashion"
    assert not [n for n in rep["notes"] if "FAILED" in n]
    lo, hi = res.values("source_only", "", "target_acc"), res.values("train_on_target", "", "target_acc")
    dn = res.values("dann", "", "target_acc")
    spread = max(lo.std(ddof=1), dn.std(ddof=1), hi.std(ddof=1))
    # the claims that hold at this scale, each by a margin wider than the seed spread
    assert (hi - lo).min() > 0.3 + 2 * spread
    assert (dn - lo).min() > 2 * spread, f"DANN {dn} vs source only {lo}"
    pa, pb = res.values("dann", "", "proxy_a_distance"), res.values("source_only", "", "proxy_a_distance")
    assert (pa < pb).all()
    by = {c["key"]: c for c in rep["claims"]}
    assert by["dann_beats_source_only"]["holds"]
    assert by["dann_gap_closed"]["verdict"] == verdict(res.values("dann", "", "gap_closed"), dann.PAPER_GAP)[0]
