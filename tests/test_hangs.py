"""A hang becomes an error (issue 15): when one rank of a 2-rank CPU run dies or stops answering,
the other one stops within train.timeout_s with one line naming its rank and what it waited for."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from train_helpers import TINY_PRETRAIN, write_yaml

import fdsl

#: The checkout under test, for child processes that start elsewhere (whatever the install points at).
CHECKOUT = str(Path(fdsl.__file__).resolve().parents[1])

#: Long enough for the first batch of fresh loader workers on a busy 2-core machine.
TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_ranks(tmp_path: Path) -> tuple[list[subprocess.Popen], Path]:
    """Two ranks started by hand (torchrun would end the survivor itself), 200 tiny epochs."""
    config = write_yaml(tmp_path / "tiny.yaml", {**TINY_PRETRAIN, "train": {
        **TINY_PRETRAIN["train"], "epochs": 200, "workers": 1, "batch_size": 4, "timeout_s": TIMEOUT_S}})
    out, port = tmp_path / "run", free_port()
    ranks = []
    for rank in range(2):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "PYTHONPATH": CHECKOUT}
        ranks.append(subprocess.Popen([sys.executable, "-m", "fdsl", "pretrain", "--config", str(config), "-o", str(out)],
                                      env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return ranks, out


def wait_for_an_epoch(ranks: list[subprocess.Popen], out: Path) -> None:
    deadline = time.monotonic() + 300
    while not (out / "metrics.csv").is_file():
        assert all(r.poll() is None for r in ranks), [r.communicate() for r in ranks]
        assert time.monotonic() < deadline, "no epoch finished in 300 s"
        time.sleep(0.1)


@pytest.mark.slow  # trains under torchrun (in subprocesses) until a rank is killed or stopped
@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_the_other_rank_stops_with_a_clear_error(tmp_path, how):
    ranks, out = start_ranks(tmp_path)
    try:
        wait_for_an_epoch(ranks, out)
        # killed: its sockets close at once; stopped (SIGSTOP): alive but silent, only the timeout can tell
        ranks[1].send_signal(signal.SIGKILL if how == "killed" else signal.SIGSTOP)
        stopped_at = time.monotonic()
        _, stderr = ranks[0].communicate(timeout=TIMEOUT_S + 60)  # never "never"
        waited = time.monotonic() - stopped_at
    finally:
        for rank in ranks:
            if rank.poll() is None:
                rank.kill()
            rank.communicate(timeout=60)  # no loader worker or forkserver outlives its rank
    assert ranks[0].returncode != 0
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("fdsl: error: rank 0 ") and "--resume" in last, stderr[-3000:]
    assert "collective" in last or "loader" in last, last
    if how == "stopped":  # it did wait for the timeout: the error came from the timeout, not a closed socket
        assert waited >= TIMEOUT_S * 0.9, (waited, last)


def hang_forever(config, out, resume):
    """A run stuck where no time-out of its own fires (module level: the job runner spawns it)."""
    time.sleep(3600)


def test_a_job_that_stops_writing_is_killed_and_reported(tmp_path):
    from fdsl.errors import FdslError
    from fdsl.experiments import jobs
    from fdsl.configs import resolve
    from train_helpers import tiny_pretrain

    config = resolve(tiny_pretrain(), {"train": {"timeout_s": 1.0}})
    with pytest.raises(FdslError, match=r"stalled: nothing written for 3 s .*killed"):
        jobs.run_parallel([jobs.Run(hang_forever, config, tmp_path / "stuck")], jobs=1)


@pytest.mark.slow  # two ranks under torch's launcher (subprocesses)
def test_a_failing_rank_of_the_launched_pretraining_is_one_error_line(tmp_path):
    from fdsl.errors import FdslError
    from fdsl.experiments.launch import run_distributed
    from train_helpers import tiny_pretrain

    config = tiny_pretrain({"train": {"batch_size": 2000}})  # 1000 per rank: more than the training images
    with pytest.raises(FdslError) as caught:
        run_distributed("classification", "pretrain", config, tmp_path / "run", processes=2)
    message = str(caught.value)
    assert message.startswith("distributed pre-training failed: rank ") and "batch size 1000" in message, message
    assert "\n" not in message and "resume" in message


def write_pid_and_hang(config, out, resume):
    """A run that says where it is, then works for ever (module level: the job runner spawns it)."""
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "pid").write_text(str(os.getpid()))
    time.sleep(3600)


PARENT_OF_JOBS = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from fdsl.experiments import jobs
from fdsl.configs import resolve
from test_hangs import write_pid_and_hang
from train_helpers import tiny_pretrain
jobs.run_parallel([jobs.Run(write_pid_and_hang, tiny_pretrain(), Path({out!r}) / name) for name in "ab"], jobs=2)
"""


def test_jobs_end_with_a_parent_killed_without_clean_up(tmp_path):
    """SIGKILL `fdsl study`'s process (no `finally` runs): its spawned runs stop within seconds."""
    script = PARENT_OF_JOBS.format(tests=str(Path(__file__).parent), out=str(tmp_path))
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / name / "pid").is_file() for name in "ab"):
            assert parent.poll() is None and time.monotonic() < deadline, "the runs did not start"
            time.sleep(0.1)
        children = [int((tmp_path / name / "pid").read_text()) for name in "ab"]
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in children), "a run outlived the study that started it"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
