"""The epoch loop around the core's training steps, shared by ``fit`` on
arrays and ``fit`` on an iterable of batches: callbacks (Keras's protocol,
see :mod:`tlearn.callbacks`), the progress bar or per-epoch lines
(``verbose`` 0/1/2), the accumulation of the core's per-step results into
an epoch's logs, validation and the :class:`~tlearn.callbacks.History`.

``train_on_batch`` and ``fit`` on arrays live here too; the steps themselves always run in C: a run of batches per call for arrays
(``Net.train_batches``), one ``Net.train_step`` per batch for an iterable.
"""
from __future__ import annotations

import itertools
import math
import sys
import warnings
from typing import Dict, Optional, Sequence

import numpy as np

from . import _core, feed, links
from .callbacks import History


def check_verbose(verbose) -> int:
    """Keras's ``verbose``: 0 silent, 1 progress bar, 2 one line per epoch (True is 1, False 0)."""
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    if isinstance(verbose, (int, np.integer)) and int(verbose) in (0, 1, 2):
        return int(verbose)
    raise ValueError(f"verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), got {verbose!r}")


class Loop:
    """One ``fit`` call: hooks, progress, logs and history around the steps."""

    def __init__(self, model, engine, epochs: int, steps: Optional[int], verbose, callbacks: Sequence,
                 validation_data=None):
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
        if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
            raise TypeError(f"callbacks: expected a list of callbacks, got {type(callbacks).__name__}")
        self.callbacks = list(callbacks)
        vd = validation_data
        if vd is not None and not (isinstance(vd, (tuple, list)) and len(vd) == 2
                                   and (isinstance(vd, tuple) or not isinstance(vd[0], tuple))):
            if is_batches(validation_data, None) and iter(validation_data) is not validation_data:
                validation_data = (validation_data, None)  # a re-iterable of (x, y) batches, evaluated each epoch
            else:
                raise ValueError("validation_data: expected a pair (x_val, y_val) or a re-iterable of (x, y) "
                                 f"batches (a list, a DataLoader; a generator is consumed once), got "
                                 f"{type(validation_data).__name__}")
        self.model, self.engine, self.epochs, self.steps = model, engine, epochs, steps
        self.verbose = check_verbose(verbose)
        self.validation_data = validation_data
        self.total = epochs * steps if steps is not None else 0  # 0: unknown (a schedule then sees 0)
        self.per_batch = any(hasattr(c, "on_train_batch_begin") for c in self.callbacks)
        self.per_step = [c for c in self.callbacks if hasattr(c, "on_steps_end")]
        self.nl = len(engine.losses)
        self.bar = None

    def _call(self, hook: str, *args) -> None:
        for c in self.callbacks:
            f = getattr(c, hook, None)
            if f is not None:
                f(*args)

    # ---------------------------------------------------------------- run
    def begin(self) -> History:
        m = self.model
        links.pull(self.engine)  # the weights of layers shared with other models, as they are now
        m.stop_training = False
        hist = m.history = History(m, {"epochs": self.epochs, "steps": self.steps, "verbose": self.verbose})
        for c in self.callbacks:
            if hasattr(c, "set_model"):
                c.set_model(m)
        if self.verbose == 1:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=self.total or None, desc=m.name, unit="step", leave=True, file=sys.stderr)
            except ImportError:
                self.bar = None
        self._call("on_train_begin", {})
        return hist

    def epoch_begin(self, epoch: int) -> "Sums":
        self._call("on_epoch_begin", epoch, {})
        links.dirty(self.engine)
        return Sums(self.nl)

    def batch_begin(self, batch: int) -> None:
        if self.per_batch:
            self._call("on_train_batch_begin", batch, {})

    def add(self, acc: "Sums", res: dict, epoch: int) -> None:
        """Add the core's results of a run of steps (``Net.train_batches``) to ``acc``; move the bar."""
        acc.add_run(res)
        for c in self.per_step:
            c.on_steps_end(step_logs(self.engine, res))
        if self.bar is not None:
            self.bar.update(len(res["reg"]))
            last = float(res["loss"][-1] @ loss_weights(self.engine) + res["reg"][-1])
            self.bar.set_postfix(epoch=epoch + 1, loss=f"{last:.4f}")

    def add_step(self, acc: "Sums", res: dict, epoch: int) -> None:
        """:meth:`add` for the one step of ``Net.train_step``."""
        losses = acc.add_step(res)
        if self.per_step:
            one = {k: np.asarray(v)[None] for k, v in res.items()}
            for c in self.per_step:
                c.on_steps_end(step_logs(self.engine, one))
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(epoch=epoch + 1,
                                 loss=f"{sum(np.multiply(losses, loss_weights(self.engine))) + res['reg']:.4f}")

    def epoch_end(self, epoch: int, acc, steps: int) -> bool:
        """Logs, validation, history and callbacks of an epoch; True when training should stop."""
        m = self.model
        links.push(self.engine)  # the epoch's steps reach the other models that share layers before anyone looks
        logs = epoch_logs(self.engine, acc, steps)
        if self.validation_data is not None:
            vx, vy = self.validation_data
            with self.engine.lock:  # no load_weights from another thread in the middle of it
                logs.update({"val_" + k: v for k, v in m.evaluate(vx, vy).items()})
        # Keras's order: the callbacks first (a callback may add to the logs), then the history
        self._call("on_epoch_end", epoch, logs)
        m.history.append(epoch, logs)
        if self.verbose == 2:
            vals = " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())
            print(f"Epoch {epoch + 1}/{self.epochs} - {steps} steps - {vals}", flush=True)
        return bool(m.stop_training)

    def end(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def finish(self) -> None:
        self.end()
        self._call("on_train_end", dict((k, v[-1]) for k, v in self.model.history.items()))


# ------------------------------------------------------- one step, fit on arrays

def train_on_batch(model, engine, x, y, lr: Optional[float] = None) -> Dict[str, float]:
    """One training step on one batch; returns each loss, ``reg`` and ``loss`` (the total).

    The model's lock is taken once, for the whole call: the step is a step
    boundary for readers of the whole state in other threads, and another
    thread's training is refused meanwhile (``claim_training``)."""
    engine.refuse_if_trained_elsewhere()  # at once, rather than after waiting for the lock
    with engine.lock:
        engine.claim_training()
        try:
            engine.require_compiled(model.name)
            linked = bool(engine.links)  # layers shared with another model: read before, written back after
            if linked:
                links.pull(engine)
            xs, ys, _ = feed.prepare(engine, x, y)
            if lr is None:
                lr = engine.optimizer.lr_at(engine.step, 0)
            if linked:
                links.dirty(engine)
            res = engine.net.train_step(xs, ys, float(lr))
            engine.step += 1
            if linked:
                links.push(engine)
        finally:
            engine.release_training()
    return _step_logs(engine.losses, res)


def _step_logs(specs, res: dict) -> Dict[str, float]:
    """Each loss, ``<name>_acc`` (a classification loss with labelled entries), ``reg`` and
    ``loss`` (the weighted total) of ``Net.train_step``'s result."""
    losses, counts, correct, reg = res["loss"].tolist(), res["count"].tolist(), res["correct"].tolist(), res["reg"]
    out = {}
    total = 0.0
    for s, l in zip(specs, losses):
        out[s.name] = l
        total += s.loss.weight * l
    for s, c, ok in zip(specs, counts, correct):
        if s.classification and c:
            out[s.name + "_acc"] = ok / c
    out["reg"] = reg
    out["loss"] = total + reg
    return out


def fit_arrays(model, engine, *args, **kw) -> History:
    """:meth:`Model.fit` on arrays (see :func:`_fit_arrays`), this thread training the model."""
    with engine.training():
        return _fit_arrays(model, engine, *args, **kw)


def _fit_arrays(model, engine, x, y, epochs: int = 1, batch_size: Optional[int] = None, shuffle: bool = True,
               validation_data=None, verbose=1, callbacks: Sequence = (), steps_per_call: Optional[int] = None,
               schedules=None, sampler=None) -> History:
    """:meth:`Model.fit` on arrays (documented there): the core runs a run of batches per call,
    gathering each batch itself by row number, and sets the scheduled values before each step."""
    engine.require_compiled(model.name)
    batch_size = 32 if batch_size is None else batch_size
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if sampler is not None and not callable(sampler):
        raise TypeError(f"sampler: expected a callable epoch -> array of row numbers, got {type(sampler).__name__}")
    loop = Loop(model, engine, epochs, None, verbose, callbacks, validation_data)
    sched = Schedules(engine, schedules)
    xs, ys, n = feed.prepare(engine, x, y)
    if n == 0:
        raise ValueError("fit: empty training set (0 examples)")
    # the core checks every row before the first step (each run checks its rows again, which then pass)
    engine.net.check_data(xs, ys)
    if sampler is None:
        batch_size = min(batch_size, n)  # a batch larger than the data set is the data set
        steps = math.ceil(n / batch_size)
    else:
        first = _sampled(sampler, 0, n)
        steps = math.ceil(len(first) / batch_size)
    loop.steps, loop.total = steps, epochs * steps
    chunk = 1 if loop.per_batch else (steps_per_call or max(1, math.ceil(steps / 20)))
    hist = loop.begin()
    try:
        for epoch in range(epochs):
            acc = loop.epoch_begin(epoch)
            # the core gathers each batch itself: no copy of the data set per epoch
            if sampler is not None:
                rows = first if epoch == 0 else _sampled(sampler, epoch, n)
                if math.ceil(len(rows) / batch_size) != steps:
                    raise ValueError(f"sampler: epoch {epoch} gave {len(rows)} rows, epoch 0 gave {len(first)}; "
                                     "every epoch must have the same number of steps")
            else:
                rows = engine.rng.permutation(n) if shuffle else None
            ran = len(rows) if rows is not None else n
            for s0 in range(0, steps, chunk):
                s1 = min(steps, s0 + chunk)
                loop.batch_begin(s0)
                lrs = np.array([engine.optimizer.lr_at(engine.step + i, loop.total) for i in range(s1 - s0)],
                               dtype=np.float32)
                sl = slice(s0 * batch_size, min(ran, s1 * batch_size))
                with engine.lock:  # a reader of the whole state in another thread waits for this boundary
                    values = sched.run(engine.step, s1 - s0, loop.total)
                    if rows is None:
                        res = _train_run(engine, [a[sl] for a in xs], [t[sl] for t in ys], batch_size, lrs, None,
                                         values)
                    else:
                        res = _train_run(engine, xs, ys, batch_size, lrs, rows[sl], values)
                    engine.step += s1 - s0
                    sched.after_run(values)
                loop.add(acc, res, epoch)
            if loop.epoch_end(epoch, acc, steps):
                break
    finally:
        loop.end()
    loop.finish()
    return hist


def _sampled(sampler, epoch: int, n: int) -> np.ndarray:
    """The row numbers ``sampler(epoch)`` gives, checked against ``n`` rows."""
    rows = np.asarray(sampler(epoch))
    if rows.ndim != 1 or rows.dtype.kind not in "iu":
        raise TypeError(f"sampler({epoch}): expected a 1-d integer array of row numbers, got "
                        f"{rows.dtype} of shape {rows.shape}")
    if len(rows) == 0:
        raise ValueError(f"sampler({epoch}) gave no rows")
    if rows.min() < 0 or rows.max() >= n:
        raise ValueError(f"sampler({epoch}): row numbers must be in 0..{n - 1}, got {int(rows.min())}.."
                         f"{int(rows.max())}")
    return np.ascontiguousarray(rows, dtype=np.int64)


def _train_run(engine, xs, ys, batch_size, lrs, rows, values):
    """One C call for a run of steps, the scheduled values set by the core before each step.
    A step that diverges (with ``check_finite``) is named by its number among the model's steps."""
    try:
        if values:
            return engine.net.train_batches(xs, ys, batch_size, lrs, rows, values)
        return engine.net.train_batches(xs, ys, batch_size, lrs, rows)
    except _core.TlearnError as e:
        msg = e.args[0] if e.args else str(e)
        if "produced NaN or infinity" in msg:
            raise _core.TlearnError(f"training diverged: {msg}; the run began after training step {engine.step} "
                                    f"(learning rate {float(lrs[0]):.4g})") from None
        raise


def _train_step(engine, xs, ys, lr, values):
    """One C call for one step, the scheduled values (one each) set by the core first."""
    if values:
        return engine.net.train_step(xs, ys, lr, [(nd, nm, float(v[0])) for nd, nm, v in values])
    return engine.net.train_step(xs, ys, lr)


class Schedules:
    """Per-step values of a model's settable settings during :meth:`Model.fit`.

    ``schedules`` maps ``"<layer>.<attribute>"`` (a settable attribute, as
    ``model.layer("grl").lambda_``) or ``"<loss>.weight"`` (a loss weight) to a
    callable ``(step, total_steps) -> float`` (the learning-rate schedules'
    signature) or a constant.  For each run of steps the values are computed
    here and handed to the core with the run, which sets them before each step
    (one C call per run).  After ``fit`` the settings hold the last step's values."""

    def __init__(self, engine, schedules):
        self.items = []
        if schedules is None:
            return
        if not isinstance(schedules, dict):
            raise TypeError(f"schedules: expected a dict '<layer>.<attribute>' or '<loss>.weight' -> "
                            f"callable (step, total) -> float, got {type(schedules).__name__}")
        for key, fn in schedules.items():
            nodes, cname, loss = engine.schedule_target(key)
            if not callable(fn):
                fn = _constant(key, fn)
            self.items.append((key, nodes, cname, fn, loss))

    def __bool__(self) -> bool:
        return bool(self.items)

    def run(self, step: int, count: int, total: int) -> list:
        """``[(node, name, float32 values)]`` for ``count`` steps from ``step``."""
        out = []
        for key, nodes, cname, fn, _ in self.items:
            v = np.array([fn(step + i, total) for i in range(count)], dtype=np.float64)
            if not np.all(np.isfinite(v)):
                i = int(np.argmax(~np.isfinite(v)))
                raise ValueError(f"schedule {key!r}: step {step + i} gave {float(v[i])!r}; expected a finite number")
            v = v.astype(np.float32)
            out += [(nd, cname, v) for nd in nodes]
        return out

    def after_run(self, values: list) -> None:
        """The Python side of loss weights follows the core's (the logs' weighted total)."""
        k = 0
        for key, nodes, cname, fn, loss in self.items:
            if loss is not None:
                loss.loss.weight = float(values[k][2][-1])
            k += len(nodes)


def _constant(key, value):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"schedule {key!r}: expected a callable (step, total) -> float or a number, "
                        f"got {type(value).__name__}") from None
    return lambda step, total: v


