"""The replay machinery: reports, their writer, the command line, the
shipped Fashion-MNIST subset."""
import hashlib
import json
import os

import numpy as np
import pytest

from tlearn import datasets, replay
from tlearn.datasets import _data
from tlearn.replay import Report, mean_std, summarize


def test_mean_std_is_sample_std():
    ms = mean_std([1.0, 2.0, 4.0])
    assert ms["n"] == 3 and ms["mean"] == pytest.approx(7 / 3)
    assert ms["std"] == pytest.approx(np.std([1.0, 2.0, 4.0], ddof=1))
    assert mean_std([0.5])["std"] == 0.0
    with pytest.raises(ValueError):
        mean_std([])


def _report():
    r = Report("demo_section", "A title", {"name": "x", "description": "some data"}, [0, 1], quick=True)
    r.add_table("accuracy", summarize({"a": {"k=1": [0.5, 0.7]}, "b": {"k=1": [0.9, 0.8]}}))
    r.claim("b beats a", "n/a", "0.85 ± 0.07 vs 0.60 ± 0.14", True)
    r.claim("a beats b", "1.0", "no", False)
    r.figure("fig", lambda plt: plt.plot([0, 1], [0, 1]))
    return r.finish()


def test_report_writes_md_json_and_png(tmp_path):
    r = _report()
    paths = r.write(str(tmp_path / "s"))
    d = json.loads((tmp_path / "s" / "report.json").read_text())
    for key in ("section", "data", "seeds", "tables", "claims"):
        assert key in d
    assert d["claims"][1] == {"statement": "a beats b", "paper": "1.0", "ours": "no", "holds": False}
    assert d["tables"]["accuracy"][0]["k=1"]["values"] == [0.5, 0.7]
    md = (tmp_path / "s" / "report.md").read_text()
    assert "| a beats b | 1.0 | no | NO |" in md and "0.600 ± 0.141" in md
    pytest.importorskip("matplotlib")
    png = tmp_path / "s" / "fig.png"
    assert str(png) in paths and png.read_bytes()[:4] == b"\x89PNG"


def test_unknown_section_is_refused():
    with pytest.raises(ValueError, match="unknown replay section"):
        replay.run("nope")
    with pytest.raises(ValueError, match="seeds"):
        replay.run(replay.available()[0] if replay.available() else "finetune", seeds=0)


def test_available_is_a_subset_in_order():
    av = replay.available()
    assert av == [s for s in replay.SECTIONS if s in av]


def test_cli_refuses_unknown_section(capsys):
    from tlearn.__main__ import main
    with pytest.raises(SystemExit):
        main(["replay", "nope"])
    assert "unknown section" in capsys.readouterr().err


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
