"""The machinery every replay section shares.

A section is a module of declarations and measurement (see CONTRIBUTING.md,
"How to add a replay")::

    TITLE = "..."
    SCALES = {"quick": {"seeds": 1, ...}, "full": {"seeds": 3, ...}}   # optional "paper"
    def load(s, data=None): ...            # the data, loaded once; .describe() -> dict
    def units(s): ...                      # [Unit(name, args), ...] for ONE seed
    def measure(data, unit, seed, s): ...  # [(method, setting, metric, value), ...]
    CLAIMS = [Claim(...), ...]             # or def claims(s): ...
    ABOUT = {...}                          # optional: more for the report's data dict
    def figures(results, s): ...           # optional: {name: draw(plt)}
    def tables(results, s): ...            # optional: {name: (rows, note)}
    def derive(results, s): ...            # optional: more rows from all the runs

This module does the rest: it derives the seeds, counts the progress total
from the declared units x seeds, runs every (seed, unit) pair in worker
processes or in this process (the same numbers either way), keeps the long
results table (one row per method, setting, seed, metric, value) that goes
into ``report.json``, builds the mean ± std tables and every claim from
paired per-seed differences, and hands the figures to the report.

Seeds.  The run of unit ``u`` for seed index ``i`` of section ``sec`` gets
the seed ``derive_seed(sec, i, u.name)``: 32-bit FNV-1a of the text
``"sec/i/u.name"``, masked to 31 bits.  It depends on nothing else, so
adding, removing or reordering units leaves the other units' seeds alone.
The seed handed to ``measure`` is a :class:`Seed`: an ``int`` with that
value, its ``index`` (``i``) and ``derive(what)`` for further independent
seeds inside the unit.

Verdicts.  A claim compares ``a`` with ``b`` seed by seed: the paired
differences ``d_i = a_i - b_i`` (or the per-seed quantity its ``paired``
callable computes).  It *holds* when ``mean(d) - se(d) > threshold``
(``se = std(d, ddof=1) / sqrt(n)``), *does not hold* otherwise, and is
*not determined* with fewer than two seeds.
"""
from __future__ import annotations

import importlib
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._report import Progress, Report, fmt, mean_std

__all__ = ["Unit", "Sel", "Claim", "Seed", "Results", "derive_seed", "verdict", "run_section", "scales_of",
           "MAX_SEEDS", "VERDICT_RULE"]

#: the most seeds a replay accepts (``--seeds``)
MAX_SEEDS = 100
VERDICT_RULE = ("a claim holds when the paired per-seed difference clears its threshold beyond its standard "
                "error (mean - se > threshold, se = std / sqrt(seeds)); with one seed it is not determined")
HOLDS, FAILS, UNDETERMINED = "holds", "does not hold", "not determined"


@dataclass(frozen=True)
class Unit:
    """One unit of work for one seed: ``name`` (unique within the section;
    it names the unit's seed) and ``args`` (anything picklable, for
    ``measure``)."""
    name: str
    args: Any = None


@dataclass(frozen=True)
class Sel:
    """A selection of the long results table: one value per seed."""
    method: str
    setting: str = ""
    metric: str = "accuracy"

    def __str__(self) -> str:
        return f"{self.method}{f' ({self.setting})' if self.setting else ''}"


@dataclass(frozen=True)
class Claim:
    """One of the lecture's (or a paper's) claims, tested as
    ``a - b > threshold`` over seeds.

    ``key``: stable identifier (tests and committed reports use it);
    ``statement``: the claim in words; ``paper``: the paper's number or
    source; ``a``: a :class:`Sel`; ``b``: a :class:`Sel` or a constant;
    ``threshold``: what the difference must clear; ``why_not``: why it may
    not hold at this scale (printed when it does not), a string or
    ``why_not(results, s) -> str`` when the reason rests on the run's own
    numbers; ``paired``: instead
    of ``a``/``b``, ``paired(results, s) -> per-seed values`` (a derived
    quantity: a ratio, the worst over settings, ...) tested against the
    threshold; ``describe``: optional ``describe(results, s) -> str``, the
    "ours" text (default: a and b as mean ± std, and the difference)."""
    key: str
    statement: str
    paper: str
    a: Optional[Sel] = None
    b: Union[Sel, float] = 0.0
    threshold: float = 0.0
    why_not: Union[str, Callable] = ""
    paired: Optional[Callable] = None
    describe: Optional[Callable] = None

    def __post_init__(self):
        if (self.a is None) == (self.paired is None):
            raise ValueError(f"claim {self.key!r}: give either a (and b) or paired, not {'both' if self.a else 'neither'}")


