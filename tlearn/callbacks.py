"""Callbacks of :meth:`tlearn.Model.fit`, with Keras's names and arguments.

A callback is any object with some of the methods of :class:`Callback`
(Keras's protocol): ``set_model(model)`` once before training, then
``on_train_begin(logs)``, ``on_epoch_begin(epoch, logs)``,
``on_train_batch_begin(batch, logs)``, ``on_epoch_end(epoch, logs)`` and
``on_train_end(logs)``.  ``logs`` of an epoch end holds the epoch's values
(``loss``, each loss by name, ``<name>_acc``, ``reg``, ``val_...``).  A
callback stops training by setting ``model.stop_training = True``.

Defining ``on_train_batch_begin`` makes the core run one step per call
(instead of a run of steps), so use it only when a step must see it.
"""
from __future__ import annotations

import math
import os
import warnings
from typing import Callable, Dict, List, Optional

import numpy as np


class Callback:
    """Base class: every hook does nothing; ``self.model`` is the model being trained."""

    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        pass

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        pass


class History(dict):
    """What :meth:`Model.fit` returns: a dict metric name -> list of per-epoch
    values (so ``h["loss"]`` works as before), with Keras's attributes
    ``history`` (the dict itself), ``epoch`` (the epoch indices), ``params``
    (``epochs``, ``steps``, ``verbose``) and ``model``."""

    def __init__(self, model=None, params: Optional[dict] = None):
        super().__init__()
        self.model = model
        self.params = dict(params or {})
        self.epoch: List[int] = []

    @property
    def history(self) -> Dict[str, List[float]]:
        return self

    def append(self, epoch: int, logs: Dict[str, float]) -> None:
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.setdefault(k, []).append(v)

    def __repr__(self) -> str:
        return f"<History: {len(self.epoch)} epochs, {', '.join(self)}>"


