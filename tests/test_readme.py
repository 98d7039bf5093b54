"""The README's example runs as written (in a temporary directory)."""
import os

import numpy as np

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def test_readme_example_runs(tmp_path, monkeypatch):
    text = open(README, encoding="utf-8").read()
    code = text[text.index("## Example"):].split("```python", 1)[1].split("```", 1)[0]
    assert "model.trainable = False" in code and "enc(a), enc(b)" in code and "model.fit(batches" in code
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(code, README, "exec"), ns)
    model, pair = ns["model"], ns["pair"]
    assert not model.layer("fc1").trainable and model.layer("head").trainable
    assert sorted(pair.params) == ["enc.b", "enc.w", "same.b", "same.w"]
    assert model.evaluate(ns["x"][1500:], ns["y"][1500:])["head_acc"] > 0.8
    assert np.array_equal(ns["model2"].params["fc2.w"], model.params["fc2.w"])
