"""Command line: ``tlearn replay NAME... | all [--quick | --scale S] [--seeds N] [--data D] [--out DIR]``
(or ``python -m tlearn replay ...``).

Replays the lecture's sections (see :mod:`tlearn.replay`) and writes, for
each, ``DIR/<section>/report.md``, ``report.json`` and PNG figures
(``DIR`` defaults to ``./tlearn-replay``).  ``--scale quick`` (or
``--quick``, or ``TLEARN_QUICK=1``) runs fewer seeds and epochs; ``--scale
paper`` runs a section as close to its papers as it declares.  Every
argument (and ``TLEARN_REPLAY_WORKERS``) is checked before any training; a
bad one ends the command with a one-line message and exit status 2.
SIGTERM stops the command as SIGINT does: the worker processes end, nothing
is left behind (exit status 143, 130 for SIGINT).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time


class UsageError(Exception):
    """A bad argument: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors, in one line too
        raise UsageError(message)


def _check_out(out: str, names) -> None:
    """The output folder exists or can be made, and is writable, as is each
    section's folder in it."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out!r} exists and is not a directory")
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise UsageError(f"--out {out!r} cannot be created or written: {e.strerror or e}") from None
    for n in names:
        p = os.path.join(out, n)
        if os.path.exists(p) and not os.path.isdir(p):
            raise UsageError(f"{p!r} exists and is not a directory (the {n} report goes there)")
        if os.path.isdir(p) and not os.access(p, os.W_OK | os.X_OK):
            raise UsageError(f"{p!r} is not writable (the {n} report goes there)")


def _parse(argv):
    from tlearn import replay
    from tlearn.replay import _data, _runs
    from tlearn.replay._section import MAX_SEEDS

    p = _Parser(prog="tlearn", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("replay", help="replay sections of the lecture and write their reports")
    r.error = p.error
    r.add_argument("names", nargs="+", metavar="NAME", help=f"'all' or sections among {', '.join(replay.SECTIONS)}")
    r.add_argument("--quick", action="store_true", help="the quick scale (also TLEARN_QUICK=1)")
    r.add_argument("--scale", default=None, help="quick, full (default) or paper")
    r.add_argument("--seeds", default=None, help=f"number of seeds, 1 to {MAX_SEEDS} (default: the scale's)")
    r.add_argument("--data", default=None,
                   help="subset (shipped in tlearn) or full (Debian's Fashion-MNIST; the default when installed)")
    r.add_argument("--out", default="tlearn-replay", help="output directory (default: ./tlearn-replay)")
    args = p.parse_args(argv)
    have = replay.available()
    names = have if list(args.names) == ["all"] else list(args.names)
    for n in names:
        if n not in replay.SECTIONS:
            raise UsageError(f"unknown section {n!r}; expected 'all' or some of {list(replay.SECTIONS)}")
        if n not in have:
            raise UsageError(f"section {n!r} does not exist yet; available: {have}")
    if args.scale is not None and args.scale not in replay.SCALES:
        raise UsageError(f"--scale must be one of {list(replay.SCALES)}, got {args.scale!r}")
    if args.quick and args.scale not in (None, "quick"):
        raise UsageError(f"--quick and --scale {args.scale} disagree")
    scale = args.scale or ("quick" if replay.is_quick(args.quick) else "full")
    for n in names:
        if scale not in replay.section(n).SCALES:
            raise UsageError(f"section {n!r} has no {scale!r} scale; it has {list(replay.section(n).SCALES)}")
    seeds = None
    if args.seeds is not None:
        try:
            seeds = int(args.seeds)
        except ValueError:
            raise UsageError(f"--seeds must be an integer from 1 to {MAX_SEEDS}, got {args.seeds!r}") from None
        if not 1 <= seeds <= MAX_SEEDS:
            raise UsageError(f"--seeds must be an integer from 1 to {MAX_SEEDS}, got {seeds}")
    try:
        _data.check_choice(args.data)
        _runs.default_workers(1)
    except ValueError as e:
        raise UsageError(str(e).replace("data must", "--data must").replace("data 'full'", "--data full")) from None
    _check_out(args.out, names)
    return names, scale, seeds, args.data, args.out


class _Terminated(BaseException):
    pass


def _on_sigterm(signum, frame):
    raise _Terminated()


def main(argv=None) -> int:
    try:
        names, scale, seeds, data, out = _parse(argv)
    except UsageError as e:
        print(f"tlearn: error: {e}", file=sys.stderr)
        return 2
    from tlearn import replay

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    t0 = time.perf_counter()
    try:
        for n in names:
            rep = replay.run(n, scale=scale, seeds=seeds, data=data, out=out,
                             header=lambda line: print(line, flush=True))
            held = sum(c["holds"] for c in rep.claims)
            print(f"{n}: {held} of {len(rep.claims)} claims hold ({rep.seconds:.1f} s, {rep.data_line()}); "
                  f"report: {os.path.join(out, n, 'report.md')}", flush=True)
            for c in rep.claims:
                print(f"  [{c['verdict']}] {c['statement']}: ours {c['ours']}; paper {c['paper']}", flush=True)
    except _Terminated:
        print("tlearn: terminated (SIGTERM); worker processes stopped", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("tlearn: interrupted; worker processes stopped", file=sys.stderr)
        return 128 + signal.SIGINT
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"total {time.perf_counter() - t0:.1f} s; reports under {os.path.abspath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
