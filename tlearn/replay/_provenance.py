"""Where a report's numbers came from: the code (tlearn's version, the git
commit and whether the tree had uncommitted changes), when (UTC start and
end), on what (CPU model, cores, RAM, platform), under what load (the load
average at start and end), at what cost (wall time, CPU seconds of this
process and of its worker processes) and from what command.

:class:`Provenance` is started when a section's run starts and finished
when its report is; ``as_dict()`` goes into ``report.json`` under
``"provenance"`` and ``lines()`` into ``report.md``'s header.  Everything is
read from the standard library, ``/proc`` and ``git`` (when it is installed
and tlearn is imported from a git checkout); what cannot be read is said
so, never guessed.
"""
from __future__ import annotations

import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Dict, List, Optional

NOT_A_CHECKOUT = "not a git checkout"


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _git(root: str, *args: str) -> Optional[str]:
    try:
        p = subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=20,
                           env=dict(os.environ, GIT_OPTIONAL_LOCKS="0"))
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout.rstrip("\n") if p.returncode == 0 else None


def code_info(package_dir: Optional[str] = None) -> Dict[str, object]:
    """``{"version", "commit", "branch", "dirty", "changed", "source"}`` of the
    tlearn being run.  ``commit`` is the full hash when tlearn is imported
    from the top of a git checkout (the repository whose root holds the
    ``tlearn`` package), else :data:`NOT_A_CHECKOUT` (``dirty`` and
    ``changed`` are then ``None``).  ``dirty``: whether tracked files had
    uncommitted changes or the package has files git does not track (and
    does not ignore); ``changed``: up to 20 of their paths."""
    import tlearn

    pkg = os.path.realpath(package_dir or os.path.dirname(tlearn.__file__))
    root = os.path.dirname(pkg)
    out: Dict[str, object] = {"version": getattr(tlearn, "__version__", "unknown"), "source": root,
                              "commit": NOT_A_CHECKOUT, "branch": None, "dirty": None, "changed": None}
    top = _git(root, "rev-parse", "--show-toplevel")
    top = top.strip() if top else top
    if top is None or os.path.realpath(top) != root:
        return out   # no git, or tlearn sits inside some other repository (an installed copy)
    commit = (_git(root, "rev-parse", "HEAD") or "").strip()
    if not commit:
        return out
    out["commit"] = commit
    branch = (_git(root, "rev-parse", "--abbrev-ref", "HEAD") or "").strip()
    out["branch"] = branch if branch and branch != "HEAD" else None
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "--", os.path.basename(pkg))
    if status is None or untracked is None:
        out["dirty"] = None
    else:
        changed = [ln[3:] for ln in status.splitlines() if ln.strip()]
        changed += [f"{ln} (untracked)" for ln in untracked.splitlines() if ln.strip()]
        out["dirty"] = bool(changed)
        out["changed"] = changed[:20]
    return out


def machine_info() -> Dict[str, object]:
    """CPU model, logical cores (and those this process may use), RAM in
    GiB, platform and Python, NumPy versions."""
    import numpy as np

    cpu = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cpu = cpu or platform.processor() or platform.machine() or "unknown"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    ram = None
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    except (AttributeError, ValueError, OSError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": usable,
            "ram_gib": None if ram is None else round(ram, 1), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__}


def load_average() -> Optional[List[float]]:
    """The 1, 5 and 15 minute load averages, or None where unknown."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _cpu_seconds() -> Dict[str, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"self": me.ru_utime + me.ru_stime, "workers": ch.ru_utime + ch.ru_stime}


def command_line() -> str:
    """This process's command line (``sys.argv``), quoted for a shell."""
    argv = list(sys.argv) or ["python"]
    if argv[0] == "-c":   # python -c: the program's text is not kept
        return "python -c ..." + "".join(" " + shlex.quote(a) for a in argv[1:])
    prog = shlex.quote(argv[0])
    if argv[0].endswith("/tlearn/__main__.py"):
        prog = "python -m tlearn"
    elif os.path.basename(argv[0]) == "tlearn":
        prog = "tlearn"
    return " ".join([prog] + [shlex.quote(a) for a in argv[1:]])


