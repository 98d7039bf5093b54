"""Zero-shot learning: recognise classes no training example shows, from a
table that describes every class (the lecture's "Zero-shot learning").

Three recipes share one interface, the class table passed as data:

* ``fit(X, y, class_table)`` trains on the seen classes (those in ``y``);
  the table may describe more classes than ``y`` holds;
* ``predict(X, class_table=None)`` picks among the classes the table names
  (default: the table given to ``fit``; ``predict_on`` keeps all of them,
  only those unseen in ``fit``, or only the seen ones);
* ``decision_function(X, class_table=None)`` gives the scores, one column
  per class of :meth:`candidates`; ``score(X, y, class_table=None)`` the
  top-1 accuracy averaged over classes (Xian et al.'s protocol [4]).

A class table is a :class:`ClassTable` (rows and class ids) or a 2-D array
whose row k describes class k.  Because ``predict`` and ``score`` default
to the table ``fit`` received, scikit-learn's ``GridSearchCV`` works as it
is: ``GridSearchCV(DAP(predict_on="unseen"), grid, cv=GroupKFold(3)).fit(X,
y, groups=y, class_table=T)`` routes the table to ``fit`` and scores every
fold on its held-out classes, a zero-shot cross-validation.

* :class:`DAP`: Direct Attribute Prediction [1], one sigmoid attribute
  classifier per attribute (one network, a ``sigmoid_bce`` output per
  attribute); ``log p(z|x) = sum_m log p(a_m = a_m^z | x) - log p(a_m^z)``
  with the attribute priors ``p(a_m)`` the mean over the seen classes,
  clamped to ``[prior_clip, 1 - prior_clip]``.
* :class:`AttributeEmbedding`: two towers, ``f(x)`` for images and
  ``g(a)`` for class descriptions, trained so that ``f(x^n)`` scores highest
  with ``g(a^{y_n})`` among the seen classes: a softmax cross-entropy over
  the compatibilities ``f(x) . g(a^c)`` of every seen class (see its doc for
  why not DeViSE's hinge [2]).  The compatibilities of every example with
  every class are one core op (:class:`tlearn.layers.Compatibility`),
  forward and backward.
* :class:`ConSE`: convex combination of semantic embeddings [3], a
  seen-class classifier whose top-T probabilities weight the seen classes'
  embeddings; the nearest class by cosine similarity wins (lion + tiger ->
  liger).

Every score matrix (examples x classes) is computed by the core's
``compat`` op; NumPy only selects and lays out.

References
----------
[1] Lampert, Nickisch & Harmeling, "Attribute-based classification for
    zero-shot visual object categorization", TPAMI 2014 (CVPR 2009), eq. 2.
[2] Frome et al., "DeViSE: a deep visual-semantic embedding model", NIPS 2013.
[3] Norouzi et al., "Zero-shot learning by convex combination of semantic
    embeddings", ICLR 2014, eq. 1-2.
[4] Xian, Lampert, Schiele & Akata, "Zero-shot learning - a comprehensive
    evaluation of the good, the bad and the ugly", TPAMI 2019, section 4.
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from .. import layers as L
from .. import optim as _optim
from ..graph import Tensor
from ..layers import Input
from ..model import Model
from ._base import Recipe, check_choice, check_examples, check_float, check_int, check_labels

PREDICT_ON = ("table", "unseen", "seen")
_CHUNK = 2048  # examples per call of the score op (each carries its (D, C) block)


# ------------------------------------------------------------- the class table

class ClassTable:
    """A description of each class: ``values`` (C, F), row k describing the
    class ``classes[k]`` (default ``0 .. C-1``).

    Rows must be finite and pairwise different: two classes with the same
    signature cannot be told apart (the lecture's warning), so such a table
    is refused with the classes named.  The arrays are copied and read-only.
    """

    def __init__(self, values, classes=None, name: str = "class_table"):
        v = np.asarray(values)
        if v.dtype.kind not in "biuf":
            raise TypeError(f"{name}: expected a real numeric array (classes, features), got dtype {v.dtype}")
        if v.ndim != 2 or v.shape[0] < 1 or v.shape[1] < 1:
            raise ValueError(f"{name}: expected a 2-d array (classes, features) with at least one of each, "
                             f"got shape {v.shape}")
        v = v.astype(np.float64)
        if not np.isfinite(v).all():
            r = int(np.argmax(~np.isfinite(v).all(axis=1)))
            raise ValueError(f"{name}: row {r} holds a NaN or infinite value; expected finite values")
        c = np.arange(len(v)) if classes is None else np.asarray(classes)
        if c.shape != (len(v),) or c.dtype.kind not in "iu":
            raise ValueError(f"{name}: classes must be {len(v)} integer class ids (one per row), got "
                             f"{c.dtype} array of shape {c.shape}")
        c = c.astype(np.int64)
        if len(np.unique(c)) != len(c):
            dup = [int(k) for k, n in zip(*np.unique(c, return_counts=True)) if n > 1]
            raise ValueError(f"{name}: class ids must be unique, got {dup} more than once")
        _, first, inv = np.unique(v, axis=0, return_index=True, return_inverse=True)
        if len(first) != len(v):
            inv = np.asarray(inv).reshape(-1)
            k = next(i for i in range(len(v)) if first[inv[i]] != i)
            j = int(first[inv[k]])
            raise ValueError(f"{name}: rows {j} and {k} (classes {int(c[j])} and {int(c[k])}) are identical; every "
                             "class needs its own description, or the two cannot be told apart")
        v.setflags(write=False)
        c.setflags(write=False)
        self.values, self.classes, self.name = v, c, name

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_features(self) -> int:
        return self.values.shape[1]

    def subset(self, classes) -> "ClassTable":
        """The table of ``classes`` (in that order)."""
        return ClassTable(self.rows(classes), classes, self.name)

    def rows(self, classes, what: str = "classes") -> np.ndarray:
        """The rows of ``classes``; a class the table does not name is an error."""
        ids = np.asarray(classes, dtype=np.int64).reshape(-1)
        pos = {int(k): i for i, k in enumerate(self.classes)}
        missing = sorted({int(k) for k in ids if int(k) not in pos})
        if missing:
            raise ValueError(f"{self.name}: no row for {what} {missing}; the table describes classes "
                             f"{self.classes.tolist()}")
        return self.values[[pos[int(k)] for k in ids]]

    def __repr__(self) -> str:
        return f"ClassTable({self.n_classes} classes x {self.n_features} features, classes={self.classes.tolist()})"

    def __eq__(self, other) -> bool:
        return (isinstance(other, ClassTable) and np.array_equal(self.values, other.values)
                and np.array_equal(self.classes, other.classes))

    __hash__ = None


def as_class_table(table, name: str = "class_table") -> ClassTable:
    """``table`` as a :class:`ClassTable` (an array: row k is class k)."""
    if isinstance(table, ClassTable):
        return table
    if table is None:
        raise TypeError(f"{name}: expected a class table (a ClassTable or an array (classes, features)), got None")
    return ClassTable(table, name=name)


# ------------------------------------------------------------ the score op

def class_scores(x: np.ndarray, g: np.ndarray, metric: str = "dot") -> np.ndarray:
    """Scores of the rows of ``x`` (N, D) against the columns of ``g``
    (D, C), computed by the core's ``compat`` op: ``x . g[:, c]`` or their
    cosine.  Returns (N, C) float32."""
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(len(x), -1)
    g = np.ascontiguousarray(g, dtype=np.float32)
    if g.ndim != 2 or g.shape[0] != x.shape[1]:
        raise ValueError(f"class_scores: expected g of shape ({x.shape[1]}, C), got {g.shape}")
    D, C = g.shape
    xi, gi = Input((D,), name="x"), Input((D, C), name="g")
    m = Model([xi, gi], L.Compatibility(metric, name="scores")([xi, gi]), name="class_scores")
    out = np.empty((len(x), C), np.float32)
    for lo in range(0, len(x), _CHUNK):
        xb = x[lo:lo + _CHUNK]
        out[lo:lo + len(xb)] = m.predict([xb, np.ascontiguousarray(np.broadcast_to(g, (len(xb), D, C)))],
                                         batch_size=_CHUNK)
    return out


class MLP:
    """``features`` as a picklable callable: Flatten, then ``Dense(u) + ReLU``
    for each width of ``hidden`` (layer names prefixed by ``prefix``)."""

    def __init__(self, hidden: Sequence[int], prefix: str = ""):
        self.hidden, self.prefix = tuple(int(u) for u in hidden), prefix

    def __call__(self, x: Tensor) -> Tensor:
        h = L.Flatten(name=f"{self.prefix}flat")(x)
        for i, u in enumerate(self.hidden, 1):
            h = L.ReLU(name=f"{self.prefix}relu{i}")(L.Dense(u, name=f"{self.prefix}fc{i}")(h))
        return h

    def __repr__(self) -> str:
        return f"MLP(hidden={self.hidden})"


def _check_hidden(me: str, name: str, hidden) -> tuple:
    try:
        h = tuple(hidden)
    except TypeError:
        raise TypeError(f"{me}: {name} must be a sequence of positive ints, got {hidden!r}") from None
    for u in h:
        check_int(me, f"{name} entry", u, 1)
    return h


# ------------------------------------------------------------------ the base

class ZeroShot(Recipe):
    """Base of the zero-shot recipes (see the module doc): the table handling,
    ``predict``, ``decision_function``, ``score`` and calibrated stacking.

    Subclasses implement ``_train(X, y_pos, seen_table, settings) -> dict``
    (fitted attributes) and ``_scores(X, table) -> (N, C)`` (higher is better)."""

    _me = "ZeroShot"

    _sklearn_kind = "classifier"

    # ---------------------------------------------------------------- fit
    def _common(self) -> dict:
        me = self._me
        s = {"epochs": check_int(me, "epochs", self.epochs, 1),
             "batch_size": check_int(me, "batch_size", self.batch_size, 1),
             "lr": check_float(me, "lr", self.lr, 0.0, lo_open=True),
             "weight_decay": check_float(me, "weight_decay", self.weight_decay, 0.0),
             "seed": check_int(me, "seed", self.seed),
             "predict_on": check_choice(me, "predict_on", self.predict_on, PREDICT_ON),
             "calibration": check_float(me, "calibration", self.calibration)}
        if self.features is not None and not callable(self.features):
            raise TypeError(f"{me}: features must be None or a callable Tensor -> Tensor, got "
                            f"{type(self.features).__name__}")
        s["features"] = self.features or MLP(_check_hidden(me, "hidden", self.hidden))
        return s

    def _fit(self, X, y, class_table) -> Dict:
        me = self._me
        s = self._common()
        X = check_examples(me, "X", X)
        y = check_labels(me, "y", y, len(X))
        table = as_class_table(class_table)
        seen = np.unique(y)
        if len(seen) < 2:
            raise ValueError(f"{me}: y must hold at least 2 seen classes, got {seen.tolist()}")
        seen_rows = table.rows(seen, what="the seen classes of y")
        pos = np.searchsorted(seen, y).astype(np.int32)
        fitted = self._train(np.ascontiguousarray(X, dtype=np.float32), pos, ClassTable(seen_rows, seen, table.name),
                             s)
        fitted.update(classes_=seen, class_table_=table, n_features_in_=int(np.prod(X.shape[1:])),
                      input_shape_=tuple(X.shape[1:]))
        return fitted

    def _train(self, X, y_pos, seen_table, s) -> Dict:  # pragma: no cover - every recipe overrides it
        raise NotImplementedError

    def _compile_fit(self, model: Model, x, y, s) -> None:
        model.check_finite = True  # a diverging run stops with the node and the step named
        model.compile(_optim.Adam(s["lr"], weight_decay=s["weight_decay"]), loss=self._loss)
        model.fit(x, y, epochs=s["epochs"], batch_size=s["batch_size"], verbose=0)

    # ------------------------------------------------------------ predict
    def candidates(self, class_table=None) -> ClassTable:
        """The classes :meth:`predict` chooses among: the table (default: the
        one given to ``fit``) kept whole, or its unseen or seen classes
        (``predict_on``)."""
        self._check_is_fitted("candidates")
        me = self._me
        table = self.class_table_ if class_table is None else as_class_table(class_table)
        if table.n_features != self.class_table_.n_features:
            raise ValueError(f"{me}: class_table has {table.n_features} columns, the table given to fit had "
                             f"{self.class_table_.n_features}; expected the same attributes (or embedding width)")
        on = check_choice(me, "predict_on", self.predict_on, PREDICT_ON)
        if on == "table":
            return table
        is_seen = np.isin(table.classes, self.classes_)
        keep = table.classes[~is_seen if on == "unseen" else is_seen]
        if not len(keep):
            raise ValueError(f"{me}: predict_on={on!r} but class_table names no {on} class (classes "
                             f"{table.classes.tolist()}, seen in fit {self.classes_.tolist()})")
        return table.subset(keep)

    def _check_X(self, X, what: str) -> np.ndarray:
        X = check_examples(self._me, "X", X)
        if tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(f"{self._me}.{what}: X has examples of shape {tuple(X.shape[1:])}, fit had "
                             f"{self.input_shape_}")
        return np.ascontiguousarray(X, dtype=np.float32)

    def decision_function(self, X, class_table=None) -> np.ndarray:
        """Scores (N, C), one column per class of :meth:`candidates`, with
        ``calibration`` subtracted from the classes seen in ``fit``
        (calibrated stacking, Chao et al. 2016)."""
        self._check_is_fitted("decision_function")
        X = self._check_X(X, "decision_function")
        table = self.candidates(class_table)
        s = np.asarray(self._scores(X, table), dtype=np.float64)
        gamma = check_float(self._me, "calibration", self.calibration)
        if gamma:
            s[:, np.isin(table.classes, self.classes_)] -= gamma
        return s

    def predict(self, X, class_table=None) -> np.ndarray:
        """The class id of the best-scoring candidate class of each example."""
        s = self.decision_function(X, class_table)
        return self.candidates(class_table).classes[np.argmax(s, axis=1)]

    def score(self, X, y, class_table=None) -> float:
        """Top-1 accuracy averaged over the classes present in ``y``."""
        self._check_is_fitted("score")
        y = check_labels(self._me, "y", y, len(np.asarray(X)))
        cand = self.candidates(class_table).classes
        missing = sorted(set(np.unique(y).tolist()) - set(cand.tolist()))
        if missing:
            raise ValueError(f"{self._me}.score: y holds classes {missing} that are not among the candidate classes "
                             f"{cand.tolist()} (class_table, predict_on={self.predict_on!r}); add their rows")
        return per_class_accuracy(y, self.predict(X, class_table))


def per_class_accuracy(y, pred) -> float:
    """Top-1 accuracy of each class present in ``y``, averaged over those classes."""
    y, pred = np.asarray(y), np.asarray(pred)
    return float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))


# ---------------------------------------------------------------------- DAP

class DAP(ZeroShot):
    """Direct Attribute Prediction (Lampert et al. [1] of the module doc).

    One network with a sigmoid output per attribute (``sigmoid_bce``),
    trained on the seen classes' examples toward their class's attribute
    row; the table's values must lie in [0, 1].  A class ``z`` scores
    ``sum_m [a_m^z log p_m(x) + (1 - a_m^z) log(1 - p_m(x))]
    - sum_m [a_m^z log pi_m + (1 - a_m^z) log(1 - pi_m)]``: the attribute
    signature's log-probability over its prior (eq. 2 of [1] with equal class
    priors), ``pi_m`` the mean of attribute m over the seen classes clamped
    to ``[prior_clip, 1 - prior_clip]`` and ``p_m(x)`` to
    ``[1e-4, 1 - 1e-4]``.  The sums are the core's ``compat`` op.

    Parameters
    ----------
    features : callable Tensor -> Tensor, optional
        The body (default: an MLP of ``hidden`` ReLU layers).
    hidden : sequence of int
    prior_clip : float in (0, 0.5)
        Keeps attribute priors away from 0 and 1 (an attribute no seen class
        has would otherwise give unseen classes with it an infinite score).
        [1] states no clamp; 0.1 is tlearn's choice.
    epochs, batch_size, lr, weight_decay : Adam training (lr 1e-3: Kingma & Ba's default).
    predict_on : {"table", "unseen", "seen"}
    calibration : float
        Subtracted from the seen classes' scores (calibrated stacking).
    seed : int

    Attributes
    ----------
    model_ : Model  (output ``"attributes"``, logits)
    prior_ : (A,) the clamped attribute priors
    classes_, class_table_, input_shape_, n_features_in_
    """

    _me = "DAP"
    _loss = "sigmoid_bce"

    def __init__(self, features=None, hidden: Sequence[int] = (128,), prior_clip: float = 0.1, epochs: int = 10,
                 batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 0.0, predict_on: str = "table",
                 calibration: float = 0.0, seed: int = 0):
        self.features = features
        self.hidden = hidden
        self.prior_clip = prior_clip
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.predict_on = predict_on
        self.calibration = calibration
        self.seed = seed

    def _train(self, X, y_pos, seen, s):
        clip = check_float("DAP", "prior_clip", self.prior_clip, 0.0, 0.5, lo_open=True, hi_open=True)
        A = seen.values
        if A.min() < 0 or A.max() > 1:
            raise ValueError(f"DAP: class_table values must lie in [0, 1] (attributes as 0/1 or probabilities), got "
                             f"values in [{A.min():g}, {A.max():g}]")
        x = Input(X.shape[1:], name="x")
        out = L.Dense(A.shape[1], name="attributes")(s["features"](x))
        model = Model(x, {"attributes": out}, seed=s["seed"], name="dap")
        self._compile_fit(model, X, A[y_pos].astype(np.float32), s)
        return {"model_": model, "prior_": np.clip(A.mean(axis=0), clip, 1 - clip)}

    def predict_attributes(self, X) -> np.ndarray:
        """p(a_m = 1 | x), (N, A)."""
        self._check_is_fitted("predict_attributes")
        z = self.model_.predict(self._check_X(X, "predict_attributes"))
        return 1.0 / (1.0 + np.exp(-z.astype(np.float64)))

    def _scores(self, X, table):
        p = np.clip(self.predict_attributes(X), 1e-4, 1 - 1e-4)
        a = table.values.T                                             # (A, C)
        pi = self.prior_[:, None]
        prior = (a * np.log(pi) + (1 - a) * np.log(1 - pi)).sum(0)   # (C,) log p(a^z)
        x = np.hstack([np.log(p), np.log1p(-p), np.ones((len(p), 1))])
        g = np.vstack([a, 1 - a, -prior[None, :]])
        return class_scores(x, g, "dot")


# ------------------------------------------------------- attribute embedding

class AttributeEmbedding(ZeroShot):
    """Two towers: ``f(x)`` embeds an image, ``g(a)`` a class description,
    both networks into ``dim`` dimensions; the compatibility of an image with
    a class is ``f(x) . g(a)`` (or their cosine), every example against
    every class in one core op (:class:`tlearn.layers.Compatibility`).

    Trained with a softmax cross-entropy over the seen classes'
    compatibilities: ``f(x^n)`` is pulled toward ``g(a^{y_n})`` and pushed
    from every other seen class's ``g`` in each step.  Why not DeViSE's
    hinge with margin [2]: the softmax is the core's fused loss on the
    compatibility op's output, and it keeps a gradient from every class
    until the scores are separated by a margin that grows with training,
    where the hinge's gradient vanishes once the margin (0.1 in [2]) is met;
    with the handful of seen classes here every class fits in every example,
    so DeViSE's sampling of negative labels is not needed either.

    ``g`` is a stack of 1x1 :class:`~tlearn.layers.Conv2d` over the table laid
    out as (attributes, classes, 1): one network applied to every class
    with shared weights.  The table rides along in every example of a batch.

    Parameters
    ----------
    features : callable Tensor -> Tensor, optional
        The body of ``f`` (default: an MLP of ``hidden``), followed by
        ``Dense(dim)``.
    hidden : sequence of int
    class_hidden : sequence of int
        Hidden widths of ``g`` (ReLU), followed by a layer of ``dim``.
    dim : int
        Width of the joint embedding.
    metric : {"dot", "cosine"}
    (the rest as :class:`DAP`)

    Attributes
    ----------
    model_ : Model  (inputs ``"x"`` and ``"classes"``, output ``"scores"``)
    """

    _me = "AttributeEmbedding"
    _loss = "softmax_ce"

    def __init__(self, features=None, hidden: Sequence[int] = (128,), class_hidden: Sequence[int] = (64,),
                 dim: int = 64, metric: str = "dot", epochs: int = 10, batch_size: int = 64, lr: float = 1e-3,
                 weight_decay: float = 0.0, predict_on: str = "table", calibration: float = 0.0, seed: int = 0):
        self.features = features
        self.hidden = hidden
        self.class_hidden = class_hidden
        self.dim = dim
        self.metric = metric
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.predict_on = predict_on
        self.calibration = calibration
        self.seed = seed

    def _f(self, features, dim):
        return lambda x: L.Dense(dim, name="f_out")(features(x))

    @staticmethod
    def _g(class_hidden, dim):
        def build(t):
            h = t
            for i, u in enumerate(class_hidden, 1):
                h = L.ReLU(name=f"g_relu{i}")(L.Conv2d(int(u), 1, name=f"g_conv{i}")(h))
            return L.Conv2d(dim, 1, name="g_out")(h)
        return build

    @staticmethod
    def _layout(values: np.ndarray) -> np.ndarray:
        """(C, A) table -> (A, C, 1) float32, the layout of ``g``'s input."""
        return np.ascontiguousarray(values.T[:, :, None], dtype=np.float32)

    def _train(self, X, y_pos, seen, s):
        me = self._me
        dim = check_int(me, "dim", self.dim, 1)
        ch = _check_hidden(me, "class_hidden", self.class_hidden)
        metric = check_choice(me, "metric", self.metric, ("dot", "cosine"))
        x = Input(X.shape[1:], name="x")
        t = Input((seen.n_features, seen.n_classes, 1), name="classes")
        scores = L.Compatibility(metric, name="scores")([self._f(s["features"], dim)(x), self._g(ch, dim)(t)])
        model = Model({"x": x, "classes": t}, {"scores": scores}, seed=s["seed"], name="attribute_embedding")
        T = np.ascontiguousarray(np.broadcast_to(self._layout(seen.values), (len(X),) + t.shape))
        self._compile_fit(model, {"x": X, "classes": T}, y_pos, s)
        return {"model_": model, "features_": s["features"], "dim_": dim, "class_hidden_": ch, "metric_": metric}

    def _towers(self, C: int):
        """f and g as models of their own with the trained weights (g for C classes)."""
        x = Input(self.input_shape_, name="x")
        f = Model(x, self._f(self.features_, self.dim_)(x), name="f")
        t = Input((self.class_table_.n_features, C, 1), name="classes")
        g = Model(t, self._g(self.class_hidden_, self.dim_)(t), name="g")
        w = self.model_.params
        for m in (f, g):
            m.load_weights({k: w[k] for k in m.params})
        return f, g

    def embed(self, X) -> np.ndarray:
        """f(x), (N, dim)."""
        self._check_is_fitted("embed")
        f, _ = self._towers(1)
        return f.predict(self._check_X(X, "embed"))

    def embed_classes(self, class_table=None) -> np.ndarray:
        """g(a) of each row of the table, (C, dim)."""
        self._check_is_fitted("embed_classes")
        table = self.class_table_ if class_table is None else as_class_table(class_table)
        _, g = self._towers(table.n_classes)
        return g.predict(self._layout(table.values)[None])[0, :, :, 0].T

    def _scores(self, X, table):
        f, g = self._towers(table.n_classes)
        G = g.predict(self._layout(table.values)[None])[0, :, :, 0]     # (dim, C)
        return class_scores(f.predict(X), G, self.metric_)


# ---------------------------------------------------------------------- ConSE

class ConSE(ZeroShot):
    """Convex combination of semantic embeddings (Norouzi et al. [3]).

    A classifier of the seen classes gives ``p(y|x)``; the image's semantic
    embedding is ``sum_t p(y_t|x) s(y_t) / sum_t p(y_t|x)`` over its ``top``
    most probable seen classes ``y_t`` (eq. 1 of [3]), ``s`` the class
    table's rows; the candidate class whose row is nearest by cosine
    similarity wins (eq. 2).  The class table is the attribute table by
    default, or any embedding table the caller passes (word vectors...).
    The combination and the cosines are the core's ``compat`` op.

    Parameters
    ----------
    top : int
        T, the seen classes combined.  [3] found T = 10 best of 1,000
        ImageNet classes; with the handful of seen classes here the default
        is 3 (capped at the number of seen classes).
    (the rest as :class:`DAP`)

    Attributes
    ----------
    model_ : Model  (outputs ``"logits"`` and ``"proba"``)
    """

    _me = "ConSE"
    _loss = {"logits": "softmax_ce"}

    def __init__(self, features=None, hidden: Sequence[int] = (128,), top: int = 3, epochs: int = 10,
                 batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 0.0, predict_on: str = "table",
                 calibration: float = 0.0, seed: int = 0):
        self.features = features
        self.hidden = hidden
        self.top = top
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.predict_on = predict_on
        self.calibration = calibration
        self.seed = seed

    def _train(self, X, y_pos, seen, s):
        top = check_int(self._me, "top", self.top, 1)
        x = Input(X.shape[1:], name="x")
        z = L.Dense(seen.n_classes, name="logits")(s["features"](x))
        model = Model(x, {"logits": z, "proba": L.Softmax(name="proba")(z)}, seed=s["seed"], name="conse")
        self._compile_fit(model, X, {"logits": y_pos}, s)
        return {"model_": model, "top_": min(top, seen.n_classes), "seen_table_": seen}

    def predict_proba_seen(self, X) -> np.ndarray:
        """p(y|x) over the seen classes (columns in the order of ``classes_``)."""
        self._check_is_fitted("predict_proba_seen")
        return self.model_.predict(self._check_X(X, "predict_proba_seen"), outputs=["proba"])["proba"]

    def semantic_embedding(self, X, class_table=None) -> np.ndarray:
        """The convex combination of the top-T seen classes' rows, (N, F).
        ``class_table`` must describe the seen classes (default: fit's)."""
        p = self.predict_proba_seen(X).astype(np.float64)
        keep = np.argpartition(-p, self.top_ - 1, axis=1)[:, :self.top_]
        w = np.zeros_like(p)
        np.put_along_axis(w, keep, np.take_along_axis(p, keep, axis=1), axis=1)
        w /= w.sum(axis=1, keepdims=True)
        table = self.class_table_ if class_table is None else as_class_table(class_table)
        return class_scores(w, table.rows(self.classes_, what="the seen classes"), "dot")

    def _scores(self, X, table):
        return class_scores(self.semantic_embedding(X), table.values.T, "cosine")


__all__ = ["ClassTable", "as_class_table", "class_scores", "per_class_accuracy", "ZeroShot", "MLP", "DAP",
           "AttributeEmbedding", "ConSE", "PREDICT_ON"]
