"""Progressive neural networks (Rusu et al. 2016, arXiv:1606.04671).

One column per task, added one after another (task 1 -> 2 -> 3).  When a
column is added every earlier column is frozen, and each layer ``i >= 2`` of
the new column ``k`` receives, beside its own input ``h_{i-1}^(k)``, the
layer ``i-1`` of every earlier column ``j`` through an adapter (the paper's
equation 2)::

    h_i^(k) = relu( W_i^(k) h_{i-1}^(k) + sum_{j<k} U_i^(k:j) relu( V_i^(k:j) alpha_i^(k:j) h_{i-1}^(j) ) )

``alpha`` is a learned scalar (a :class:`~tlearn.layers.Scale`) initialised
to ``alpha_init`` (the scale op's ``init``), one of the paper's choices
{1, 0.1, 0.01}; ``V``
projects to fewer dimensions (``1/reduction`` of the units or channels of
layer ``i-1``); ``U`` maps into layer ``i``.  For a convolutional layer
``V`` is a 1x1 convolution and ``U`` a convolution of the layer's own
geometry; into a dense layer (or the head) from a convolutional one, ``V``
is a 1x1 convolution and ``U`` a dense map of the flattened result.  The
head (a dense layer of the task's classes) receives adapters too.  One
adapter per earlier column keeps one alpha per layer and column (the paper
concatenates the earlier columns under one alpha; the per-column alphas
show which column a new one uses).

The whole network is one :class:`tlearn.Model` (outputs ``"c0"``,
``"c1"``, ... one per column): adding a column builds the network with one
more column, copies every earlier layer's weights into it, freezes them,
and trains the new column (and its adapters) through :meth:`Model.fit`.
Earlier columns' weights, and so their tasks' predictions, stay
bit-identical: progressive networks do not forget.

Rusu et al.'s Table 1 (Pong Soup, transfer as the area under the target
learning curve relative to a single column trained from scratch): two
columns 209% mean, fine-tuning 181%, the head only 35%.
"""
from __future__ import annotations

from numbers import Integral
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import layers as L
from .. import optim as _optim
from ..layers import Input
from ..model import Model
from ._base import Recipe, check_choice, check_examples, check_float, check_int, check_labels

ALPHA_CHOICES = (1.0, 0.1, 0.01)  # Rusu et al. 2016, section 5 ("initialized ... from {1, 0.1, 0.01}")


def _parse_layers(layers, me: str) -> List[tuple]:
    """The column's hidden layers as ``("dense", units)`` or
    ``("conv", filters, (kh, kw), (sh, sw), (ph, pw))``."""
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise TypeError(f"{me}: layers must be a non-empty sequence of hidden layers (an int: dense units; "
                        f"('conv', filters, kernel_size[, stride[, padding]])), got {layers!r}")
    out = []
    for k, spec in enumerate(layers):
        if isinstance(spec, Integral) and not isinstance(spec, bool):
            out.append(("dense", check_int(me, f"layers[{k}] (dense units)", spec, 1)))
            continue
        if not (isinstance(spec, (tuple, list)) and 3 <= len(spec) <= 5 and spec[0] == "conv"):
            raise ValueError(f"{me}: layers[{k}] must be an int (dense units) or ('conv', filters, kernel_size"
                             f"[, stride[, padding]]), got {spec!r}")
        if out and out[-1][0] == "dense":
            raise ValueError(f"{me}: layers[{k}] is a convolution after a dense layer; convolutions come first, "
                             f"got layers {list(layers)!r}")
        filters = check_int(me, f"layers[{k}] filters", spec[1], 1)
        geo = []
        for nm, v, lo in (("kernel_size", spec[2], 1), ("stride", spec[3] if len(spec) > 3 else 1, 1),
                          ("padding", spec[4] if len(spec) > 4 else 0, 0)):
            pair = (v, v) if isinstance(v, Integral) and not isinstance(v, bool) else tuple(v) \
                if isinstance(v, (tuple, list)) else None
            if pair is None or len(pair) != 2:
                raise ValueError(f"{me}: layers[{k}] {nm} must be an int or a pair of ints, got {v!r}")
            geo.append(tuple(check_int(me, f"layers[{k}] {nm}", p, lo) for p in pair))
        out.append(("conv", filters, geo[0], geo[1], geo[2]))
    return out