class Provenance:
    """Started with the run's ``arguments`` (a dict: section, scale, seeds,
    data, workers, ...); :meth:`finish` reads the end.  CPU seconds count
    this process and its worker processes between start and finish (the
    workers' once they have ended, as a section's do before its report is
    made)."""

    def __init__(self, arguments: Optional[dict] = None, command: Optional[str] = None):
        self.arguments = dict(arguments or {})
        self.command = command if command is not None else command_line()
        self.code = code_info()
        self.machine = machine_info()
        self.start_utc = _utc_now()
        self.load_start = load_average()
        self._t0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()
        self.end_utc: Optional[str] = None
        self.load_end: Optional[List[float]] = None
        self.wall = None
        self.cpu: Optional[Dict[str, float]] = None

    def finish(self) -> "Provenance":
        self.wall = time.perf_counter() - self._t0
        cpu1 = _cpu_seconds()
        self.cpu = {k: round(cpu1[k] - self._cpu0[k], 2) for k in cpu1}
        self.cpu["total"] = round(self.cpu["self"] + self.cpu["workers"], 2)
        self.end_utc = _utc_now()
        self.load_end = load_average()
        return self

    def as_dict(self) -> dict:
        return {"tlearn": self.code, "machine": self.machine, "command": self.command,
                "arguments": self.arguments, "start_utc": self.start_utc, "end_utc": self.end_utc,
                "load_average_start": self.load_start, "load_average_end": self.load_end,
                "wall_seconds": None if self.wall is None else round(self.wall, 2), "cpu_seconds": self.cpu}


def _code_words(code: dict) -> str:
    v = f"tlearn {code.get('version')}"
    c = code.get("commit")
    if not c or c == NOT_A_CHECKOUT:
        return f"{v}, {NOT_A_CHECKOUT} ({code.get('source')})"
    b = f" on branch {code['branch']}" if code.get("branch") else ""
    if code.get("dirty") is None:
        state = "whether the tree had uncommitted changes is unknown"
    elif code["dirty"]:
        ch = code.get("changed") or []
        state = "with uncommitted changes to " + ", ".join(ch[:5]) + (", ..." if len(ch) > 5 else "")
    else:
        state = "no uncommitted changes"
    return f"{v} at commit {c[:12]}{b}, {state}"


def _load_words(load) -> str:
    return "unknown" if not load else f"{load[0]:.2f} (1 min), {load[1]:.2f} (5 min), {load[2]:.2f} (15 min)"


def provenance_lines(p: dict) -> List[str]:
    """``report.md``'s header lines for a provenance dict (as
    :meth:`Provenance.as_dict` gives and ``report.json`` keeps)."""
    m, cpu = p.get("machine", {}), p.get("cpu_seconds") or {}
    args = ", ".join(f"{k} {v}" for k, v in p.get("arguments", {}).items() if v is not None)
    ram = m.get("ram_gib")
    wall = p.get("wall_seconds")
    out = [f"- Code: {_code_words(p.get('tlearn', {}))}.",
           f"- Run: {p.get('start_utc')} to {p.get('end_utc')}; wall time "
           f"{'unknown' if wall is None else f'{wall:.1f} s'}; CPU time {cpu.get('total', float('nan')):.1f} s "
           f"(this process {cpu.get('self', float('nan')):.1f} s, worker processes "
           f"{cpu.get('workers', float('nan')):.1f} s).",
           f"- Machine: {m.get('cpu')}, {m.get('cores')} cores ({m.get('cores_usable')} usable), "
           f"{'unknown' if ram is None else f'{ram:g} GiB'} RAM; {m.get('platform')}; Python {m.get('python')}, "
           f"NumPy {m.get('numpy')}.",
           f"- Load average: {_load_words(p.get('load_average_start'))} at the start; "
           f"{_load_words(p.get('load_average_end'))} at the end.",
           f"- Command: `{p.get('command')}` ({args})."]
    return out
