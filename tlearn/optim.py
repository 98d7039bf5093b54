"""Optimizers and learning-rate schedules.

An optimizer object only carries hyper-parameters; the update itself runs in
the C core over the parameter arena, inside the training step.  ``lr`` may be
a float or a schedule: a callable ``lr(step, total_steps) -> float`` called
once per step (``total_steps`` is known in :meth:`Model.fit`, else 0).
"""
from __future__ import annotations

import math
from typing import Callable, Union

from . import _core

Schedule = Callable[[int, int], float]
# the default hyper-parameters of each kind: the core's optimizer table is the one place they are given
_DEFAULT = _core.optimizers()
_SGD, _ADAM, _ADAMW = _DEFAULT["sgd"], _DEFAULT["adam"], _DEFAULT["adamw"]


class Optimizer:
    kind = ""

    def __init__(self, lr: Union[float, Schedule], weight_decay: float = 0.0):
        if not callable(lr):
            lr = float(lr)
            if not (lr >= 0.0 and math.isfinite(lr)):
                raise ValueError(f"learning rate must be finite and >= 0, got {lr!r}")
        self.lr = lr
        self.weight_decay = float(weight_decay)

    @property
    def learning_rate(self):
        """Keras's name of ``lr``."""
        return self.lr

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self.lr = value

    def lr_at(self, step: int, total: int = 0) -> float:
        return float(self.lr(step, total)) if callable(self.lr) else self.lr

    def core_args(self) -> dict:
        raise NotImplementedError

    def get_config(self) -> dict:
        cfg = dict(self.core_args())
        cfg.pop("kind")
        lr = self.lr
        cfg["lr"] = lr.get_config() if hasattr(lr, "get_config") else (lr if not callable(lr) else None)
        return {"class": type(self).__name__, "config": cfg}


def _lr(lr, learning_rate, default):
    """``lr`` or Keras's ``learning_rate`` (not both)."""
    if learning_rate is None:
        return lr
    if lr is not default and lr != default:
        raise TypeError(f"give lr or its Keras name learning_rate, not both (lr={lr!r}, "
                        f"learning_rate={learning_rate!r})")
    return learning_rate


# Keras's optimizer names for compile(optimizer="adam"), with Keras's default rates
NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}