def derive_seed(section: str, index: int, unit: str) -> int:
    """32-bit FNV-1a of ``"section/index/unit"``, masked to 31 bits."""
    h = 2166136261
    for ch in f"{section}/{int(index)}/{unit}".encode("utf-8"):
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h & 0x7FFFFFFF


class Seed(int):
    """The seed of one unit's run: an ``int`` (see :func:`derive_seed`)
    carrying ``index`` (the seed's number, 0 .. seeds-1), ``section`` and
    ``unit``.  ``derive(what)``: another independent seed for a part of
    the unit."""

    def __new__(cls, section: str, index: int, unit: str):
        o = int.__new__(cls, derive_seed(section, index, unit))
        o.section, o.index, o.unit = section, int(index), unit
        return o

    def __getnewargs__(self):
        return (self.section, self.index, self.unit)

    def derive(self, what: str) -> int:
        return derive_seed(self.section, self.index, f"{self.unit}/{what}")


def verdict(d: Sequence[float], threshold: float = 0.0) -> Tuple[str, Dict[str, float]]:
    """The verdict on per-seed differences ``d`` and their summary
    ``{"mean", "std", "se", "n", "values"}`` (see the module's rule)."""
    v = np.asarray(list(d), dtype=np.float64)
    n = int(v.size)
    if n == 0 or not np.all(np.isfinite(v)):
        summary = {"mean": float(np.nanmean(v)) if n and np.isfinite(v).any() else float("nan"),
                   "std": float("nan"), "se": float("nan"), "n": n, "values": [float(x) for x in v]}
        return UNDETERMINED, summary
    std = float(v.std(ddof=1)) if n > 1 else 0.0
    se = std / math.sqrt(n) if n > 1 else float("nan")
    summary = {"mean": float(v.mean()), "std": std, "se": se, "n": n, "values": [float(x) for x in v]}
    if n < 2:
        return UNDETERMINED, summary
    return (HOLDS if summary["mean"] - se > threshold else FAILS), summary


