"""One flag mechanism for every command (options generated from config dataclasses), one typed
config path (a family's options checked and completed before a run folder exists), and one
meaning of ``--seed`` (training) beside ``--data-seed`` (the data)."""
from __future__ import annotations

import argparse
import dataclasses

import pytest
import yaml

from train_helpers import one_line_error
from fdsl.cli_flags import add_options, declared_options, field_options, option_values
from fdsl.config_fields import choices, cli, section_at
from fdsl.data.config import FormulaDataConfig
from fdsl.registry import formula_class
from fdsl.tasks.classification.config import FinetuneConfig, PretrainConfig

from conftest import SMALL_FLAGS


@dataclasses.dataclass
class Toy:
    count: int = dataclasses.field(default=3, metadata=cli("--count", "how many"))
    rate: float | None = dataclasses.field(default=None, metadata=cli("--rate"))
    shade: bool = dataclasses.field(default=False, metadata=cli("--shade"))
    scale: tuple[float, float] = dataclasses.field(default=(0.1, 1.0), metadata=cli("--scale"))
    steps: tuple[int, ...] = dataclasses.field(default=(), metadata=cli("--steps"))
    mode: str = dataclasses.field(default="a", metadata={**cli("--mode"), **choices(("a", "b"))})
    extra: dict = dataclasses.field(default_factory=dict)
    hidden: int = 0


@pytest.fixture
def toy_parser():
    parser = argparse.ArgumentParser(prog="toy", exit_on_error=False)
    options = add_options(parser, declared_options(Toy))
    return parser, options


def test_each_field_type_becomes_its_kind_of_option(toy_parser):
    parser, options = toy_parser
    assert [o.flag for o in options] == ["--count", "--rate", "--shade", "--scale", "--steps", "--mode"]
    args = parser.parse_args(["--count", "1_000", "--rate", "2e-1", "--no-shade", "--scale", "0.5", "1",
                              "--steps", "3", "4", "5", "--mode", "b"])
    assert option_values(args, options) == {"count": 1000, "rate": 0.2, "shade": False, "scale": [0.5, 1.0],
                                            "steps": [3, 4, 5], "mode": "b"}
    assert option_values(parser.parse_args([]), options) == {}  # unset: the preset's values stay


def test_help_shows_readable_metavars_and_choices(toy_parser):
    text = toy_parser[0].format_help()
    for needle in ("--count COUNT", "--rate RATE", "--shade, --no-shade", "--scale SCALE SCALE", "--mode {a,b}"):
        assert needle in text
    with pytest.raises(argparse.ArgumentError, match=r"unknown mode 'c'; valid: a, b"):
        toy_parser[0].parse_args(["--mode", "c"])
    with pytest.raises(argparse.ArgumentError, match=r"invalid int value: '2.5'"):
        toy_parser[0].parse_args(["--count", "2.5"])


def test_a_family_option_named_like_a_command_flag_gets_a_prefix():
    @dataclasses.dataclass
    class Family:
        categories: int = 4
        size: int = 8

    parser = argparse.ArgumentParser()
    parser.add_argument("--categories", type=int)
    options = add_options(parser, field_options(Family), fallback_prefix="formula-")
    assert [o.flag for o in options] == ["--formula-categories", "--size"]
    args = parser.parse_args(["--categories", "2", "--formula-categories", "9"])
    assert args.categories == 2 and option_values(args, options) == {"categories": 9}


def test_sections_come_from_the_dataclasses():
    assert section_at(PretrainConfig, ["data"]) is FormulaDataConfig
    assert section_at(PretrainConfig, ["data", "formula"]) is None  # free-form: a dict field
    keys = {".".join(o.path) for o in declared_options(FinetuneConfig)}
    assert {"model.name", "init", "new_head", "data.root", "train.seed", "optim.lr"} <= keys


