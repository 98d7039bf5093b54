"""Replay runs side by side (tlearn.replay._runs): the same numbers with one
worker or two (workers at one thread, the calling process at its own), errors
of a worker reach the caller, settings are checked."""
import os

import numpy as np
import pytest

from tlearn import _blas, get_num_threads
from tlearn import replay
from tlearn.replay import _runs


def _square(x):
    return x * x


def _threads(_):
    return get_num_threads()


def _fails(x):
    raise ArithmeticError(f"run {x} failed")


def test_runs_in_workers_and_in_process_agree():
    with _runs.Runs(2) as r:
        jobs = [r.submit(_square, i) for i in range(5)]
        got = [j.get() for j in jobs]
        assert [j.get() for j in [r.submit(_threads, 0)]] == [1]  # a worker: one core thread
    assert got == [0, 1, 4, 9, 16]
    before = get_num_threads()
    with _runs.Runs(1) as r:
        assert r.submit(_square, 3).get() == 9
        assert r.submit(_threads, 0).get() == before  # in this process: its threads ...
    assert get_num_threads() == before  # ... left as they were


def test_a_failed_run_raises_in_the_caller():
    for w in (1, 2):
        with pytest.raises(ArithmeticError, match="run 7 failed"):
            with _runs.Runs(w) as r:
                r.submit(_fails, 7).get()


def test_bad_settings(monkeypatch):
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="workers must be a positive int"):
            _runs.Runs(bad)
    monkeypatch.setenv("TLEARN_REPLAY_WORKERS", "two")
    with pytest.raises(ValueError, match="TLEARN_REPLAY_WORKERS must be a positive integer, got 'two'"):
        _runs.default_workers(5)
    monkeypatch.setenv("TLEARN_REPLAY_WORKERS", "0")
    with pytest.raises(ValueError, match="got '0'"):
        _runs.default_workers(5)
    monkeypatch.setenv("TLEARN_REPLAY_WORKERS", "8")
    assert _runs.default_workers(3) == 3
    monkeypatch.delenv("TLEARN_REPLAY_WORKERS")
    assert 1 <= _runs.default_workers(100) <= len(os.sched_getaffinity(0))


def test_blas_threads_round_trip():
    n = _blas.get_threads()
    assert n >= 1
    try:
        assert _blas.set_threads(1) and _blas.get_threads() == 1
    finally:
        _blas.set_threads(n)
    assert _blas.get_threads() == n


def test_dann_replay_gives_the_same_numbers_with_one_worker_or_two():
    one = replay.run("dann", scale="quick", seeds=1, progress=False, workers=1)
    two = replay.run("dann", scale="quick", seeds=1, progress=False, workers=2)
    assert one.results.rows == two.results.rows and len(one.results.rows) > 50
    for m in ("source_only", "dann"):
        for x, y in zip(one.results.keep[(0, m)]["features"], two.results.keep[(0, m)]["features"]):
            np.testing.assert_array_equal(x, y)
    assert one.results.keep[(0, "dann")]["steps"] == two.results.keep[(0, "dann")]["steps"]
    d = one.to_dict()
    assert d["seconds"] > 0.5 and d["data"]["workers"] == 1 and two.to_dict()["data"]["workers"] == 2
    assert any(n.startswith("seconds per unit") for n in d["notes"])
    # one seed decides nothing
    assert {c["verdict"] for c in one.claims} == {"not determined"}
