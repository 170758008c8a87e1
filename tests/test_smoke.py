"""Every sub-command of the parser answers ``--help`` and has a tiny real run: here for the quick ones,
in a named end-to-end test for the training ones. A new sub-command fails here until it has both."""
from __future__ import annotations

import argparse
import importlib
import inspect

import pytest

from fdsl.cli import FAMILY_COMMANDS, build_parser
from fdsl.registry import list_formulas

from conftest import SMALL_FLAGS


def subcommands() -> list[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # argparse has no public way
    return sorted(sub.choices)


COMMANDS = subcommands()
#: Quick real runs ("{tmp}": the test's folder).
TINY_RUNS = {
    "list": ["list"],
    "search": ["search", "fractaldb", "--categories", "1", "-o", "{tmp}/params", *SMALL_FLAGS],
    "render": ["render", "fractaldb", "--categories", "1", "--instances", "2", "-o", "{tmp}/ds", *SMALL_FLAGS],
    "show": ["show", "fractaldb", "--categories", "1", "--instances", "2", "--tile", "16", "-o", "{tmp}/g.png",
             *SMALL_FLAGS],
}
#: Commands whose tiny run trains models (or imports timm), or needs a dataset: the test (module, function)
#: that runs them.
COVERED_BY = {
    "models": ("test_train_cli", "test_models_lists_valid_names"),
    "card": ("test_wds", "test_card_merge_command"),  # needs shard renders first
    "verify": ("test_wds", "test_verify_names_missing_and_corrupt_files"),  # needs a render first
    "pretrain": ("test_train_cli", "test_resume_continues_a_run"),
    "finetune": ("test_train_cli", "test_pretrain_finetune_evaluate"),
    "evaluate": ("test_train_cli", "test_pretrain_finetune_evaluate"),
    "compare": ("test_train_cli", "test_compare_prints_a_table_and_draws_curves"),
    "study": ("test_study", "test_study_runs_a_grid_end_to_end"),
    "analyze": ("test_report", "test_analyze_cli_and_its_bad_input"),
    "report": ("test_report", "test_report_cli_and_its_bad_input"),
    "demo": ("test_train_cli", "test_demo_runs_the_whole_story_on_a_tiny_recipe"),
}


def help_text(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        build_parser(argv[1] if argv[0] in FAMILY_COMMANDS and len(argv) > 2 else None).parse_args(list(argv))
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_lists_every_command(capsys):
    text = help_text(capsys, "--help")
    assert text.startswith("usage: fdsl") and all(command in text for command in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help(capsys, command):
    text = help_text(capsys, command, "--help")
    assert text.startswith(f"usage: fdsl {command}") and "options:" in text


@pytest.mark.parametrize("family", list_formulas())
@pytest.mark.parametrize("command", FAMILY_COMMANDS)
def test_help_of_a_family_shows_its_options(capsys, command, family):
    text = help_text(capsys, command, family, "--help")
    assert text.startswith(f"usage: fdsl {command}") and f"{family} options" in text


def test_every_command_has_a_tiny_run():
    assert sorted({*TINY_RUNS, *COVERED_BY}) == COMMANDS
    for command, (module, name) in COVERED_BY.items():
        source = inspect.getsource(getattr(importlib.import_module(module), name))
        assert f'"{command}"' in source, f"{module}.{name} does not run `fdsl {command}`"


@pytest.mark.parametrize("command", sorted(TINY_RUNS))
def test_tiny_run(run_cli, tmp_path, command):
    code, out, err = run_cli(*[arg.format(tmp=tmp_path) for arg in TINY_RUNS[command]])
    assert code == 0, err
    assert out.strip()


#: The data commands, each at a tiny size: none of them may import torch (seconds of start-up each).
DATA_COMMANDS = {
    "render": ["render", "fractaldb", "--categories", "1", "--instances", "1", "--size", "32", "--points", "500",
               "--search-size", "32", "--search-points", "500", "-o", "{tmp}/r"],
    "render-wds": ["render", "perlin", "--categories", "1", "--instances", "2", "--size", "16", "--format", "wds",
                   "-o", "{tmp}/w"],
    "search": ["search", "fractaldb", "--categories", "1", "--search-size", "32", "--search-points", "500",
               "-o", "{tmp}/s"],
    "show": ["show", "rcdb", "--categories", "2", "--instances", "1", "--size", "32", "-o", "{tmp}/g.png"],
    "verify": ["verify", "{tmp}/r"],
}
NO_TORCH_PROBE = ("import sys; from fdsl.cli import main; code = main(sys.argv[1:]); "
                  "print('exit', code, 'torch' in sys.modules)")


def test_data_commands_import_no_torch(tmp_path):
    import subprocess
    import sys

    for name, argv in DATA_COMMANDS.items():  # in order: verify reads the render
        done = subprocess.run([sys.executable, "-c", NO_TORCH_PROBE, *[a.format(tmp=tmp_path) for a in argv]],
                              capture_output=True, text=True, timeout=300)
        assert done.stdout.split()[-3:] == ["exit", "0", "False"], (name, done.stdout, done.stderr)
