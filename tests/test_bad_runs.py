"""Bad inputs and faults of the commands that train (issue 22): each ends in one line naming the
file or value, exit status 2, no traceback, and nothing written or changed."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from conftest import tree_snapshot
from train_helpers import (TINY_FINETUNE, TINY_POINT_MODEL, TINY_PRETRAIN, TINY_SEG_MODEL, make_image_folder,
                           make_point_folder, make_seg_folder, one_line_error, write_yaml)

from fdsl.configs import merge, resolve
from fdsl.tasks import FINETUNE, get_task


def finetune_preset(name: str):
    return get_task("classification").preset(FINETUNE, name)


def print_config(run_cli, *argv) -> dict:
    import yaml

    code, out, err = run_cli("finetune", *argv, "-o", "unused", "--print-config")
    assert code == 0, err
    return yaml.safe_load(out)


# --- config files ---------------------------------------------------------------------------------
def test_an_empty_section_changes_nothing_even_beside_a_flag_of_that_section(run_cli, tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("train:\n  # epochs: 5\n")
    preset = print_config(run_cli)["train"]
    alone = print_config(run_cli, "--config", empty)["train"]
    beside = print_config(run_cli, "--config", empty, "--workers", "0")["train"]
    assert alone == preset
    assert beside == {**preset, "workers": 0}  # not the defaults, 100 epochs of 128 images


@pytest.mark.parametrize("text", ["train: 5\n", "train: [1, 2]\n", "train: fast\n"])
@pytest.mark.parametrize("flags", [[], ["--workers", "0"]])
def test_a_section_that_is_no_mapping_is_named(run_cli, tmp_path, text, flags):
    config = tmp_path / "scalar.yaml"
    config.write_text(text)
    code, _, err = run_cli("finetune", "--config", config, *flags, "-o", tmp_path / "x")
    one_line_error(code, err, "config section 'train' = ", "expected a mapping of its keys")
    assert not (tmp_path / "x").exists()


def test_merge_names_a_nested_section_and_skips_an_empty_one():
    base = {"train": {"epochs": 30}}
    assert merge(base, {"train": None}, type(finetune_preset("cpu-small"))) == base
    with pytest.raises(ValueError, match="config section 'optim' = 0.1; expected a mapping"):
        resolve(finetune_preset("cpu-small"), {"optim": 0.1})


def test_a_config_file_that_is_not_utf8_is_named(run_cli, tmp_path):
    config = tmp_path / "latin1.yaml"
    config.write_bytes("optim: {lr: 0.01}\n# caf\u00e9\n".encode("latin-1"))
    for command in ("finetune", "pretrain"):
        code, _, err = run_cli(command, "--config", config, "-o", tmp_path / "x")
        one_line_error(code, err, f"config file {str(config)!r} is not UTF-8 text (byte 0xe9 at offset 23)")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("flags, key", [
    (["--lr", "inf"], "optim.lr"), (["--lr=-inf"], "optim.lr"), (["--lr", "nan"], "optim.lr"),
    (["--set", "optim.weight_decay=.inf"], "optim.weight_decay"), (["--set", "augment.mixup=.inf"], "augment.mixup"),
])
def test_infinite_and_nan_settings_are_refused(run_cli, tmp_path, flags, key):
    for command in ("finetune", "pretrain"):
        code, _, err = run_cli(command, *flags, "-o", tmp_path / "x")
        one_line_error(code, err, f"config {key!r} = ", "allowed: a finite number")
    assert not (tmp_path / "x").exists()


# --- outputs: checked before anything is read or written -------------------------------------------
@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Tiny configs and data of every task: an ImageFolder, a segmentation root, a point folder."""
    root = tmp_path_factory.mktemp("bad-runs")
    seg_model = {"model": TINY_SEG_MODEL, "augment": {"size": [64, 64]}}
    tiny_loop = {"epochs": 1, "batch_size": 4, "workers": 0, "threads": 1, "log_interval": 1000}
    return {
        "images": make_image_folder(root / "images"),
        "seg": make_seg_folder(root / "seg"),
        "points": make_point_folder(root / "points", classes=2, per_class=6, points=64),
        "ft": write_yaml(root / "ft.yaml", {**TINY_FINETUNE, "train": {**TINY_FINETUNE["train"], "epochs": 1}}),
        "pre": write_yaml(root / "pre.yaml", {**TINY_PRETRAIN, "train": {**TINY_PRETRAIN["train"], "epochs": 1}}),
        "seg_ft": write_yaml(root / "seg.yaml", {**seg_model, "train": tiny_loop,
                                                 "data": {"num_classes": 3, "void": 3, "class_names": []}}),
        "points_ft": write_yaml(root / "points.yaml", {"model": TINY_POINT_MODEL, "augment": {"points": 32}, "train": tiny_loop,
                                                       "data": {"holdout": 0.34}}),
    }


