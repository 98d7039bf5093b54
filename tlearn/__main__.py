"""Command line: ``tlearn replay NAME... | all [--quick] [--seeds N] [--out DIR]``
(or ``python -m tlearn replay ...``).

Replays the lecture's sections (see :mod:`tlearn.replay`) and writes, for
each, ``DIR/<section>/report.md``, ``report.json`` and PNG figures
(``DIR`` defaults to ``./tlearn-replay``).  ``--quick`` (or
``TLEARN_QUICK=1``) runs fewer seeds and epochs.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv=None) -> int:
    from tlearn import replay

    p = argparse.ArgumentParser(prog="tlearn", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("replay", help="replay sections of the lecture and write their reports")
    r.add_argument("names", nargs="+", metavar="NAME", help=f"'all' or sections among {', '.join(replay.SECTIONS)}")
    r.add_argument("--quick", action="store_true", help="fewer seeds and epochs (also TLEARN_QUICK=1)")
    r.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the section's)")
    r.add_argument("--out", default="tlearn-replay", help="output directory (default: ./tlearn-replay)")
    args = p.parse_args(argv)
    names = list(args.names)
    if names == ["all"]:
        names = replay.available()
    have = replay.available()
    for n in names:
        if n not in replay.SECTIONS:
            p.error(f"unknown section {n!r}; expected 'all' or some of {list(replay.SECTIONS)}")
        if n not in have:
            p.error(f"section {n!r} does not exist yet; available: {have}")
    if args.seeds is not None and args.seeds < 1:
        p.error(f"--seeds must be >= 1, got {args.seeds}")
    t0 = time.perf_counter()
    for n in names:
        rep = replay.run(n, quick=args.quick, seeds=args.seeds, out=args.out)
        held = sum(c["holds"] for c in rep.claims)
        print(f"{n}: {held} of {len(rep.claims)} claims hold ({rep.seconds:.1f} s); "
              f"report: {os.path.join(args.out, n, 'report.md')}")
        for c in rep.claims:
            print(f"  [{'holds' if c['holds'] else 'does NOT hold'}] {c['statement']}: ours {c['ours']}; paper {c['paper']}")
    print(f"total {time.perf_counter() - t0:.1f} s; reports under {os.path.abspath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
