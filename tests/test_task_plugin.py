"""A new task is one file: the test package ``tests/signal_task`` registers a sample kind, a family and
a task (1-D signal classification) through entry points, changes nothing in fdsl, and goes through
every command that trains: pretrain (the task found by the family's kind), finetune, evaluate,
compare, study, and pretrain under torchrun with two processes."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PACKAGE_ROOT = Path(__file__).parent / "signal_task"
TASK = "signal-classification"
pytestmark = pytest.mark.slow  # every test here trains

sys.path.insert(0, str(PACKAGE_ROOT))
from fdsl_signal_task import write_signal_folder  # noqa: E402


def environment() -> dict[str, str]:
    """A fresh interpreter that sees the test package as installed (its dist-info on the path)."""
    return {**os.environ, "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")])}


def fdsl(*argv, cwd: Path, launcher: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *launcher, "-m", "fdsl", *map(str, argv)], capture_output=True, text=True,
                          env=environment(), cwd=cwd, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def last_row(run: Path) -> dict[str, str]:
    with open(run / "metrics.csv") as handle:
        return list(csv.DictReader(handle))[-1]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("signals")
    write_signal_folder(root / "signals")
    fdsl("pretrain", "--family", "test-signals", "-o", root / "pre", cwd=root)
    return root


def test_the_family_s_kind_picks_the_plugin_task_and_weights_name_it(work):
    saved = json.loads((work / "pre" / "last" / "config.json").read_text())["fdsl"]
    assert (saved["task"], saved["phase"], saved["data"]["family"]) == (TASK, "pretrain", "test-signals")
    assert list(last_row(work / "pre"))[:5] == ["epoch", "train_loss", "val_loss", "val_acc", "lr"]


def test_finetune_then_evaluate_gives_what_the_run_recorded(work):
    fdsl("finetune", "--task", TASK, "--init", work / "pre" / "last", "--dataset", work / "signals",
         "-o", work / "ft", cwd=work)
    recorded = float(last_row(work / "ft")["val_acc"])
    shown = fdsl("evaluate", "--task", TASK, work / "ft" / "last", "--dataset", work / "signals", "--workers", "0",
                 cwd=work).stdout
    assert f"acc {recorded:.2f}%" in shown and "on 6 samples" in shown


def test_compare_and_study_run_the_plugin_task(work):
    shown = fdsl("compare", "--task", TASK, "--checkpoint", work / "pre" / "last", "--seeds", "0", "1",
                 "--dataset", work / "signals", "-o", work / "cmp", cwd=work).stdout
    assert "| scratch " in shown and "| pre " in shown and "acc" in shown
    study = {"task": TASK, "seeds": [0], "data": str(work / "signals"),
             "variants": {"short": {"train.epochs": 1}}}
    (work / "study.yaml").write_text(yaml.safe_dump(study))
    report = fdsl("study", work / "study.yaml", "-o", work / "study", cwd=work).stdout
    assert "| short " in report and "| scratch " in report


def test_torchrun_pretrains_the_plugin_task_with_two_processes(work):
    done = fdsl("pretrain", "--family", "test-signals", "--batch-size", "4", "-o", work / "ddp", cwd=work,
                launcher=("-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"))
    assert (done.stdout + done.stderr).count("batch 4 x 2 process(es)") == 1
    assert json.loads((work / "ddp" / "summary.json").read_text())["task"] == TASK