def get(spec) -> "Optimizer":
    """An optimizer from an object or a Keras name (``"sgd"``, ``"adam"``, ``"adamw"``)."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str) and spec.lower() in NAMES:
        return _OPTIMS[NAMES[spec.lower()]]()
    if isinstance(spec, str):
        raise ValueError(f"unknown optimizer {spec!r}; tlearn has {sorted(NAMES)} (tlearn.optim.SGD, Adam, AdamW)")
    raise TypeError(f"optimizer: expected a tlearn.optim optimizer or one of {sorted(NAMES)}, "
                    f"got {type(spec).__name__}")


class SGD(Optimizer):
    """SGD with momentum (PyTorch convention ``v = mu v + g; w -= lr v``),
    optional Nesterov and weight decay added to the gradient."""

    kind = "sgd"

    def __init__(self, lr=0.01, momentum: float = _SGD["momentum"], nesterov: bool = _SGD["nesterov"],
                 weight_decay: float = _SGD["weight_decay"], learning_rate=None):
        super().__init__(_lr(lr, learning_rate, 0.01), weight_decay)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def core_args(self):
        return {"kind": "sgd", "momentum": self.momentum, "nesterov": self.nesterov, "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015); ``weight_decay`` is added to the gradient."""

    kind = "adam"

    def __init__(self, lr=1e-3, betas=(_ADAM["beta1"], _ADAM["beta2"]), eps: float = _ADAM["eps"],
                 weight_decay: float = _ADAM["weight_decay"], learning_rate=None, beta_1=None, beta_2=None,
                 epsilon=None):
        super().__init__(_lr(lr, learning_rate, 1e-3), weight_decay)
        b1 = betas[0] if beta_1 is None else beta_1  # Keras's beta_1, beta_2, epsilon
        b2 = betas[1] if beta_2 is None else beta_2
        self.betas, self.eps = (float(b1), float(b2)), float(eps if epsilon is None else epsilon)

    def core_args(self):
        return {"kind": self.kind, "beta1": self.betas[0], "beta2": self.betas[1], "eps": self.eps,
                "weight_decay": self.weight_decay}

    def get_config(self):
        cfg = super().get_config()
        c = cfg["config"]
        c["betas"] = [c.pop("beta1"), c.pop("beta2")]
        return cfg


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019)."""

    kind = "adamw"

    def __init__(self, lr=1e-3, betas=(_ADAMW["beta1"], _ADAMW["beta2"]), eps: float = _ADAMW["eps"],
                 weight_decay: float = _ADAMW["weight_decay"], learning_rate=None, beta_1=None, beta_2=None,
                 epsilon=None):
        super().__init__(lr, betas, eps, weight_decay, learning_rate, beta_1, beta_2, epsilon)


class StepDecay:
    """``lr = lr0 * gamma ** (step // step_size)``."""

    def __init__(self, lr0: float, step_size: int, gamma: float = 0.1):
        self.lr0, self.step_size, self.gamma = float(lr0), int(step_size), float(gamma)

    def __call__(self, step, total=0):
        return self.lr0 * self.gamma ** (step // self.step_size)

    def get_config(self):
        return {"schedule": "StepDecay", "lr0": self.lr0, "step_size": self.step_size, "gamma": self.gamma}


class CosineDecay:
    """Cosine decay from ``lr0`` to ``lr_min`` over the run's total steps."""

    def __init__(self, lr0: float, lr_min: float = 0.0):
        self.lr0, self.lr_min = float(lr0), float(lr_min)

    def __call__(self, step, total=0):
        p = min(1.0, step / total) if total else 0.0
        return self.lr_min + 0.5 * (self.lr0 - self.lr_min) * (1 + math.cos(math.pi * p))

    def get_config(self):
        return {"schedule": "CosineDecay", "lr0": self.lr0, "lr_min": self.lr_min}


class GaninDecay:
    """The schedule of Ganin et al. (2016): ``lr = mu0 / (1 + alpha p) ** beta``,
    ``p`` the training progress from 0 to 1 (mu0=0.01, alpha=10, beta=0.75)."""

    def __init__(self, mu0: float = 0.01, alpha: float = 10.0, beta: float = 0.75):
        self.mu0, self.alpha, self.beta = float(mu0), float(alpha), float(beta)

    def __call__(self, step, total=0):
        p = min(1.0, step / total) if total else 0.0
        return self.mu0 / (1.0 + self.alpha * p) ** self.beta

    def get_config(self):
        return {"schedule": "GaninDecay", "mu0": self.mu0, "alpha": self.alpha, "beta": self.beta}


def ganin_lambda(p: float, gamma: float = 10.0) -> float:
    """The gradient-reversal weight of Ganin et al.: ``2 / (1 + exp(-gamma p)) - 1``."""
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


_SCHEDULES = {c.__name__: c for c in (StepDecay, CosineDecay, GaninDecay)}
_OPTIMS = {c.__name__: c for c in (SGD, Adam, AdamW)}


def from_config(cfg: dict) -> Optimizer:
    c = dict(cfg["config"])
    lr = c.pop("lr")
    if isinstance(lr, dict):
        lr = dict(lr)
        lr = _SCHEDULES[lr.pop("schedule")](**lr)
    if lr is None:
        raise ValueError("the saved optimizer used a custom learning-rate schedule; pass optimizer= to continue")
    if cfg["class"] not in _OPTIMS:
        raise ValueError(f"unknown optimizer class {cfg['class']!r}")
    return _OPTIMS[cfg["class"]](lr, **c)
