"""Model: a compiled network of the C core with Keras's verbs.

A :class:`Model` is built from symbolic tensors (``Model(inputs, outputs)``),
owns one ``tlearn._core.Net`` and exposes its parameter arenas as NumPy
views.  Training runs in C: :meth:`Model.fit` hands the core a run of
batches per call, and each step (forward, losses, backward, regularizers,
masks, update) is a single C function with the GIL released.

The network and the state of training it are the model's engine
(:class:`tlearn.engine.Engine`), private to this module: the model hands it
to the modules that train, feed, save and link, and no other module reads a
private attribute of a Model (tests/test_seams.py checks the sources).
"""
from __future__ import annotations

import math
import os
import warnings
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from . import _core, _ops, feed, fitloop as _fitloop, io, layers as _layers, losses as _losses, optim as _optim, \
    state as _state, torchnames as _torchnames, weights as _weights, links as _links
from .callbacks import History
from .engine import Engine, LossSpec
from .graph import named, topo

ArrayLike = Union[np.ndarray, Sequence, Dict[str, np.ndarray]]
# public instance attributes of a Model (properties with setters are found on the class)
_SETTABLE = frozenset({"name", "seed", "history", "stop_training"})


class LayerHandle:
    """A layer of a built model: freeze, re-initialise, inspect, set attributes.

    ``model.layer("fc1").trainable = False`` freezes the layer (no weight
    gradient, and no backward through a frozen prefix); ``.reset()``
    re-initialises its parameters; float attributes such as
    ``GradReverse.lambda_`` or ``Dropout.rate`` are read and set by name.
    """

    def __init__(self, model: "Model", layer: _layers.Layer):
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_layer", layer)

    @property
    def name(self) -> str:
        return self._layer.name

    @property
    def param_names(self) -> List[str]:
        return [n for n in self._model._engine.param_index if n.split(".", 1)[0] == self.name]

    @property
    def params(self) -> Dict[str, np.ndarray]:
        return {n: self._model.params[n] for n in self.param_names}

    @property
    def trainable(self) -> bool:
        names = self.param_names
        return bool(names) and all(self._model._engine.param_trainable(n) for n in names)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        for n in self.param_names:
            _links.set_trainable(self._model._engine, n, value)

    def reset(self) -> None:
        """Re-initialise this layer's parameters (and their optimizer state)."""
        _links.pull(self._model._engine)  # a layer shared with other models is re-initialised for all of them
        for n in self.param_names:
            self._model._engine.net.reset_param(self._model._engine.param_index[n])
        _links.dirty(self._model._engine)
        _links.push(self._model._engine)

    def __getattr__(self, attr):
        names = dict(_ops.settable(self._layer.op))
        if attr in names:  # every use of a shared layer holds the same value
            return self._model._engine.net.attr(self._model._engine.node[self.name], names[attr])
        raise AttributeError(f"layer '{self.name}' ({type(self._layer).__name__}) has no attribute {attr!r}")

    def __setattr__(self, attr, value):
        names = dict(_ops.settable(self._layer.op))
        if attr in names:
            for nm in self._model._engine.uses[self.name]:
                self._model._engine.net.set_attr(self._model._engine.node[nm], names[attr], float(value))
        elif attr == "trainable":
            LayerHandle.trainable.fset(self, value)
        else:
            raise AttributeError(f"layer '{self.name}' ({type(self._layer).__name__}) has no settable attribute "
                                 f"{attr!r} (settable: trainable{''.join(', ' + n for n in names)})")

    def __repr__(self):
        return f"<layer {self._layer!r} of model '{self._model.name}'>"


