"""Replays of the lecture's sections: experiments that test its claims on
numbers they compute, over several seeds, beside the papers' numbers.

Sections (``SECTIONS``): ``finetune``, ``layers``, ``multitask``,
``progressive``, ``dann``, ``zeroshot``, ``selftaught``; :func:`available`
lists those that exist in this installation.  From the command line::

    tlearn replay finetune layers --out replay-out     # or: tlearn replay all --quick

writes ``DIR/<section>/report.md``, ``report.json`` and PNG figures
(matplotlib is optional: the numbers never need it).  Quick mode
(``--quick``, or ``TLEARN_QUICK=1``) runs fewer seeds and epochs; it is
what the notebooks' tests run.

How a section plugs in
----------------------
A section is a module ``tlearn/replay/<name>.py`` whose name is in
``SECTIONS`` and which defines::

    def run(quick=False, seeds=None, data=None, progress=None) -> Report

* ``quick``: fewer seeds/epochs/examples (call :func:`is_quick` on it, so
  that ``TLEARN_QUICK=1`` also counts);
* ``seeds``: the number of seeds (``None``: the section's default for the
  mode);
* ``data``: a :class:`~tlearn.replay._data.FashionData` (or whatever the
  section documents) to use instead of :func:`~tlearn.replay._data.fashion`;
* ``progress``: a callable taking one line of text (default ``print``),
  called once per training run (:class:`~tlearn.replay._report.Progress`).

It fills a :class:`~tlearn.replay._report.Report`: ``report.data`` (which
data set and sizes), ``report.add_table(name, rows)`` (rows of method x
mean ± std over seeds, made by :func:`~tlearn.replay._report.summarize`),
``report.claim(statement, paper, ours, holds)`` for each of the lecture's
claims (a claim that does not hold is recorded as not holding, never
dropped), and ``report.figure(name, fn)`` where ``fn(plt)`` draws on
matplotlib's pyplot.  :func:`run` finds the module by name; nothing else is
registered.
"""
from __future__ import annotations

import importlib
import os
from typing import List, Optional

from ._report import Progress, Report, mean_std, summarize
from ._data import FashionData, fashion

SECTIONS = ("finetune", "layers", "multitask", "progressive", "dann", "zeroshot", "selftaught")

__all__ = ["SECTIONS", "available", "run", "is_quick", "Report", "Progress", "mean_std", "summarize",
           "FashionData", "fashion"]


def is_quick(quick: bool = False) -> bool:
    """``quick`` or the environment variable ``TLEARN_QUICK`` set to 1."""
    return bool(quick) or os.environ.get("TLEARN_QUICK", "") not in ("", "0")


def available() -> List[str]:
    """The sections of ``SECTIONS`` that exist in this installation."""
    out = []
    for name in SECTIONS:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            continue
        out.append(name)
    return out


def run(name: str, quick: bool = False, seeds: Optional[int] = None, data=None, progress=None,
        out: Optional[str] = None) -> Report:
    """Run the section ``name``; with ``out``, write its report to ``out/<name>/``."""
    if name not in SECTIONS:
        raise ValueError(f"unknown replay section {name!r}; expected one of {list(SECTIONS)}")
    if seeds is not None and (int(seeds) != seeds or seeds < 1):
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    if name not in available():
        raise ValueError(f"replay section {name!r} does not exist yet; available: {available()}")
    mod = importlib.import_module(f"{__name__}.{name}")
    report = mod.run(quick=is_quick(quick), seeds=seeds, data=data, progress=progress)
    if out is not None:
        report.write(os.path.join(out, name))
    return report