def commands(data, out) -> dict[str, list]:
    """One training command line of each task, writing to ``out``."""
    return {
        "finetune": ["finetune", "--config", data["ft"], "--dataset", data["images"], "-o", out],
        "pretrain": ["pretrain", "--config", data["pre"], "-o", out],
        "segmentation": ["finetune", "--task", "segmentation", "--config", data["seg_ft"], "--dataset", data["seg"],
                         "-o", out],
        "points": ["finetune", "--task", "points", "--config", data["points_ft"], "--dataset", data["points"],
                   "-o", out],
        "compare": ["compare", "--config", data["ft"], "--dataset", data["images"], "--seeds", "0", "-o", out],
    }


@pytest.mark.parametrize("task", ["finetune", "pretrain", "segmentation", "points", "compare"])
def test_an_output_that_is_a_file_or_under_one(run_cli, data, tmp_path, task):
    file = tmp_path / "file"
    file.write_text("mine\n")
    code, _, err = run_cli(*commands(data, file)[task])
    one_line_error(code, err, f"output {str(file)!r} exists and is not a folder")
    code, _, err = run_cli(*commands(data, file / "run")[task])
    one_line_error(code, err, f"output {str(file / 'run')!r} is under {str(file)!r}, which is a file")
    assert file.read_text() == "mine\n" and sorted(tmp_path.iterdir()) == [file]


@pytest.mark.parametrize("task", ["finetune", "pretrain", "segmentation", "points", "compare"])
def test_a_read_only_output(run_cli, data, tmp_path, monkeypatch, task):
    # Tests run as root, whom chmod does not stop: os.access answers for a read-only folder as it
    # would on a read-only file system (EROFS, which stops root too).
    import os

    read_only = tmp_path / "ro"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != read_only and real_access(path, mode, **kw))
    code, _, err = run_cli(*commands(data, read_only / "run")[task])
    one_line_error(code, err, f"output {str(read_only / 'run')!r} is not writable ({str(read_only)!r} is read-only")
    assert list(read_only.iterdir()) == []


@pytest.mark.parametrize("task, data_key", [("finetune", "images"), ("segmentation", "seg"), ("points", "points"),
                                             ("compare", "images")])
@pytest.mark.parametrize("inside", [False, True])
def test_an_output_at_or_inside_the_dataset(run_cli, data, task, data_key, inside):
    folder = data[data_key]
    before = tree_snapshot(folder)
    out = folder / "run" if inside else folder
    code, _, err = run_cli(*commands(data, out)[task])
    one_line_error(code, err, f"output {str(out)!r} {'is inside' if inside else 'is'} the --dataset folder "
                              f"{str(folder)!r}: the run would write into the data it reads")
    assert tree_snapshot(folder) == before


def test_an_output_inside_the_validation_folder_or_the_rendered_data(run_cli, data, tmp_path):
    before = tree_snapshot(data["images"])
    code, _, err = run_cli("finetune", "--config", data["ft"], "--dataset", data["images"], "--val", data["images"],
                           "-o", data["images"] / "class0" / "run")
    one_line_error(code, err, "is inside the --dataset folder")
    code, _, err = run_cli("pretrain", "--config", data["pre"], "--data-dir", data["images"], "-o", data["images"])
    one_line_error(code, err, f"output {str(data['images'])!r} is the --data-dir folder")
    assert tree_snapshot(data["images"]) == before


def test_a_dataset_inside_what_the_run_writes(run_cli, data, tmp_path):
    import shutil

    images = shutil.copytree(data["images"], tmp_path / "run" / "last" / "images")
    code, _, err = run_cli("finetune", "--config", data["ft"], "--dataset", images, "-o", tmp_path / "run")
    one_line_error(code, err, f"--dataset {str(images)!r} lies in {str(tmp_path / 'run' / 'last')!r}, which the run "
                              "writes")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["last"]


