"""The verdicts of the committed replay reports, as a markdown table.

``python -m tlearn.replay.verdicts docs/results`` prints, for every section
of :data:`tlearn.replay.SECTIONS`, the verdicts of its committed report
(``docs/results/<section>/report.json``): a summary row per section (how
many claims hold, do not hold, are not determined; the scale, seeds, commit,
date, wall time and load the report came from) and, per section, each
claim's statement, verdict, our numbers and the paper's, linked to the
section's ``report.md``.  A section without a committed report is listed as
not yet run at paper scale, so the table shows what is missing instead of
hiding it.  ``--readme README.md`` rewrites the table between its markers in
that file; ``--check`` exits with status 1, changing nothing, when the file's
table differs from what the reports give (the tests check it too).

Everything in the table is read from the reports; nothing is recomputed
or typed by hand.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional

from . import SECTIONS
from ._section import FAILS, HOLDS, UNDETERMINED

BEGIN = ("<!-- verdicts: written by `python -m tlearn.replay.verdicts docs/results --readme README.md` "
         "from the committed reports; do not edit by hand -->")
END = "<!-- end of verdicts -->"
NOT_RUN = "not yet run at paper scale"


def load_reports(directory: str) -> Dict[str, Optional[dict]]:
    """``{section: report.json as a dict, or None}`` for every section, in
    :data:`SECTIONS` order."""
    out: Dict[str, Optional[dict]] = {}
    for s in SECTIONS:
        p = os.path.join(directory, s, "report.json")
        if os.path.isfile(p):
            with open(p, encoding="utf-8") as f:
                out[s] = json.load(f)
        else:
            out[s] = None
    return out


def _cell(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _run_words(d: dict, by_hand: Optional[str] = None) -> str:
    n = len(d.get("seeds", []))
    data = d.get("data", {}).get("name", "?")
    head = f"{d.get('scale')} scale, {n} seed{'s' if n != 1 else ''}"
    try:
        from . import section
        declared = section(d["section"]).SCALES[d["scale"]]["seeds"]
    except (KeyError, ValueError):
        declared = n
    if declared != n:
        head += f" (the scale declares {declared})"
    head += f", {data}"
    p = d.get("provenance")
    if not p:
        where = f"; the folder's {by_hand} gives it by hand" if by_hand else ""
        return (f"{head}; {d.get('seconds', 0):.0f} s wall; no provenance in the report (written before reports "
                f"carried it{where})")
    code = p.get("tlearn", {})
    commit = code.get("commit") or "?"
    if len(commit) == 40:
        commit = commit[:10] + (" + uncommitted changes" if code.get("dirty") else "")
    la, lb = p.get("load_average_start"), p.get("load_average_end")
    load = f"load {la[0]:.1f} to {lb[0]:.1f}" if la and lb else "load unknown"
    cpu = (p.get("cpu_seconds") or {}).get("total")
    cpu = f", {cpu:.0f} s CPU" if cpu is not None else ""
    return (f"{head}; commit {commit}, {str(p.get('start_utc', '?'))[:10]}; {p.get('wall_seconds', 0):.0f} s wall{cpu}, "
            f"{load}, {(p.get('machine') or {}).get('cores', '?')} cores")


def _counts(d: dict) -> Dict[str, int]:
    out = {HOLDS: 0, FAILS: 0, UNDETERMINED: 0}
    for c in d["claims"]:
        out[c["verdict"]] = out.get(c["verdict"], 0) + 1
    return out


def markdown(directory: str, link: Optional[str] = None) -> str:
    """The table (without the markers) for the reports under ``directory``;
    links go to ``<link>/<section>/report.md`` (default: ``directory``)."""
    link = (directory if link is None else link).rstrip("/")
    reports = load_reports(directory)
    lines = ["| section | claims | hold | do not hold | not determined | the run |", "|---|---|---|---|---|---|"]
    for s, d in reports.items():
        if d is None:
            lines.append(f"| {s} | {NOT_RUN} | | | | |")
            continue
        n = _counts(d)
        by_hand = "README.md" if os.path.isfile(os.path.join(directory, s, "README.md")) else None
        lines.append(f"| [{s}]({link}/{s}/report.md) | {len(d['claims'])} | {n[HOLDS]} | {n[FAILS]} | "
                     f"{n[UNDETERMINED]} | {_cell(_run_words(d, by_hand))} |")
    for s, d in reports.items():
        if d is None:
            continue
        lines += ["", f"**[{s}]({link}/{s}/report.md)**: {_cell(d.get('title', ''))}", "",
                  "| claim | verdict | ours | paper |", "|---|---|---|---|"]
        for c in d["claims"]:
            v = c["verdict"] + (f" (threshold {c['threshold']:g})" if c.get("threshold") else "")
            lines.append(f"| {_cell(c['statement'])} | {v} | {_cell(c['ours'])} | {_cell(c['paper'])} |")
    return "\n".join(lines) + "\n"


def block(directory: str, link: Optional[str] = None) -> str:
    """The table between its markers, as the README holds it."""
    return f"{BEGIN}\n\n{markdown(directory, link)}\n{END}"


def readme_block(text: str) -> Optional[str]:
    """The marked block of a README's text (markers included), or None."""
    i = text.find(BEGIN)
    j = text.find(END, i + 1) if i >= 0 else -1
    return None if i < 0 or j < 0 else text[i:j + len(END)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tlearn.replay.verdicts", description=__doc__.split("\n\n")[0])
    p.add_argument("directory", help="the folder of the committed reports (docs/results)")
    p.add_argument("--readme", help="rewrite the table between the markers of this file")
    p.add_argument("--check", action="store_true", help="with --readme: exit 1 if its table is not up to date")
    a = p.parse_args(argv)
    if not os.path.isdir(a.directory):
        print(f"verdicts: {a.directory!r} is not a directory", file=sys.stderr)
        return 2
    if not a.readme:
        print(markdown(a.directory), end="")
        return 0
    link = os.path.relpath(a.directory, os.path.dirname(os.path.abspath(a.readme))).replace(os.sep, "/")
    with open(a.readme, encoding="utf-8") as f:
        text = f.read()
    old = readme_block(text)
    if old is None:
        print(f"verdicts: {a.readme} has no table markers (a line {BEGIN!r} and, after it, {END!r})",
              file=sys.stderr)
        return 2
    new = block(a.directory, link)
    if a.check:
        if old != new:
            print(f"verdicts: the table in {a.readme} differs from the reports under {a.directory}; run "
                  f"python -m tlearn.replay.verdicts {a.directory} --readme {a.readme}", file=sys.stderr)
            return 1
        return 0
    if old != new:
        from ..io import write_atomic
        write_atomic(a.readme, text.replace(old, new).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
