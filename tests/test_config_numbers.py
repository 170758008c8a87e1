"""Numbers in configs: YAML 1.1 reads ``2e-1`` and ``1e3`` as strings; every config path takes them
(and ``1_000``) wherever a number goes, and names the key in one line when a value is no number."""
from __future__ import annotations

import pytest
import yaml

from fdsl.errors import FdslError
from fdsl.numeric import to_number
from fdsl.registry import get_formula
from fdsl.configs import parse_assignment, resolve
from fdsl.tasks.classification.presets import pretrain_preset
from fdsl.experiments.study import parse_study

YAML = """
optim: {lr: 2e-1, warmup_lr: 1e-6, lr_base_batch: 1_000}
train: {epochs: 1e1, batch_size: "1_024", seed: 7.0}
data: {categories: 1_000, formula: {size: 6.4e1, fill_rate: 2e-1}}
"""


def test_yaml_spellings_of_numbers_resolve_to_the_declared_types():
    values = yaml.safe_load(YAML)
    assert values["optim"]["lr"] == "2e-1"  # what PyYAML makes of it: the reason for the conversion
    config = resolve(pretrain_preset("cpu-small"), values)
    assert (config.optim.lr, config.optim.warmup_lr, config.optim.lr_base_batch) == (0.2, 1e-6, 1000)
    assert isinstance(config.optim.lr, float) and isinstance(config.optim.lr_base_batch, int)
    assert (config.train.epochs, config.train.batch_size, config.train.seed) == (10, 1024, 7)
    assert all(type(v) is int for v in (config.train.epochs, config.train.batch_size, config.train.seed))
    assert config.data.categories == 1000


def test_set_overrides_take_the_same_spellings():
    config = resolve(pretrain_preset("cpu-small"), parse_assignment("optim.lr=5e-4"),
                     parse_assignment("train.epochs=1_0"))
    assert config.optim.lr == 5e-4 and config.train.epochs == 10


def test_family_options_are_converted_to_their_fields_types():
    formula = get_formula("fractaldb", **yaml.safe_load(YAML)["data"]["formula"])
    assert formula.config.size == 64 and type(formula.config.size) is int
    assert formula.config.fill_rate == 0.2 and type(formula.config.fill_rate) is float
    with pytest.raises(FdslError, match=r"^option 'points' = '2k'; expected int$"):
        get_formula("fractaldb", points="2k")


def test_study_seeds_and_jobs_take_numbers_in_any_spelling():
    study = parse_study(yaml.safe_load("seeds: [0, 1e0, '2']\njobs: 2e0\nvariants: {a: {}}"))
    assert study.seeds == [0, 1, 2] and study.jobs == 2
    with pytest.raises(FdslError, match=r"seeds\[1\] = 0.5; expected int"):
        parse_study({"seeds": [0, 0.5], "variants": {"a": {}}})


@pytest.mark.parametrize("assignment, message", [
    ("optim.lr=fast", "config 'optim.lr' = 'fast'; expected float"),
    ("train.epochs=2.5", "config 'train.epochs' = 2.5; expected int"),
    ("train.epochs=1e-1", "config 'train.epochs' = '1e-1'; expected int"),
    ("train.epochs=true", "config 'train.epochs' = True; expected int"),
    ("optim.clip_grad=[1]", "config 'optim.clip_grad' = [1]; expected float"),
])
def test_values_that_are_not_numbers_name_the_key(assignment, message):
    with pytest.raises(FdslError) as caught:
        resolve(pretrain_preset("cpu-small"), parse_assignment(assignment))
    assert str(caught.value) == message


@pytest.mark.parametrize("value, kind, expected", [
    ("2e-1", float, 0.2), ("1_000", int, 1000), ("1e3", int, 1000), (3, float, 3.0), (4.0, int, 4),
    (" 12 ", int, 12), ("-0.5", float, -0.5),
])
def test_to_number(value, kind, expected):
    number = to_number(value, kind, "x")
    assert number == expected and type(number) is kind


@pytest.mark.parametrize("value, kind", [("nan", int), ("inf", int), (False, float), (None, int), ("1,5", float)])
def test_to_number_rejects(value, kind):
    with pytest.raises(FdslError, match=r"^x = .*; expected (int|float)$"):
        to_number(value, kind, "x")
