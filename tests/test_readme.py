"""The README's example runs as written (in a temporary directory)."""
import os
import re

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


def _section(text, title):
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start:] if end < 0 else text[start:end]


def _rows(section, title):
    """``(their idiom, tlearn's code)`` of each row of the table under ``title``."""
    part = _section(section, title)
    rows = []
    for line in part.split("\n"):
        m = re.match(r"^\| (.+) \| (.+) \|$", line)
        if not m or m.group(1).startswith("---") or line.startswith("| Keras |") or line.startswith("| PyTorch |"):
            continue
        code = re.fullmatch(r"`([^`]+)`", m.group(2).strip())
        assert code, f"the tlearn cell of a row is one piece of code: {line!r}"
        rows.append((m.group(1), code.group(1)))
    return rows


def test_coming_from_keras_and_pytorch_tables_run(tmp_path, monkeypatch):
    """Every tlearn line of the README's two tables runs, in order, after the set-up block above them."""
    text = open(README, encoding="utf-8").read()
    sec = _section(text, "## Coming from Keras or PyTorch")
    setup = sec.split("```python", 1)[1].split("```", 1)[0]
    keras, torch = _rows(sec, "### Coming from Keras"), _rows(sec, "### Coming from PyTorch")
    assert len(keras) >= 15 and len(torch) >= 12
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(setup, README, "exec"), ns)
    for theirs, ours in keras + torch:
        try:
            exec(compile(ours, f"README row for {theirs}", "exec"), ns)
        except Exception as e:  # name the row that failed
            raise AssertionError(f"README row {theirs} -> {ours} failed: {e!r}") from e
    tl, x, y = ns["tl"], ns["x"], ns["y"]
    # what the Keras lines promise
    assert ns["h"].history["val_accuracy"][-1] > 0.8 and ns["acc"] > 0.8
    assert ns["logits"].shape == (len(x), 10)
    assert ns["n"] == 64 * 32 + 32 + 32 * 10 + 10
    assert isinstance(ns["m2"], tl.Model) and "head" in ns["m2"].layers
    assert len(ns["model"].layers) == 3 and ns["model"].layers[1] == "fc"  # after pop: input, fc, its ReLU
    new = ns["new"]
    assert new.layers[-1] == "new_head" and not new.get_layer("fc").trainable and not ns["model"].layer("fc").trainable
    assert np.array_equal(new.params["fc.w"], ns["model"].params["fc.w"])  # the block's weights are model's
    assert ns["p3"].shape == (len(x), 3) and set(ns["e3"]) >= {"new_head", "accuracy", "loss"}
    # what the PyTorch lines promise
    net = ns["net"]
    assert net.layers[1::2] == ["fc1", "fc2"]
    assert not net.layer("fc1").trainable and net.count_params() == 64 * 32 + 32 + 32 * 10 + 10
    assert sorted(ns["sd"]) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]
    assert np.array_equal(ns["net2"].predict(x), net.predict(x))
    assert sorted(np.load("net.npz").files) == sorted(net.params)


def test_readme_recipes_example_runs(tmp_path, monkeypatch):
    text = open(README, encoding="utf-8").read()
    code = _section(text, "## Recipes").split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(code, README, "exec"), ns)
    ft, dann = ns["ft"], ns["dann"]
    xr, yr = ns["xr"], ns["yr"]
    assert ft.score(xr, yr) > 0.5 and ft.n_classes_ == 5
    assert 0 <= dann.selected_epoch_ <= 1 and dann.predict(ns["xt"]).shape == (len(ns["xt"]),)
    # the source model is the caller's: still compiled as it was, never retrained by the recipe
    assert ns["src"].loss_names == ["head"]