def loss_weights(engine) -> np.ndarray:
    """The weight of each loss, in loss order."""
    return np.array([s.loss.weight for s in engine.losses])


class Sums:
    """The core's results summed over an epoch (or an evaluation), per loss in loss order:
    ``loss_sum`` (each step's mean loss times its labelled count), ``count`` (labelled
    entries), ``correct`` (right predictions of a classification loss); ``reg``, the
    regularization summed over steps.  Python numbers: a step adds a handful of them."""

    __slots__ = ("loss_sum", "count", "correct", "reg")

    def __init__(self, n_losses: int):
        self.loss_sum = [0.0] * n_losses
        self.count = [0] * n_losses
        self.correct = [0] * n_losses
        self.reg = 0.0

    @classmethod
    def of_evaluation(cls, res: dict) -> "Sums":
        """From ``Net.evaluate``'s ``loss_sum``, ``count``, ``correct`` (no regularization)."""
        s = cls(0)
        s.loss_sum, s.count, s.correct = res["loss_sum"].tolist(), res["count"].tolist(), res["correct"].tolist()
        return s

    def _add(self, loss_sum, count, correct) -> None:
        for k in range(len(self.count)):
            self.loss_sum[k] += loss_sum[k]
            self.count[k] += count[k]
            self.correct[k] += correct[k]

    def add_run(self, res: dict) -> None:
        """Add ``Net.train_batches``' per-step ``loss``, ``count``, ``correct`` (steps, n_losses) and ``reg``."""
        self._add((res["loss"] * res["count"]).sum(0).tolist(), res["count"].sum(0).tolist(),
                  res["correct"].sum(0).tolist())
        self.reg += float(res["reg"].sum())

    def add_step(self, res: dict) -> list:
        """Add ``Net.train_step``'s ``loss``, ``count``, ``correct`` (n_losses,) and ``reg``; returns the losses."""
        losses, counts = res["loss"].tolist(), res["count"].tolist()
        self._add([l * c for l, c in zip(losses, counts)], counts, res["correct"].tolist())
        self.reg += res["reg"]
        return losses