class Results:
    """The long results table of a run: ``rows`` (dicts with ``method``,
    ``setting``, ``seed``, ``metric``, ``value``), ``seeds`` (indices) and
    ``keep`` (``{(seed, unit name): what measure kept}``, not serialised)."""

    def __init__(self, rows: List[dict], seeds: Sequence[int], keep: Optional[dict] = None):
        self.rows = rows
        self.seeds = [int(s) for s in seeds]
        self.keep = keep if keep is not None else {}
        self._index = None

    @classmethod
    def from_report(cls, d: dict) -> "Results":
        """The table of a ``report.json`` (a dict as json.load gives it)."""
        return cls([dict(r) for r in d["results"]], d["seeds"])

    def _idx(self):
        if self._index is None or self._index[0] != len(self.rows):
            self._index = (len(self.rows), {(r["method"], r["setting"], r["metric"], r["seed"]): r["value"]
                                            for r in self.rows})
        return self._index[1]

    def add(self, method: str, setting: str, seed: int, metric: str, value: float) -> None:
        self.rows.append({"method": str(method), "setting": str(setting or ""), "seed": int(seed),
                          "metric": str(metric), "value": float(value)})

    def values(self, method, setting: str = "", metric: str = "accuracy") -> np.ndarray:
        """One value per seed, in seed order; ``method`` may be a :class:`Sel`.
        A missing value raises KeyError naming it."""
        if isinstance(method, Sel):
            method, setting, metric = method.method, method.setting, method.metric
        idx = self._idx()
        try:
            return np.array([idx[(method, setting, metric, s)] for s in self.seeds], dtype=np.float64)
        except KeyError:
            raise KeyError(f"no {metric!r} for method {method!r}, setting {setting!r} on every seed "
                           f"{self.seeds}") from None

    def has(self, method: str, setting: str = "", metric: str = "accuracy") -> bool:
        idx = self._idx()
        return all((method, setting, metric, s) in idx for s in self.seeds)

    def _ordered(self, key: str, metric: Optional[str] = None, method: Optional[str] = None) -> List[str]:
        seen: Dict[str, None] = {}
        for r in self.rows:
            if (metric is None or r["metric"] == metric) and (method is None or r["method"] == method):
                seen.setdefault(r[key], None)
        return list(seen)

    def methods(self, metric: Optional[str] = None) -> List[str]:
        return self._ordered("method", metric)

    def settings(self, metric: Optional[str] = None, method: Optional[str] = None) -> List[str]:
        return self._ordered("setting", metric, method)

    def metrics(self) -> List[str]:
        return self._ordered("metric")

    def by_setting(self, metric: str, methods: Optional[Sequence[str]] = None,
                   labels: Optional[Dict[str, str]] = None) -> List[dict]:
        """Table rows: one per method, one column per setting (mean ± std
        over seeds and the per-seed values)."""
        labels = labels or {}
        rows = []
        for m in methods or self.methods(metric):
            row = {"method": labels.get(m, m)}
            for st in self.settings(metric, m):
                v = self.values(m, st, metric)
                row[st or metric] = dict(mean_std(v), values=[float(x) for x in v])
            rows.append(row)
        return rows

    def by_metric(self, metrics: Dict[str, str], setting: str = "", methods: Optional[Sequence[str]] = None,
                  labels: Optional[Dict[str, str]] = None) -> List[dict]:
        """Table rows: one per method, one column per metric (``{column
        title: metric}``) at one setting."""
        labels = labels or {}
        rows = []
        for m in methods or self.methods():
            row = {"method": labels.get(m, m)}
            for title, metric in metrics.items():
                if self.has(m, setting, metric):
                    v = self.values(m, setting, metric)
                    row[title] = dict(mean_std(v), values=[float(x) for x in v])
                else:
                    row[title] = None
            rows.append(row)
        return rows


# ------------------------------------------------------------------ running

#: (section module name) -> data, set in the parent before the workers fork
_SHARED: Dict[str, Any] = {}


def _measure_unit(modname: str, unit: Unit, seed: Seed, s: dict):
    """One (seed, unit) run; in a worker or in this process."""
    mod = sys.modules.get(modname) or importlib.import_module(modname)
    t0 = time.perf_counter()
    out = mod.measure(_SHARED[modname], unit, seed, s)
    keep, notes = None, []
    if isinstance(out, dict):
        rows, keep, notes = out.get("rows", []), out.get("keep"), list(out.get("notes", []))
    else:
        rows = out
    clean = []
    for r in rows:
        if len(r) != 4:
            raise ValueError(f"{modname}.measure({unit.name!r}) must return (method, setting, metric, value) rows, "
                             f"got {r!r}")
        method, setting, metric, value = r
        clean.append((str(method), "" if setting is None else str(setting), str(metric), float(value)))
    return clean, keep, notes, time.perf_counter() - t0


def section_name(mod) -> str:
    return getattr(mod, "SECTION", mod.__name__.rsplit(".", 1)[-1])


def scales_of(mod) -> List[str]:
    return list(mod.SCALES)


def settings_for(mod, scale: str, seeds: Optional[int] = None) -> dict:
    """The settings dict of ``scale`` (a copy), with ``seeds`` replaced
    when given, and ``scale`` named."""
    name = section_name(mod)
    if scale not in mod.SCALES:
        raise ValueError(f"replay section {name!r} has no scale {scale!r}; it has {list(mod.SCALES)}")
    s = dict(mod.SCALES[scale])
    if "seeds" not in s:
        raise ValueError(f"replay section {name!r}: SCALES[{scale!r}] must set 'seeds'")
    if seeds is not None:
        check_seeds(seeds)
        s["seeds"] = int(seeds)
    s["scale"] = scale
    return s


