"""Worker pools and progress bars for the data commands (render, search), safe to fork.

Issue 15: a process forked while another of its threads holds a lock (tqdm's monitor, gloo's or
TensorBoard's threads) can hang in the child forever. These pools fork only a single-threaded
process; the progress bars start no thread.
"""
from __future__ import annotations

import multiprocessing
import threading

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
