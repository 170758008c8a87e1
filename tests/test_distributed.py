"""The same ``fdsl pretrain`` under torchrun: 2 CPU processes (gloo), DistributedDataParallel,
each rank rendering its own share on the fly; rank 0 alone logs and saves."""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
import safetensors.torch
from train_helpers import TINY_PRETRAIN, write_yaml


@pytest.mark.slow  # trains under torchrun (subprocesses)
def test_torchrun_with_two_processes_trains_and_saves_once(tmp_path):
    config = write_yaml(tmp_path / "tiny.yaml", TINY_PRETRAIN)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "fdsl", "pretrain", "--config", str(config), "--batch-size", "4", "--workers", "1", "-o", str(out)],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    # One process group of two: the start line (rank 0 only) says so, once.
    assert log.count("batch 4 x 2 process(es)") == 1, log
    assert log.count("epoch 2/2 train loss") == 1, log
    assert done.stdout.count("pre-trained vit_tiny_patch16_224 for 2 epochs") == 1
    # One set of files, written by rank 0.
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert [f for f in files if not f.startswith("tb/")] == [
        "best/README.md", "best/config.json", "best/model.safetensors", "config.yaml", "last/README.md",
        "last/config.json", "last/model.safetensors", "metrics.csv", "run.json", "state.pt", "summary.json",
    ]
    assert len([f for f in files if f.startswith("tb/")]) == 1
    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    # All 24 images of an epoch were seen: 2 ranks x 3 steps x 4 images (each rank its own share).
    assert all(float(row["images_per_s"]) * float(row["epoch_s"]) == pytest.approx(24) for row in rows)
    assert "head.weight" in safetensors.torch.load_file(out / "last" / "model.safetensors")
