"""Shared fixtures: small FractalDB settings, a few searched categories, the CLI run in-process."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fdsl.cli import main
from fdsl.registry import get_formula

#: FractalDB at a size that renders in about a millisecond (the family's look, not its cost).
SMALL = {"size": 48, "points": 4000, "search_size": 96, "search_points": 6000}
#: The same settings as ``fdsl`` flags.
SMALL_FLAGS = ["--size", "48", "--points", "4000", "--search-size", "96", "--search-points", "6000"]


@pytest.fixture(scope="session")
def small_fractaldb():
    return get_formula("fractaldb", **SMALL)


@pytest.fixture(scope="session")
def small_categories(small_fractaldb):
    """Three FractalDB categories searched from seed 0 at the small settings."""
    return [small_fractaldb.search_category(0, i) for i in range(3)]


@pytest.fixture(scope="session")
def small_param_dir(tmp_path_factory, small_fractaldb, small_categories) -> Path:
    """The three categories as official CSVs (``00000.csv`` ...)."""
    directory = tmp_path_factory.mktemp("params")
    small_fractaldb.write_categories(small_categories, directory)
    return directory


@pytest.fixture
def run_cli(capsys):
    """Run ``fdsl ARGV`` in this process: returns (exit status, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def tree_snapshot(root: Path) -> dict[str, str]:
    """Every file (hidden ones too) and directory under ``root`` -> sha256 of its bytes ("dir" for folders)."""
    snapshot = {}
    for path in sorted(Path(root).rglob("*")):
        key = str(path.relative_to(root))
        snapshot[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return snapshot



# The quick subset (``pytest -m "not slow"``) trains no model: a test that reaches the training loop,
# in its body or in a fixture it sets up, fails until it is marked ``@pytest.mark.slow`` (runs in
# subprocesses are marked by hand). Hooks rather than a fixture, so that module-scoped fixtures count.
_TRAINING_LOOP = {}


def _refuse_to_train(*args, **kwargs):
    raise AssertionError("this test trains a model: mark it @pytest.mark.slow")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    from fdsl.train import trainer

    _TRAINING_LOOP.setdefault("real", trainer.train_one_epoch)
    trainer.train_one_epoch = _TRAINING_LOOP["real"] if item.get_closest_marker("slow") else _refuse_to_train


def pytest_runtest_teardown(item, nextitem):
    from fdsl.train import trainer

    trainer.train_one_epoch = _TRAINING_LOOP.get("real", trainer.train_one_epoch)
