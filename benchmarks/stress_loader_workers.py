"""Stress test of issue 15: many short 2-rank CPU DDP pre-training runs, each under a wall-clock limit,
counting DataLoader worker starts, the threads alive in the process that forks each worker, and the
runs that hang (killed at the limit) or fail.

    python benchmarks/stress_loader_workers.py --runs 2 --epochs 40 --images 300

The runs look like a small demo: ``torchrun --standalone --nproc_per_node 2 -m fdsl pretrain`` with a
20k-parameter ViT at 32 px, FractalDB rendered on the fly, ``--images`` training images per epoch,
validation every epoch, TensorBoard writing on rank 0 and one loader worker per loader and rank.

How worker starts are counted: the runs' Python processes import a ``sitecustomize`` written by this
script (through ``PYTHONPATH``) that registers an ``os.register_at_fork`` hook. Just before every
``os.fork`` in a rank or in a forkserver it appends one JSON line: which process forks (rank or
forkserver), its number of native threads (``Threads:`` of ``/proc/self/status``: gloo's and
TensorBoard's threads included) and the names of its Python threads. A DataLoader worker is started
by exactly one ``os.fork`` (in the rank itself with the "fork" start method, in the forkserver with
"forkserver"), and subprocesses (torchrun's ranks, the forkserver itself) are started without
``os.fork``, so these lines are the worker starts. The script also prints the count the code path
predicts: ranks x epochs x (train + val loader) x workers when workers restart every epoch (the code
before the fix), ranks x 2 x workers per run when they are persistent (after).

Run it with the interpreter of the checkout to test: it imports nothing from fdsl itself, so the same
file measures an older checkout (``/old/.venv/bin/python benchmarks/stress_loader_workers.py``).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

RANKS = 2
#: The categories and held-out instances per category of every run (training images = --images).
CATEGORIES, VAL_INSTANCES = 10, 4
TINY_VIT = {"img_size": 32, "patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2, "mlp_ratio": 2.0}
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "stress.json"

#: Imported by every Python process of a run (ranks, forkserver, workers): logs each os.fork.
FORK_HOOK = '''
import json, os, sys, threading, time

def _stress_log_fork(path=os.environ.get("FDSL_STRESS_FORK_LOG")):
    try:
        with open("/proc/self/status") as status:
            native = next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
    except (OSError, StopIteration):
        native = -1
    role = "forkserver" if sys.argv[:1] == ["-c"] else "rank" if "RANK" in os.environ else "other"
    line = json.dumps({"pid": os.getpid(), "role": role, "rank": os.environ.get("RANK"), "time": time.time(),
                       "native_threads": native, "python_threads": [t.name for t in threading.enumerate()]})
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\\n").encode())  # one write: lines of the two ranks never interleave
    finally:
        os.close(fd)

if os.environ.get("FDSL_STRESS_FORK_LOG"):
    os.register_at_fork(before=_stress_log_fork)
'''


def write_fork_hook(directory: Path) -> Path:
    """``directory`` holding the ``sitecustomize`` that logs forks (put it first on ``PYTHONPATH``)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(FORK_HOOK)
    return directory