def step_logs(engine, res: dict) -> Dict[str, np.ndarray]:
    """Per-step logs of a run of steps (``Net.train_batches``' arrays): each loss (its
    mean over the labelled entries of the step), ``<name>_acc`` for a classification
    loss (NaN for a step without labelled entries) and ``reg``; one entry per step."""
    out: Dict[str, np.ndarray] = {}
    count = np.asarray(res["count"], dtype=np.float64)
    for k, s in enumerate(engine.losses):
        out[s.name] = np.asarray(res["loss"], dtype=np.float64)[:, k]
        if s.classification:
            with np.errstate(invalid="ignore", divide="ignore"):
                out[s.name + "_acc"] = np.asarray(res["correct"], dtype=np.float64)[:, k] / count[:, k]
    out["reg"] = np.asarray(res["reg"], dtype=np.float64)
    return out


def epoch_logs(engine, acc: Sums, steps: int) -> Dict[str, float]:
    """Logs from summed results: each loss's mean over labelled entries, ``<name>_acc`` for a
    classification loss, ``reg`` (mean per step, when there were steps) and ``loss``, the weighted total."""
    logs: Dict[str, float] = {}
    total = 0.0
    for k, s in enumerate(engine.losses):
        cnt, ok = acc.count[k], acc.correct[k]
        val = float(acc.loss_sum[k] / cnt) if cnt else 0.0
        logs[s.name] = val
        total += s.loss.weight * val
        if s.classification:
            logs[s.name + "_acc"] = float(ok / cnt) if cnt else float("nan")
    for k, src in engine.metrics.items():  # Keras's names (compile(metrics=["accuracy"]))
        logs[k] = logs[src]
    if steps:
        logs["reg"] = float(acc.reg / steps)
        total += logs["reg"]
    logs["loss"] = total
    return logs


