"""Formula families from other packages, through the ``fdsl.formulas`` entry-point group.

The fast tests put a plugin on the path as an installed distribution would leave it (a package and
a ``*.dist-info`` folder with ``entry_points.txt``: what ``importlib.metadata`` reads, the same code
path as a pip install); the slow one really ``pip install``s a tiny package and uninstalls it."""
from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image
from train_helpers import TINY, write_yaml

from fdsl.cli import main
from fdsl.errors import FdslError
from fdsl.licensing import generated_data_license
from fdsl.registry import ENTRY_POINT_GROUP, family_plugin, get_formula, list_formulas, load_plugins, unregister
from fdsl.train.checkpoint import load_weights

#: A complete family in a dozen lines: vertical stripes whose period is the category.
STRIPES_MODULE = '''
import dataclasses

import numpy as np

from fdsl.formulas.base import Formula, FormulaConfig
from fdsl.registry import register


@dataclasses.dataclass
class StripesConfig(FormulaConfig):
    size: int = 32


@register("{family}")
class Stripes(Formula):
    """Vertical stripes, a period per category, a phase per instance (a test plugin)."""

    Config = StripesConfig

    def sample_category(self, rng):
        return {{"period": int(rng.integers(2, 9))}}

    def render(self, params, instance, rng):
        x = (np.arange(self.config.size) + instance) // params["period"] % 2
        row = (x * 200 + rng.integers(0, 50)).astype(np.uint8)
        return np.ascontiguousarray(np.tile(row, (self.config.size, 1)))
'''
_names = itertools.count()


def write_plugin(site: Path, plugin: str, module_text: str) -> str:
    """A plugin as installed under ``site``: package ``<module>``, and its dist-info naming the entry
    point ``plugin = <module>``; returns the module name (unique per call, so never cached)."""
    module = f"fdsl_plugin_{plugin.replace('-', '_')}_{next(_names)}"
    (site / module).mkdir(parents=True)
    (site / module / "__init__.py").write_text(module_text)
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{plugin} = {module}\n")
    return module


def fdsl_process(site: Path, *argv, cwd: Path) -> subprocess.CompletedProcess:
    """``fdsl ARGV`` in a fresh interpreter that sees the plugins under ``site``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "fdsl", *map(str, argv)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path for plugins; the families they register are removed afterwards."""
    before = set(list_formulas())
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for name in set(list_formulas()) - before:
        unregister(name)


@pytest.fixture
def registry_warnings():
    """The messages the registry logs (caught on its own logger: training code may stop ``fdsl``
    loggers from propagating to the root, where caplog listens)."""
    messages: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("fdsl.registry")
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


