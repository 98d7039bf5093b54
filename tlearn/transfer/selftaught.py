"""Self-taught learning (Raina, Battle, Lee, Packer & Ng, ICML 2007): features
learned on unlabelled data that need not share the target's classes, then a
classifier on the few labelled target examples seen through those features.

* :class:`Autoencoder`: a one-hidden-layer autoencoder ``x -> sigmoid(W x + b)
  -> W' h + b'``, reconstruction by cross-entropy on pixel intensities in
  [0, 1] (``reconstruction="bce"``) or squared error (``"mse"``); with
  ``sparsity > 0`` a sparse autoencoder: the KL penalty
  ``beta sum_j KL(rho || rhohat_j)`` on the mean activation of each hidden
  unit (:class:`tlearn.losses.KLSparsity`, an op of the C core), ``beta =
  sparsity``.  ``transform`` gives the hidden activations, so it is a
  scikit-learn transformer.
* :class:`SoftmaxRegression`: multinomial logistic regression with L2, the
  classifier put on top (the UFLDL exercise's softmax).
* :class:`SelfTaught`: the two in one estimator, ``fit(X, y,
  unlabelled=U)``: the features are learned on ``U`` (default: ``X`` itself)
  and the classifier on ``transform(X)``.  In a scikit-learn ``Pipeline`` the
  unlabelled data go as a fit parameter: ``pipe.fit(X, y, st__unlabelled=U)``.
"""
from __future__ import annotations


import numpy as np

from .. import layers as L
from .. import losses as _losses
from .. import optim as _optim
from ..layers import Input
from ..model import Model
from ._base import Recipe, check_choice, check_examples, check_float, check_int, train_steps


def _flat(owner: str, name: str, X) -> np.ndarray:
    a = check_examples(owner, name, X)
    return np.ascontiguousarray(a.reshape(len(a), -1), dtype=np.float32)