# ------------------------------------------------------- fit on batches

def _batch_arrays(engine, item, index: int):
    """``(xs, ys)`` of one batch, checked, or an exception naming the batch."""
    if not isinstance(item, (tuple, list)):
        raise TypeError(f"fit: batch {index}: expected a tuple (x, y), got {type(item).__name__}")
    if len(item) == 3:
        raise ValueError(f"fit: batch {index}: got 3 items (x, y, sample_weight); per-example sample weights "
                         "are not supported by the core: yield (x, y), and mark examples to leave out with "
                         "label -1 (or NaN for float targets)")
    if len(item) != 2:
        raise ValueError(f"fit: batch {index}: expected a tuple (x, y), got {len(item)} items")
    x, y = (_untorch(v) for v in item)
    try:
        xs, ys, n = feed.prepare(engine, x, y)
    except (ValueError, TypeError, KeyError) as e:
        msg = e.args[0] if e.args else str(e)
        raise type(e)(f"fit: batch {index}: {msg}") from None
    if n == 0:
        raise ValueError(f"fit: batch {index} is empty (0 examples)")
    return xs, ys


def _untorch(v):
    """Arrays (and dicts/lists of them) out of torch tensors, as a DataLoader yields them."""
    if isinstance(v, np.ndarray):
        return v
    from .torchnames import as_array

    if isinstance(v, dict):
        return {k: as_array(a) for k, a in v.items()}
    if isinstance(v, (list, tuple)):
        return [as_array(a) for a in v]
    return as_array(v)