@pytest.mark.slow
def test_a_dataset_elsewhere_in_the_output_folder_is_left_alone(run_cli, data, tmp_path):
    import shutil

    images = shutil.copytree(data["images"], tmp_path / "run" / "images")
    before = tree_snapshot(images)
    code, _, err = run_cli("finetune", "--config", data["ft"], "--dataset", images, "-o", tmp_path / "run")
    assert code == 0, err
    assert tree_snapshot(images) == before


def test_a_study_or_demo_inside_its_data_fails_before_any_run(run_cli, data, tmp_path):
    before = tree_snapshot(data["images"])
    study = write_yaml(tmp_path / "study.yaml", {"seeds": [0], "data": str(data["images"]),
                                                 "finetune": {"set": {"train.epochs": 1}},
                                                 "pretrain": {"set": {"train.epochs": 1}}, "variants": {"a": {}}})
    code, _, err = run_cli("study", study, "-o", data["images"] / "study")
    one_line_error(code, err, f"output {str(data['images'] / 'study')!r} is inside the --dataset folder")
    code, _, err = run_cli("demo", "--data", data["images"], "-o", data["images"] / "demo")
    one_line_error(code, err, f"output {str(data['images'] / 'demo')!r} is inside the --data folder")
    assert tree_snapshot(data["images"]) == before


# --- errors and faults during a run: nothing left that blocks the same command -----------------------
def fail_to_write(monkeypatch, name: str, code: int = errno.ENOSPC, after: int = 0) -> None:
    """The run folder's file ``name`` cannot be written (after ``after`` successful writes): its
    atomic rename raises as a full disk (or a read-only file system) would; the temporary is then
    removed as after any failed write."""
    real, seen = os.replace, {"n": 0}

    def replace(source, target, *args, **kwargs):
        if Path(target).name == name:
            seen["n"] += 1
            if seen["n"] > after:
                raise OSError(code, os.strerror(code))
        return real(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


@pytest.fixture
def images(data, tmp_path):
    import shutil

    return shutil.copytree(data["images"], tmp_path / "images")


@pytest.mark.slow
def test_an_unreadable_image_met_in_the_first_epoch_leaves_no_run_folder(run_cli, data, images, tmp_path):
    bad = images / "class1" / "003.png"
    png = bad.read_bytes()
    bad.write_bytes(png[:100])
    args = ("finetune", "--config", data["ft"], "--dataset", images, "-o", tmp_path / "runs" / "ft")
    one_line_error(*run_cli(*args)[::2], str(bad), after_progress=True)
    assert not (tmp_path / "runs").exists()  # the folders made for the run went with it
    bad.write_bytes(png)
    code, out, err = run_cli(*args)  # the same command, once the data is fixed
    assert code == 0 and "fine-tuned for 1 epochs" in out, err


@pytest.mark.slow
def test_a_corrupt_rendered_image_met_in_pretraining_leaves_no_run_folder(run_cli, data, tmp_path):
    formula = TINY_PRETRAIN["data"]["formula"]
    options = [f"--{key.replace('_', '-')}={value}" for key, value in formula.items()]
    assert run_cli("render", "fractaldb", "--categories", "3", "--instances", "10", *options, "-o",
                   tmp_path / "rendered")[0] == 0
    bad = sorted((tmp_path / "rendered" / "00001").glob("*.png"))[0]
    bad.write_bytes(bad.read_bytes()[:200])
    code, _, err = run_cli("pretrain", "--config", data["pre"], "--data-dir", tmp_path / "rendered", "-o",
                           tmp_path / "run")
    one_line_error(code, err, bad.name, after_progress=True)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_point_that_overflows_float32_leaves_no_run_folder(run_cli, data, tmp_path):
    import shutil

    import numpy as np

    points = shutil.copytree(data["points"], tmp_path / "points")
    cloud = np.load(points / "class0" / "000.npy").astype(np.float64)
    cloud[0, 0] = 1e39  # finite in float64, inf in float32
    np.save(points / "class0" / "000.npy", cloud)
    code, _, err = run_cli(*commands(data, tmp_path / "run")["points"][:-3], points, "-o", tmp_path / "run")
    one_line_error(code, err, after_progress=True)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["config.yaml", "model.safetensors", "README.md", "state.pt", "metrics.csv",
                                  "summary.json"])
