"""Zero-shot learning: the compat layer, the class table, DAP,
AttributeEmbedding and ConSE through their public API, scikit-learn's grid
search with the table routed to fit, and the bad inputs of issue 25."""
import pickle

import numpy as np
import pytest

import tlearn as tl
from tlearn import datasets, layers as L, optim
from tlearn.transfer import AttributeEmbedding, ClassTable, ConSE, DAP, class_scores, per_class_accuracy

RECIPES = (DAP, AttributeEmbedding, ConSE)
UNSEEN = np.array([2, 5, 9])  # Pullover, Sandal, Ankle boot


@pytest.fixture(scope="module")
def fashion():
    tr = datasets.load_fashion_subset("train")
    te = datasets.load_fashion_subset("test")
    table, _ = datasets.attributes("fashion_mnist")
    seen = ~np.isin(tr.y, UNSEEN)
    idx = np.flatnonzero(seen)[::4]
    return tr.x[idx], tr.y[idx], te.x[::2], te.y[::2], table


@pytest.fixture(scope="module")
def fitted(fashion):
    x, y, _, _, table = fashion
    return {cls.__name__: cls(epochs=6, seed=0).fit(x, y, table) for cls in RECIPES}


# ------------------------------------------------------------------ the op

def test_class_scores_match_numpy():
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((7, 4)), rng.standard_normal((4, 3))
    np.testing.assert_allclose(class_scores(x, g, "dot"), x @ g, rtol=1e-5, atol=1e-5)
    cos = (x @ g) / np.linalg.norm(x, axis=1)[:, None] / np.linalg.norm(g, axis=0)[None, :]
    np.testing.assert_allclose(class_scores(x, g, "cosine"), cos, rtol=1e-5, atol=1e-6)
    # a zero vector scores 0, not NaN
    x[0] = 0
    assert np.all(class_scores(x, g, "cosine")[0] == 0)


def test_compatibility_layer_learns_saves_and_loads(tmp_path):
    """Two towers over a constant class table learn to classify 3 Gaussian
    blobs; the model round-trips through a file with its metric."""
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((3, 5)) * 3
    y = rng.integers(0, 3, 300)
    X = (centres[y] + rng.standard_normal((300, 5))).astype(np.float32)
    table = np.eye(3, dtype=np.float32)                       # (A=3, C=3, 1) per example
    T = np.broadcast_to(table[:, :, None], (300, 3, 3, 1)).copy()
    x, t = tl.Input((5,), name="x"), tl.Input((3, 3, 1), name="t")
    f = L.Dense(4, name="f")(x)
    g = L.Conv2d(4, 1, name="g")(t)
    m = tl.Model([x, t], L.Compatibility("cosine", name="s")([f, g]), seed=2)
    m.compile(optim.Adam(0.05), loss="softmax_ce")
    before = m.score([X, T], y)
    m.fit([X, T], y, epochs=20, batch_size=32, verbose=0)
    after = m.score([X, T], y)
    assert after > 0.9 and after > before + 0.2
    m.save(tmp_path / "c.tl")
    n = tl.load(tmp_path / "c.tl")
    assert n._engine.layers["s"].metric == "cosine"
    assert n.input_names == m.input_names
    np.testing.assert_array_equal(n.predict({"x": X, "t": T}), m.predict({"x": X, "t": T}))


def test_compatibility_shape_errors():
    x, t = tl.Input((5,)), tl.Input((4, 3))
    with pytest.raises(Exception, match="D = 5"):
        L.Compatibility()([x, t])
    with pytest.raises(ValueError, match="metric"):
        L.Compatibility("euclid")


# ----------------------------------------------------------- the class table