def _domain_pairs(batches):
    """A DomainBatches yields (x, domain) or (x, label, domain): the targets of
    a model's losses in compile order (label loss first, then domain loss)."""
    for item in batches:
        yield (item[0], item[1]) if len(item) == 2 else (item[0], [item[1], item[2]])


def is_batches(x, y) -> bool:
    """Whether ``fit(x, y)`` was given an iterable of batches rather than arrays."""
    if y is not None or isinstance(x, (np.ndarray, dict, str, bytes)):
        return False
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and isinstance(x[0], (tuple, list))
    return hasattr(x, "__iter__") or hasattr(x, "__next__")


def fit_batches(model, engine, *args, **kw) -> History:
    """:meth:`Model.fit` on an iterable of batches (see :func:`_fit_batches`), this thread training the model."""
    with engine.training():
        return _fit_batches(model, engine, *args, **kw)


def _fit_batches(model, engine, batches, epochs: int = 1, steps_per_epoch: Optional[int] = None, verbose=1,
                callbacks: Sequence = (), validation_data=None, schedules=None) -> History:
    """:meth:`Model.fit` on an iterable of ``(x, y)`` batches (documented there)."""
    from .datasets.batches import DomainBatches

    engine.require_compiled(model.name)
    if steps_per_epoch is not None and (isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int)
                                        or steps_per_epoch <= 0):
        raise ValueError(f"steps_per_epoch must be a positive int or None, got {steps_per_epoch!r}")
    # a list, a DomainBatches or a DataLoader starts again on each iter(); a generator is consumed once
    reiterable = iter(batches) is not batches
    try:
        length = len(batches)
    except TypeError:
        length = None
    loop = Loop(model, engine, epochs, steps_per_epoch if steps_per_epoch is not None else length, verbose, callbacks,
                validation_data)
    opt = engine.optimizer
    sched = Schedules(engine, schedules)

    def fresh():
        return _domain_pairs(batches) if isinstance(batches, DomainBatches) else iter(batches)

    def run(items, acc, epoch, done):
        """Steps on ``items`` until they end or the epoch has ``steps_per_epoch``; the new step count."""
        for item in itertools.islice(items, None if steps_per_epoch is None else steps_per_epoch - done):
            xs, ys = _batch_arrays(engine, item, done)
            loop.batch_begin(done)
            with engine.lock:  # a reader of the whole state in another thread waits for this boundary
                try:
                    values = sched.run(engine.step, 1, loop.total)
                    res = _train_step(engine, xs, ys, float(opt.lr_at(engine.step, loop.total)), values)
                except (ValueError, TypeError) as e:  # the core checks shapes before it computes anything
                    raise type(e)(f"fit: batch {done}: {e.args[0] if e.args else e}") from None
                engine.step += 1
                sched.after_run(values)
            loop.add_step(acc, res, epoch)
            done += 1
        return done

    hist = loop.begin()
    it, ran_out, epoch = None, False, 0
    try:
        for epoch in range(epochs):
            acc = loop.epoch_begin(epoch)
            if it is None or (steps_per_epoch is None and reiterable):
                it = fresh()
            done = run(it, acc, epoch, 0)
            while steps_per_epoch is not None and done < steps_per_epoch and reiterable:
                before = done
                it = fresh()  # start the data again within the epoch, as Keras repeats a finite dataset
                done = run(it, acc, epoch, done)
                if done == before:
                    break
            if done == 0:
                ran_out = True
                break
            if loop.epoch_end(epoch, acc, done):
                break
    finally:
        loop.end()
    if ran_out:
        if epoch == 0:
            raise ValueError("fit: the iterable of batches yielded no batch")
        warnings.warn(f"fit: the batches ran out after {epoch} epoch(s) of {epochs}; a generator is consumed "
                      "once: pass steps_per_epoch with an endless generator, or a list or a re-iterable object",
                      RuntimeWarning, stacklevel=4)
    loop.finish()
    return hist