class ProgressiveNet(Recipe):
    """Progressive neural network: a new column per task, earlier columns
    frozen, lateral adapters from every earlier column (Rusu et al. 2016).

    Parameters
    ----------
    layers : sequence
        A column's hidden layers, each followed by a ReLU: an int is a dense
        layer of that many units; ``("conv", filters, kernel_size[, stride[,
        padding]])`` a convolution (convolutions first; the first dense
        layer flattens).  Every column has this shape; its head is a dense
        layer of its task's classes.
    alpha_init : {1.0, 0.1, 0.01}
        Initial value of every lateral scale alpha: the paper's three
        choices (its section 5 draws one per run); default 0.1, the middle one.
    reduction : int
        ``V`` projects layer ``i-1`` of an earlier column to ``1/reduction``
        of its units (dense) or channels (convolution), at least one.  The
        paper reduces without giving a factor for its Atari columns; 2 is ours.
    lr : float
        Adam's learning rate (the paper trains by asynchronous RL with
        RMSProp; Adam at 1e-3 is ours, for supervised columns).
    epochs, batch_size : int
        Each column trains ``epochs`` passes over its task's examples.
    seed : int
        Column ``k`` is initialised and its batches drawn with ``seed + k``.

    Attributes
    ----------
    model_ : Model
        The whole network, one output per column (``"c0"``, ``"c1"``, ...).
    tasks_ : list of str
        The tasks, in column order.
    n_classes_ : dict task -> int
    input_shape_ : tuple
        The shape of an example, the same for every column.
    history_ : dict task -> dict of per-epoch lists
        ``loss``, ``acc`` and, with ``validation_data``, ``val_loss``, ``val_acc``.
    """

    def __init__(self, layers=(128, 64), alpha_init: float = 0.1, reduction: int = 2, lr: float = 1e-3,
                 epochs: int = 10, batch_size: int = 32, seed: int = 0):
        self.layers = layers
        self.alpha_init = alpha_init
        self.reduction = reduction
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed

    # -------------------------------------------------------- settings
    def _check_settings(self) -> dict:
        me = "ProgressiveNet"
        c = {"layers": _parse_layers(self.layers, me)}
        if isinstance(self.alpha_init, bool) or not isinstance(self.alpha_init, (Integral, float, np.floating)):
            raise TypeError(f"{me}: alpha_init must be one of {list(ALPHA_CHOICES)}, got {self.alpha_init!r}")
        c["alpha_init"] = float(check_choice(me, "alpha_init", float(self.alpha_init), ALPHA_CHOICES))
        c["reduction"] = check_int(me, "reduction", self.reduction, 1)
        c["lr"] = check_float(me, "lr", self.lr, 0.0, lo_open=True)
        c["epochs"] = check_int(me, "epochs", self.epochs, 0)
        c["batch_size"] = check_int(me, "batch_size", self.batch_size, 1)
        c["seed"] = check_int(me, "seed", self.seed, 0)
        return c

    # -------------------------------------------------------- the network
    @staticmethod
    def _column(k: int, x, spec: List[tuple], n_classes: int, earlier: List[List], reduction: int,
                alpha_init: float = 0.1) -> List:
        """Column ``k`` on input ``x`` with adapters from the hidden layers
        ``earlier[j][i]`` of columns ``j < k``; returns its hidden layers and head."""
        hs: List = []
        specs = list(spec) + [("dense", n_classes)]
        for i, sp in enumerate(specs):
            head = i == len(specs) - 1
            prev = x if i == 0 else hs[i - 1]
            if sp[0] == "dense":
                if len(prev.shape) > 1:
                    prev = L.Flatten(name=f"c{k}_flat{i}")(prev)
                z = L.Dense(sp[1], name=f"c{k}_out" if head else f"c{k}_l{i}")(prev)
            else:
                z = L.Conv2d(sp[1], sp[2], stride=sp[3], padding=sp[4], name=f"c{k}_l{i}")(prev)
            terms = [z]
            if i > 0:
                for j, col in enumerate(earlier):
                    h = col[i - 1]
                    a = L.Scale(init=alpha_init, name=f"c{k}_alpha{i}_{j}")(h)
                    conv_in = len(h.shape) == 3
                    r = max(1, (h.shape[0] if conv_in else h.shape[-1]) // reduction)
                    v = (L.Conv2d(r, 1, name=f"c{k}_V{i}_{j}") if conv_in else L.Dense(r, name=f"c{k}_V{i}_{j}"))(a)
                    v = L.ReLU(name=f"c{k}_Vrelu{i}_{j}")(v)
                    if sp[0] == "conv":
                        u = L.Conv2d(sp[1], sp[2], stride=sp[3], padding=sp[4], use_bias=False,
                                     name=f"c{k}_U{i}_{j}")(v)
                    else:
                        if conv_in:
                            v = L.Flatten(name=f"c{k}_Vflat{i}_{j}")(v)
                        u = L.Dense(sp[1], use_bias=False, name=f"c{k}_U{i}_{j}")(v)
                    terms.append(u)
            if len(terms) > 1:
                z = L.Add(name=f"c{k}_sum{i}")(terms)
            hs.append(z if head else L.ReLU(name=f"c{k}_relu{i}")(z))
        return hs

    def _network(self, c: dict, input_shape: Tuple[int, ...], n_classes: Sequence[int]) -> Model:
        """The network of ``len(n_classes)`` columns (new weights; the caller copies the earlier ones)."""
        x = Input(tuple(input_shape), name="x")
        cols: List[List] = []
        for k, n in enumerate(n_classes):
            cols.append(self._column(k, x, c["layers"], n, [col[:-1] for col in cols], c["reduction"],
                                     c["alpha_init"]))
        k = len(n_classes) - 1
        return Model(x, {f"c{j}": col[-1] for j, col in enumerate(cols)}, seed=c["seed"] + k,
                     name=f"progressive_{k + 1}")

    # ------------------------------------------------------------- fit
    def fit(self, x, y, task: Optional[str] = None, validation_data=None, callbacks: Sequence = ()) -> "ProgressiveNet":
        """Start over with one column trained on ``(x, y)`` (integer labels,
        -1: no label) for ``task`` (default ``"task0"``); returns ``self``.
        ``validation_data=(x_val, y_val)`` is evaluated after each epoch
        (``history_[task]['val_acc']``), never used to choose anything."""
        return super().fit(x, y, task=task, validation_data=validation_data, callbacks=callbacks, add=False)

    def add_task(self, x, y, task: Optional[str] = None, validation_data=None, callbacks: Sequence = (),
                 epochs: Optional[int] = None) -> "ProgressiveNet":
        """Add a column for a new ``task`` (default ``"task<k>"``), freeze the
        earlier ones, train the new column and its adapters on ``(x, y)``;
        the first column when nothing is fitted yet.  ``epochs`` overrides the
        setting for this column (``0`` leaves it at its random
        initialisation: Rusu et al.'s baseline 4 is a random frozen column
        under a trained one).  Returns ``self``; a failure leaves the
        previous columns as they were."""
        return Recipe.fit(self, x, y, task=task, validation_data=validation_data, callbacks=callbacks,
                          add=True, epochs=epochs)

    def _fit(self, x, y, task=None, validation_data=None, callbacks=(), add=False, epochs=None) -> dict:
        me = f"ProgressiveNet.{'add_task' if add else 'fit'}"
        c = self._check_settings()
        if epochs is not None:
            c["epochs"] = check_int(me, "epochs", epochs, 0)
        prev = add and self.__sklearn_is_fitted__()
        tasks = list(self.tasks_) if prev else []
        n_classes = dict(self.n_classes_) if prev else {}
        history = dict(self.history_) if prev else {}
        if task is None:
            task = f"task{len(tasks)}"
        if not isinstance(task, str) or not task:
            raise TypeError(f"{me}: task must be a non-empty string, got {task!r}")
        if task in tasks:
            raise ValueError(f"{me}: task {task!r} already has column {tasks.index(task)}; tasks: {tasks}")
        x = check_examples(me, "x", x)
        if prev and tuple(x.shape[1:]) != self.input_shape_:
            raise ValueError(f"{me}: x: every column takes examples of shape {self.input_shape_} (the first "
                             f"task's), got examples of shape {tuple(x.shape[1:])} for task {task!r}")
        if any(sp[0] == "conv" for sp in c["layers"]) and x.ndim != 4:
            raise ValueError(f"{me}: x: convolutional columns take examples of shape (C, H, W), got examples of "
                             f"shape {tuple(x.shape[1:])}")
        y = check_labels(me, "y", y, len(x), allow_missing=True)
        labelled = int((y >= 0).sum())
        if labelled == 0:
            raise ValueError(f"{me}: task {task!r} has no labelled example: expected at least one label >= 0, "
                             f"got {len(y)} labels all -1")
        n = int(y.max()) + 1
        if n < 2:
            raise ValueError(f"{me}: task {task!r}: expected labels of at least 2 classes (0..n-1), got only "
                             f"class 0")
        k = len(tasks)
        x = np.ascontiguousarray(x, dtype=np.float32)
        m = self._network(c, x.shape[1:], [n_classes[t] for t in tasks] + [n])
        new = [nm for nm in m.params if nm.startswith(f"c{k}_")]
        if prev:
            old = self.model_.params
            m.load_weights({nm: old[nm] for nm in m.params if nm not in new}, strict=False)
            for nm in m.layers:
                if not nm.startswith(f"c{k}_") and m.layer(nm).param_names:
                    m.layer(nm).trainable = False
        out = f"c{k}"
        m.check_finite = True
        m.compile(_optim.Adam(c["lr"]), loss={out: "softmax_ce"})
        val = None
        if validation_data is not None:
            xv, yv = validation_data
            xv = check_examples(me, "validation_data x", xv)
            if tuple(xv.shape[1:]) != tuple(x.shape[1:]):
                raise ValueError(f"{me}: validation_data x: expected examples of shape {tuple(x.shape[1:])}, "
                                 f"got {tuple(xv.shape[1:])}")
            yv = check_labels(me, "validation_data y", yv, len(xv), allow_missing=True)
            val = (np.ascontiguousarray(xv, dtype=np.float32), {out: yv})
        hist: Dict[str, List[float]] = {}
        if c["epochs"]:
            h = m.fit(x, {out: y}, epochs=c["epochs"], batch_size=min(c["batch_size"], len(x)),
                      validation_data=val, verbose=0, callbacks=list(callbacks))
            names = {"loss": "loss", f"{out}_acc": "acc", "val_loss": "val_loss", f"val_{out}_acc": "val_acc"}
            hist = {names[kk]: [float(v) for v in vals] for kk, vals in h.items() if kk in names}
        history[task] = hist
        n_classes[task] = n
        return {"model_": m, "tasks_": tasks + [task], "n_classes_": n_classes,
                "input_shape_": tuple(x.shape[1:]), "history_": history}

    # ------------------------------------------------------- inference
    def _column_of(self, task, what: str) -> int:
        self._check_is_fitted(what)
        if task is None:
            return len(self.tasks_) - 1
        if task not in self.tasks_:
            raise KeyError(f"ProgressiveNet.{what}: no task {task!r}; expected one of {self.tasks_}")
        return self.tasks_.index(task)

    def _x(self, x, what: str) -> np.ndarray:
        x = check_examples(f"ProgressiveNet.{what}", "x", x)
        if tuple(x.shape[1:]) != self.input_shape_:
            raise ValueError(f"ProgressiveNet.{what}: x: expected examples of shape {self.input_shape_}, "
                             f"got {tuple(x.shape[1:])}")
        return np.ascontiguousarray(x, dtype=np.float32)

    def decision_function(self, x, task: Optional[str] = None) -> np.ndarray:
        """The task's column's logits, shape (N, classes); ``task`` default: the last one."""
        k = self._column_of(task, "decision_function")
        return self.model_.predict(self._x(x, "decision_function"), outputs=[f"c{k}"])[f"c{k}"]

    def predict(self, x, task: Optional[str] = None) -> np.ndarray:
        """Labels of ``task`` (default: the last task) from its column, shape (N,)."""
        k = self._column_of(task, "predict")
        return np.argmax(self.model_.predict(self._x(x, "predict"), outputs=[f"c{k}"])[f"c{k}"], axis=-1)

    def score(self, x, y, task: Optional[str] = None) -> float:
        """Accuracy on ``task`` (default: the last task) over the labelled examples."""
        p = self.predict(x, task)
        y = check_labels("ProgressiveNet.score", "y", y, len(p), allow_missing=True)
        keep = y >= 0
        if not keep.any():
            raise ValueError("ProgressiveNet.score: y: expected at least one label >= 0, got all -1")
        return float(np.mean(p[keep] == y[keep]))

    def column_weights(self, task: str) -> Dict[str, np.ndarray]:
        """Copies of the weights of ``task``'s column and its adapters."""
        k = self._column_of(task, "column_weights")
        return {nm: v.copy() for nm, v in self.model_.params.items() if nm.startswith(f"c{k}_")}

    def lateral_alphas(self) -> Dict[Tuple[str, int, str], float]:
        """The lateral scales after training: ``(task of the column, layer i,
        task of the earlier column) -> alpha`` (layer ``i`` counts from 1 for
        the column's first hidden layer; the head is ``len(layers) + 1``)."""
        self._check_is_fitted("lateral_alphas")
        out = {}
        for nm, v in self.model_.params.items():
            if ".alpha" in nm and "_alpha" in nm:
                col, rest = nm.split(".")[0][1:].split("_alpha")
                i, j = rest.split("_")
                out[(self.tasks_[int(col)], int(i) + 1, self.tasks_[int(j)])] = float(v.reshape(-1)[0])
        return dict(sorted(out.items(), key=lambda kv: (self.tasks_.index(kv[0][0]), kv[0][1],
                                                           self.tasks_.index(kv[0][2]))))
