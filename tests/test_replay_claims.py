"""The full replays of ``finetune``, ``layers`` and ``selftaught``: every claim is reported
with the fields the report promises, and the claims that hold at this scale
hold by a margin wider than their spread over seeds.

CI runs ``tlearn replay finetune layers --out DIR`` once (see .ci/run) and
passes ``TLEARN_REPLAY_DIR=DIR`` so the reports are read instead of
recomputed; without it the replays run here (marked slow).
"""
import json
import os

import pytest

from tlearn import replay

# Claims that held in the full replay (3-5 seeds) and are asserted with a
# margin: mean - 1 std of the paired difference on the right side of 0.
HOLDING = {
    "finetune": ["retains_l2-sp", "retains_ewc", "retains_output"],
    "layers": ["anb_below_bnb_top", "input_shift_last"],
    # none of the self-taught claims holds at the replay's scale (the report says why); the full report is
    # still checked for completeness
    "selftaught": [],
    # none of multitask's claims clears mean - std > 0 (the two that hold by mean - se are within a std of 0);
    # its full report is still checked for its shape
    "multitask": [],
    "progressive": ["pnn_bit_identical", "pnn_forgets_less", "finetune_forgets"],
}


def _report(section):
    d = os.environ.get("TLEARN_REPLAY_DIR")
    if d and os.path.isfile(os.path.join(d, section, "report.json")):
        with open(os.path.join(d, section, "report.json")) as f:
            return json.load(f)
    return json.loads(json.dumps(replay.run(section, progress=lambda s: None).to_dict()))


@pytest.fixture(scope="module", params=sorted(HOLDING))
def report(request):
    r = _report(request.param)
    assert not r["quick"], "the claims are asserted on the full replay"
    return r


@pytest.mark.slow
def test_claims_are_reported_in_full(report):
    assert report["claims"] and len(report["seeds"]) >= 3
    for c in report["claims"]:
        assert set(c) >= {"statement", "paper", "ours", "holds"} and isinstance(c["holds"], bool)
        assert " ± " in c["ours"]
    assert report["data"]["name"] in ("fashion_mnist", "fashion_subset")


@pytest.mark.slow
def test_holding_claims_hold_beyond_the_seed_spread(report):
    by_key = {c["key"]: c for c in report["claims"]}
    for key in HOLDING[report["section"]]:
        c = by_key[key]
        d = c["diff"]
        assert c["holds"], c
        # every claim is a paired difference a - b that must clear its threshold
        assert d["mean"] - d["std"] > c["threshold"], (key, d)
