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
``SECTIONS``: declarations (``TITLE``, ``SCALES``, ``CLAIMS``) and
measurement (``load``, ``units``, ``measure``, ``figures``); the machinery
in :mod:`tlearn.replay._section` runs it (seeds, workers, progress, the
long results table, tables, claims and their verdicts, figures).
CONTRIBUTING.md, "How to add a replay", shows a whole section.
:func:`run` finds the module by name; nothing else is registered.
"""
from __future__ import annotations

import importlib
import os
from typing import List, Optional

from ._report import Progress, Report, mean_std, summarize
from ._data import FashionData, fashion
from ._section import Claim, Results, Sel, Unit, run_section

SECTIONS = ("finetune", "layers", "multitask", "progressive", "dann", "zeroshot", "selftaught")

__all__ = ["SECTIONS", "SCALES", "available", "run", "is_quick", "section", "Report", "Progress", "mean_std",
           "summarize", "FashionData", "fashion", "Claim", "Results", "Sel", "Unit"]

#: the scales a section may declare ("paper" is optional)
SCALES = ("quick", "full", "paper")


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


def section(name: str):
    """The module of section ``name`` (ValueError if unknown or absent)."""
    if name not in SECTIONS:
        raise ValueError(f"unknown replay section {name!r}; expected one of {list(SECTIONS)}")
    if name not in available():
        raise ValueError(f"replay section {name!r} does not exist yet; available: {available()}")
    return importlib.import_module(f"{__name__}.{name}")


def run(name: str, quick: bool = False, scale: Optional[str] = None, seeds: Optional[int] = None, data=None,
        progress=None, out: Optional[str] = None, workers: Optional[int] = None, header=None) -> Report:
    """Run the section ``name`` and return its :class:`Report`; with
    ``out``, write it to ``out/<name>/``.

    ``scale``: ``"quick"``, ``"full"`` (default) or ``"paper"`` (where the
    section declares it); ``quick=True`` (or ``TLEARN_QUICK=1``) means
    ``"quick"`` when ``scale`` is not given.  ``seeds``: how many (1 to
    100; default: the scale's).  ``data``: ``"subset"`` (shipped),
    ``"full"`` (Debian's Fashion-MNIST), ``None`` (full when installed) or
    a data object the section accepts.  ``progress``: a callable taking a
    line, ``None`` (stderr) or ``False`` (silent).  ``workers``: runs side
    by side (default ``$TLEARN_REPLAY_WORKERS`` or the CPUs; the numbers
    do not depend on it)."""
    from ._section import check_seeds

    mod = section(name)
    if scale is None:
        scale = "quick" if is_quick(quick) else "full"
    elif scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)}, got {scale!r}")
    if seeds is not None:
        check_seeds(seeds)
    report = run_section(mod, scale=scale, seeds=seeds, data=data, progress=progress, workers=workers,
                         header=header)
    if out is not None:
        report.write(os.path.join(out, name))
    return report
