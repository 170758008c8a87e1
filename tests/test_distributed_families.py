"""``fdsl pretrain`` under torchrun (2 CPU processes, gloo) on every registered family, rendered on
the fly at its quick settings: the run finishes an epoch and rank 0 alone writes the weights.

Each case is one launch of three Python processes (the launcher and two ranks), 12 to 18 s on a
2-core machine busy with two other trainings: nearly all of it is importing torch and timm, as the
data and the model are tiny (the epoch itself takes well under a second).
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
import safetensors.torch
from train_helpers import TINY_VIT, write_yaml

from fdsl.registry import formula_class, list_formulas

#: Image pre-training takes the families whose samples are images (the others fail in one line: test_train_cli).
IMAGE_FAMILIES = [name for name in list_formulas() if formula_class(name).kind.name == "image"]

#: 2 categories x 1 instance x 2 repeats = 4 images an epoch: one step of 2 images on each rank.
#: One instance because OFDB has only one per category; no held-out instances, so no best/.
DATA = {"categories": 2, "instances": 1, "repeats": 2, "val_instances": 0}


def smoke_config(family: str) -> dict:
    """Over the cpu-small preset (32 px): one epoch of the tiny ViT on ``family``'s quick_config."""
    return {
        "model": {"name": "vit_tiny_patch16_224", "kwargs": TINY_VIT},
        "train": {"epochs": 1, "batch_size": 2, "workers": 0, "threads": 1, "log_interval": 1000},
        "data": {"family": family, "formula": {**formula_class(family).quick_config, "size": 32}, **DATA},
    }


@pytest.mark.slow
@pytest.mark.parametrize("family", IMAGE_FAMILIES)
def test_torchrun_pretrains_every_family_on_the_fly(tmp_path, family):
    config = write_yaml(tmp_path / f"{family}.yaml", smoke_config(family))
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "fdsl", "pretrain", "--config", str(config), "-o", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=tmp_path,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    # Rank 0 alone logs: one start line for a group of two, one finished epoch, one summary.
    assert log.count("batch 2 x 2 process(es)") == 1, log
    assert log.count("epoch 1/1 train loss") == 1, log
    assert done.stdout.count("pre-trained vit_tiny_patch16_224 for 1 epochs") == 1, log
    # Rank 0 alone writes: one set of files, one weights file, one TensorBoard event file (a
    # second writer would add a second, named after its process).
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert [f for f in files if not f.startswith("tb/")] == [
        "config.yaml", "last/README.md", "last/config.json", "last/model.safetensors", "metrics.csv", "run.json",
        "state.pt", "summary.json",
    ], files
    assert len([f for f in files if f.startswith("tb/")]) == 1, files
    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1"]
    # The epoch saw its 4 images: 2 ranks x 1 step x 2 images, each rank rendering its own share.
    assert float(rows[0]["images_per_s"]) * float(rows[0]["epoch_s"]) == pytest.approx(4)
    weights = safetensors.torch.load_file(out / "last" / "model.safetensors")
    assert weights["head.weight"].shape[0] == DATA["categories"]