def _mode_of(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if monitor.endswith("acc") or monitor.endswith("accuracy") else "min"
    return mode


def _monitored(logs: Optional[dict], monitor: str, who: str) -> Optional[float]:
    """The monitored value of an epoch's logs, or an error naming what there is."""
    logs = logs or {}
    if monitor not in logs:
        raise KeyError(f"{who}: monitor {monitor!r} is not among this epoch's logs {sorted(logs)} "
                       "(val_* values need validation_data)")
    return float(logs[monitor])


class _Tracker:
    """Best value so far of a monitored quantity, with Keras's min_delta rule."""

    def __init__(self, monitor: str, mode: str, min_delta: float):
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must be a log name such as 'val_loss', got {monitor!r}")
        self.monitor, self.mode = monitor, _mode_of(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Parameters (Keras's)
    ----------
    monitor : str
        A name of the epoch logs (default ``"val_loss"``).
    min_delta : float
        An improvement smaller than this does not count.
    patience : int
        Epochs without improvement before stopping.
    mode : "auto", "min" or "max"
        ``auto`` maximises names ending in ``acc``, minimises the others.
    restore_best_weights : bool
        At the end, put back the weights (parameters and BatchNorm buffers)
        of the best epoch.
    baseline : float, optional
        Stop if the value does not get better than this within ``patience`` epochs.

    ``stopped_epoch`` is the epoch training stopped at (0 if it did not) and
    ``best_epoch`` the best one.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: Optional[float] = None, restore_best_weights: bool = False):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping patience must be a non-negative int, got {patience!r}")
        self._tracker = _Tracker(monitor, mode, min_delta)
        self.monitor, self.mode, self.min_delta = monitor, self._tracker.mode, self._tracker.min_delta
        self.patience, self.verbose, self.baseline = patience, int(verbose), baseline
        self.restore_best_weights = bool(restore_best_weights)

    def on_train_begin(self, logs=None):
        self._tracker = _Tracker(self.monitor, self.mode, self.min_delta)
        if self.baseline is not None:
            self._tracker.best = float(self.baseline)
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best_weights = None

    @property
    def best(self) -> float:
        return self._tracker.best

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor not in (logs or {}):
            # Keras's behaviour and words: warn and go on (e.g. val_loss without validation data)
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs or {})} (val_* values need validation_data "
                          "or validation_split)", RuntimeWarning, stacklevel=2)
            return
        value = float(logs[self.monitor])
        if self._tracker.improved(value):
            self._tracker.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:  # Keras: stop after `patience` epochs without improvement
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping (best {self.monitor} "
                  f"{self.best:.6g} at epoch {self.best_epoch + 1})")
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model after each epoch (with :meth:`Model.save`: atomically,
    everything needed to continue training).

    Parameters (Keras's)
    ----------
    filepath : str or path
        May hold ``str.format`` fields: ``{epoch}`` (counted from 1) and any
        name of the epoch logs, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.tlm"``.
    monitor : str
        The log name that decides what is best (default ``"val_loss"``).
    save_best_only : bool
        Save only when ``monitor`` improved (the file then always holds the best model).
    mode : "auto", "min" or "max"
        As in :class:`EarlyStopping`.
    save_weights_only : bool
        Save ``model.state_dict()`` with ``numpy.savez`` instead (also atomically).
    """

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto"):
        try:
            self.filepath = os.fspath(filepath)
        except TypeError:
            raise TypeError(f"ModelCheckpoint filepath: expected a str or path, got {type(filepath).__name__}") \
                from None
        from . import weights as _weights

        # a name that promises another format is refused now, not after the first epoch
        (_weights.check_weights_path if save_weights_only else _weights.check_model_path)(self.filepath)
        self._tracker = _Tracker(monitor, mode, 0.0)
        self.monitor, self.mode = monitor, self._tracker.mode
        self.verbose, self.save_best_only = int(verbose), bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.saved: List[str] = []

    def on_train_begin(self, logs=None):
        self._tracker = _Tracker(self.monitor, self.mode, 0.0)

    @property
    def best(self) -> float:
        return self._tracker.best

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **(logs or {}))
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"ModelCheckpoint filepath {self.filepath!r}: cannot fill it from epoch and logs "
                             f"{sorted(logs or {})} ({e!r})") from None

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            if self.monitor not in (logs or {}):  # Keras warns and skips
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping (available: "
                              f"{','.join(logs or {})}; val_* values need validation_data or validation_split)",
                              RuntimeWarning, stacklevel=2)
                return
            value = float(logs[self.monitor])
            if not self._tracker.improved(value):
                return
            self._tracker.best = value
        path = self._path(epoch, logs)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        self.saved.append(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved {path}")


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch to
    ``schedule(epoch, lr)`` (Keras's signature: the epoch counted from 0 and
    the current rate; a one-argument ``schedule(epoch)`` works too).  The new
    rate replaces the optimizer's ``lr`` (a float or a per-step schedule)."""

    def __init__(self, schedule: Callable, verbose: int = 0):
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {type(schedule).__name__}")
        self.schedule, self.verbose = schedule, int(verbose)
        try:
            import inspect

            self._n_args = len(inspect.signature(schedule).parameters)
        except (TypeError, ValueError):
            self._n_args = 2

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model._optimizer
        current = opt.lr_at(self.model._step, 0)
        lr = self.schedule(epoch, current) if self._n_args >= 2 else self.schedule(epoch)
        try:
            lr = float(lr)
        except (TypeError, ValueError):
            raise TypeError(f"LearningRateScheduler: schedule returned {lr!r}, expected a float") from None
        if not (lr >= 0.0 and math.isfinite(lr)):
            raise ValueError(f"LearningRateScheduler: schedule returned {lr!r} at epoch {epoch}; "
                             "a learning rate must be finite and >= 0")
        opt.lr = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {lr:.6g}")


class KeepBestEpoch(Callback):
    """Keep the weights of the best epoch by a named metric and put them back
    at the end of training (model selection; unlike
    ``EarlyStopping(restore_best_weights=True)`` it never stops training).

    Parameters
    ----------
    monitor : str
        A name of the epoch logs (``"val_loss"``, ``"val_label_acc"``, or a
        value another callback earlier in the list adds to the logs).
    mode : "auto", "min" or "max"
        ``auto`` maximises names ending in ``acc``, minimises the others.
    ties : "last" or "first"
        Which epoch wins among equal values (``"last"``: the later one).

    After training, ``best_epoch`` is the kept epoch (0-based) and ``best``
    its value; the weights (parameters and BatchNorm buffers) are that
    epoch's.  A NaN value never wins.
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", ties: str = "last"):
        if ties not in ("last", "first"):
            raise ValueError(f"KeepBestEpoch: ties must be 'last' or 'first', got {ties!r}")
        self._tracker = _Tracker(monitor, mode, 0.0)
        self.monitor, self.mode, self.ties = monitor, self._tracker.mode, ties
        self.best_epoch: Optional[int] = None
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self._tracker = _Tracker(self.monitor, self.mode, 0.0)
        self.best_epoch, self.best_weights = None, None

    @property
    def best(self) -> float:
        return self._tracker.best

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored(logs, self.monitor, "KeepBestEpoch")
        t = self._tracker
        better = t.improved(value) or (self.ties == "last" and not math.isnan(value) and value == t.best)
        if better or self.best_epoch is None and not math.isnan(value):
            t.best, self.best_epoch = value, epoch
            self.best_weights = self.model.state_dict()

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.load_weights(self.best_weights)


class StepLog(Callback):
    """Per-step values of the training run (each loss, ``<name>_acc``,
    ``reg``), kept in ``steps``: a dict of lists with one entry per step.
    It does not make the core run one step per call: it reads the run's
    per-step results (the ``on_steps_end(logs)`` hook, tlearn's, whose
    ``logs`` hold arrays with one entry per step of a run)."""

    def __init__(self):
        self.steps: Dict[str, List[float]] = {}

    def on_train_begin(self, logs=None):
        self.steps = {}

    def on_steps_end(self, logs):
        for k, v in logs.items():
            self.steps.setdefault(k, []).extend(float(x) for x in np.asarray(v))
