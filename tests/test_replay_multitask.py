"""The multitask replay's own pieces: the data-equivalence ratio, the nested
starved target sets, the class split, and one measurement."""
import numpy as np
import pytest

from tlearn.replay import multitask as mt
from tlearn.replay._section import Results, Seed


def test_equivalent_size_interpolates_on_the_log_axis():
    sizes, acc = [10, 100, 1000], [0.5, 0.7, 0.8]
    n, c = mt.equivalent_size(sizes, acc, 0.6)          # halfway from 10 to 100 on the log axis
    assert c == 0 and n == pytest.approx(np.sqrt(10 * 100))
    n, c = mt.equivalent_size(sizes, acc, 0.7)
    assert c == 0 and n == pytest.approx(100.0)
    assert mt.equivalent_size(sizes, acc, 0.4) == (10.0, -1)    # matched already at the smallest size
    assert mt.equivalent_size(sizes, acc, 0.9) == (1000.0, 1)   # never matched
    # a curve that dips: the first crossing counts
    n, c = mt.equivalent_size([1, 2, 4, 8], [0.5, 0.8, 0.6, 0.9], 0.65)
    assert c == 0 and 1 < n < 2


@pytest.fixture(scope="module")
def data():
    return mt.load(mt.SCALES["quick"])


def test_split_and_nested_starved_sets(data):
    sp, spt, order = mt.split(data, 0)
    assert len(sp.classes_a) == len(sp.classes_b) == 5
    assert not set(sp.classes_a) & set(sp.classes_b)
    assert list(spt.classes_b) == list(sp.classes_b)
    small, big = mt.starved(order, 0.01), mt.starved(order, 0.02)
    assert set(small) <= set(big) and len(small) == 60 and len(big) == 120   # subset: 1,200 per class
    assert np.bincount(sp.y_b[small]).tolist() == [12] * 5
    assert any(set(mt.split(data, i)[0].classes_b) != set(sp.classes_b) for i in (1, 2, 3))  # a split per seed
    assert "UCI digits" in data.describe()["description"]


def test_measure_and_derive(data):
    s = dict(mt.SCALES["quick"], steps=15, fractions=(0.02,), scale="quick")
    rows = []
    for u in mt.units(s):
        rows += [(m, st, met, v, u) for m, st, met, v in mt.measure(data, u, Seed("multitask", 0, u.name), s)]
    got = {(m, st, met) for m, st, met, _, _ in rows}
    assert (mt.ST, "2%", "accuracy") in got and (mt.ST, "1%", "accuracy") not in got   # N/2 only for multitask
    for m in mt.MULTI:
        assert (m, "1%", "accuracy") in got and (m, "2%", "accuracy") in got
    assert all(0.0 <= v <= 1.0 for m, _, met, v, _ in rows if met == "accuracy")
    res = Results([], [0])
    for m, st, met, v, _ in rows:
        res.add(m, st, 0, met, v)
    derived = list(mt.derive(res, s))
    ratios = [r for r in derived if r[3] == "data_ratio"]
    assert {r[0] for r in ratios} == set(mt.MULTI) and all(0.0 < r[4] for r in ratios)
