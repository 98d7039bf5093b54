"""Layer-transfer selectors, copying, freezing, and the fine-tuning recipe."""
import numpy as np
import pytest

import tlearn as tl
from tlearn import datasets, layers as L
from tlearn.transfer import FineTune, copy_layers, first_n, freeze, last_n, parametric_layers, source_network


def feats(x):
    h = L.Flatten(name="flat")(x)
    for i, u in enumerate((32, 16), 1):
        h = L.ReLU(name=f"r{i}")(L.Dense(u, name=f"fc{i}")(h))
    return h


def test_selectors_count_parametric_layers():
    m = source_network(feats, (1, 8, 8), 3)
    assert parametric_layers(m) == ["fc1", "fc2", "head"]
    assert first_n(m, 2) == ["fc1", "fc2"] and last_n(m, 2) == ["fc2", "head"]
    assert last_n(m, 1, exclude=["head"]) == ["fc2"] and first_n(m, 0) == []
    with pytest.raises(ValueError, match="0..3"):
        first_n(m, 4)


def test_copy_and_freeze_whole_layers_and_masks():
    a, b = source_network(feats, (1, 8, 8), 3, seed=0), source_network(feats, (1, 8, 8), 3, seed=1)
    names = copy_layers(a, b, ["fc1"])
    assert sorted(names) == ["fc1.b", "fc1.w"]
    assert np.array_equal(a.params["fc1.w"], b.params["fc1.w"])
    assert not np.array_equal(a.params["fc2.w"], b.params["fc2.w"])
    mask = np.zeros_like(b.params["fc2.w"])
    mask[0] = 1
    freeze(b, ["fc1"], masks={"fc2.w": mask})
    before = b.state_dict()
    x, y = datasets.load_digits()
    keep = y < 3
    b.compile(tl.optim.SGD(0.1), loss="softmax_ce")
    b.fit(x[keep][:200], y[keep][:200], epochs=1, verbose=False)
    after = b.params
    assert np.array_equal(after["fc1.w"], before["fc1.w"])
    assert np.array_equal(after["fc2.w"][1:], before["fc2.w"][1:])
    assert not np.array_equal(after["fc2.w"][0], before["fc2.w"][0])
    with pytest.raises(ValueError, match="0 and 1"):
        freeze(b, masks={"fc2.w": mask * 2})
    with pytest.raises(KeyError):
        copy_layers(a, b, ["nope"])


@pytest.fixture(scope="module")
def digits_task():
    x, y = datasets.load_digits()
    s = datasets.class_split(y, classes_a=[0, 1, 2, 3, 4])
    src = source_network(feats, (1, 8, 8), 5, seed=0)
    src.compile(tl.optim.SGD(0.05, momentum=0.9), loss="softmax_ce")
    src.fit(x[s.idx_a], s.y_a, epochs=20, batch_size=32, verbose=False)
    xk, yk, xr, yr = datasets.few_shot(x[s.idx_b], s.y_b, 5, seed=0)
    return src, (x[s.idx_a], s.y_a), (xk, yk, xr, yr)


@pytest.mark.parametrize("kw", [dict(), dict(train="head"), dict(l2sp=0.1), dict(ewc=100.0, with_data=True),
                                dict(lwf=1.0)])
def test_finetune_variants_train_and_keep_source_head(digits_task, kw):
    src, (xa, ya), (xk, yk, xr, yr) = digits_task
    kw = dict(kw)
    if kw.pop("with_data", False):
        kw["source_data"] = (xa, ya)
    r = FineTune(feats, source=src, n_classes=5, steps=100, seed=0, **kw).fit(xk, yk)
    assert r.score(xr, yr) > 0.5                   # five classes: chance is 0.2
    src_acc = src.score(xa, ya)
    kept = r.score_source(xa, ya)
    if kw.get("train") == "head":                  # body and old head frozen: the source task is untouched
        assert kept == pytest.approx(src_acc)
    assert 0.0 <= kept <= 1.0
    assert r.predict(xr).shape == yr.shape


def test_finetune_copies_by_name_and_scratch_does_not(digits_task):
    src, _, (xk, yk, xr, yr) = digits_task
    r = FineTune(feats, source=src, n_classes=5, train="head", steps=10).fit(xk, yk)
    assert np.array_equal(r.model_.params["fc1.w"], src.params["fc1.w"])
    s = FineTune(feats, source=None, n_classes=5, steps=10).fit(xk, yk)
    assert not np.array_equal(s.model_.params["fc1.w"], src.params["fc1.w"])
    with pytest.raises(RuntimeError, match="no source head"):
        s.score_source(xr, yr)


def test_finetune_predict_proba_is_the_softmax_of_its_logits(digits_task):
    src, _, (xk, yk, xr, yr) = digits_task
    r = FineTune(feats, source=src, steps=30, seed=0).fit(xk, yk)
    z = r.decision_function(xr).astype(np.float64)
    p = r.predict_proba(xr)
    assert p.shape == z.shape == (len(xr), 5)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(p, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(np.argmax(p, axis=1), r.predict(xr))
    with pytest.raises(ValueError, match="FineTune.predict_proba"):
        r.predict_proba(np.zeros((2, 1, 9, 9), np.float32))


def test_finetune_bad_arguments(digits_task):
    src, _, _ = digits_task
    x, y = np.zeros((4, 1, 8, 8), np.float32), np.array([0, 1, 2, 3])
    with pytest.raises(ValueError, match="source_data"):
        FineTune(feats, source=src, n_classes=5, ewc=1.0).fit(x, y)
    with pytest.raises(ValueError, match="needs a source"):
        FineTune(feats, source=None, n_classes=5, l2sp=1.0).fit(x, y)
    with pytest.raises(ValueError, match="train"):
        FineTune(feats, source=src, n_classes=5, train="some").fit(x, y)
    with pytest.raises(RuntimeError, match="fit first"):
        FineTune(feats, source=src, n_classes=5).predict(np.zeros((1, 1, 8, 8), np.float32))


def test_fisher_does_not_depend_on_the_freeze_mask_and_leaves_the_model_alone(digits_task):
    from tlearn.transfer import estimate_fisher

    src, (x, y), _ = digits_task
    m = src.clone()
    open_ = estimate_fisher(m, x[:40], y[:40])
    m.trainable = False  # the README's idiom before transfer
    m.masks["fc1.w"][...] = 0.0
    before = {k: v.copy() for k, v in m.fisher.items()}
    frozen = estimate_fisher(m, x[:40], y[:40])
    for k in open_:
        np.testing.assert_array_equal(frozen[k], open_[k], err_msg=k)
        np.testing.assert_array_equal(m.fisher[k], before[k], err_msg=k)  # the function leaves the model as it was
    assert any(np.any(v > 0) for v in frozen.values())
    assert m.trainable is False and not m.masks["fc1.w"].any()


def test_a_diverging_recipe_names_the_step_and_stays_unfitted(digits_task):
    from tlearn.transfer import NotFittedError

    src, (x, y), _ = digits_task
    r = FineTune(feats, lr=1e30, steps=50)
    with pytest.raises(tl.TlearnError, match=r"training diverged: node '\w+' \(dense\) produced NaN or infinity "
                                             r"at step \d+ of this run of \d+ .*learning rate 1e\+30"):
        r.fit(x[:100], y[:100])
    with pytest.raises(NotFittedError):
        r.predict(x[:3])