# ------------------------------------------------------- predict and evaluate on batches

def _batch_x(engine, item):
    """The inputs of one item of an iterable given to predict: ``(x, y)`` (or ``(x, y, w)``) gives ``x``;
    otherwise the item is ``x`` (an array, a dict, or a list with one array per input)."""
    if isinstance(item, tuple) or (isinstance(item, list) and len(engine.input_names) == 1):
        if not item:
            raise ValueError("predict: an empty batch item")
        return _untorch(item[0])
    return _untorch(item)


def is_predict_batches(x) -> bool:
    """Whether ``predict(x)`` was given an iterable of batches: an iterable that is not an array, a dict,
    a list or a tuple (a generator, an iterator, a DataLoader).  A list or a tuple is the inputs, as in
    Keras: one array-like, or one per input of a model with several (``iter(list)`` makes it batches)."""
    if isinstance(x, (list, tuple)):
        return False
    return is_batches(x, None)


def predict_batches(engine, batches, batch_size: int, outputs):
    """:meth:`Model.predict` on an iterable: one prediction per batch, concatenated."""
    parts = []
    for i, item in enumerate(batches):
        try:
            parts.append(engine.predict(_batch_x(engine, item), batch_size, outputs))
        except (ValueError, TypeError, KeyError) as e:
            raise type(e)(f"predict: batch {i}: {e.args[0] if e.args else e}") from None
    if not parts:
        raise ValueError("predict: the iterable of batches yielded no batch")
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


def evaluate_batches(engine, batches, batch_size: int) -> Dict[str, float]:
    """:meth:`Model.evaluate` on an iterable of ``(x, y)`` batches: the core's sums over all of them."""
    from .datasets.batches import DomainBatches

    items = _domain_pairs(batches) if isinstance(batches, DomainBatches) else batches
    total = None
    for i, item in enumerate(items):
        xs, ys = _batch_arrays(engine, item, i)
        r = engine.net.evaluate(xs, ys, batch_size)
        if total is None:
            total = {k: np.array(r[k], dtype=np.float64) for k in ("loss_sum", "count", "correct")}
        else:
            for k in total:
                total[k] += r[k]
    if total is None:
        raise ValueError("evaluate: the iterable of batches yielded no batch")
    total["count"] = total["count"].astype(np.int64)
    total["correct"] = total["correct"].astype(np.int64)
    return epoch_logs(engine, Sums.of_evaluation(total), 0)