# --- the commands -----------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["--set", "data.formula.sizee=32"], "data.formula of fractaldb: unknown option 'sizee'"),
    (["--set", "data.formula={graded: 'yes'}"], "option 'graded' = 'yes'; expected bool"),
    (["--family", "perlin", "--set", "data.formula={points: 5}"], "unknown option 'points' for PerlinConfig"),
])
def test_a_bad_family_option_fails_in_one_line_before_a_run_folder(run_cli, tmp_path, argv, needle):
    code, _, err = run_cli("pretrain", *argv, "-o", tmp_path / "run")
    one_line_error(code, err, needle)
    assert not (tmp_path / "run").exists()
    # the same typo in a YAML file
    (tmp_path / "typo.yaml").write_text("data: {formula: {sizee: 32}}\n")
    code, _, err = run_cli("pretrain", "--config", tmp_path / "typo.yaml", "-o", tmp_path / "run")
    one_line_error(code, err, "unknown option 'sizee'")
    assert not (tmp_path / "run").exists()


def printed_config(run_cli, *argv) -> dict:
    code, out, err = run_cli("pretrain", *argv, "-o", "unused", "--print-config")
    assert code == 0, err
    return yaml.safe_load(out)


def test_pretrain_takes_the_family_options_of_its_family(run_cli):
    data = printed_config(run_cli, "--family", "rcdb", "--size", "64")["data"]
    assert data["family"] == "rcdb" and data["formula"]["size"] == 64
    # complete: every option of the family, the papers' values where neither preset nor flag sets one
    assert data["formula"] == dict(formula_class("rcdb").Config(size=64).to_dict())
    # the preset's family: a flag changes one option and keeps the preset's others
    data = printed_config(run_cli, "--size", "48", "--no-graded")["data"]
    assert data["formula"]["size"] == 48 and data["formula"]["graded"] is False
    assert data["formula"]["points"] == 2000  # the cpu-small preset's
    # the family of --preset and of --set offers its options too
    assert printed_config(run_cli, "--preset", "cpu-small-perlin", "--variant", "1296")["data"]["formula"]["variant"] == 1296
    assert printed_config(run_cli, "--set", "data.family=bezier", "--set", "data.formula={}",
                          "--variant", "144")["data"]["formula"]["variant"] == 144


def test_an_option_of_another_family_is_refused(run_cli, tmp_path):
    code, _, err = run_cli("pretrain", "--family", "perlin", "--points", "5", "-o", tmp_path / "run")
    one_line_error(code, err, "unrecognized arguments: --points 5")


def test_seed_is_the_training_seed_and_data_seed_the_datas(run_cli):
    config = printed_config(run_cli, "--seed", "3", "--data-seed", "7")
    assert config["train"]["seed"] == 3 and config["data"]["seed"] == 7


def test_data_seed_chooses_the_rendered_images(run_cli, tmp_path):
    def render(*extra):
        out = tmp_path / "-".join(extra or ("default",))
        code, _, err = run_cli("render", "fractaldb", "--categories", "1", "--instances", "1", "-o", out,
                               *SMALL_FLAGS, *extra)
        assert code == 0, err
        return next(out.rglob("*.png")).read_bytes()

    assert render("--data-seed", "0") == render()
    assert render("--data-seed", "5") != render()
    code, _, err = run_cli("render", "fractaldb", "--seed", "5", "-o", tmp_path / "x")
    one_line_error(code, err, "the seed the data derives from is --data-seed")


@pytest.mark.parametrize("argv, needles", [
    (["pretrain"], ["--model NAME", "--lr LR", "--batch-size BATCH_SIZE", "--data-seed SEED",
                    "fractaldb options (data.formula", "--size SIZE", "--graded, --no-graded"]),
    (["finetune"], ["--model NAME", "--data-root ROOT", "--init INIT", "--new-head, --no-new-head"]),
    (["render", "fractaldb"], ["--size SIZE", "--render-mode {patch,point}", "--data-seed SEED"]),
])
def test_help_metavars_are_readable(capsys, argv, needles):
    from fdsl.cli import main

    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    text = capsys.readouterr().out
    assert "CFG__" not in text and "CONFIG:" not in text  # no dest shows
    for needle in needles:
        assert needle in text, needle