class Model:
    """A network of the C core built from symbolic tensors.

    Parameters
    ----------
    inputs : Tensor, list of Tensor or dict name -> Tensor
        The model's inputs (made with :func:`tlearn.Input`).
    outputs : Tensor, list of Tensor or dict name -> Tensor
        The model's outputs; dict keys (or the layer names) name them.
    seed : int
        Seed of the parameter initialisation, the dropout masks and the
        shuffling in :meth:`fit`.  The same seed gives the same weights.
    name : str
        A name for messages.

    Threads
    -------
    One network runs one call at a time: while one thread is in ``fit`` (or
    ``train_on_batch``), another thread's ``fit``, ``train_on_batch``,
    ``predict``, ``evaluate``, ``compile`` or ``reestimate_batchnorm`` is
    refused with ``TlearnError`` ("in use by another thread"), for the
    whole fit.  Reading or writing the *whole state* from another thread
    during ``fit`` -- ``save``, ``pickle.dumps``/``copy``, ``clone``,
    ``state_dict``, ``load_weights`` -- instead waits for the next step
    boundary (``fit`` holds the model's lock around each call of the core's
    steps, at most ``steps_per_call`` steps; ``train_on_batch`` holds it for
    its whole call) and sees one consistent state:
    weights, optimizer moments and step counts all of the same step.  They
    wait rather than fail because a checkpoint or monitoring thread beside a
    long ``fit`` is an ordinary design, and a refusal would make it fail at
    random moments (whenever it met a step in progress); the wait is one
    core call at most, and the training thread in turn waits for one copy
    of the state.  Arrays from ``model.params`` are live views: reading
    or writing them during ``fit`` is not synchronised.
    """

    def __init__(self, inputs, outputs, seed: int = 0, name: str = "model"):
        ins = named(inputs, "inputs")
        outs = named(outputs, "outputs")
        if not outs:
            raise ValueError("a model needs at least one output")
        self.name, self.seed = name, int(seed)
        order = topo(list(outs.values()))
        in_ids = {id(t) for t in ins.values()}
        for t in order:
            if isinstance(t.layer, _layers.InputLayer) and id(t) not in in_ids:
                raise ValueError(f"output depends on input '{t.name}', which is not among the model's inputs "
                                 f"({', '.join(ins) or 'none'})")
        for n, t in ins.items():
            if not isinstance(t.layer, _layers.InputLayer):
                raise ValueError(f"input {n!r} is not an Input tensor")
            if t not in order:
                raise ValueError(f"input {n!r} is not used by any output")
        # one node per call of a layer: the first call in this model is named
        # after the layer (and owns its parameters), later calls "<layer>:<k>"
        node_name, uses = {}, {}
        for t in order:
            k = uses[id(t.layer)] = uses.get(id(t.layer), -1) + 1
            node_name[id(t)] = t.layer.name if k == 0 else f"{t.layer.name}:{k}"
        self._build([(node_name[id(t)], t.layer) for t in order],
                    {node_name[id(t)]: [node_name[id(p)] for p in t.inputs] for t in order},
                    {n: node_name[id(t)] for n, t in ins.items()}, {n: node_name[id(t)] for n, t in outs.items()})

    # ------------------------------------------------------------------ build
    def _build(self, nodes: List, inputs_of: Dict[str, List[str]], input_alias: Dict[str, str],
               output_alias: Dict[str, str]) -> None:
        """The model's engine (see :class:`tlearn.engine.Engine`), built from ``nodes``
        ((node name, layer) in topological order) and the names of the inputs and
        outputs; a model built before (a rebuilt Sequential) drops its old engine."""
        old = self.__dict__.pop("_engine", None)
        self._engine = Engine(nodes, inputs_of, input_alias, output_alias, self.seed, replaces=old)
        self._start()

    def _start(self) -> None:
        """The settings of a freshly built model."""
        self.history: Dict[str, List[float]] = {}
        self.stop_training = False  # set by a callback to end fit after the current epoch

    @classmethod
    def _around(cls, engine: Engine, name: str, seed: int) -> "Model":
        """A model of class ``cls`` around a built engine (a model rebuilt from its saved state)."""
        model = cls.__new__(cls)
        model.name, model.seed = name, int(seed)
        model._engine = engine
        model._start()
        return model

    @property
    def input_names(self) -> List[str]:
        return list(self._engine.input_alias)

    @property
    def output_names(self) -> List[str]:
        return list(self._engine.output_alias)

    @property
    def optimizer(self) -> Optional[_optim.Optimizer]:
        """The optimizer given to :meth:`compile` (None before)."""
        return self._engine.optimizer

    @property
    def step(self) -> int:
        """Training steps taken so far (what a learning-rate schedule counts)."""
        return self._engine.step

    @property
    def loss_names(self) -> List[str]:
        return [s.name for s in self._engine.losses]

    def layer(self, name: str) -> LayerHandle:
        """The layer called ``name`` (see :class:`LayerHandle`)."""
        if name not in self._engine.layers:
            raise KeyError(f"model '{self.name}' has no layer {name!r}; layers: {', '.join(self._engine.layers)}")
        return LayerHandle(self, self._engine.layers[name])

    @property
    def layers(self) -> List[str]:
        return list(self._engine.layers)

    def get_layer(self, name: str) -> LayerHandle:
        """Keras's name of :meth:`layer`."""
        return self.layer(name)

    @property
    def trainable(self) -> bool:
        """Whether any parameter of the model trains.  ``model.trainable =
        False`` freezes every layer (Keras's transfer idiom), ``True``
        unfreezes every layer; single layers are then set with
        ``model.layer(name).trainable``.  A frozen BatchNorm runs in inference
        mode during ``fit`` (Keras's rule, see :class:`tlearn.layers.BatchNorm`)."""
        return any(self._engine.param_trainable(n) for n in self._engine.param_index)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"model.trainable: expected True or False, got {value!r}")
        for n in self._engine.param_index:
            _links.set_trainable(self._engine, n, value)

    def __call__(self, *inputs):
        """The model as a block of another: its layers applied to ``inputs``
        (tensors, one per input, or a dict input name -> tensor), as Keras's
        ``x = base(inputs)``.  Returns the output tensor (a list for several
        outputs).  The layers are the same objects, so a model built from
        the result shares their weights with this one: training it trains
        them here too, and ``self.trainable = False`` freezes them there
        (see :mod:`tlearn.links`)."""
        from .graph import Tensor

        names = self.input_names
        if len(inputs) == 1 and isinstance(inputs[0], dict):
            given = dict(inputs[0])
            if sorted(given) != sorted(names):
                raise KeyError(f"model '{self.name}' called on inputs {sorted(given)}; its inputs are {names}")
        else:
            if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
                inputs = tuple(inputs[0])
            if len(inputs) != len(names):
                raise ValueError(f"model '{self.name}' takes {len(names)} input tensor(s) ({names}), got {len(inputs)}")
            given = dict(zip(names, inputs))
        mapped = {}
        for n, t in given.items():
            if not isinstance(t, Tensor):
                raise TypeError(f"model '{self.name}' is called on tlearn Tensors (a block of another model); got "
                                f"{type(t).__name__} for input {n!r}: for arrays use model.predict(x)")
            node = self._engine.input_alias[n]
            want = tuple(self._engine.net.node(self._engine.node[node])["shape"])
            if t.shape != want:
                raise ValueError(f"model '{self.name}': input {n!r} takes shape {want}, got a tensor of shape "
                                 f"{t.shape}")
            mapped[node] = t
        owner_of = {nm: ln for ln, ns in self._engine.uses.items() for nm in ns}
        for nm in self._engine.node:  # topological order
            if nm not in mapped:
                mapped[nm] = self._engine.layers[owner_of[nm]](*[mapped[p] for p in self._engine.inputs_of[nm]])
        outs = [mapped[self._engine.output_alias[o]] for o in self.output_names]
        return outs[0] if len(outs) == 1 else outs

    def _summary_text(self) -> str:
        lines = [f"Model '{self.name}'",
                 f"  {'layer':<20} {'type':<12} {'output shape':<16} {'params':>9}"]
        owner_of = {nm: ln for ln, ns in self._engine.uses.items() for nm in ns}
        for n in self._engine.node:
            l = self._engine.layers[owner_of[n]]
            info = self._engine.net.node(self._engine.node[n])
            if n != l.name:
                lines.append(f"  {n:<20} {type(l).__name__:<12} {str(tuple(info['shape'])):<16} "
                             f"{'':>9} (shares {l.name}'s parameters)")
                continue
            ps = LayerHandle(self, l).param_names
            np_ = sum(int(np.prod(self.params[p].shape)) for p in ps)
            frozen = "" if not ps or LayerHandle(self, l).trainable else " (frozen)"
            lines.append(f"  {n:<20} {type(l).__name__:<12} {str(tuple(info['shape'])):<16} {np_:>9}{frozen}")
        total = sum(p.size for p in self.params.values())
        train = sum(self.params[n].size for n, p in self._engine.param_index.items()
                    if self._engine.param_trainable(n) and not self._engine.net.param_info(p)["buffer"])
        lines.append(f"  parameters: {total} (trainable: {train})")
        return "\n".join(lines)

    def summary(self, print_fn=None) -> None:
        """Print a table of the layers (name, type, output shape, parameter
        count, frozen or not), as Keras does; ``print_fn`` receives each line
        instead of ``print``.  ``str(model)`` is the same text."""
        fn = print if print_fn is None else print_fn
        for line in self._summary_text().split("\n"):
            fn(line)

    def __str__(self) -> str:
        return self._summary_text()

    # ----------------------------------------------------------- parameters
    @property
    def params(self) -> Dict[str, np.ndarray]:
        """Writable float32 views of the parameters, by name (``"fc1.w"``)."""
        return self._engine.views("value")

    @property
    def grads(self) -> Dict[str, np.ndarray]:
        """Views of the gradients of the last step (zero for frozen parameters)."""
        return self._engine.views("grad")

    @property
    def masks(self) -> Dict[str, np.ndarray]:
        """Writable 0/1 freeze masks: elements with mask 0 never change."""
        return self._engine.views("mask")

    @property
    def source_params(self) -> Dict[str, np.ndarray]:
        """The source snapshot that L2-SP and EWC pull toward (see :meth:`snapshot`)."""
        return self._engine.views("snapshot")

    @property
    def fisher(self) -> Dict[str, np.ndarray]:
        """The Fisher diagonal used by EWC (see :meth:`estimate_fisher`)."""
        return self._engine.views("fisher")

    def state_dict(self, format: str = "tlearn") -> Dict[str, np.ndarray]:
        """Copies of the parameters, by name: tlearn's (``"fc1.w"``) or, with
        ``format="torch"``, PyTorch's (``"fc1.weight"``, ``"bn.running_mean"``;
        see :mod:`tlearn.torchnames`), loadable by ``torch.nn.Module.load_state_dict``
        after ``torch.from_numpy`` (BatchNorm's ``num_batches_tracked`` may be absent)."""
        if format not in ("tlearn", "torch"):
            raise ValueError(f"state_dict format must be 'tlearn' or 'torch', got {format!r}")
        name = _torchnames.to_torch if format == "torch" else str
        with self._engine.lock:  # a step boundary when another thread is in fit (see "Threads")
            return {name(n): v.copy() for n, v in self.params.items()}

    def load_weights(self, weights: Dict[str, np.ndarray], strict: bool = True) -> List[str]:
        """Copy arrays into the parameters of the same name, checking shapes.

        ``weights`` is a dict, or the name of a weights file
        (:meth:`save_weights`'s ``.npz``) or of a model file (``.tlm``).
        Names are tlearn's (``"fc1.w"``) or PyTorch's (``"fc1.weight"``,
        ``.bias``, ``.running_mean``, ``.running_var``; ``num_batches_tracked``
        is ignored), so a ``torch.nn.Module.state_dict()`` whose module names
        are the layer names loads as it is (torch tensors are accepted).
        With ``strict``, every parameter must be given and no unknown name may
        appear.  With ``strict=False`` parameters may be left out; names that
        match no parameter are warned about (with how to map a
        ``torch.nn.Sequential``'s positions ``'0.weight'`` onto layer names),
        and a dict none of whose names matches is refused.  Returns the
        (tlearn) names loaded.
        """
        if isinstance(weights, (str, os.PathLike)):
            weights = _weights.read(weights)
        if not isinstance(weights, dict):
            raise TypeError(f"weights: expected a dict name -> array or a file name, got {type(weights).__name__}")
        params = self.params
        given = list(weights)
        weights, origin, unknown, notes = _torchnames.translate(weights, params, self._engine.layers)
        missing = [k for k in params if k not in weights]
        hint = "".join("; " + n for n in notes)
        if unknown:
            hint += _weights.positional_hint(unknown, {l: LayerHandle(self, self._engine.layers[l]).param_names
                                                      for l in self._engine.layers})
        if strict and (unknown or missing):
            raise KeyError(f"load_weights(strict=True): unknown names {unknown}, missing names {missing}" + hint)
        if given and not weights and unknown:
            raise KeyError(f"load_weights(strict=False): none of the {len(given)} names matches a parameter of "
                           f"model '{self.name}' (given {given[:6]}{' ...' if len(given) > 6 else ''}; "
                           f"parameters {list(params)[:6]}{' ...' if len(params) > 6 else ''}){hint}")
        if unknown:
            warnings.warn(f"load_weights(strict=False): loaded {len(weights)} of {len(given)} names; these match "
                          f"no parameter and were not loaded: {unknown}{hint}", UserWarning, stacklevel=2)
        arrays = {}
        for k, v in weights.items():
            what = f"parameter {k!r}" + (f" (from {origin[k]!r})" if k in origin else "")
            a = np.asarray(v)
            if a.shape != params[k].shape:
                raise ValueError(f"{what}: expected shape {params[k].shape}, got {a.shape}")
            if a.dtype.kind not in "iuf":  # timedelta64 counts as an integer to issubdtype
                raise TypeError(f"{what}: expected a real numeric array, got dtype {a.dtype}")
            with np.errstate(over="ignore", invalid="ignore"):
                a = a.astype(np.float32)  # what the parameter will hold: 1e300 is inf in float32
            if not np.all(np.isfinite(a)):
                bad = np.flatnonzero(~np.isfinite(a.reshape(-1)))
                raise ValueError(f"{what}: values must be finite in float32 (|x| < 3.4e38), got "
                                 f"{float(np.asarray(v).reshape(-1)[bad[0]])!r} at flat index {bad[0]} "
                                 f"({len(bad)} such values)")
            if k.endswith(".running_var") and np.any(a < 0) \
                    and isinstance(self._engine.layers.get(k.rsplit(".", 1)[0]), _layers.BatchNorm):
                raise ValueError(f"{what}: a BatchNorm running variance must be >= 0, got {float(a.min())!r}")
            arrays[k] = a
        with self._engine.lock:  # a step boundary when another thread is in fit (see "Threads")
            for k, a in arrays.items():
                params[k][...] = a
        return list(arrays)

    # Keras's verbs for weights
    def get_weights(self) -> List[np.ndarray]:
        """Copies of the parameters (BatchNorm's running statistics included) as
        a list, in the order of :attr:`params`; Keras's verb.  The layouts are
        tlearn's (PyTorch's): a Dense weight is (units, in_features), where
        Keras's kernel is (in_features, units)."""
        return [v.copy() for v in self.params.values()]

    def set_weights(self, weights: Sequence) -> None:
        """Set every parameter from a list in the order of :meth:`get_weights`
        (shapes checked; nothing is written unless all fit)."""
        if isinstance(weights, (dict, str, bytes)) or not hasattr(weights, "__len__"):
            raise TypeError(f"set_weights: expected a list of arrays (as get_weights returns), got "
                            f"{type(weights).__name__}; a dict by name goes to load_weights")
        names = list(self.params)
        if len(weights) != len(names):
            raise ValueError(f"set_weights: expected {len(names)} arrays ({', '.join(names)}), got {len(weights)}")
        self.load_weights(dict(zip(names, (_torchnames.as_array(w) for w in weights))), strict=True)

    def count_params(self) -> int:
        """The number of parameters (trainable or not, buffers included), as Keras counts."""
        return int(sum(v.size for v in self.params.values()))

    def save_weights(self, path) -> None:
        """Write the weights alone (by tlearn's names) as NumPy's ``.npz``,
        atomically; :meth:`load_weights` (or ``numpy.load``) reads it back.
        :meth:`save` writes the whole model."""
        _weights.check_weights_path(path)
        _weights.write_npz(path, self.state_dict())

    def snapshot(self) -> None:
        """Record the current weights as the source that L2-SP/EWC pull toward."""
        _links.pull(self._engine)
        self._engine.net.snapshot()

    def param_names(self, which=None) -> List[str]:
        """Names of the trainable parameters (not buffers such as BatchNorm's
        running statistics) of ``which``: a layer name, a parameter name, a
        list of them, or None for the whole model."""
        if which is None:
            return [n for n, p in self._engine.param_index.items() if not self._engine.net.param_info(p)["buffer"]]
        if isinstance(which, str):
            which = [which]
        out = []
        for w in which:
            if w in self._engine.param_index:
                out.append(w)
            elif w in self._engine.layers:
                out += LayerHandle(self, self._engine.layers[w]).param_names
            else:
                raise KeyError(f"{w!r} is neither a layer nor a parameter of model '{self.name}'")
        return out

    def regularize(self, l2: Optional[float] = None, l2sp: Optional[float] = None, ewc: Optional[float] = None,
                   layers=None) -> None:
        """Set regularizer strengths on the parameters of ``layers`` (default all).

        ``l2``: weight decay in the loss, ``l2/2 |w|^2``.  ``l2sp``: pull toward
        the source snapshot, ``l2sp/2 |w - w0|^2`` (Li et al. 2018).  ``ewc``:
        Fisher-weighted pull, ``ewc/2 sum F (w - w0)^2`` (Kirkpatrick et al.
        2017).  A strength left as None keeps its current value.
        """
        for n in self.param_names(layers):
            p = self._engine.param_index[n]
            info = self._engine.net.param_info(p)
            self._engine.net.set_reg(p, info["l2"] if l2 is None else l2, info["l2sp"] if l2sp is None else l2sp,
                              info["ewc"] if ewc is None else ewc)

    def estimate_fisher(self, x, y, batch_size: int = 1, loss=None) -> Dict[str, np.ndarray]:
        """Estimate the diagonal (empirical) Fisher information on ``(x, y)``
        (Kirkpatrick et al. 2017, for EWC): the mean of squared loss gradients
        over batches of ``batch_size`` (1 gives the paper's per-example
        estimate), the squares and sums computed by the core.  Replaces
        ``self.fisher`` (what EWC's penalty reads) and returns copies by name.

        The gradients are taken on a copy of the model with every parameter
        trainable, so the estimate does not depend on the freeze mask, and
        with ``loss`` (default: the compiled losses, or ``"softmax_ce"`` for
        an uncompiled single-output model); the model itself is not
        recompiled and its optimizer state is not touched."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"estimate_fisher: batch_size must be a positive int, got {batch_size!r}")
        work = self.clone()
        for p in work._engine.param_index.values():
            work._engine.net.set_trainable(p, True)
        for arr in work.masks.values():
            arr[...] = 1.0
        if loss is not None or not work._engine.losses:
            if loss is None and len(self._engine.output_alias) != 1:
                raise ValueError(f"estimate_fisher: model '{self.name}' has outputs {self.output_names} and is "
                                 "not compiled; pass loss= (a loss, or a dict output -> loss)")
            work.compile(_optim.SGD(0.0), loss="softmax_ce" if loss is None else loss)
        xs, ys, n = feed.prepare(work._engine, x, y)
        if n == 0:
            raise ValueError("estimate_fisher: no examples")
        for v in work.fisher.values():
            v[...] = 0.0
        nb = math.ceil(n / batch_size)
        for s in range(nb):
            sl = slice(s * batch_size, min(n, (s + 1) * batch_size))
            work._engine.net.accumulate_fisher([a[sl] for a in xs], [t[sl] for t in ys], 1.0 / nb)
        out = {k: v.copy() for k, v in work.fisher.items()}
        mine = self.fisher
        for k, v in out.items():
            mine[k][...] = v
        return out

    @property
    def batchnorm_layers(self) -> List[str]:
        """The names of the model's BatchNorm layers, in order."""
        return [n for n, l in self._engine.layers.items() if isinstance(l, _layers.BatchNorm)]

    def reestimate_batchnorm(self, x, batch_size: int = 256, layers: Optional[Sequence[str]] = None) -> None:
        """Re-estimate the running statistics of the BatchNorm layers on ``x``
        (AdaBN, Li et al. 2016: normalise with the target domain's statistics).

        The running mean and variance are reset, then forward passes in
        training mode over batches of ``batch_size`` average the batch
        statistics (weighted by batch size).  Weights, the optimizer state,
        the dropout RNG and each layer's momentum are left as they were.
        ``layers`` names the BatchNorm layers to re-estimate (default all)."""
        self._engine.refuse_if_trained_elsewhere()
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        bns = self.batchnorm_layers
        if layers is not None:
            unknown = [n for n in layers if n not in bns]
            if unknown:
                raise KeyError(f"not BatchNorm layers of model '{self.name}': {unknown}; BatchNorm layers: {bns}")
            bns = list(layers)
        if not bns:
            raise ValueError(f"model '{self.name}' has no BatchNorm layer")
        e = self._engine
        shared = [n for n in bns if len(e.uses[n]) > 1]
        if shared:
            raise ValueError(f"reestimate_batchnorm: BatchNorm layers {shared} are shared (used several times "
                             "per forward pass); their running statistics mix the uses and cannot be re-estimated")
        xs = feed.input_list(e, x)
        n = len(xs[0])
        if n == 0:
            raise ValueError("reestimate_batchnorm: no examples")
        others = [nm for nm in self.batchnorm_layers if nm not in bns]
        _links.pull(e)  # the statistics of shared layers are reset and re-estimated here, then written back
        _links.dirty(e)
        params, net = {k: e.net.view("value", p) for k, p in e.param_index.items()}, e.net
        momentum = {nm: net.attr(e.node[nm], "momentum") for nm in bns + others}
        rng = net.rng_state
        for nm in bns:
            params[nm + ".running_mean"][...] = 0.0
            params[nm + ".running_var"][...] = 1.0
        try:
            for nm in others:  # only the named layers move
                net.set_attr(e.node[nm], "momentum", 0.0)
            seen = 0
            for s in range(0, n, batch_size):
                b = min(n, s + batch_size) - s
                seen += b
                for nm in bns:  # cumulative average: the k-th batch weighs b_k / (b_1 + ... + b_k)
                    net.set_attr(e.node[nm], "momentum", b / seen)
                net.forward([a[s:s + b] for a in xs], [], True, 0)
        finally:
            for nm, m in momentum.items():
                net.set_attr(e.node[nm], "momentum", m)
            net.rng_state = rng
            _links.push(e)

    # -------------------------------------------------------------- compile
    def compile(self, optimizer: _optim.Optimizer, loss=None, loss_weights: Optional[Dict[str, float]] = None,
                metrics=None) -> None:
        """Attach losses and an optimizer.

        ``optimizer`` is a :mod:`tlearn.optim` object or Keras's name
        (``"sgd"``, ``"adam"``, ``"adamw"`` with Keras's default rates).
        Keras's loss names work (``"sparse_categorical_crossentropy"``,
        ``"categorical_crossentropy"`` with one-hot targets,
        ``"binary_crossentropy"``, ``"mean_squared_error"``); like every
        tlearn loss they take logits (Keras's ``from_logits=True``), so a
        model whose output is a ``Softmax`` (or ``Sigmoid``) layer is refused
        for them.  ``metrics=["accuracy"]`` (or ``"acc"``,
        ``"sparse_categorical_accuracy"``, ``"categorical_accuracy"``,
        ``"binary_accuracy"``) adds Keras's log names (``accuracy``,
        ``val_accuracy``; ``<loss>_accuracy`` with several classification
        losses) beside tlearn's ``<loss>_acc``, which every classification
        loss reports anyway; a dict output -> list names the outputs.

        ``loss`` is a loss name (``"softmax_ce"``, ``"sigmoid_bce"``, ``"mse"``,
        ``"soft_ce"``) or a :class:`tlearn.losses.Loss` for a single-output
        model, or a dict output name -> loss (or list of losses, e.g. a label
        loss and a :class:`~tlearn.losses.SoftTargetCE` on the same output).
        Each loss is named after its output, or ``"<output>/<kind>"`` when an
        output has several, or by its ``name``; targets are passed by these
        names.  ``loss_weights`` maps loss (or output) names to weights.
        """
        e = self._engine
        e.refuse_if_trained_elsewhere()
        optimizer = _optim.get(optimizer)
        if loss is None:
            raise ValueError("compile needs loss=...")
        if not isinstance(loss, dict):
            if len(e.output_alias) != 1:
                raise ValueError(f"model has outputs {self.output_names}; give loss as a dict output -> loss")
            loss = {self.output_names[0]: loss}
        specs: List[LossSpec] = []
        for out, spec in loss.items():
            if out not in e.output_alias:
                raise KeyError(f"loss for unknown output {out!r}; outputs: {self.output_names}")
            items = spec if isinstance(spec, (list, tuple)) else [spec]
            objs = [_losses.get(s) for s in items]
            for o in objs:
                name = o.name or (out if len(objs) == 1 else f"{out}/{o.kind}")
                specs.append(LossSpec(name, out, o))
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"loss names must be unique, got {names}")
        for s in specs:
            self._check_logits(s)
        metric_keys = _metric_keys(metrics, specs, self.output_names)
        weights = dict(loss_weights or {})
        for k in weights:
            if k not in names and k not in e.output_alias:
                raise KeyError(f"loss_weights names unknown loss {k!r}; losses: {names}")
        e.net.set_optim(**optimizer.core_args())
        e.net.clear_losses()
        e.losses = []
        try:
            for s in specs:
                w = weights.get(s.name, weights.get(s.output, s.loss.weight))
                s.node = e.net.add_loss(s.loss.kind, e.node[e.output_alias[s.output]], s.name, float(w),
                                        s.loss.attrs())
                s.loss.weight = float(w)
                e.losses.append(s)
        except Exception:
            e.net.clear_losses()
            e.losses = []
            raise
        e.optimizer = optimizer
        e.metrics, e.metric_spec = metric_keys, metrics

    def _check_logits(self, s: "LossSpec") -> None:
        """tlearn's losses take logits: refuse one on a Softmax / Sigmoid output (a softmax applied twice
        trains badly without a word)."""
        e = self._engine
        layer = e.layers[next(ln for ln, ns in e.uses.items() if e.output_alias[s.output] in ns)]
        probs = {"softmax_ce": _layers.Softmax, "soft_ce": _layers.Softmax, "sigmoid_bce": _layers.Sigmoid}
        cls = probs.get(s.loss.kind)
        if cls is not None and isinstance(layer, cls):
            raise ValueError(f"loss {s.name!r} ({type(s.loss).__name__}) takes logits (Keras's from_logits=True), "
                             f"but output {s.output!r} is a {cls.__name__} layer: the {cls.__name__.lower()} "
                             "would be applied twice. Build the model without the final "
                             f"{cls.__name__} (predict then gives logits; a second output "
                             f"{cls.__name__}()(logits) without a loss gives probabilities)")

    def train_on_batch(self, x, y, lr: Optional[float] = None) -> Dict[str, float]:
        """One training step on one batch; returns each loss, ``reg`` and ``loss`` (the total)."""
        return _fitloop.train_on_batch(self, self._engine, x, y, lr)

    def fit(self, x, y=None, epochs: int = 1, batch_size: Optional[int] = None, shuffle: bool = True,
            validation_data=None, verbose=1, callbacks: Sequence = (), steps_per_call: Optional[int] = None,
            steps_per_epoch: Optional[int] = None, schedules: Optional[Dict[str, object]] = None,
            sampler=None, validation_split: float = 0.0) -> History:
        """Train for ``epochs`` passes over ``(x, y)``, or over an iterable of batches.

        Parameters
        ----------
        x : array (N, *input_shape), list or dict of them; or an iterable of batches
            An iterable of batches (a generator, a list of tuples, a
            :class:`tlearn.datasets.DomainBatches`, a torch ``DataLoader``)
            yields ``(x, y)`` tuples, ``x`` and ``y`` as for arrays; then ``y``
            is not given, ``batch_size`` and ``shuffle`` are the iterable's,
            and the core runs one step per batch.  A ``DomainBatches``
            yields ``(x, domain)`` or ``(x, label, domain)``: the targets of
            the model's losses in compile order.  ``(x, y, sample_weight)``
            is refused: the core has no per-example weights (use label -1 or
            NaN targets to leave examples out).
        y : targets: array, list or dict keyed by loss (or output) name.
            Class labels may be -1 ("no label"), float targets NaN.
        epochs : int
        batch_size : int
            Arrays only (default 32); the last batch of an epoch may be smaller.
        shuffle : bool
            Arrays only: reshuffle each epoch with the model's seeded generator.
        steps_per_epoch : int, optional
            Batches only: steps per epoch.  A generator goes on where the
            last epoch stopped (an endless generator needs it); a list or
            another re-iterable starts again when it runs out.  Default: one
            pass over the iterable.
        validation_data : (x_val, y_val) or an iterable of (x, y) batches, optional
            Evaluated after each epoch; reported with a ``val_`` prefix.
        validation_split : float
            Arrays only: the fraction of the examples held out for
            validation, taken from the END of the arrays before any shuffling
            (as Keras does); not with ``validation_data``.
        verbose : 0, 1 or 2
            As Keras: 0 silent, 1 a tqdm progress bar (when tqdm is
            installed), 2 one line per epoch.  True is 1, False 0.
        callbacks : list
            Keras-protocol callbacks (:mod:`tlearn.callbacks`): ``set_model``,
            ``on_train_begin/end``, ``on_epoch_begin/end(epoch, logs)``,
            ``on_train_batch_begin(batch, logs)`` (makes the core run one step
            per call); ``model.stop_training = True`` ends training after the epoch.
        steps_per_call : int, optional
            Arrays only: steps the core runs per call (default: about 20 calls per epoch).
        schedules : dict, optional
            Per-step values of settable settings, carried into the core's run
            of steps (the core sets them before each step): keys
            ``"<layer>.<attribute>"`` (a settable layer attribute, e.g.
            ``"grl.lambda_"`` of a :class:`~tlearn.layers.GradReverse`) or
            ``"<loss>.weight"`` (a loss weight); values a callable
            ``(step, total_steps) -> float``, as a learning-rate schedule, or
            a constant.  The settings keep the last step's values.
        sampler : callable epoch -> array of row numbers, optional
            Arrays only: the rows of each epoch in batch order (``batch_size``
            rows a step, the last step may be short; rows may repeat), in
            place of the shuffle; every epoch the same number of rows.  A
            :class:`tlearn.datasets.DomainBatches` passed as ``x`` is run this way.

        Returns
        -------
        history : :class:`tlearn.callbacks.History`
            A dict of per-epoch lists (also ``model.history``): ``loss``
            (weighted total), each loss by name, ``<name>_acc`` for
            classification losses, ``reg``, and the ``val_`` twins.
        """
        if validation_split:
            if validation_data is not None:
                raise ValueError("fit: give validation_data or validation_split, not both")
            if _fitloop.is_batches(x, y):
                raise ValueError("fit: validation_split takes the last examples of arrays; with an iterable of "
                                 "batches pass validation_data (another iterable, or arrays)")
            x, y, validation_data = feed.split_last(self._engine, x, y, validation_split)
        if _fitloop.is_batches(x, y):
            if batch_size is not None or steps_per_call is not None or sampler is not None:
                raise ValueError("fit on an iterable of batches: batch_size and steps_per_call are the iterable's "
                                 "(and so is the order: no sampler); do not pass them")
            rows = getattr(x, "as_arrays", None)
            if rows is not None and steps_per_epoch is None:  # a DomainBatches: one C call per run of steps
                xa, ya, order = rows()
                return _fitloop.fit_arrays(self, self._engine, xa, ya, epochs, x.batch_size, False, validation_data,
                                           verbose, callbacks, None, schedules, lambda epoch: order)
            return _fitloop.fit_batches(self, self._engine, x, epochs, steps_per_epoch, verbose, callbacks,
                                        validation_data, schedules)
        if steps_per_epoch is not None:
            raise ValueError("steps_per_epoch is for fit on an iterable of batches; with arrays an epoch is one "
                             "pass over them")
        return _fitloop.fit_arrays(self, self._engine, x, y, epochs, batch_size, shuffle, validation_data, verbose,
                                   callbacks, steps_per_call, schedules, sampler)

    # ------------------------------------------------------------ inference
    def predict(self, x, batch_size: int = 1024, outputs: Optional[Sequence[str]] = None):
        """Outputs for ``x`` in evaluation mode (no dropout): an array for a
        single-output model, else a dict output name -> array.  ``outputs``
        may also name any layer, for features of an inner layer.  ``x`` may
        be an iterable of batches, as :meth:`fit` takes (a generator, an
        iterator, a DataLoader; a list is the inputs, as in Keras, and
        ``iter(list)`` its batches): each item is ``x`` or ``(x, y)``
        (``y`` ignored); the predictions are concatenated."""
        self._engine.refuse_if_trained_elsewhere()
        _check_batch_size(batch_size)
        if type(x) is not np.ndarray and _fitloop.is_predict_batches(x):
            return _fitloop.predict_batches(self._engine, x, batch_size, outputs)
        return self._engine.predict(x, batch_size, outputs)

    def evaluate(self, x, y=None, batch_size: int = 1024) -> Dict[str, float]:
        """Each loss (mean over labelled entries), ``<name>_acc`` for
        classification losses, and ``loss``, the weighted total, in evaluation mode.
        ``x`` may be an iterable of ``(x, y)`` batches, as :meth:`fit` takes
        (then no ``y``): the means are over all of its examples."""
        self._engine.refuse_if_trained_elsewhere()
        self._engine.require_compiled(self.name)
        _check_batch_size(batch_size)
        if _fitloop.is_batches(x, y):
            _links.pull(self._engine)
            return _fitloop.evaluate_batches(self._engine, x, min(batch_size, _core.INT_MAX))
        if y is None:
            raise ValueError("evaluate: targets y are missing (or pass an iterable of (x, y) batches)")
        _links.pull(self._engine)
        xs, ys, n = feed.prepare(self._engine, x, y)
        r = self._engine.net.evaluate(xs, ys, min(batch_size, _core.INT_MAX))
        return _fitloop.epoch_logs(self._engine, _fitloop.Sums.of_evaluation(r), 0)

    def score(self, x, y, batch_size: int = 1024) -> float:
        """Accuracy of the first classification loss (scikit-learn's word).

        Its labels must be labels: for ``softmax_ce`` integer class labels of
        shape (n,) (-1: no label; a column (n, 1), floats, booleans and
        strings are refused), for ``sigmoid_bce`` targets of 0 and 1 (NaN:
        no label; soft targets have no accuracy)."""
        spec = next((s for s in self._engine.losses if s.loss.classification), None)
        if spec is None:
            raise ValueError("score: the model has no classification loss")
        _check_score_labels(self, spec, y)
        return self.evaluate(x, y, batch_size)[spec.name + "_acc"]

    # ---------------------------------------------------------- robustness
    @property
    def check_finite(self) -> bool:
        return is_built(self) and self._engine.check_finite  # off in a Sequential not built yet

    @check_finite.setter
    def check_finite(self, on: bool) -> None:
        """Stop training with a TlearnError naming the first node that produced
        NaN or infinity, before any weight is written."""
        self._engine.net.set_check_finite(bool(on))
        self._engine.check_finite = bool(on)

    # ------------------------------------------------------ save and clone
    def _get_state(self):
        return _state.get_state(self, self._engine)

    @classmethod
    def _from_state(cls, meta: dict, arrays: Dict[str, np.ndarray], optimizer=None) -> "Model":
        return _state.from_state(cls._around, meta, arrays, optimizer)

    def clone(self) -> "Model":
        """An independent copy: same architecture, weights, masks, snapshot,
        Fisher, optimizer state and compile settings."""
        meta, arrays = self._get_state()
        opt = None
        if self._engine.optimizer is not None and meta["optimizer"]["config"]["lr"] is None:
            opt = self._engine.optimizer
        return Model._from_state(meta, arrays, optimizer=opt)

    def save(self, path) -> None:
        """Save everything needed to continue training to ``path``, atomically,
        in tlearn's model file format (name it ``.tlm``; :func:`tlearn.load`
        reads it).  A name whose extension promises another format (``.h5``,
        ``.keras``, ``.pt``, ``.pth``, ``.onnx``, ``.npz``, ``.pkl``, ...) is
        refused with what writes that format, rather than written in tlearn's."""
        _weights.check_model_path(path)
        meta, arrays = self._get_state()
        io.write_atomic(path, io.dumps(meta, arrays))

    def __reduce__(self):
        # pickle, copy and deepcopy go through the model file's bytes: the
        # architecture, every arena (weights, masks, snapshot, Fisher, optimizer
        # moments), compile settings and RNG states, so predictions and continued
        # training are bit-identical.  A custom learning-rate schedule has no
        # file form and travels as the optimizer object itself.
        meta, arrays = self._get_state()
        opt = None
        if self._engine.optimizer is not None and meta["optimizer"]["config"]["lr"] is None:
            opt = self._engine.optimizer
        return (_unpickle, (io.dumps(meta, arrays), opt))

    def __setattr__(self, attr, value):
        if attr.startswith("_") or attr in _SETTABLE or any(
                hasattr(c, attr) or attr in getattr(c, "__annotations__", {}) for c in type(self).__mro__[:-1]):
            object.__setattr__(self, attr, value)
            return
        import difflib

        known = sorted(_SETTABLE | {"trainable", "check_finite"})
        close = difflib.get_close_matches(attr, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise AttributeError(f"model '{self.name}' has no setting {attr!r} (assigning it would make a Python "
                             f"attribute that nothing reads){hint} Settable: {', '.join(known)}; layer settings "
                             "through model.layer(name).<attr>")

    def __repr__(self):
        return f"<tlearn.Model '{self.name}': {len(self._engine.layers)} layers, " \
               f"{sum(p.size for p in self.params.values())} parameters>"


# ------------------------------------------------ for subclasses that build later (tlearn.Sequential)

# what a Model holds once its network is built; a subclass that builds later lacks them before
BUILT_STATE = frozenset({"_engine", "history", "stop_training"})


def is_built(model: Model) -> bool:
    """Whether ``model`` has its network (a Sequential before its input shape is known has none)."""
    return "_engine" in model.__dict__


def unbuild(model: Model) -> None:
    """Drop ``model``'s network and the state of training it (a Sequential whose last layer was popped)."""
    for k in BUILT_STATE:
        model.__dict__.pop(k, None)


def rebuild(model: Model, inputs, outputs) -> None:
    """Build ``model``'s network (again) from tensors, as ``Model.__init__`` does, keeping
    its name and seed: the parameters of the same name and shape as before keep
    their values and whether they train (in this network), and check_finite stays as it was."""
    old, finite = {}, False
    if is_built(model):
        e = model._engine
        old = {n: (v.copy(), e.net.param_info(e.param_index[n])["trainable"]) for n, v in model.params.items()}
        finite = e.check_finite
    Model.__init__(model, inputs, outputs, seed=model.seed, name=model.name)
    e, params = model._engine, model.params
    for n, p in e.param_index.items():
        if n in old and old[n][0].shape == params[n].shape:
            params[n][...] = old[n][0]
            e.net.set_trainable(p, old[n][1])
    if finite:
        model.check_finite = True


def _check_score_labels(model, spec: LossSpec, y) -> None:
    """``score``'s labels for the loss ``spec`` (the rest is ``evaluate``'s to check)."""
    if isinstance(y, dict):
        lab = y.get(spec.name, y.get(spec.output))
    elif isinstance(y, (list, tuple)) and len(model._engine.losses) > 1 and len(y) == len(model._engine.losses):
        lab = y[model._engine.losses.index(spec)]
    else:
        lab = y
    if lab is None:
        return  # evaluate names the missing target
    a = np.asarray(lab)
    what = f"score: labels of loss '{spec.name}' ({spec.loss.kind})"
    if spec.loss.kind == "softmax_ce":
        if a.dtype.kind not in "iu":
            raise TypeError(f"{what}: expected integer class labels of shape (n,), got dtype {a.dtype}")
        if a.ndim != 1:
            hint = " (a column of labels: pass y.ravel())" if a.ndim == 2 and a.shape[1:] == (1,) else ""
            raise ValueError(f"{what}: expected integer class labels of shape (n,), got shape {a.shape}{hint}")
    elif spec.loss.kind == "sigmoid_bce":
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{what}: expected targets of 0 and 1, got dtype {a.dtype}")
        f = a.astype(np.float64, copy=False)
        bad = ~((f == 0) | (f == 1) | np.isnan(f))
        if np.any(bad):
            raise ValueError(f"{what}: expected targets of 0 and 1 (NaN: no label), got "
                             f"{float(f.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]])!r}; soft targets have no accuracy")


_ACCURACY = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")


def _metric_keys(metrics, specs, outputs) -> Dict[str, str]:
    """Keras's metric log names -> tlearn's ``<loss>_acc`` log names."""
    if metrics is None:
        return {}
    if isinstance(metrics, str):
        metrics = [metrics]
    by_output = metrics if isinstance(metrics, dict) else {o: list(metrics) for o in outputs}
    if not isinstance(by_output, dict) or any(isinstance(v, str) or not hasattr(v, "__iter__")
                                              for v in by_output.values()):
        raise TypeError(f"metrics: expected a list of names or a dict output -> list, got {metrics!r}")
    keys: Dict[str, str] = {}
    cls_specs = [s for s in specs if s.loss.classification]
    for out, ms in by_output.items():
        if out not in outputs:
            raise KeyError(f"metrics for unknown output {out!r}; outputs: {outputs}")
        for m in ms:
            if m not in _ACCURACY:
                raise ValueError(f"metric {m!r}: tlearn reports each loss and, for classification losses, the "
                                 f"accuracy; the metric names it takes are {list(_ACCURACY)}")
            on = [s for s in cls_specs if s.output == out]
            if not on and isinstance(metrics, dict):
                raise ValueError(f"metric {m!r} on output {out!r}: no classification loss there (losses: "
                                 f"{[(s.name, s.loss.kind) for s in specs]})")
            for s in on:
                keys[m if len(cls_specs) == 1 else f"{s.name}_{m}"] = s.name + "_acc"
    if metrics and not keys:
        raise ValueError(f"metrics {metrics!r}: accuracy needs a classification loss (softmax_ce, sigmoid_bce, "
                         f"Keras's crossentropies); the losses are {[(s.name, s.loss.kind) for s in specs]}")
    return keys


def _check_batch_size(batch_size) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def load(path, optimizer: Optional[_optim.Optimizer] = None) -> Model:
    """Load a model saved with :meth:`Model.save`.  The file is verified
    (magic, format version, CRC-32) before anything is built from it.
    ``optimizer`` replaces a saved custom learning-rate schedule."""
    meta, arrays = io.read(path)
    return _state.rebuild(Model._around, meta, arrays, optimizer, str(path))


def _unpickle(data: bytes, optimizer: Optional[_optim.Optimizer] = None) -> Model:
    """The inverse of ``Model.__reduce__``: a model from the bytes of its model file."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"pickled tlearn.Model: expected the bytes of a model file, got {type(data).__name__}")
    meta, arrays = io.loads(bytes(data), source="pickled tlearn.Model")
    return _state.rebuild(Model._around, meta, arrays, optimizer, "pickled tlearn.Model")