class Autoencoder(Recipe):
    """A (sparse) autoencoder with one hidden layer of sigmoid units.

    Defaults after the UFLDL self-taught exercise (Ng et al., "Unsupervised
    Feature Learning and Deep Learning" tutorial): 200 hidden units, rho =
    0.1.  Its cost is a per-example *sum* over the D pixels,
    ``1/2 |x_hat - x|^2 + beta KL`` with beta = 3, where tlearn's
    reconstruction losses are *means* over the pixels: its beta = 3
    corresponds here to ``sparsity = 3 / (D / 2)`` (0.008 for 784 pixels).
    :class:`SelfTaught` uses ``sparsity=0.02``, the replay's value.

    Parameters
    ----------
    n_hidden : int
        Hidden units (the features).
    sparsity : float
        ``beta``, the weight of the KL sparsity penalty (0: a plain autoencoder).
    rho : float
        Target mean activation of each hidden unit, in (0, 1).
    weight_decay : float
        L2 on the two weight matrices, ``weight_decay/2 |W|^2``.
    reconstruction : {"bce", "mse"}
        Cross-entropy of sigmoid outputs against inputs in [0, 1], or squared
        error of linear outputs (any real inputs).
    steps, batch_size, lr : Adam for exactly ``steps`` steps of ``batch_size`` examples.
    seed : int

    Attributes
    ----------
    model_ : Model (outputs ``"recon"`` and ``"code"``)
    components_ : array (n_hidden, n_features), the encoder's weights (the filters)
    n_features_in_ : int
    history_ : dict of lists
    """

    def __init__(self, n_hidden: int = 200, sparsity: float = 0.0, rho: float = 0.1, weight_decay: float = 0.0,
                 reconstruction: str = "bce", steps: int = 2000, batch_size: int = 128, lr: float = 3e-3,
                 seed: int = 0):
        self.n_hidden = n_hidden
        self.sparsity = sparsity
        self.rho = rho
        self.weight_decay = weight_decay
        self.reconstruction = reconstruction
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed

    def _settings(self) -> dict:
        me = "Autoencoder"
        return {"n_hidden": check_int(me, "n_hidden", self.n_hidden, 1),
                "sparsity": check_float(me, "sparsity", self.sparsity, 0.0),
                "rho": check_float(me, "rho", self.rho, 0.0, 1.0, lo_open=True, hi_open=True),
                "weight_decay": check_float(me, "weight_decay", self.weight_decay, 0.0),
                "reconstruction": check_choice(me, "reconstruction", self.reconstruction, ("bce", "mse")),
                "steps": check_int(me, "steps", self.steps, 1),
                "batch_size": check_int(me, "batch_size", self.batch_size, 1),
                "lr": check_float(me, "lr", self.lr, 0.0, lo_open=True),
                "seed": check_int(me, "seed", self.seed, 0)}

    _sklearn_kind = "transformer"

    def fit(self, X, y=None) -> "Autoencoder":
        """Learn the features on ``X`` (unlabelled; ``y`` is ignored)."""
        return super().fit(X, y)

    def _fit(self, X, y=None) -> dict:
        c = self._settings()
        X = _flat("Autoencoder.fit", "X", X)
        if c["reconstruction"] == "bce" and (X.min() < 0.0 or X.max() > 1.0):
            raise ValueError(f"Autoencoder.fit: reconstruction='bce' needs inputs in [0, 1] (pixel intensities), "
                             f"got values in [{X.min():g}, {X.max():g}]; scale them or use reconstruction='mse'")
        D = X.shape[1]
        x = Input((D,), name="x")
        code = L.Sigmoid(name="code")(L.Dense(c["n_hidden"], init="glorot", name="encoder")(x))
        out = L.Dense(D, init="glorot", name="decoder")(code)
        m = Model(x, {"recon": out, "code": code}, seed=c["seed"], name="autoencoder")
        loss = {"recon": "sigmoid_bce" if c["reconstruction"] == "bce" else "mse"}
        targets = {"recon": X}
        if c["sparsity"] > 0:
            loss["code"] = _losses.KLSparsity(c["rho"], weight=c["sparsity"])
            targets["code"] = np.zeros(len(X), np.int32)
        if c["weight_decay"]:
            m.regularize(l2=c["weight_decay"], layers=["encoder.w", "decoder.w"])
        m.check_finite = True
        m.compile(_optim.Adam(c["lr"]), loss=loss)
        hist = train_steps(m, X, targets, c["steps"], c["batch_size"], c["seed"])
        return {"model_": m, "n_features_in_": D, "components_": m.params["encoder.w"].copy(), "history_": hist}

    def _checked(self, X, what: str) -> np.ndarray:
        self._check_is_fitted(what)
        return self._check_width(what, _flat(f"Autoencoder.{what}", "X", X))

    def transform(self, X) -> np.ndarray:
        """The hidden activations (n, n_hidden): the learned features."""
        X = self._checked(X, "transform")
        return self.model_.predict(X, outputs=["code"])["code"]

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X).transform(X)

    def reconstruct(self, X) -> np.ndarray:
        """The reconstructions (n, n_features), in [0, 1] for ``reconstruction="bce"``."""
        X = self._checked(X, "reconstruct")
        r = self.model_.predict(X, outputs=["recon"])["recon"]
        return 1.0 / (1.0 + np.exp(-r)) if self.reconstruction == "bce" else r


class SoftmaxRegression(Recipe):
    """Multinomial logistic regression, ``softmax(W z + b)``, with L2 on ``W``,
    trained by Adam for exactly ``steps`` steps (the same updates for any
    number of examples).

    Attributes: ``model_``, ``classes_`` (the labels seen, sorted), ``n_features_in_``.
    """

    def __init__(self, l2: float = 1e-3, steps: int = 300, batch_size: int = 64, lr: float = 0.01, seed: int = 0):
        self.l2 = l2
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed

    _sklearn_kind = "classifier"

    def _fit(self, X, y) -> dict:
        me = "SoftmaxRegression"
        l2 = check_float(me, "l2", self.l2, 0.0)
        steps = check_int(me, "steps", self.steps, 1)
        batch_size = check_int(me, "batch_size", self.batch_size, 1)
        lr = check_float(me, "lr", self.lr, 0.0, lo_open=True)
        seed = check_int(me, "seed", self.seed, 0)
        X = _flat(f"{me}.fit", "X", X)
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise ValueError(f"{me}.fit: expected one label per example, shape ({len(X)},), got {y.shape}")
        classes, idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"{me}.fit: expected at least 2 classes in y, got {len(classes)}")
        x = Input((X.shape[1],), name="z")
        m = Model(x, {"head": L.Dense(len(classes), init="zeros", name="head")(x)}, seed=seed, name="softmax")
        if l2:
            m.regularize(l2=l2, layers=["head.w"])
        m.check_finite = True
        m.compile(_optim.Adam(lr), loss={"head": "softmax_ce"})
        train_steps(m, X, {"head": idx.astype(np.int32)}, steps, batch_size, seed)
        return {"model_": m, "classes_": classes, "n_features_in_": X.shape[1]}

    def decision_function(self, X) -> np.ndarray:
        self._check_is_fitted("decision_function")
        X = self._check_width("decision_function", _flat("SoftmaxRegression.decision_function", "X", X))
        return self.model_.predict(X, outputs=["head"])["head"]

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    def score(self, X, y) -> float:
        p = self.predict(X)
        y = np.asarray(y)
        if y.shape != p.shape:
            raise ValueError(f"SoftmaxRegression.score: expected one label per example, shape {p.shape}, got {y.shape}")
        return float(np.mean(p == y))


