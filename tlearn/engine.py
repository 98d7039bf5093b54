"""The engine of a :class:`~tlearn.Model`: its compiled C network and the
state of training it, the one object through which the rest of the package
works on a model.

A ``Model`` is what the user holds: Keras's verbs, names, settings.  Its
engine (``Model`` keeps it private) is handed by the model to the modules
that do the work -- the epoch loop (:mod:`tlearn.fitloop`), the conversion
of the user's arrays (:mod:`tlearn.feed`), saving and loading
(:mod:`tlearn.state`), layers shared between models (:mod:`tlearn.links`)
-- so that none of them reads the model's private attributes.  Everything
an engine offers is listed in :class:`Engine`'s docstring.

The model's lock and the "one training thread" rule live here too
(:class:`StateLock`, :meth:`Engine.training`): they guard the engine's state.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import _core, _ops, feed, links, losses as _losses

_ident = threading.get_ident

IN_USE = ("this network is in use by another thread; a network runs one call at a time "
          "(use model.clone() for a second thread)")  # the core's words (csrc/py/nettype.c)


@dataclass
class LossSpec:
    """A compiled loss: its log name, the output it reads, the loss object and its core node.
    ``int_target``, ``classification`` and ``plain_target`` are fixed by the loss's kind and
    class, looked up once here rather than per batch."""
    name: str
    output: str
    loss: _losses.Loss
    node: int = -1
    int_target: bool = field(init=False)  # the core takes int32 class labels (else float32 values)
    classification: bool = field(init=False)  # counts correct predictions: ``<name>_acc`` is reported
    plain_target: bool = field(init=False)  # the loss takes its targets as they come (no ``Loss.target``)

    def __post_init__(self):
        self.int_target = _ops.OPS[self.loss.kind]["target"] == "int"
        self.classification = bool(self.loss.classification)
        self.plain_target = type(self.loss).target is _losses.Loss.target


class StateLock:
    """A model's lock: held by ``fit`` around each call of the core's steps, by
    ``train_on_batch`` for its whole call, and by every reader or writer of the
    whole state (see ``Model``, "Threads").

    Re-entrant, and fair: holders are served in the order they asked (a ticket
    lock), so a reader waits one core call at most however fast ``fit`` takes
    the lock again, and ``fit`` waits one read at most however often another
    thread reads.  (A plain lock is not fair: the training thread releases
    and re-takes it before a woken waiter runs, and a save could wait for the
    whole fit.)  A wait interrupted by an exception gives its turn up.  A
    free lock is taken and released without touching the condition (no
    waiter to wake): the common case, one thread, costs two acquisitions of
    a plain lock.
    """

    __slots__ = ("_mutex", "_cond", "_next", "_serving", "_gone", "_owner", "_depth")

    def __init__(self):
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._next = self._serving = 0  # tickets handed out, and the ticket served now
        self._gone = set()  # tickets whose waiter left (an exception in the wait)
        self._owner, self._depth = None, 0

    def _skip_gone(self) -> None:
        while self._serving in self._gone:
            self._gone.discard(self._serving)
            self._serving += 1

    def __enter__(self):
        me = _ident()
        self._mutex.acquire()
        try:
            if self._owner == me:
                self._depth += 1
                return self
            ticket = self._next
            self._next += 1
            try:
                while self._serving != ticket:
                    self._cond.wait()
            except BaseException:
                self._gone.add(ticket)
                self._skip_gone()
                self._cond.notify_all()
                raise
            self._owner, self._depth = me, 1
        finally:
            self._mutex.release()
        return self

    def __exit__(self, *exc):
        self._mutex.acquire()
        try:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._serving += 1
                if self._gone:
                    self._skip_gone()
                if self._serving != self._next:  # someone holds a later ticket: wake the waiters
                    self._cond.notify_all()
        finally:
            self._mutex.release()
        return False


class _Training:
    """``with engine.training():`` -- this thread trains the engine (see :meth:`Engine.training`)."""

    __slots__ = ("engine",)

    def __init__(self, engine: "Engine"):
        self.engine = engine

    def __enter__(self):
        e = self.engine
        with e.lock:
            e.claim_training()
        return e

    def __exit__(self, *exc):
        e = self.engine
        with e.lock:
            e.release_training()
        return False


class Engine:
    """A built model's C network and the state of training it.

    Built by ``Model`` (from its layer graph, or from a saved state by
    :mod:`tlearn.state`) and owned by it; the model passes it to
    :mod:`tlearn.fitloop`, :mod:`tlearn.feed`, :mod:`tlearn.state` and
    :mod:`tlearn.links`.  It knows nothing of the model's user-facing
    settings (its name, ``history``, callbacks).

    The network (read-only after the build):

    ``net``
        the ``tlearn._core.Net``: forward, training steps, arenas, settings.
    ``node``
        node name -> core node id, in topological order; a layer's first
        node is named after the layer, a further use of it ``"<layer>:<k>"``.
    ``layers``, ``uses``, ``inputs_of``
        layer name -> Layer object; layer name -> its node names (the owner
        first); node name -> the names of its input nodes.
    ``input_alias``, ``output_alias``
        the model's input (output) name -> node name, in the model's order;
        ``input_names``, ``output_names`` are their keys as lists.
    ``input_order``
        ``(input name, node name)`` in the order the core takes its inputs.
    ``param_index``
        parameter name (``"fc1.w"``) -> core parameter index.

    The state of training it (mutable; the whole of it is what a model file saves):

    ``losses``, ``optimizer``, ``metrics``, ``metric_spec``
        :class:`LossSpec` per compiled loss in compile order (empty before
        ``compile``), the optimizer (None before), Keras's metric log name ->
        tlearn's, and ``compile``'s ``metrics`` argument.
    ``step``
        training steps taken (what learning-rate schedules count).
    ``rng``
        the generator of ``fit``'s shuffles.
    ``check_finite``
        whether training stops at the first NaN or infinity (the core's setting).
    ``links``, ``links_dirty``, ``successor``
        parameter name -> (home engine, its name) for layers shared with
        another model, whether steps have not been written back yet, and the
        engine that took this one's place in its model (a rebuilt Sequential;
        links to this one follow it) (:mod:`tlearn.links` keeps all three).

    Threads: ``lock`` (a :class:`StateLock`), ``trainer`` (``(thread id,
    depth)`` while a thread trains), :meth:`training`,
    :meth:`claim_training`, :meth:`release_training`,
    :meth:`refuse_if_trained_elsewhere`.

    Methods: :meth:`views`, :meth:`param_trainable`, :meth:`require_compiled`,
    :meth:`schedule_target`, :meth:`output_nodes`, :meth:`predict`.
    """

    __slots__ = ("net", "node", "layers", "uses", "inputs_of", "input_alias", "output_alias", "input_names",
                 "output_names", "input_order", "param_index", "losses", "optimizer", "metrics", "metric_spec",
                 "step", "rng", "check_finite", "links", "links_dirty", "successor", "lock", "trainer",
                 "_default_outputs", "__weakref__")

    def __init__(self, nodes: List, inputs_of: Dict[str, List[str]], input_alias: Dict[str, str],
                 output_alias: Dict[str, str], seed: int, replaces: Optional["Engine"] = None):
        """``nodes``: (node name, layer) in topological order; a layer met again
        is a shared layer: its node uses the parameters of the layer's first node.
        ``replaces``: the engine this one takes the place of in the same model
        (its layers' home moves here, see :func:`tlearn.links.attach`)."""
        self.layers: Dict[str, object] = {}
        self.uses: Dict[str, List[str]] = {}
        for nm, l in nodes:
            if self.layers.setdefault(l.name, l) is not l:
                raise ValueError(f"two layers are named {l.name!r}; layer names must be unique in a model")
            self.uses.setdefault(l.name, []).append(nm)
        self.inputs_of = inputs_of
        for what, alias in (("input", input_alias), ("output", output_alias)):
            for k, v in alias.items():
                if not isinstance(k, str) or not isinstance(v, str) or v not in inputs_of:
                    raise ValueError(f"{what} {k!r} names node {v!r}, which is not a node of the model; its nodes: "
                                     f"{', '.join(map(repr, list(inputs_of)[:12]))}"
                                     f"{', ...' if len(inputs_of) > 12 else ''}")
        for k, v in input_alias.items():
            if inputs_of[v]:
                raise ValueError(f"input {k!r} names node {v!r}, which is not an input node (it has inputs "
                                 f"{inputs_of[v]})")
        self.input_alias, self.output_alias = dict(input_alias), dict(output_alias)
        self.input_names, self.output_names = list(self.input_alias), list(self.output_alias)
        net = _core.Net(seed)
        self.node: Dict[str, int] = {}
        for nm, l in nodes:
            ids = [self.node[p] for p in inputs_of[nm]]
            self.node[nm] = net.add(l.op, ids, nm, l.attrs(), l.shape_attr())
            owner = self.uses[l.name][0]
            if owner != nm:
                net.share(self.node[nm], self.node[owner])
        net.finalize()
        self.net = net
        name_of = {v: k for k, v in self.input_alias.items()}
        self.input_order: List[Tuple[str, str]] = [
            (name_of[nm], nm) for nm in sorted(self.input_alias.values(), key=self.node.__getitem__)]
        self.param_index = {net.param_info(p)["name"]: p for p in range(net.n_params)}
        self._default_outputs = [self.node[self.output_alias[n]] for n in self.output_names]
        self.losses: List[LossSpec] = []
        self.optimizer = None
        self.metrics: Dict[str, str] = {}  # Keras's metric log name -> tlearn's ("accuracy" -> "head_acc")
        self.metric_spec = None
        self.step = 0
        self.rng = np.random.default_rng(seed)
        self.check_finite = False
        # held by fit around each call of the core's training steps, and by whatever reads or writes the
        # whole state (save, pickle, clone, state_dict, load_weights): see "Threads" in Model's docstring
        self.lock = StateLock()
        self.trainer: Optional[Tuple[int, int]] = None
        self.successor: Optional["Engine"] = None
        # a layer object is one set of weights in every model built from it (see tlearn.links)
        links.attach(self, list(self.layers.values()), replaces)

    # ------------------------------------------------------------ threads
    def refuse_if_trained_elsewhere(self) -> None:
        """A TlearnError with the core's "in use" message when another thread is in
        ``fit`` or ``train_on_batch`` (predict, evaluate, compile and a second
        training call are refused for the whole fit, not only while a core call runs)."""
        owner = self.trainer
        if owner is not None and owner[0] != _ident():
            raise _core.TlearnError(IN_USE)

    def claim_training(self) -> None:
        """With ``lock`` held: this thread trains (re-entrant: a callback may train); refused
        as the core refuses a busy network when another thread does.  Undone by
        :meth:`release_training`."""
        owner, me = self.trainer, _ident()
        if owner is None:
            self.trainer = (me, 1)
        elif owner[0] != me:
            raise _core.TlearnError(IN_USE)
        else:
            self.trainer = (me, owner[1] + 1)

    def release_training(self) -> None:
        """With ``lock`` held: the end of a :meth:`claim_training`."""
        me, depth = self.trainer
        self.trainer = None if depth == 1 else (me, depth - 1)

    def training(self) -> _Training:
        """``with engine.training():`` around ``fit``: this thread trains; the lock is
        taken only to claim and release (``fit`` takes it again around each core call)."""
        return _Training(self)

    # ------------------------------------------------------------ parameters
    def views(self, arena: str) -> Dict[str, np.ndarray]:
        """Views of an arena (``"value"``, ``"grad"``, ``"mask"``, ``"snapshot"``,
        ``"fisher"``, ``"m"``, ``"v"``) by parameter name; the values of a
        parameter linked to another model's are its home's."""
        if arena == "value" and self.links:  # the home's values of shared layers
            return {n: net.view(arena, p) for n in self.param_index for net, p in [links.where(self, n)]}
        return {n: self.net.view(arena, p) for n, p in self.param_index.items()}

    def param_trainable(self, name: str) -> bool:
        """Whether parameter ``name`` trains (its home's flag for a linked one)."""
        net, p = links.where(self, name)
        return net.param_info(p)["trainable"]

    # ------------------------------------------------------------- training
    def require_compiled(self, model_name: str) -> None:
        if not self.losses or self.optimizer is None:
            raise _core.TlearnError(f"model '{model_name}' is not compiled: call model.compile(optimizer, "
                                    "loss=...) before training")

    def schedule_target(self, key):
        """``(node ids, core attribute name, loss spec or None)`` of a schedule key
        ``"<layer>.<attribute>"`` or ``"<loss>.weight"`` (see ``Model.fit``)."""
        if not isinstance(key, str) or "." not in key:
            raise KeyError(f"schedules: expected keys '<layer>.<attribute>' or '<loss>.weight', got {key!r}")
        owner, attr = key.rsplit(".", 1)
        if attr == "weight":
            for s in self.losses:
                if s.name == owner:
                    return [s.node], "weight", s
        if owner in self.layers:
            names = dict(_ops.settable(self.layers[owner].op))
            if attr not in names:
                raise KeyError(f"schedules: layer '{owner}' ({type(self.layers[owner]).__name__}) has no settable "
                               f"attribute {attr!r}; settable: {sorted(names) or 'none'}")
            return [self.node[nm] for nm in self.uses[owner]], names[attr], None
        raise KeyError(f"schedules: {key!r} names neither a layer ({', '.join(self.layers)}) nor a loss "
                       f"('<loss>.weight'; losses: {', '.join(s.name for s in self.losses) or 'none: compile first'})")

    # ------------------------------------------------------------ inference
    def output_nodes(self, names) -> List[int]:
        """Core node ids of ``names``: the model's outputs, or any node (an inner layer's features)."""
        nodes = []
        for n in names:
            if n in self.output_alias:
                nodes.append(self.node[self.output_alias[n]])
            elif n in self.node:
                nodes.append(self.node[n])
            else:
                raise KeyError(f"unknown output or layer {n!r}; outputs: {self.output_names}")
        return nodes

    def predict(self, x, batch_size: int, outputs=None):
        """``Model.predict`` on arrays (``batch_size`` already checked): an array for a
        single-output model and ``outputs`` None, else a dict name -> array."""
        if outputs is None:
            names, nodes = self.output_names, self._default_outputs
        else:
            names = list(outputs)
            nodes = self.output_nodes(names)
        xs = feed.input_list(self, x)
        links.pull(self)
        res = self.net.forward(xs, nodes, False, min(batch_size, _core.INT_MAX))
        if outputs is None and len(names) == 1:
            return res[0]
        return dict(zip(names, res))