def test_a_full_disk_at_the_first_save_leaves_nothing(run_cli, data, tmp_path, monkeypatch, name):
    fail_to_write(monkeypatch, name)
    args = commands(data, tmp_path / "run")["finetune"]
    if name == "summary.json":  # after the last epoch: the epochs are kept
        one_line_error(*run_cli(*args)[::2], f"cannot write {str(tmp_path / 'run' / name)!r}: No space left on "
                                               f"device; {str(tmp_path / 'run')!r} keeps epoch 1 to resume", after_progress=True)
        return
    one_line_error(*run_cli(*args)[::2], f"cannot write '{tmp_path / 'run'}", f"{name}': No space left on device; "
                                                                                "nothing of the run was kept", after_progress=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("task", ["pretrain", "segmentation", "points"])
def test_a_full_disk_or_read_only_file_system_in_every_task(run_cli, data, tmp_path, monkeypatch, task):
    fail_to_write(monkeypatch, "state.pt", errno.EROFS)
    one_line_error(*run_cli(*commands(data, tmp_path / "run")[task])[::2],
                    f"cannot write {str(tmp_path / 'run' / 'state.pt')!r}: Read-only file system; nothing of the run "
                    "was kept", after_progress=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_full_disk_after_the_first_epoch_keeps_it_to_resume(run_cli, data, tmp_path, monkeypatch):
    fail_to_write(monkeypatch, "state.pt", after=1)
    args = [*commands(data, tmp_path / "run")["finetune"], "--epochs", "2"]
    one_line_error(*run_cli(*args)[::2], f"cannot write {str(tmp_path / 'run' / 'state.pt')!r}: No space left on "
                                          f"device; {str(tmp_path / 'run')!r} keeps epoch 1 to resume", after_progress=True)
    assert len((tmp_path / "run" / "metrics.csv").read_text().splitlines()) == 2  # the header and epoch 1
    monkeypatch.undo()
    code, out, err = run_cli(*args, "--resume")
    assert code == 0 and "fine-tuned for 2 epochs" in out, err


@pytest.mark.slow
def test_a_failed_run_in_compare_or_study_leaves_nothing_and_the_same_command_goes_on(run_cli, data, tmp_path,
                                                                                       monkeypatch):
    fail_to_write(monkeypatch, "state.pt", after=1)  # the first run saves; the second cannot
    compare = [*commands(data, tmp_path / "cmp")["compare"][:-3], "0", "1", "-o", tmp_path / "cmp"]
    one_line_error(*run_cli(*compare)[::2], str(tmp_path / "cmp" / "scratch" / "seed1" / "state.pt"), after_progress=True)
    assert sorted(p.name for p in (tmp_path / "cmp" / "scratch").iterdir()) == ["seed0"]
    monkeypatch.undo()
    code, out, err = run_cli(*compare)
    assert code == 0 and "| scratch |" in out, err

    fail_to_write(monkeypatch, "model.safetensors")
    study = write_yaml(tmp_path / "study.yaml", {
        "seeds": [0], "data": str(data["images"]), "variants": {"a": {}},
        "finetune": {"set": {**TINY_FINETUNE, "train.epochs": 1}},
        "pretrain": {"set": {**TINY_PRETRAIN, "train.epochs": 1}}})
    one_line_error(*run_cli("study", study, "-o", tmp_path / "study")[::2],
                    str(tmp_path / "study" / "pretrain" / "a" / "last" / "model.safetensors"), after_progress=True)
    assert not (tmp_path / "study").exists()


@pytest.mark.slow
def test_a_failed_child_run_of_compare_jobs_leaves_only_its_log(run_cli, data, images, tmp_path):
    (images / "class1" / "003.png").write_bytes(b"not an image")
    compare = ["compare", "--config", data["ft"], "--dataset", images, "--seeds", "0", "--jobs", "2", "-o",
               tmp_path / "cmp"]
    one_line_error(*run_cli(*compare)[::2], "failed", "003.png", after_progress=True)
    leftovers = {str(p.relative_to(tmp_path / "cmp")) for p in (tmp_path / "cmp").rglob("*") if p.is_file()}
    assert leftovers == {"scratch/seed0/log.txt"}  # the failure's report, which blocks nothing


# --- Ctrl-C, and messages that named the wrong remedy ---------------------------------------------------
def interrupt_in_epoch(monkeypatch, epoch: int) -> None:
    """Ctrl-C in training epoch ``epoch`` (1-based, counted from this call on)."""
    from fdsl.train import trainer

    real, calls = trainer.train_one_epoch, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == epoch:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, "train_one_epoch", interrupted)


def interrupted_line(code: int, err: str) -> str:
    assert code == 130 and "Traceback" not in err, err
    return err.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["finetune", "pretrain"])