def check_seeds(seeds) -> int:
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or not 1 <= seeds <= MAX_SEEDS:
        raise ValueError(f"seeds must be an integer from 1 to {MAX_SEEDS}, got {seeds!r}")
    return int(seeds)


def _say(progress) -> Callable[[str], None]:
    if callable(progress):
        return progress
    if progress is None or progress is True:
        return lambda line: print(line, file=sys.stderr, flush=True)
    return lambda line: None


def claims_of(mod, s: dict) -> List[Claim]:
    c = mod.claims(s) if callable(getattr(mod, "claims", None)) else getattr(mod, "CLAIMS", [])
    keys = [x.key for x in c]
    if len(set(keys)) != len(keys):
        raise ValueError(f"claim keys must be unique, got {keys}")
    return list(c)


def build_claim(c: Claim, res: Results, s: dict) -> dict:
    """The report's entry for claim ``c``: key, statement, paper, ours,
    threshold, the per-seed differences, verdict and (when it does not
    hold) the reason it may not at this scale."""
    if c.paired is not None:
        d = np.asarray(c.paired(res, s), dtype=np.float64)
        ours = None
    else:
        a = res.values(c.a)
        b = res.values(c.b) if isinstance(c.b, Sel) else np.full_like(a, float(c.b))
        d = a - b
        if isinstance(c.b, Sel):
            la, lb = str(c.a), str(c.b)
            if la == lb:  # the same method and setting: the metrics differ
                la, lb = f"{la} {c.a.metric}", f"{lb} {c.b.metric}"
            ours = f"{la}: {fmt(mean_std(a))} vs {lb}: {fmt(mean_std(b))}"
        elif float(c.b) != 0.0:
            ours = f"{c.a}: {fmt(mean_std(a))} vs {float(c.b):g}"
        else:  # the per-seed values themselves: said once, below
            ours = None
    v, summary = verdict(d, c.threshold)
    if summary["n"] > 1:
        diff = f"{summary['mean']:+.3f} ± {summary['std']:.3f} (se {summary['se']:.3f}, {summary['n']} seeds)"
    else:
        diff = f"{summary['mean']:+.3f} (one seed)"
    if c.paired is not None or isinstance(c.b, Sel) or float(c.b) != 0.0:
        diff = "difference " + diff
    else:
        diff = f"{c.a}: {diff}"
    text = c.describe(res, s) if c.describe is not None else ours
    ours = f"{text}; {diff}" if text else diff
    out = {"key": c.key, "statement": c.statement, "paper": c.paper, "ours": ours, "threshold": float(c.threshold),
           "diff": summary, "verdict": v, "holds": v == HOLDS}
    if v == UNDETERMINED:
        out["why_not"] = ("fewer than two seeds: the spread is unknown" if summary["n"] < 2
                          else "a per-seed value is not finite")
    elif v == FAILS:
        out["why_not"] = c.why_not(res, s) if callable(c.why_not) else c.why_not
    return out


