"""A run of any task with several DDP processes on one machine, started through torch's launcher API
(:func:`torch.distributed.launcher.api.elastic_launch`, what ``torchrun --standalone`` runs).

The launcher runs in a child process of its own session: when the run folder stays unchanged for
3 x ``train.timeout_s`` (a hang that the ranks' own time-outs did not catch), that session (the
launcher and every rank) is killed and reported. The ranks write to this process's terminal;
only rank 0 logs. A failing rank ends the run with one line naming the rank and its error.
"""
from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import signal
import tempfile
import uuid
from pathlib import Path
from typing import Any

from fdsl.errors import FdslError, check
from fdsl.tasks import PHASE_WORDS

#: Seconds between the launcher's looks at its ranks.
MONITOR_INTERVAL_S = 1.0


def run_distributed(task: str, phase: str, config: Any, out: Path, processes: int):
    """Train ``config`` (a ``phase`` config of the task named ``task``) into ``out`` with ``processes``
    DDP processes (gloo on a CPU), splitting the recipe's batch between them; returns the run's
    result, read from its folder."""
    from fdsl.configs import to_dict
    from fdsl.experiments.jobs import stall_limit_s, wait_watched
    from fdsl.train.checkpoint import is_finished
    from fdsl.train.trainer import FitResult

    check(config.train.batch_size % processes == 0,
          f"batch size {config.train.batch_size} does not split into {processes} processes")
    config = dataclasses.replace(config, train=dataclasses.replace(
        config.train, batch_size=config.train.batch_size // processes))
    out = Path(out)
    if is_finished(out, config):
        return FitResult.read(out)
    out.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")  # never forked: see fdsl.experiments.jobs
    reader, writer = context.Pipe(duplex=False)
    launcher = context.Process(target=launch_ranks, args=(task, phase, to_dict(config), str(out), processes, writer))
    launcher.start()
    writer.close()
    try:
        limit = stall_limit_s(config)
        if wait_watched(launcher, out, limit, lambda: kill_session(launcher)):
            raise FdslError(f"distributed {PHASE_WORDS[phase]} stalled: nothing written to {str(out)!r} for {limit:g} s "
                            "(3 x train.timeout_s); killed; run the same command again to resume it")
    finally:
        if launcher.is_alive():  # interrupted (Ctrl-C): the ranks go with it
            kill_session(launcher)
            launcher.join()
    failure = received(reader)
    if launcher.exitcode != 0 or failure:
        reason = failure or f"the launcher ended with exit status {launcher.exitcode}"
        raise FdslError(f"distributed {PHASE_WORDS[phase]} failed: {reason}; run the same command again to resume it")
    return FitResult.read(out)


def received(reader) -> str | None:
    """What the launcher sent, if anything (a closed pipe also polls as ready)."""
    try:
        return reader.recv() if reader.poll() else None
    except EOFError:
        return None


def kill_session(launcher: multiprocessing.Process) -> None:
    """Kill the launcher and its ranks (the session :func:`launch_ranks` started)."""
    try:
        os.killpg(launcher.pid, signal.SIGKILL)
    except ProcessLookupError:  # the launcher had not started its session yet
        launcher.kill()


def launch_ranks(task: str, phase: str, config: dict[str, Any], out: str, processes: int, report) -> None:
    """The launcher (a child process): start ``processes`` ranks of :func:`run_rank` and wait;
    on a failure, send one line naming the first failed rank through ``report`` and exit 1."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    os.setsid()  # a session of its own, which the watchdog kills whole
    # As torchrun does for several processes per node: one torch thread each, unless set.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # The failure is reported as one line below; torch's own account of it would repeat it.
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="fdsl-launch-") as logs:
        launch = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=processes, rdzv_backend="c10d",
                              rdzv_endpoint="localhost:0", run_id=f"fdsl-{uuid.uuid4().hex}", max_restarts=0,
                              monitor_interval=MONITOR_INTERVAL_S, logs_specs=DefaultLogsSpecs(log_dir=logs))
        try:
            elastic_launch(launch, run_rank)(task, phase, config, out)
        except ChildFailedError as error:
            rank, failure = error.get_first_failure()
            report.send(f"rank {rank}: {failure_reason(failure.message)}")
            raise SystemExit(1) from None
        except Exception as error:  # the launcher itself (rendezvous, a rank it could not start)
            report.send(f"the launcher: {type(error).__name__}: {error}")
            raise SystemExit(1) from None


def failure_reason(message: Any) -> str:
    """The last line of a failed rank's error (torch's error file holds ``{"message": "Type: text"}``)."""
    text = message.get("message", "") if isinstance(message, dict) else str(message)
    lines = text.strip().splitlines() or ["no message"]
    return lines[-1].removeprefix("FdslError: ")


def run_rank(task: str, phase: str, config: dict[str, Any], out: str) -> None:
    """One rank (started by the launcher with torchrun's environment): the resolved config, resumed."""
    from fdsl.configs import from_dict
    from fdsl.tasks import get_task
    from fdsl.train.distributed import cleanup, configure_logging
    from fdsl.train.run import run

    configure_logging()
    resolved = from_dict(get_task(task).config_class(phase), config)
    resolved.validate()
    try:
        run(task, phase, resolved, Path(out), resume=True)
    finally:
        cleanup()