def test_ctrl_c_says_what_continues_the_run(run_cli, data, tmp_path, monkeypatch, task):
    out = tmp_path / "run"
    args = [*commands(data, out)[task], "--epochs", "2"]
    interrupt_in_epoch(monkeypatch, 1)
    assert interrupted_line(*run_cli(*args)[::2]) == (
        f"fdsl: interrupted: the run in {str(out)!r} had not finished its first epoch and left nothing; run the same "
        "command again to continue")
    assert not out.exists()
    interrupt_in_epoch(monkeypatch, 2)
    assert interrupted_line(*run_cli(*args)[::2]) == (
        f"fdsl: interrupted: {str(out)!r} keeps epoch 1; add --resume to the same command to continue")
    one_line_error(*run_cli(*args)[::2], "already holds a run; pass --resume")
    interrupt_in_epoch(monkeypatch, 1)  # interrupted again, now with --resume: the same command goes on
    assert interrupted_line(*run_cli(*args, "--resume")[::2]) == (
        f"fdsl: interrupted: {str(out)!r} keeps epoch 1; run the same command again to continue")
    monkeypatch.undo()
    code, out_text, err = run_cli(*args, "--resume")
    assert code == 0 and "for 2 epochs" in out_text, err


@pytest.mark.slow
def test_ctrl_c_in_compare_says_to_run_it_again(run_cli, data, tmp_path, monkeypatch):
    interrupt_in_epoch(monkeypatch, 2)
    args = [*commands(data, tmp_path / "cmp")["compare"], "--epochs", "2"]
    assert interrupted_line(*run_cli(*args)[::2]) == (
        f"fdsl: interrupted: {str(tmp_path / 'cmp' / 'scratch' / 'seed0')!r} keeps epoch 1; run the same command "
        "again to continue")


@pytest.fixture(scope="module")
def finetuned(data, tmp_path_factory):
    """A finished one-epoch fine-tuning run on ``data["images"]`` (classes class0..class2)."""
    from fdsl.cli import main

    out = tmp_path_factory.mktemp("finetuned") / "run"
    assert main([str(a) for a in commands(data, out)["finetune"]]) == 0
    return out


@pytest.mark.slow
def test_evaluate_on_other_classes_says_what_to_do(run_cli, finetuned, images):
    for number, folder in enumerate(sorted(images.iterdir())):
        folder.rename(images / f"animal{number}")
    code, _, err = run_cli("evaluate", finetuned / "best", "--dataset", images, "--workers", "0")
    line = one_line_error(code, err, "was trained on 3 classes (class0, class1, class2) but the dataset has 3 "
                                     "(animal0, animal1, animal2); score them on a dataset with their classes, or "
                                     "fine-tune them on this one first (fdsl finetune --init CHECKPOINT --new-head)")
    assert "pass --new-head" not in line


@pytest.mark.slow
def test_resume_with_another_task_names_the_runs_task(run_cli, data, finetuned):
    out = finetuned
    before = tree_snapshot(out)
    for task in ("segmentation", "points"):
        one_line_error(*run_cli(*commands(data, out)[task], "--resume")[::2],
                       f"cannot resume {str(out)!r} as a {task} fine-tuning run: it holds a classification fine-tuning "
                       "run (resume it with fdsl finetune --task classification --resume), or choose another --out")
    one_line_error(*run_cli(*commands(data, out)["pretrain"], "--resume")[::2],
                   "as a classification pre-training run: it holds a classification fine-tuning run")
    assert tree_snapshot(out) == before