def run_config(epochs: int, images: int, batch_size: int, workers: int) -> dict:
    """The config of one run: the tests' tiny ViT and quick FractalDB, ``images`` per epoch."""
    return {
        "model": {"name": "vit_tiny_patch16_224", "kwargs": TINY_VIT},
        "train": {"epochs": epochs, "batch_size": batch_size, "workers": workers, "threads": 1,
                  "log_interval": 1000, "eval_interval": 1},
        "data": {"formula": {"size": 32, "points": 1000, "search_size": 64, "search_points": 3000},
                 "categories": CATEGORIES, "instances": max(1, images // CATEGORIES), "val_instances": VAL_INSTANCES},
    }


def checkout_under_test() -> dict:
    """The fdsl this interpreter imports (found without importing it) and its git commit."""
    root = Path(importlib.util.find_spec("fdsl").origin).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        return done.stdout.strip()

    return {"path": str(root), "commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "fdsl"))}


def run_once(index: int, work: Path, config_path: Path, limit_s: float, hook_dir: Path) -> dict:
    """One torchrun under ``limit_s`` seconds; its whole process group is killed at the limit."""
    out, fork_log = work / f"run{index}", work / f"forks{index}.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FDSL_STRESS_FORK_LOG": str(fork_log),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(hook_dir), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(RANKS),
               "-m", "fdsl", "pretrain", "--config", str(config_path), "-o", str(out)]
    start = time.monotonic()
    with open(work / f"log{index}.txt", "w") as log:
        child = subprocess.Popen(command, env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        try:
            returncode, timed_out = child.wait(timeout=limit_s), False
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # ranks, workers and forkserver: one session
            returncode, timed_out = child.wait(), True
    wall_s = time.monotonic() - start
    forks = read_forks(fork_log)
    metrics = out / "metrics.csv"
    epochs_done = max(0, len(metrics.read_text().splitlines()) - 1) if metrics.is_file() else 0
    tail = (work / f"log{index}.txt").read_text(errors="replace").strip().splitlines()[-1:] or [""]
    return {"run": index, "returncode": returncode, "timed_out": timed_out, "wall_s": round(wall_s, 1),
            "epochs_done": epochs_done, "worker_starts": len(forks), "forks": forks, "last_line": tail[0][-300:]}


def read_forks(fork_log: Path) -> list[dict]:
    """The fork records of a run, with no other processes than ranks and forkservers expected."""
    if not fork_log.is_file():
        return []
    return [json.loads(line) for line in fork_log.read_text().splitlines() if line.strip()]


def thread_summary(forks: list[dict]) -> dict:
    """Per forking role: how many forks, and the min/max native threads alive at them."""
    summary = {}
    for role in sorted({f["role"] for f in forks}):
        threads = [f["native_threads"] for f in forks if f["role"] == role]
        names = sorted({name for f in forks if f["role"] == role for name in f["python_threads"]})
        summary[role] = {"forks": len(threads), "native_threads_min": min(threads),
                         "native_threads_max": max(threads), "python_thread_names": names}
    return summary


def expected_starts(epochs: int, workers: int) -> dict:
    """What the code path predicts per run (2 loaders: training and validation)."""
    return {"restarted_every_epoch": RANKS * epochs * 2 * workers, "persistent": RANKS * 2 * workers}


def print_table(report: dict) -> None:
    print(f"fdsl {report['checkout']['commit'][:7]} ({report['checkout']['path']}), {RANKS} ranks, "
          f"{report['epochs']} epochs/run, {report['images_per_epoch']} training images/epoch, "
          f"{report['workers']} worker(s) per loader, limit {report['limit_s']:.0f} s/run")
    print("| run | exit | killed at limit | epochs done | worker starts | threads at fork (role: min-max) | wall s |")
    print("|---|---|---|---|---|---|---|")
    for run in report["runs"]:
        threads = ", ".join(f"{role}: {s['native_threads_min']}-{s['native_threads_max']}"
                            for role, s in run["threads_at_fork"].items()) or "-"
        print(f"| {run['run']} | {run['returncode']} | {'yes' if run['timed_out'] else 'no'} | {run['epochs_done']} "
              f"| {run['worker_starts']} | {threads} | {run['wall_s']} |")
    totals = report["totals"]
    expected = report["expected_starts_per_run"]
    print(f"total: {totals['runs']} runs, {totals['epochs_done']} epochs, {totals['worker_starts']} worker starts "
          f"(code path predicts {expected['restarted_every_epoch']}/run if restarted every epoch, "
          f"{expected['persistent']}/run if persistent), {totals['killed_at_limit']} killed at the limit, "
          f"{totals['failed']} other failures, {totals['wall_s']} s")


def stress(runs: int, epochs: int, images: int, batch_size: int, workers: int, limit_s: float,
           work: Path) -> dict:
    config_path = work / "stress.yaml"
    config_path.write_text(yaml.safe_dump(run_config(epochs, images, batch_size, workers)))
    hook_dir = write_fork_hook(work / "hook")
    results = []
    for index in range(runs):
        result = run_once(index, work, config_path, limit_s, hook_dir)
        result["threads_at_fork"] = thread_summary(result.pop("forks"))
        results.append(result)
    totals = {"runs": runs, "epochs_done": sum(r["epochs_done"] for r in results),
              "worker_starts": sum(r["worker_starts"] for r in results),
              "killed_at_limit": sum(r["timed_out"] for r in results),
              "failed": sum(r["returncode"] != 0 and not r["timed_out"] for r in results),
              "wall_s": round(sum(r["wall_s"] for r in results), 1)}
    return {"checkout": checkout_under_test(), "python": platform.python_version(), "ranks": RANKS,
            "epochs": epochs, "images_per_epoch": images, "val_images": CATEGORIES * VAL_INSTANCES,
            "batch_size": batch_size, "workers": workers, "limit_s": limit_s,
            "expected_starts_per_run": expected_starts(epochs, workers), "runs": results, "totals": totals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=40, help="epochs per run")
    parser.add_argument("--images", type=int, default=300, help="training images per epoch (both ranks)")
    parser.add_argument("--batch-size", type=int, default=16, help="images per step and rank")
    parser.add_argument("--workers", type=int, default=1, help="loader workers per loader and rank")
    parser.add_argument("--limit-s", type=float, default=600, help="wall-clock limit of one run")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fdsl-stress-") as tmp:
        report = stress(args.runs, args.epochs, args.images, args.batch_size, args.workers, args.limit_s, Path(tmp))
    print_table(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