def run_section(mod, scale: str = "full", seeds: Optional[int] = None, data=None, progress=None,
                workers: Optional[int] = None, header: Optional[Callable[[str], None]] = None) -> Report:
    """Run the section module ``mod`` at ``scale`` and return its
    :class:`Report` (with ``report.results``, the :class:`Results`).

    ``seeds``: how many (default: the scale's); ``data``: handed to the
    section's ``load`` (``None``: its default, ``"subset"``/``"full"`` or a
    data object); ``progress``: a callable taking a line, ``True``/``None``
    (stderr) or ``False`` (silent); ``workers``: runs side by side (default
    :func:`~tlearn.replay._runs.default_workers`; 1 runs them in this
    process); ``header``: where the first line (data, sizes, scale) goes
    (default: ``progress``)."""
    from ._provenance import Provenance
    from ._runs import Runs, default_workers

    started = time.perf_counter()
    name = section_name(mod)
    s = settings_for(mod, scale, seeds)
    prov = Provenance({"section": name, "scale": scale, "seeds": s["seeds"],
                       "data": data if data is None or isinstance(data, str) else type(data).__name__,
                       "workers": workers})
    say = _say(progress)
    n_seeds = s["seeds"]
    seed_idx = list(range(n_seeds))
    the_units = list(mod.units(s))
    names = [u.name for u in the_units]
    if len(set(names)) != len(names):
        raise ValueError(f"{name}: unit names must be unique, got {names}")
    claims = claims_of(mod, s)
    d = mod.load(s, data)
    desc = dict(d.describe())
    total = n_seeds * len(the_units)
    w = default_workers(total) if workers is None else workers
    prov.arguments["workers"] = w
    first = (f"[{name}] data: {desc.get('description', desc.get('name', '?'))}; scale {scale}; {n_seeds} seed(s) x "
             f"{len(the_units)} unit(s) = {total} run(s); {w} worker(s)")
    (header or say)(first)
    prog = Progress(name, total, say)
    res = Results([], seed_idx)
    notes: List[str] = []
    modname = mod.__name__
    _SHARED[modname] = d
    done: Dict[Tuple[int, str], tuple] = {}
    seconds: Dict[str, float] = {}
    try:
        with Runs(w) as runs:
            jobs = [((i, u), runs.submit(_measure_unit, modname, u, Seed(name, i, u.name), s))
                    for i in seed_idx for u in the_units]
            for (i, u), job in jobs:
                rows, keep, nts, sec = job.get()
                done[(i, u.name)] = (rows, keep, nts, sec)
                seconds[u.name] = seconds.get(u.name, 0.0) + sec
                head = f"{rows[0][0]} {rows[0][1]} {rows[0][2]}".replace("  ", " ") if rows else "no rows"
                prog(f"seed {i} {u.name} ({len(rows)} values; {sec:.1f} s); {head}", rows[0][3] if rows else None)
    finally:
        _SHARED.pop(modname, None)
    seen: Dict[tuple, str] = {}
    for i in seed_idx:  # the table in a fixed order: seed, then unit as declared
        for u in the_units:
            rows, keep, nts, _ = done[(i, u.name)]
            for method, setting, metric, value in rows:
                k = (method, setting, metric, i)
                if k in seen:
                    raise ValueError(f"{name}: units {seen[k]!r} and {u.name!r} both measured {metric!r} of "
                                     f"method {method!r}, setting {setting!r}, seed {i}")
                seen[k] = u.name
                res.add(method, setting, i, metric, value)
            if keep is not None:
                res.keep[(i, u.name)] = keep
            notes += [f"seed {i}, {u.name}: {n}" for n in nts]
    if callable(getattr(mod, "derive", None)):
        for method, setting, i, metric, value in list(mod.derive(res, s)):
            k = (str(method), "" if setting is None else str(setting), str(metric), int(i))
            if k in seen:
                raise ValueError(f"{name}: derive() gave {metric!r} of method {method!r}, setting {setting!r}, "
                                 f"seed {i} again (from {seen[k]!r})")
            seen[k] = "derive"
            res.add(method, setting, i, metric, value)
    desc.update(getattr(mod, "ABOUT", {}))
    desc.update({k: v for k, v in s.items() if k not in ("seeds",) and _jsonable(v)})
    desc["workers"] = w
    report = Report(name, mod.TITLE, desc, seed_idx, scale == "quick", started=started)
    report.scale = scale
    report.results = res
    report.provenance = prov
    if callable(getattr(mod, "tables", None)):
        for tname, t in mod.tables(res, s).items():
            rows, note = t if isinstance(t, tuple) else (t, "")
            report.add_table(tname, rows, note)
    else:
        for metric in res.metrics():
            report.add_table(metric, res.by_setting(metric))
    for c in claims:
        report.claims.append(build_claim(c, res, s))
    if callable(getattr(mod, "figures", None)):
        for fname, draw in mod.figures(res, s).items():
            report.figure(fname, draw)
    report.notes += notes
    report.notes.append("seconds per unit, summed over seeds (" + f"{w} run(s) side by side): "
                        + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
    return report.finish()


def _jsonable(v) -> bool:
    return isinstance(v, (int, float, str, bool)) or (isinstance(v, (list, tuple)) and
                                                       all(isinstance(x, (int, float, str, bool)) for x in v))