def test_class_table_refuses_repeated_rows_and_nan():
    with pytest.raises(ValueError, match=r"rows 0 and 2 \(classes 0 and 2\) are identical"):
        ClassTable([[1, 0], [0, 1], [1, 0]])
    with pytest.raises(ValueError, match="row 1 holds a NaN"):
        ClassTable([[1, 0], [np.nan, 1]])
    with pytest.raises(ValueError, match="class ids must be unique"):
        ClassTable([[1, 0], [0, 1]], classes=[3, 3])
    with pytest.raises(ValueError, match="2-d array"):
        ClassTable([1, 0])
    t = ClassTable(np.array([[1, 0], [0, 1], [1, 1]]), classes=[7, 8, 9])
    np.testing.assert_array_equal(t.rows([9, 7]), [[1, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"no row for classes \[4\]"):
        t.rows([4])
    assert t.subset([8]).classes.tolist() == [8]


def test_fit_refuses_a_table_with_repeated_rows(fashion):
    x, y, _, _, table = fashion
    bad = table.copy()
    bad[6] = bad[0]  # Shirt described as a T-shirt
    with pytest.raises(ValueError, match=r"rows 0 and 6 \(classes 0 and 6\) are identical"):
        DAP(epochs=1).fit(x, y, bad)


# ------------------------------------------------------------------ recipes

@pytest.mark.parametrize("name", [c.__name__ for c in RECIPES])
def test_recognises_unseen_classes_above_chance(fitted, fashion, name):
    _, _, xt, yt, table = fashion
    r = fitted[name]
    assert r.classes_.tolist() == [0, 1, 3, 4, 6, 7, 8]
    u = np.isin(yt, UNSEEN)
    r.set_params(predict_on="unseen")
    try:
        acc = r.score(xt[u], yt[u])
        pred = r.predict(xt[u])
        assert set(np.unique(pred)) <= set(UNSEEN.tolist())
        # chance is 1/3: every method is well above it on this split
        assert acc > 0.45, acc
        # the same through a table of the unseen classes only
        sub = ClassTable(table[UNSEEN], classes=UNSEEN)
        r.set_params(predict_on="table")
        np.testing.assert_array_equal(r.predict(xt[u], class_table=sub), pred)
        assert r.score(xt[u], yt[u], class_table=sub) == pytest.approx(acc)
    finally:
        r.set_params(predict_on="table")
    # generalized: the whole table; seen classes are recognised
    s = ~u
    assert r.score(xt[s], yt[s]) > 0.6
    assert r.decision_function(xt[:5]).shape == (5, 10)


@pytest.mark.parametrize("name", [c.__name__ for c in RECIPES])
def test_calibration_lowers_the_seen_scores_by_a_constant(fitted, fashion, name):
    _, _, xt, yt, _ = fashion
    r = fitted[name]
    s0 = r.decision_function(xt[:50])
    try:
        r.set_params(calibration=2.5)
        s1 = r.decision_function(xt[:50])
        seen = np.isin(np.arange(10), r.classes_)
        np.testing.assert_allclose(s0[:, seen] - s1[:, seen], 2.5)
        np.testing.assert_array_equal(s0[:, ~seen], s1[:, ~seen])
        r.set_params(calibration=1e6)
        assert set(np.unique(r.predict(xt[:50]))) <= set(UNSEEN.tolist())
    finally:
        r.set_params(calibration=0.0)


def test_dap_scores_are_the_attribute_posterior(fitted, fashion):
    _, _, xt, _, table = fashion
    r = fitted["DAP"]
    p = np.clip(r.predict_attributes(xt[:20]), 1e-4, 1 - 1e-4)
    a = table.astype(float)
    seen_mean = a[r.classes_].mean(0)
    pi = np.clip(seen_mean, 0.1, 0.9)
    np.testing.assert_allclose(r.prior_, pi)
    want = np.log(p) @ a.T + np.log1p(-p) @ (1 - a).T - (a * np.log(pi) + (1 - a) * np.log(1 - pi)).sum(1)
    np.testing.assert_allclose(r.decision_function(xt[:20]), want, rtol=1e-4, atol=1e-3)


def test_conse_embedding_is_the_convex_combination_of_the_top_t(fitted, fashion):
    _, _, xt, _, table = fashion
    r = fitted["ConSE"]
    p = r.predict_proba_seen(xt[:20]).astype(float)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    top = np.argsort(-p, axis=1)[:, :3]
    w = np.zeros_like(p)
    np.put_along_axis(w, top, np.take_along_axis(p, top, 1), 1)
    w /= w.sum(1, keepdims=True)
    e = w @ table[r.classes_]
    np.testing.assert_allclose(r.semantic_embedding(xt[:20]), e, rtol=1e-5, atol=1e-6)
    cos = e @ table.T / np.linalg.norm(e, axis=1)[:, None] / np.linalg.norm(table, axis=1)[None, :]
    np.testing.assert_allclose(r.decision_function(xt[:20]), cos, rtol=1e-4, atol=1e-5)


def test_embedding_towers_reproduce_the_scores(fitted, fashion):
    _, _, xt, _, table = fashion
    r = fitted["AttributeEmbedding"]
    f, g = r.embed(xt[:10]), r.embed_classes()
    assert f.shape == (10, r.dim) and g.shape == (10, r.dim)
    np.testing.assert_allclose(r.decision_function(xt[:10]), f @ g.T, rtol=1e-4, atol=1e-4)


def test_pickled_recipe_predicts_the_same(fitted, fashion):
    _, _, xt, _, _ = fashion
    for r in fitted.values():
        r2 = pickle.loads(pickle.dumps(r))
        np.testing.assert_array_equal(r2.predict(xt[:30]), r.predict(xt[:30]))


def test_the_callers_table_and_data_are_untouched(fashion):
    x, y, _, _, table = fashion
    t, xc, yc = table.copy(), x[:300].copy(), y[:300].copy()
    DAP(epochs=1).fit(xc, yc, t)
    np.testing.assert_array_equal(t, table)
    np.testing.assert_array_equal(xc, x[:300])
    np.testing.assert_array_equal(yc, y[:300])


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("cls", RECIPES)
def test_bad_input_gets_named_errors(cls, fitted, fashion):
    x, y, xt, yt, table = fashion
    r = fitted[cls.__name__]
    xn = x[:100].copy()
    xn[7, 0, 3, 3] = np.nan
    with pytest.raises(ValueError, match="X: row 7 holds a NaN"):
        cls(epochs=1).fit(xn, y[:100], table)
    with pytest.raises(ValueError, match="X: row 7 holds a NaN"):
        r.predict(xn)
    # a seen class missing from the table
    with pytest.raises(ValueError, match=r"no row for the seen classes of y \[8\]"):
        cls(epochs=1).fit(x, y, ClassTable(table[:8]))
    # a table of the wrong width
    with pytest.raises(ValueError, match="class_table has 14 columns, the table given to fit had 15"):
        r.predict(xt[:5], class_table=table[:, :14])
    # unseen classes missing from the table at scoring
    u = np.isin(yt, UNSEEN)
    with pytest.raises(ValueError, match=r"y holds classes \[2, 5, 9\] that are not among the candidate classes"):
        r.score(xt[u], yt[u], class_table=ClassTable(table[[0, 1, 3]], classes=[0, 1, 3]))
    r.set_params(predict_on="unseen")
    try:
        with pytest.raises(ValueError, match="names no unseen class"):
            r.predict(xt[:5], class_table=ClassTable(table[[0, 1]], classes=[0, 1]))
    finally:
        r.set_params(predict_on="table")
    with pytest.raises(ValueError, match="examples of shape"):
        r.predict(xt[:5, :, :14])
    with pytest.raises(ValueError, match="predict_on must be one of"):
        cls(predict_on="both", epochs=1).fit(x, y, table)


def test_dap_refuses_attributes_outside_0_1(fashion):
    x, y, _, _, table = fashion
    with pytest.raises(ValueError, match=r"values must lie in \[0, 1\]"):
        DAP(epochs=1).fit(x, y, table * 2.0)


# ------------------------------------------------------------- scikit-learn

def test_grid_search_with_the_table_routed_to_fit(fashion):
    """GridSearchCV with folds that hold out whole classes (GroupKFold by
    label): fit receives the table, score each fold's held-out classes."""
    ms = pytest.importorskip("sklearn.model_selection")
    from sklearn.base import clone

    x, y, _, _, table = fashion
    x, y = x[::2], y[::2]
    r = DAP(hidden=(32,), epochs=2, predict_on="unseen")
    assert clone(r).get_params() == r.get_params()
    gs = ms.GridSearchCV(r, {"prior_clip": [0.05, 0.2]}, cv=ms.GroupKFold(n_splits=3), error_score="raise")
    gs.fit(x, y, groups=y, class_table=table)
    scores = gs.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1))
    assert gs.best_params_["prior_clip"] in (0.05, 0.2)
    # every fold scored classes its fit never saw
    for tr, te in ms.GroupKFold(n_splits=3).split(x, y, groups=y):
        assert not set(y[te]) & set(y[tr])
    # the refitted best estimator keeps fit's table for predict and score
    best = gs.best_estimator_
    assert best.class_table_ == ClassTable(table)
    best.set_params(predict_on="table")
    assert 0 <= best.score(x, y) <= 1


def test_per_class_accuracy_averages_over_classes():
    y = np.array([0, 0, 0, 0, 1])
    assert per_class_accuracy(y, np.array([0, 0, 0, 0, 0])) == pytest.approx(0.5)


def test_readme_zero_shot_example_runs():
    import os
    readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
    text = open(readme, encoding="utf-8").read()
    code = text[text.index("## Zero-shot learning"):].split("```python", 1)[1].split("```", 1)[0]
    ns = {}
    exec(compile(code, readme, "exec"), ns)
    dap, x, y, seen = ns["dap"], ns["x"], ns["y"], ns["seen"]
    assert dap.classes_.tolist() == list(range(7))
    assert set(np.unique(dap.predict(x[~seen]))) <= {7, 8, 9}
    assert 0.0 <= dap.score(x[~seen], y[~seen]) <= 1.0
