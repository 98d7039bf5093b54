"""Multitask learning: one shared trunk, one head per task.

:class:`MultiTask` trains several classification tasks at once through one
network (the lecture's "multitask learning" slides; Caruana 1997):

* the left-hand figure: every task reads the same input ``x``, a shared
  ``trunk`` maps it to a representation, and each task has its own head
  (a ``Dense(n_classes)`` by default).  An example may carry labels for only
  some tasks: label ``-1`` means "no label for this task", and the core's
  losses give such an entry no loss and no gradient.
* the right-hand figure: **task-specific input branches**.  Each task has
  its own input (different features, e.g. 8x8 digits and 28x28
  Fashion-MNIST images) and its own ``branch`` that maps it into the
  representation the shared middle (``trunk``) takes; then task-specific
  heads.  The trunk's layers are built once and called on every branch's
  output, so every task trains the same middle weights (a shared layer's
  gradient is the sum over its uses).

The total loss is ``sum_t loss_weights[t] * CE_t``, each ``CE_t`` the mean
over the examples of the batch labelled for task ``t``.  Every task weighs 1
by default: the shared-hidden-layer network of Huang et al. (ICASSP 2013,
the lecture's multilingual speech example) trains every language's softmax
layer alike, with no weight between languages.

How examples of different tasks go into one ``Model.fit``
---------------------------------------------------------
With input branches the tasks' examples are different arrays of different
shapes, yet ``Model.fit`` trains one model on rows that feed every input.
The recipe stacks them into one model with one input per task: a row of
task ``t`` holds its example in input ``t``, zeros in the other tasks'
inputs, and the label ``-1`` for every other task, so it costs nothing in
their losses.  Each step's batch is drawn by a ``sampler`` handed to
``Model.fit`` (one C call per run of steps, no Python loop around steps).

``sampling="balanced"`` (default) gives every step ``batch_size / T`` rows
labelled for each of the ``T`` tasks (each task's labelled rows drawn as
fresh permutations one after another); ``"shuffle"`` draws the rows that
carry any label uniformly.  Balanced, mixed batches were chosen over
alternating one-task batches because (1) every step's gradient is then the
weighted sum the loss weights describe, while alternating batches apply one
task's gradient at a time and let momentum blend them in an order that
depends on the schedule; (2) a starved task (a few hundred labels beside
tens of thousands) is seen in every step at a known rate instead of in
0.5% of the rows; (3) the sampler is one array of row numbers per run, so
the core runs all the steps.  The price of one model for branched tasks: a
row runs every task's path, so with ``T`` branches the trunk's arithmetic
per row is ``T`` times a shared-input model's (alternating batches would
pay the same, since every input is fed at every step).  For the same
reason BatchNorm layers are refused in a branched model: their batch
statistics would average the zero rows of the other tasks.

The optimizer settings (SGD, momentum 0.9, lr 0.01, 500 steps of 64 rows)
are tlearn's defaults for small networks, not the paper's: its speech-scale
training schedule does not carry over to these data.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np

from .. import layers as L
from .. import optim as _optim
from ..datasets.batches import permutation_stream
from ..graph import Tensor, topo
from ..layers import Input
from ..model import Model
from ._base import Recipe, check_choice, check_examples, check_float, check_int, check_labels

__all__ = ["MultiTask"]

_ME = "MultiTask"


def _check_task_name(name) -> str:
    if not isinstance(name, str) or not name or any(c in name for c in "./:"):
        raise ValueError(f"{_ME}: task names must be non-empty strings without '.', '/' or ':' (they name the "
                         f"heads and losses), got {name!r}")
    return name


def _share(out: Tensor, start: Tensor, new_start: Tensor, what: str) -> Tensor:
    """Call the layers between ``start`` and ``out`` again on ``new_start``:
    the same layer objects, so the new path shares their weights."""
    order = topo([out])
    dep = {id(start)}
    for t in order:
        if t is not start and any(id(p) in dep for p in t.inputs):
            dep.add(id(t))
    if id(out) not in dep:
        raise ValueError(f"{_ME}: {what} does not depend on its input tensor; expected a callable Tensor -> Tensor "
                         "that builds on the tensor it is given")
    mapped = {id(start): new_start}
    for t in order:
        if id(t) not in dep or t is start:
            continue
        missing = [p for p in t.inputs if id(p) not in mapped]
        if missing:
            raise ValueError(f"{_ME}: {what} uses tensor {missing[0].name!r}, which does not come from its input; "
                             "a shared trunk may only build on the tensor it is given")
        mapped[id(t)] = t.layer(*[mapped[id(p)] for p in t.inputs])
    return mapped[id(out)]


class MultiTask(Recipe):
    """One shared trunk and one head per task, with optional input branches.

    Parameters
    ----------
    trunk : callable Tensor -> Tensor
        The shared part: builds the shared representation from the input
        (or from a branch's output, then it is the shared middle).  Build
        new layers inside it (``lambda x: L.ReLU()(L.Dense(128)(x))``); the
        recipe calls it once and shares its layers across branches.
    heads : dict task -> int or callable, optional
        Per task, the number of classes of a ``Dense`` head (default:
        inferred as the task's largest label + 1), or a callable Tensor ->
        Tensor building the head's logits.  Tasks left out are inferred.
    branches : dict task -> callable, optional
        Task-specific input branches (the lecture's right-hand figure): task
        ``t``'s examples go through ``branches[t]`` into the trunk.  Every
        task needs one; every branch must give the same shape.  Then ``fit``
        takes ``x`` and ``y`` as dicts task -> that task's examples.
    loss_weights : dict task -> float, optional
        Weight of each task's loss (default 1 each, Huang et al. 2013).
    sampling : {"balanced", "shuffle"}
        How each step's batch is drawn (see the module docstring).
    lr, momentum : float
        SGD with momentum.
    lr_schedule : {"constant", "cosine"}
        ``"cosine"`` decays the learning rate from ``lr`` to 0 over the
        ``steps`` (:class:`tlearn.optim.CosineDecay`).
    steps : int
        Exactly this many training steps of ``batch_size`` rows.
    batch_size : int
        Rows per step (all tasks together; ``balanced`` splits them evenly).
    weight_decay : float
        L2 on every parameter (``weight_decay/2 |w|^2``).
    seed : int

    Attributes
    ----------
    model_ : Model
        The trained network: one input (``"x"``) or one per task (named after
        the task), outputs the tasks' logits by task name.
    tasks_ : list of str
    n_classes_ : dict task -> int
    input_shapes_ : dict task -> tuple
        The per-example input shape each task takes.
    history_ : dict of lists

    Examples
    --------
    >>> mt = MultiTask(lambda x: L.ReLU()(L.Dense(64)(L.Flatten()(x))), steps=200)
    >>> mt.fit(x, {"class": y, "coarse": y_coarse})       # -1 where a label is missing
    >>> mt.score(x_test, y_test, task="class")
    """

    def __init__(self, trunk: Callable[[Tensor], Tensor], heads: Optional[dict] = None,
                 branches: Optional[Dict[str, Callable[[Tensor], Tensor]]] = None,
                 loss_weights: Optional[Dict[str, float]] = None, sampling: str = "balanced", lr: float = 0.01,
                 lr_schedule: str = "constant", momentum: float = 0.9, steps: int = 500, batch_size: int = 64, weight_decay: float = 0.0,
                 seed: int = 0):
        self.trunk = trunk
        self.heads = heads
        self.branches = branches
        self.loss_weights = loss_weights
        self.sampling = sampling
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.steps = steps
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.seed = seed

    # -------------------------------------------------------- validation
    def _check_settings(self) -> dict:
        if not callable(self.trunk):
            raise TypeError(f"{_ME}: trunk must be a callable Tensor -> Tensor, got {type(self.trunk).__name__}")
        for nm in ("heads", "branches", "loss_weights"):
            v = getattr(self, nm)
            if v is not None and not isinstance(v, dict):
                raise TypeError(f"{_ME}: {nm} must be a dict task name -> value or None, got {type(v).__name__}")
        if self.branches is not None:
            if not self.branches:
                raise ValueError(f"{_ME}: branches must name at least one task, got an empty dict")
            for t, b in self.branches.items():
                _check_task_name(t)
                if not callable(b):
                    raise TypeError(f"{_ME}: branches[{t!r}] must be a callable Tensor -> Tensor, got "
                                    f"{type(b).__name__}")
        c = {"sampling": check_choice(_ME, "sampling", self.sampling, ("balanced", "shuffle")),
             "lr": check_float(_ME, "lr", self.lr, 0.0, lo_open=True),
             "lr_schedule": check_choice(_ME, "lr_schedule", self.lr_schedule, ("constant", "cosine")),
             "momentum": check_float(_ME, "momentum", self.momentum, 0.0, 1.0, hi_open=True),
             "steps": check_int(_ME, "steps", self.steps, 1),
             "batch_size": check_int(_ME, "batch_size", self.batch_size, 1),
             "weight_decay": check_float(_ME, "weight_decay", self.weight_decay, 0.0),
             "seed": check_int(_ME, "seed", self.seed, 0)}
        return c

    def _check_data(self, x, y):
        """``(tasks, inputs by task or None, labels by task, input shapes by task)``."""
        if not isinstance(y, dict) or not y:
            raise TypeError(f"{_ME}.fit: y must be a non-empty dict task name -> labels (-1: no label), got "
                            f"{type(y).__name__ if not isinstance(y, dict) else 'an empty dict'}")
        tasks = [_check_task_name(t) for t in y]
        for nm in ("heads", "loss_weights"):
            v = getattr(self, nm) or {}
            unknown = [t for t in v if t not in y]
            if unknown:
                raise KeyError(f"{_ME}: {nm} names task(s) {unknown} that have no labels in y; tasks: {tasks}")
        labels, xs, shapes = {}, None, {}
        if self.branches is None:
            if isinstance(x, dict):
                raise TypeError(f"{_ME}.fit: without branches x is one array of examples (N, ...) shared by "
                                f"every task, got a dict (keys {list(x)}); give branches= for per-task inputs")
            xa = check_examples(f"{_ME}.fit", "x", x)
            for t in tasks:
                labels[t] = check_labels(f"{_ME}.fit", f"y[{t!r}]", y[t], len(xa), allow_missing=True)
                shapes[t] = tuple(xa.shape[1:])
            xs = xa
        else:
            if not isinstance(x, dict):
                raise TypeError(f"{_ME}.fit: with branches x must be a dict task -> that task's examples, got "
                                f"{type(x).__name__}")
            want = list(self.branches)
            for what, keys in (("x", list(x)), ("y", tasks)):
                missing = [t for t in want if t not in keys]
                unknown = [t for t in keys if t not in want]
                if missing or unknown:
                    raise KeyError(f"{_ME}.fit: {what} must have one entry per branch {want}; missing {missing}, "
                                   f"unknown {unknown}")
            tasks = want
            xs = {}
            for t in tasks:
                xs[t] = check_examples(f"{_ME}.fit", f"x[{t!r}]", x[t])
                labels[t] = check_labels(f"{_ME}.fit", f"y[{t!r}]", y[t], len(xs[t]), allow_missing=True)
                shapes[t] = tuple(xs[t].shape[1:])
        for t in tasks:
            n_lab = int((labels[t] >= 0).sum())
            if n_lab == 0:
                raise ValueError(f"{_ME}.fit: task {t!r} has no labelled example (all {len(labels[t])} labels are "
                                 "-1); expected at least one label >= 0")
        return tasks, xs, labels, shapes

    # -------------------------------------------------------- the network
    def _head_spec(self, t: str, lab: np.ndarray):
        """The head of task ``t``: ``(int classes or callable, classes needed by the labels)``."""
        need = int(lab.max()) + 1
        spec = (self.heads or {}).get(t)
        if spec is None:
            if need < 2:
                raise ValueError(f"{_ME}.fit: task {t!r}: its labels hold only class 0; a classification head "
                                 f"needs at least 2 classes (give heads={{{t!r}: n}})")
            return need, need
        if callable(spec):
            return spec, need
        n = check_int(_ME, f"heads[{t!r}]", spec, 2)
        if need > n:
            raise ValueError(f"{_ME}.fit: task {t!r}: heads[{t!r}] = {n} classes, but its labels go up to "
                             f"{need - 1}; expected labels in 0..{n - 1} (-1: no label)")
        return n, need

    def _build(self, tasks: List[str], shapes, heads, seed: int):
        inputs, reps = {}, {}
        if self.branches is None:
            x = Input(shapes[tasks[0]], name="x")
            inputs["x"] = x
            z = self.trunk(x)
            if not isinstance(z, Tensor):
                raise TypeError(f"{_ME}: trunk must return a tlearn Tensor, got {type(z).__name__}")
            reps = {t: z for t in tasks}
        else:
            first = None
            for t in tasks:
                xt = Input(shapes[t], name=f"x_{t}")
                inputs[t] = xt
                try:
                    b = self.branches[t](xt)
                except (ValueError, TypeError) as e:
                    raise ValueError(f"{_ME}: the input branch of task {t!r} cannot take its examples of shape "
                                     f"{shapes[t]}: {e}") from e
                if not isinstance(b, Tensor):
                    raise TypeError(f"{_ME}: branches[{t!r}] must return a tlearn Tensor, got {type(b).__name__}")
                if first is None:
                    first = (t, b)
                    z = self.trunk(b)
                    if not isinstance(z, Tensor):
                        raise TypeError(f"{_ME}: trunk must return a tlearn Tensor, got {type(z).__name__}")
                    reps[t] = z
                else:
                    t0, b0 = first
                    if b.shape != b0.shape:
                        raise ValueError(f"{_ME}: every branch must give the shared middle the same shape: branch "
                                         f"{t0!r} gives {b0.shape}, branch {t!r} gives {b.shape}")
                    reps[t] = _share(reps[t0], b0, b, "trunk")
        outs = {}
        for t in tasks:
            spec, need = heads[t]
            if callable(spec):
                h = spec(reps[t])
                if not isinstance(h, Tensor):
                    raise TypeError(f"{_ME}: heads[{t!r}] must return a tlearn Tensor, got {type(h).__name__}")
                if len(h.shape) != 1 or h.shape[0] < need:
                    raise ValueError(f"{_ME}.fit: task {t!r}: its head gives outputs of shape {h.shape}, its labels "
                                     f"need ({need},) or more (labels go up to {need - 1})")
            else:
                h = L.Dense(spec, name=f"head_{t}")(reps[t])
            outs[t] = h
        for t in tasks:  # probabilities computed by the core, for predict_proba
            outs[f"proba/{t}"] = L.Softmax(name=f"proba_{t}")(outs[t])
        m = Model(inputs if self.branches is not None else inputs["x"], outs, seed=seed, name="multitask")
        if self.branches is not None and m.batchnorm_layers:
            raise ValueError(f"{_ME}: BatchNorm layers {m.batchnorm_layers} in a model with input branches: their "
                             "batch statistics would mix the zero rows of the other tasks; use no BatchNorm there")
        node = {t: reps[t].name for t in tasks}
        return m, node, {t: int(outs[t].shape[0]) for t in tasks}

    # ------------------------------------------------------------- fit
    def fit(self, x, y) -> "MultiTask":
        """Train every task at once; returns ``self``.

        Without branches: ``x`` (N, ...) shared by the tasks and ``y`` a dict
        task -> (N,) integer labels, -1 where an example has no label for
        that task.  With branches: ``x`` and ``y`` dicts task -> that task's
        examples (N_t, ...) and labels (N_t,).
        """
        return super().fit(x, y)

    def _fit(self, x, y) -> dict:
        c = self._check_settings()
        tasks, xs, labels, shapes = self._check_data(x, y)
        heads = {t: self._head_spec(t, labels[t]) for t in tasks}
        weights = {t: check_float(_ME, f"loss_weights[{t!r}]", (self.loss_weights or {}).get(t, 1.0), 0.0)
                   for t in tasks}
        m, rep_nodes, n_classes = self._build(tasks, shapes, heads, c["seed"])
        # the arrays Model.fit takes: one input, or one per task with zeros in other tasks' rows
        if self.branches is None:
            feed_x = np.ascontiguousarray(xs, dtype=np.float32)
            feed_y = {t: labels[t].astype(np.int32) for t in tasks}
        else:
            sizes = [len(xs[t]) for t in tasks]
            n = int(sum(sizes))
            offs = np.concatenate([[0], np.cumsum(sizes)])
            feed_x, feed_y = {}, {}
            for k, t in enumerate(tasks):
                a = np.zeros((n,) + shapes[t], np.float32)
                a[offs[k]:offs[k + 1]] = xs[t]
                feed_x[t] = a
                lab = np.full(n, -1, np.int32)
                lab[offs[k]:offs[k + 1]] = labels[t]
                feed_y[t] = lab
        rows = self._rows(feed_y, tasks, c)
        if c["weight_decay"]:
            m.regularize(l2=c["weight_decay"])
        m.check_finite = True
        lr = c["lr"] if c["lr_schedule"] == "constant" else _optim.CosineDecay(c["lr"])
        m.compile(_optim.SGD(lr, momentum=c["momentum"]), loss={t: "softmax_ce" for t in tasks},
                  loss_weights=weights)
        hist = m.fit(feed_x, feed_y, epochs=1, batch_size=c["batch_size"], sampler=lambda epoch: rows, verbose=0)
        return {"model_": m, "tasks_": list(tasks), "n_classes_": n_classes, "input_shapes_": dict(shapes),
                "representation_": rep_nodes, "loss_weights_": weights, "branched_": self.branches is not None,
                "history_": {k: [float(v) for v in vals] for k, vals in hist.items()}}

    def _rows(self, feed_y, tasks, c: dict) -> np.ndarray:
        """The row numbers of every step, one step after another (the sampler's one epoch)."""
        rng = np.random.default_rng(c["seed"])
        bs, steps = c["batch_size"], c["steps"]
        if c["sampling"] == "shuffle":
            pool = np.flatnonzero(np.any(np.stack([feed_y[t] >= 0 for t in tasks]), axis=0))
            return pool[permutation_stream(len(pool), steps * bs, rng)]
        if bs < len(tasks):
            raise ValueError(f"{_ME}: balanced sampling gives every task a share of each batch: batch_size must be "
                             f">= the number of tasks ({len(tasks)}), got {bs}")
        share = [bs // len(tasks) + (k < bs % len(tasks)) for k in range(len(tasks))]
        parts = []
        for t, k in zip(tasks, share):
            pool = np.flatnonzero(feed_y[t] >= 0)
            parts.append(pool[permutation_stream(len(pool), steps * k, rng)].reshape(steps, k))
        return np.concatenate(parts, axis=1).reshape(-1)

    # ------------------------------------------------------- inference
    def _task(self, task, what: str) -> str:
        self._check_is_fitted(what)
        if task is None:
            if len(self.tasks_) == 1:
                return self.tasks_[0]
            raise ValueError(f"{_ME}.{what}: name the task (task=...); tasks: {self.tasks_}")
        if task not in self.tasks_:
            raise KeyError(f"{_ME}.{what}: no task {task!r}; tasks: {self.tasks_}")
        return task

    def _feed(self, x, task: str, what: str):
        x = check_examples(f"{_ME}.{what}", "x", x)
        want = self.input_shapes_[task]
        if tuple(x.shape[1:]) != want:
            src = f"the input branch of task {task!r}" if self.branched_ else "the shared input"
            raise ValueError(f"{_ME}.{what}: {src} takes examples of shape {want}, got x of shape {x.shape} "
                             f"(examples of shape {tuple(x.shape[1:])})")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not self.branched_:
            return x
        return {u: (x if u == task else np.zeros((len(x),) + self.input_shapes_[u], np.float32))
                for u in self.tasks_}

    def _output(self, x, task, what: str, output: str) -> np.ndarray:
        t = self._task(task, what)
        name = output.format(t=t)
        return self.model_.predict(self._feed(x, t, what), outputs=[name])[name]

    def decision_function(self, x, task: Optional[str] = None) -> np.ndarray:
        """The logits of ``task``'s head, shape (N, n_classes)."""
        return self._output(x, task, "decision_function", "{t}")

    def predict_proba(self, x, task: Optional[str] = None) -> np.ndarray:
        """Class probabilities of ``task`` (softmax of its head), shape (N, n_classes)."""
        return self._output(x, task, "predict_proba", "proba/{t}")

    def predict(self, x, task: Optional[str] = None) -> np.ndarray:
        """Labels of ``task``, shape (N,)."""
        return np.argmax(self._output(x, task, "predict", "{t}"), axis=-1)

    def score(self, x, y, task: Optional[str] = None) -> float:
        """Accuracy of ``task`` on the examples of ``y`` that carry a label (-1: none)."""
        t = self._task(task, "score")
        p = self.predict(x, task=t)
        yy = check_labels(f"{_ME}.score", "y", y, len(p), allow_missing=True)
        keep = yy >= 0
        if not keep.any():
            raise ValueError(f"{_ME}.score: y has no label >= 0 for task {t!r}; expected at least one")
        return float(np.mean(p[keep] == yy[keep]))

    def transform(self, x, task: Optional[str] = None) -> np.ndarray:
        """The shared representation (the trunk's output) of ``x``; with
        branches ``x`` goes through ``task``'s branch.  Shape (N, ...)."""
        self._check_is_fitted("transform")
        if not self.branched_ and task is None:
            t = self.tasks_[0]
        else:
            if self.branched_ and task is None and len(self.tasks_) > 1:
                raise ValueError(f"{_ME}.transform: with input branches name the task whose branch x goes "
                                 f"through (task=...); tasks: {self.tasks_}")
            t = self._task(task, "transform")
        node = self.representation_[t]
        return self.model_.predict(self._feed(x, t, "transform"), outputs=[node])[node]
