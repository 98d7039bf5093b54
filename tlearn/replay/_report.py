"""The report of a replay: data description, tables, claims, figures, and
its writer (``report.md``, ``report.json``, PNGs)."""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    """``{"mean", "std", "n"}`` of ``values`` (sample std, ddof=1; 0 for one value)."""
    v = np.asarray(list(values), dtype=np.float64)
    if v.size == 0:
        raise ValueError("mean_std: no values")
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def fmt(ms: Dict[str, float], digits: int = 3) -> str:
    """``mean ± std``; ``mean (one seed)`` when there is no spread to show."""
    if ms.get("n") == 1:
        return f"{ms['mean']:.{digits}f} (one seed)"
    return f"{ms['mean']:.{digits}f} ± {ms['std']:.{digits}f}"


def summarize(results: Dict[str, Dict[str, Sequence[float]]]) -> List[Dict]:
    """Rows of a table from ``{row: {column: [value per seed]}}``: each row is
    ``{"method": row, column: {"mean", "std", "n", "values"}}``."""
    rows = []
    for method, cols in results.items():
        row = {"method": method}
        for c, vals in cols.items():
            row[c] = dict(mean_std(vals), values=[float(v) for v in vals])
        rows.append(row)
    return rows


class Progress:
    """One line per training run: ``[section] i/total what: value (seconds)``."""

    def __init__(self, section: str, total: int, out: Optional[Callable[[str], None]] = None):
        self.section, self.total, self.i = section, int(total), 0
        self.out = out or (lambda s: print(s, file=sys.stderr, flush=True))
        self.t0 = time.perf_counter()

    def __call__(self, what: str, value: Optional[float] = None) -> None:
        self.i += 1
        v = "" if value is None else f": {value:.3f}"
        self.out(f"[{self.section}] {self.i}/{self.total} {what}{v} ({time.perf_counter() - self.t0:.1f} s)")


class Report:
    """Results of one section.  Attributes: ``section``, ``title``, ``data``
    (dict), ``seeds`` (list), ``quick``, ``scale``, ``tables`` (name -> rows),
    ``claims`` (list of dicts made by :func:`tlearn.replay._section.build_claim`:
    ``key``, ``statement``, ``paper``, ``ours``, ``threshold``, ``diff``,
    ``verdict``, ``holds``, ``why_not``), ``results`` (the long results
    table, :class:`~tlearn.replay._section.Results`), ``figures`` (name ->
    drawing function), ``notes`` (list of str), ``seconds`` (wall time from
    ``started``, a ``time.perf_counter()`` value, default now, to
    :meth:`finish`), ``provenance`` (a
    :class:`~tlearn.replay._provenance.Provenance`, started here unless the
    machinery gives the one it started with the run; :meth:`finish`
    finishes it)."""

    def __init__(self, section: str, title: str, data: dict, seeds: Sequence[int], quick: bool,
                 started: Optional[float] = None):
        self.section, self.title = section, title
        self.data, self.seeds, self.quick = dict(data), [int(s) for s in seeds], bool(quick)
        self.tables: Dict[str, List[Dict]] = {}
        self.table_notes: Dict[str, str] = {}
        self.claims: List[Dict] = []
        self.figures: Dict[str, Callable] = {}
        self.notes: List[str] = []
        self.seconds = 0.0
        self.scale = "quick" if quick else "full"
        self.results = None   # the long results table (tlearn.replay._section.Results), when the machinery ran
        from ._provenance import Provenance
        self.provenance = Provenance({"section": section, "scale": self.scale})  # the machinery gives its own
        self._t0 = time.perf_counter() if started is None else float(started)

    def add_table(self, name: str, rows: List[Dict], note: str = "") -> None:
        self.tables[name] = rows
        if note:
            self.table_notes[name] = note

    def figure(self, name: str, draw: Callable) -> None:
        """``draw(plt)`` draws one figure on matplotlib's pyplot."""
        self.figures[name] = draw

    def finish(self) -> "Report":
        self.provenance.finish()
        self.seconds = time.perf_counter() - self._t0
        return self

    def to_dict(self) -> dict:
        from ._section import VERDICT_RULE

        d = {"section": self.section, "title": self.title, "data": self.data, "seeds": self.seeds,
             "quick": self.quick, "scale": self.scale, "seconds": round(self.seconds, 2), "verdict_rule": VERDICT_RULE,
             "tables": self.tables, "claims": self.claims, "notes": self.notes,
             "figures": sorted(f + ".png" for f in self.figures)}
        if self.provenance is not None:
            d["provenance"] = self.provenance.as_dict()
        if self.results is not None:
            d["results"] = self.results.rows
        return d

    def data_line(self) -> str:
        """The data and their sizes, in words."""
        d = self.data
        return str(d.get("description", d.get("name", "")))

    def table_markdown(self, name: str) -> str:
        rows = self.tables[name]
        cols = [c for c in rows[0] if c != "method"] if rows else []
        lines = ["| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for r in rows:
            cells = [fmt(r[c]) if isinstance(r.get(c), dict) else ("" if r.get(c) is None else str(r[c]))
                     for c in cols]
            lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def claims_markdown(self) -> str:
        lines = ["| claim | paper | ours | verdict |", "|---|---|---|---|"]
        for c in self.claims:
            v = c.get("verdict", "holds" if c["holds"] else "does not hold")
            if c.get("threshold"):
                v += f" (threshold {c['threshold']:g})"
            if not c["holds"] and c.get("why_not"):
                v += f": {c['why_not']}"
            lines.append(f"| {c['statement']} | {c['paper']} | {c['ours']} | {v} |")
        return "\n".join(lines)

    def markdown(self) -> str:
        from ._section import VERDICT_RULE

        out = [f"# {self.title}", "",
               f"Data: {self.data_line()}. Seeds: {self.seeds}. "
               f"Scale: {self.scale}. Time: {self.seconds:.1f} s.", ""]
        if self.provenance is not None:
            from ._provenance import provenance_lines
            out += provenance_lines(self.provenance.as_dict()) + [""]
        out += ["## Claims", "", f"Rule: {VERDICT_RULE}.", "", self.claims_markdown(), ""]
        for name in self.tables:
            out += [f"## {name}", ""]
            if name in self.table_notes:
                out += [self.table_notes[name], ""]
            out += [self.table_markdown(name), ""]
        for f in self.figures:
            out += [f"![{f}]({f}.png)", ""]
        if self.notes:
            out += ["## Notes", ""] + [f"- {n}" for n in self.notes] + [""]
        return "\n".join(out)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def plot(self, name: str):
        """Draw figure ``name`` with matplotlib and return the figure."""
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=(6.4, 4.2))
        self.figures[name](plt)
        fig.tight_layout()
        return fig

    def write(self, directory: str) -> List[str]:
        """Write ``report.md``, ``report.json`` and, when matplotlib is
        installed, one PNG per figure into ``directory``; returns the paths."""
        os.makedirs(directory, exist_ok=True)
        paths = []
        try:
            import matplotlib
            matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError:
            plt = None
            self.notes.append("matplotlib is not installed: no figures were drawn (pip install 'tlearn[notebooks]')")
        if plt is not None:
            for name in self.figures:
                fig = self.plot(name)
                p = os.path.join(directory, name + ".png")
                fig.savefig(p, dpi=110)
                plt.close(fig)
                paths.append(p)
        for fname, text in (("report.json", json.dumps(self.to_dict(), indent=1)), ("report.md", self.markdown())):
            p = os.path.join(directory, fname)
            tmp = p + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, p)
            paths.append(p)
        return paths
