"""One way to run N independent training runs: serially in this process, or side by side, each in
its own process. On a CPU, one run per core with one torch thread each divides a comparison's wall
time by the number of cores. A run in its own process logs to ``<run>/log.txt`` (the terminal stays
readable) and resumes like any run; its result is read from its folder afterwards.
"""
from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fdsl.errors import FdslError, check

log = logging.getLogger(__name__)
LOG_FILE = "log.txt"


@dataclasses.dataclass(frozen=True)
class Run:
    """``train(config, out, resume=True)``: ``train`` is module-level (a spawned child imports it)."""

    train: Callable[..., Any]
    config: Any
    out: Path


def run_all(runs: Sequence[Run], jobs: int) -> list[Any]:
    """Every run to the end and its :class:`fdsl.train.trainer.FitResult`, in the order given: one
    after the other in this process when ``jobs`` is 1, else ``jobs`` processes at a time
    (:func:`run_parallel`)."""
    check(jobs >= 1, f"jobs = {jobs}; allowed: >= 1")
    if jobs == 1:
        return [run.train(run.config, Path(run.out), resume=True) for run in runs]
    from fdsl.train.trainer import FitResult

    run_parallel(runs, jobs)
    return [FitResult.read(Path(run.out)) for run in runs]


def run_logged(train: Callable[..., Any], config: Any, out: Path, parent_pid: int | None = None) -> None:
    """A child's run, logged to ``out/log.txt``; it ends when ``parent_pid`` does (a study killed
    with SIGTERM or SIGKILL runs no clean-up that would stop its children)."""
    from fdsl.data.processes import exit_when_gone
    from fdsl.train.distributed import configure_logging

    if parent_pid is not None:
        exit_when_gone(parent_pid)

    out.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(out / LOG_FILE)
    handler.setFormatter(logging.Formatter("%(message)s"))
    configure_logging()
    logger = logging.getLogger("fdsl")
    logger.handlers = [handler]
    try:
        train(config, out, resume=True)
    except FdslError as error:
        logger.error("fdsl: error: %s", error)
        raise SystemExit(2) from None


#: A child run that has written nothing in its folder for this many times its train.timeout_s is
#: stuck in a way its own time-outs did not catch: it is killed and reported as failed.
STALL_FACTOR = 3


def stall_limit_s(config: Any) -> float:
    return STALL_FACTOR * config.train.timeout_s


def quiet_for_s(out: Path, since: float) -> float:
    """Seconds since anything in the run folder ``out`` last changed (or since ``since``, a time.time())."""
    times = [since] + [entry.stat().st_mtime for entry in Path(out).glob("*") if entry.exists()]
    return time.time() - max(times)


def wait_watched(process: multiprocessing.Process, out: Path, limit_s: float, kill: Callable[[], None]) -> bool:
    """Wait for ``process`` to end; when the run folder ``out`` stays unchanged for ``limit_s``
    seconds, ``kill()`` it instead. True when it was killed."""
    started = time.time()
    while process.is_alive():
        if quiet_for_s(out, started) > limit_s:
            kill()
            process.join()
            return True
        process.join(timeout=1.0)
    return False


def run_parallel(runs: Sequence[Run], jobs: int) -> None:
    """Run every run to the end, ``jobs`` processes at a time (a finished run is skipped); after a
    failure no new run starts, the running ones finish, and the first failure is raised.

    The children are spawned, not forked: no torch or numba state is shared. A run whose folder
    stays unchanged for :data:`STALL_FACTOR` x its ``train.timeout_s`` is killed and reported: no
    caller waits on a stuck run forever.
    """
    check(jobs >= 1, f"jobs = {jobs}; allowed: >= 1")
    check(int(os.environ.get("WORLD_SIZE", 1)) == 1, "--jobs runs its own processes: not under torchrun")
    from fdsl.train.checkpoint import is_finished

    # Spawned, never forked: this process may run threads (a progress bar's, a logger's), and a
    # child forked while one of them holds a lock can hang (issue 15).
    context = multiprocessing.get_context("spawn")
    pending = [run for run in runs if not is_finished(Path(run.out), run.config)]  # no process just to find it done
    running, failed, stalled = {}, [], {}
    try:
        while (pending and not failed) or running:
            while pending and not failed and len(running) < jobs:
                run = pending.pop(0)
                process = context.Process(target=run_logged, args=(run.train, run.config, Path(run.out), os.getpid()))
                process.start()
                running[process] = (Path(run.out), stall_limit_s(run.config), time.time())
                log.info("started %s (log: %s)", run.out, Path(run.out) / LOG_FILE)
            time.sleep(0.2)
            for process, (out, limit, started) in running.items():
                if process.is_alive() and quiet_for_s(out, started) > limit:
                    process.kill()  # reported below, once it has exited
                    stalled[out] = limit
            for process in [p for p in running if not p.is_alive()]:
                out = running.pop(process)[0]
                (failed.append(out) if process.exitcode != 0 else log.info("finished %s", out))
    finally:
        for process in running:
            process.terminate()
    if failed:
        raise FdslError(failure_message(failed[0], stalled.get(failed[0])))


def failure_message(out: Path, stalled_s: float | None) -> str:
    path = out / LOG_FILE
    if stalled_s is not None:
        return (f"run {str(out)!r} stalled: nothing written for {stalled_s:g} s ({STALL_FACTOR} x train.timeout_s); "
                f"killed; run the same command again to resume it (log: {path})")
    lines = path.read_text().strip().splitlines() if path.is_file() else []
    reason = lines[-1].removeprefix("fdsl: error: ") if lines else "no log"
    return f"run {str(out)!r} failed: {reason} (log: {path})"