def test_a_plugin_family_is_used_by_name_in_every_command(site, tmp_path):
    write_plugin(site, "stripes", STRIPES_MODULE.format(family="test-stripes"))
    listing = fdsl_process(site, "list", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    line = next(row for row in listing.stdout.splitlines() if row.startswith("test-stripes"))
    assert "Vertical stripes" in line and "[plugin 'stripes'" in line
    assert "fractaldb" in listing.stdout  # the built-in families are still there

    rendered = fdsl_process(site, "render", "test-stripes", "--categories", "2", "--instances", "3", "--size", "16",
                            "-o", tmp_path / "data", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    image = Image.open(tmp_path / "data" / "00001" / "00001_00002.png")
    assert image.size == (16, 16) and image.mode == "L"

    shown = fdsl_process(site, "show", "test-stripes", "--categories", "2", "--instances", "2", "--tile", "16",
                         "-o", tmp_path / "gallery.png", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert Image.open(tmp_path / "gallery.png").size[0] >= 2 * 16



@pytest.mark.slow  # trains a model
def test_pretraining_takes_a_plugin_family_by_name(site, tmp_path):
    write_plugin(site, "stripes", STRIPES_MODULE.format(family="test-stripes-train"))
    load_plugins()  # what the first registry call does in a fresh process (this one has made it already)
    config = write_yaml(tmp_path / "tiny.yaml", {**TINY, "train": {**TINY["train"], "epochs": 1},
                                                 "data": {"formula": {"size": 32}, "categories": 2, "instances": 8}})
    assert main(["pretrain", "--family", "test-stripes-train", "--config", str(config), "-o", str(tmp_path / "run")]) == 0
    assert load_weights(tmp_path / "run" / "last").config["fdsl"]["data"]["family"] == "test-stripes-train"


def test_plugins_load_in_process_and_name_their_plugin(site):
    module = write_plugin(site, "stripes", STRIPES_MODULE.format(family="test-stripes-here"))
    assert load_plugins() == ["test-stripes-here"]
    assert load_plugins() == []  # each plugin loads once
    assert "test-stripes-here" in list_formulas()
    assert family_plugin("test-stripes-here") == f"plugin 'stripes' ({module}, package {module})"
    assert family_plugin("fractaldb") is None
    image = get_formula("test-stripes-here", size=20).sample({"period": 3}, 0, 0, 0)
    assert image.shape == (20, 20)
    stated = generated_data_license("test-stripes-here")  # what its dataset cards say
    assert stated["spdx"] is None and f"plugin 'stripes' ({module}" in stated["note"]


def test_a_broken_plugin_is_one_warning_and_the_rest_works(site, tmp_path, registry_warnings):
    write_plugin(site, "broken", "import no_such_module_anywhere\n")
    assert load_plugins() == []
    assert len(registry_warnings) == 1
    message = registry_warnings[0]
    assert "plugin 'broken'" in message and "ModuleNotFoundError" in message and "no_such_module_anywhere" in message

    listing = fdsl_process(site, "list", cwd=tmp_path)
    assert listing.returncode == 0 and "fractaldb" in listing.stdout
    assert "Traceback" not in listing.stderr and len(listing.stderr.strip().splitlines()) == 1
    assert "plugin 'broken'" in listing.stderr


def test_a_plugin_that_registers_nothing_is_named_in_a_warning(site, registry_warnings):
    write_plugin(site, "empty", "VALUE = 1\n")
    assert load_plugins() == []
    assert len(registry_warnings) == 1 and "plugin 'empty'" in registry_warnings[0]


def test_a_taken_family_name_is_an_error_naming_both_owners(site, tmp_path):
    write_plugin(site, "impostor", STRIPES_MODULE.format(family="fractaldb"))
    with pytest.raises(FdslError, match=r"family 'fractaldb' of plugin 'impostor' .* already registered by "
                                        r"fdsl\.formulas\.fractaldb"):
        load_plugins()
    listing = fdsl_process(site, "list", cwd=tmp_path)
    assert listing.returncode == 2 and "Traceback" not in listing.stderr
    assert "plugin 'impostor'" in listing.stderr and "fdsl.formulas.fractaldb" in listing.stderr


def test_two_plugins_with_one_family_name_name_both_plugins(site):
    write_plugin(site, "first", STRIPES_MODULE.format(family="test-stripes-twice"))
    write_plugin(site, "second", STRIPES_MODULE.format(family="test-stripes-twice"))
    with pytest.raises(FdslError, match=r"'test-stripes-twice' of plugin 'second' .* already registered by "
                                        r"plugin 'first'"):
        load_plugins()


# --- a real install ---------------------------------------------------------------------------------
PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "fdsl-stripes-demo"
version = "0.1.0"
dependencies = ["fdsl"]

[project.entry-points."fdsl.formulas"]
stripes-demo = "fdsl_stripes_demo"
"""


@pytest.fixture
def installed_plugin(tmp_path):
    """``pip install`` a tiny plugin package into this venv; uninstalled afterwards."""
    source = tmp_path / "fdsl-stripes-demo"
    (source / "fdsl_stripes_demo").mkdir(parents=True)
    (source / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (source / "fdsl_stripes_demo" / "__init__.py").write_text(STRIPES_MODULE.format(family="stripes-demo"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # No build isolation: setuptools comes from this venv, so the install needs no network.
    subprocess.run([*pip, "install", "--no-deps", "--no-build-isolation", str(source)], check=True,
                   capture_output=True, timeout=600, cwd=tmp_path)
    yield "stripes-demo"
    subprocess.run([*pip, "uninstall", "-y", "fdsl-stripes-demo"], check=True, capture_output=True, timeout=600)


@pytest.mark.slow
def test_a_pip_installed_plugin_family_renders_by_name(installed_plugin, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    fdsl = [sys.executable, "-m", "fdsl"]
    listing = subprocess.run([*fdsl, "list"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert listing.returncode == 0, listing.stderr
    assert any(row.startswith(installed_plugin) and "package fdsl-stripes-demo" in row
               for row in listing.stdout.splitlines())
    rendered = subprocess.run([*fdsl, "render", installed_plugin, "--categories", "2", "--instances", "2",
                               "-o", tmp_path / "data"], capture_output=True, text=True, env=env, cwd=tmp_path,
                              timeout=300)
    assert rendered.returncode == 0, rendered.stderr
    assert Image.open(tmp_path / "data" / "00000" / "00000_00001.png").size == (32, 32)
