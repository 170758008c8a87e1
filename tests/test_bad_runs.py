"""Bad inputs and faults of the commands that train (issue 22): each ends in one line naming the
file or value, exit status 2, no traceback, and nothing written or changed."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import tree_snapshot
from train_helpers import TINY_FINETUNE, TINY_PRETRAIN, make_image_folder, one_line_error, write_yaml

from fdsl.train.config import merge, resolve
from fdsl.train.presets import finetune_preset


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
    from test_points_training import TINY_MODEL as POINT_MODEL
    from test_points_training import make_point_folder
    from test_segmentation import TINY_SEG_PRETRAIN, make_seg_folder

    root = tmp_path_factory.mktemp("bad-runs")
    seg_model = {"model": TINY_SEG_PRETRAIN["model"], "augment": {"size": [64, 64]}}
    tiny_loop = {"epochs": 1, "batch_size": 4, "workers": 0, "threads": 1, "log_interval": 1000}
    return {
        "images": make_image_folder(root / "images"),
        "seg": make_seg_folder(root / "seg"),
        "points": make_point_folder(root / "points", classes=2, per_class=6, points=64),
        "ft": write_yaml(root / "ft.yaml", {**TINY_FINETUNE, "train": {**TINY_FINETUNE["train"], "epochs": 1}}),
        "pre": write_yaml(root / "pre.yaml", {**TINY_PRETRAIN, "train": {**TINY_PRETRAIN["train"], "epochs": 1}}),
        "seg_ft": write_yaml(root / "seg.yaml", {**seg_model, "train": tiny_loop,
                                                 "data": {"num_classes": 3, "void": 3, "class_names": []}}),
        "points_ft": write_yaml(root / "points.yaml", {"model": POINT_MODEL, "augment": {"points": 32}, "train": tiny_loop,
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
