"""Kill a real command mid-way, for the resume tests of the writers."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable


def kill_when(command: list[str], ready: Callable[[], bool], *, timeout_s: float = 120) -> None:
    """Start ``command`` in its own session (so that the kill reaches its pool's workers too, which
    would keep writing), SIGKILL the whole group as soon as ``ready()`` holds, and reap it."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while not ready():
            assert process.poll() is None, "the command ended before it could be killed"
            assert time.monotonic() < deadline, "the command wrote nothing in time"
            time.sleep(0.005)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    time.sleep(0.2)  # let the kernel finish reaping the workers
