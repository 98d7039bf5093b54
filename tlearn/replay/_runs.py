"""Independent training runs of a replay, side by side in worker processes.

A replay trains many small networks (methods x seeds) that do not depend on
each other.  One run of the Ganin MNIST network uses two threads poorly
(measured on 2 CPUs: a DANN step at batch 128 takes 41.8 ms with two
threads and 58.4 ms with one, so the second thread buys 1.4x), while two
runs at one thread each keep both CPUs busy with no thread hand-offs.
:class:`Runs` forks ``workers`` processes (``fork``: the parent's data is
shared, not copied, and no main module is imported again, so a script
without ``if __name__ == "__main__"`` works), sets one core thread in each,
and hands them runs.  The core's thread pool restarts its threads after a
fork (its atfork handler); the workers never print.

The numbers do not depend on ``workers``: every run has its own seed, the
caller orders the results itself, and the core's results are the same bits
for any number of its threads (OpenBLAS, whose results change with its
thread count, runs on one thread inside the core's parts).  With
``workers=1`` the runs happen in the calling process, in order, on its
threads.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from typing import Callable, Optional


def _one_thread() -> None:
    """Worker initializer: one core thread; SIGTERM ends the worker at once
    and SIGINT is left to the parent (which stops the workers itself)."""
    import signal

    from .. import set_num_threads

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_num_threads(1)


def default_workers(n_runs: int) -> int:
    """``$TLEARN_REPLAY_WORKERS`` if set, else the CPUs this process may
    use; never more than ``n_runs``, never fewer than 1."""
    v = os.environ.get("TLEARN_REPLAY_WORKERS", "")
    if v:
        try:
            n = int(v)
        except ValueError:
            raise ValueError(f"TLEARN_REPLAY_WORKERS must be a positive integer, got {v!r}") from None
        if n < 1:
            raise ValueError(f"TLEARN_REPLAY_WORKERS must be a positive integer, got {v!r}")
    else:
        try:
            n = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            n = os.cpu_count() or 1
    return max(1, min(n, n_runs))


class _Done:
    """The result of a run made in the calling process (``workers=1``)."""

    def __init__(self, fn: Callable, args: tuple):
        self._fn, self._args = fn, args

    def get(self):
        return self._fn(*self._args)


class Runs:
    """``with Runs(workers) as runs: r = runs.submit(fn, *args); ... r.get()``.

    ``fn`` must be a module-level function (the workers import it by name)
    and its result picklable (arguments are
    pickled too).  With ``workers > 1`` the runs
    start at ``submit``; ``get()`` waits for one and re-raises its error.
    With ``workers == 1`` a run happens at its ``get()``, in this process.
    """

    def __init__(self, workers: int):
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        self.workers = workers
        self._pool: Optional[mp.pool.Pool] = None

    def __enter__(self) -> "Runs":
        if self.workers > 1:
            self._pool = mp.get_context("fork").Pool(self.workers, initializer=_one_thread)
        return self

    def submit(self, fn: Callable, *args):
        if self._pool is None:
            return _Done(fn, args)
        return self._pool.apply_async(fn, args)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._pool is not None:
            if exc_type is None:
                self._pool.close()
            else:
                self._pool.terminate()
            self._pool.join()
            self._pool = None