class SelfTaught(Recipe):
    """Self-taught learning: an :class:`Autoencoder` (sparse by default)
    learned on unlabelled data, then a :class:`SoftmaxRegression` on the
    labelled examples' features.

    ``fit(X, y, unlabelled=U)``: ``U`` may come from other classes than ``y``'s
    (that is the point); without it the features are learned on ``X``.
    The autoencoder's settings are as :class:`Autoencoder`'s; ``l2``,
    ``classifier_steps`` and ``classifier_lr`` are the classifier's.

    Attributes: ``autoencoder_`` (fitted), ``classifier_`` (fitted),
    ``classes_``, ``n_features_in_``.
    """

    def __init__(self, n_hidden: int = 200, sparsity: float = 0.02, rho: float = 0.1, weight_decay: float = 0.0,
                 reconstruction: str = "bce", steps: int = 2000, batch_size: int = 128, lr: float = 3e-3,
                 l2: float = 1e-3, classifier_steps: int = 300, classifier_lr: float = 0.01, seed: int = 0):
        self.n_hidden = n_hidden
        self.sparsity = sparsity
        self.rho = rho
        self.weight_decay = weight_decay
        self.reconstruction = reconstruction
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.l2 = l2
        self.classifier_steps = classifier_steps
        self.classifier_lr = classifier_lr
        self.seed = seed

    _sklearn_kind = "classifier"

    def fit(self, X, y, unlabelled=None) -> "SelfTaught":
        """Learn features on ``unlabelled`` (default ``X``), then the classifier on ``(X, y)``."""
        return super().fit(X, y, unlabelled)

    def _fit(self, X, y, unlabelled=None) -> dict:
        X = _flat("SelfTaught.fit", "X", X)
        U = X if unlabelled is None else _flat("SelfTaught.fit", "unlabelled", unlabelled)
        if U.shape[1] != X.shape[1]:
            raise ValueError(f"SelfTaught.fit: unlabelled examples have {U.shape[1]} features, the labelled ones "
                             f"{X.shape[1]}; expected the same")
        ae = Autoencoder(self.n_hidden, self.sparsity, self.rho, self.weight_decay, self.reconstruction, self.steps,
                         self.batch_size, self.lr, self.seed).fit(U)
        clf = SoftmaxRegression(self.l2, self.classifier_steps, min(64, check_int("SelfTaught", "batch_size",
                                                                                 self.batch_size, 1)),
                                self.classifier_lr, self.seed).fit(ae.transform(X), y)
        return {"autoencoder_": ae, "classifier_": clf, "classes_": clf.classes_, "n_features_in_": X.shape[1]}

    def transform(self, X) -> np.ndarray:
        """The learned features of ``X`` (n, n_hidden)."""
        self._check_is_fitted("transform")
        return self.autoencoder_.transform(X)

    def predict(self, X) -> np.ndarray:
        self._check_is_fitted("predict")
        return self.classifier_.predict(self.autoencoder_.transform(X))

    def score(self, X, y) -> float:
        self._check_is_fitted("score")
        return self.classifier_.score(self.autoencoder_.transform(X), y)

