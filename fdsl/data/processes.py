"""Worker pools and progress bars for the data commands (render, search), safe to fork.

Issue 15: a process forked while another of its threads holds a lock (tqdm's monitor, gloo's or
TensorBoard's threads) can hang in the child forever. These pools fork only a single-threaded
process; the progress bars start no thread.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time

from tqdm import tqdm


class ProgressBar(tqdm):
    """tqdm without its monitor thread, so that the process stays single-threaded and safe to fork."""

    monitor_interval = 0


def pool_start_method() -> str:
    """"fork" while this process runs a single thread: the workers start at once with the kernels
    already compiled, and no other thread can hold a lock across the fork. With other threads
    alive (issue 15: a child forked then can hang), a forkserver, which is single-threaded."""
    if threading.active_count() == 1 or "forkserver" not in multiprocessing.get_all_start_methods():
        return "fork"
    return "forkserver"


def exit_when_gone(owner_pid: int) -> None:
    """Start a daemon thread that ends this process as soon as process ``owner_pid`` is gone (killed
    outright, or a zombie waiting to be reaped): a child whose parent was killed with SIGKILL or
    SIGTERM, which runs no clean-up, must not go on working for nobody."""
    def gone() -> bool:
        try:
            with open(f"/proc/{owner_pid}/stat") as stat:  # a killed owner is a zombie until reaped
                return stat.read().rpartition(")")[2].split()[0] == "Z"
        except FileNotFoundError:
            return True
        except OSError:  # no /proc: ask the kernel whether the pid exists
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                return True
            return False

    def watch():
        while not gone():
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="fdsl-owner-watch", daemon=True).start()
