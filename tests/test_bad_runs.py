"""Bad inputs and faults of the commands that train (issue 22): each ends in one line naming the
file or value, exit status 2, no traceback, and nothing written or changed."""
from __future__ import annotations

import pytest
from train_helpers import one_line_error

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
