"""The issue-15 stress script counts what it claims: its fork hook logs each worker start with the
threads of the process that forks it, and a small 2-rank run of the fixed code starts each loader's
workers once, from a single-threaded forkserver."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPT = BENCHMARKS / "stress_loader_workers.py"

#: A "rank" with one extra Python thread that starts one process by fork and one by forkserver.
FORKING_CHILD = """
import multiprocessing, threading

def nothing():
    pass

if __name__ == "__main__":
    stop = threading.Event()
    threading.Thread(target=stop.wait, name="held-across-fork", daemon=True).start()
    for method in ("fork", "forkserver"):
        process = multiprocessing.get_context(method).Process(target=nothing)
        process.start()
        process.join()
    stop.set()
"""


@pytest.fixture(scope="module")
def stress():
    spec = importlib.util.spec_from_file_location("stress_loader_workers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("stress_loader_workers", module)
    spec.loader.exec_module(module)
    return module


def test_fork_hook_logs_who_forks_and_its_threads(stress, tmp_path):
    hook = stress.write_fork_hook(tmp_path / "hook")
    log = tmp_path / "forks.jsonl"
    (tmp_path / "child.py").write_text(FORKING_CHILD)
    env = {**os.environ, "RANK": "0", "FDSL_STRESS_FORK_LOG": str(log),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))}
    subprocess.run([sys.executable, "child.py"], cwd=tmp_path, env=env, check=True, timeout=120)
    forks = stress.read_forks(log)
    assert [f["role"] for f in forks] == ["rank", "forkserver"]
    by_rank, by_server = forks
    assert by_rank["native_threads"] >= 2 and "held-across-fork" in by_rank["python_threads"]
    assert by_server["native_threads"] == 1 and by_server["python_threads"] == ["MainThread"]
    summary = stress.thread_summary(forks)
    assert summary["rank"]["forks"] == 1 and summary["forkserver"]["native_threads_max"] == 1


def test_expected_starts_of_the_two_code_paths(stress):
    assert stress.expected_starts(epochs=40, workers=1) == {"restarted_every_epoch": 160, "persistent": 4}


@pytest.mark.slow
def test_small_stress_run_of_the_fixed_code(tmp_path):
    out = tmp_path / "stress.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--runs", "1", "--epochs", "2", "--images", "40",
                           "--batch-size", "8", "--limit-s", "300", "--json", str(out)],
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    run, = report["runs"]
    assert (run["returncode"], run["timed_out"], run["epochs_done"]) == (0, False, 2), run
    # Persistent workers: 2 ranks x (train + val) x 1 worker, all forked by a single-threaded forkserver.
    assert run["worker_starts"] == report["expected_starts_per_run"]["persistent"] == 4
    assert list(run["threads_at_fork"]) == ["forkserver"]
    assert run["threads_at_fork"]["forkserver"]["native_threads_max"] == 1
    assert report["totals"] == {"runs": 1, "epochs_done": 2, "worker_starts": 4, "killed_at_limit": 0,
                                "failed": 0, "wall_s": run["wall_s"]}
    assert "| 0 | 0 | no | 2 | 4 | forkserver: 1-1 |" in done.stdout
