"""The command line: every bad input ends with one line naming the value and what is allowed,
exit status 2 and nothing written; `fdsl show` and `fdsl search` write what they say."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from train_helpers import one_line_error
from fdsl.data.categories import search_categories
from fdsl.registry import get_formula, list_formulas
from fdsl.viz.gallery import GAP, LABEL_WIDTH

from conftest import SMALL, SMALL_FLAGS, tree_snapshot

OUT = "{tmp}/out"
PARAMS = "{params}"

# (id, argv, text that must appear: the value, and what is allowed). "{tmp}" is the test's folder;
# "{params}" a folder of three good CSVs. Small flags and --categories keep a wrong pass fast.
BAD_VALUES = [
    ("search categories 0", ["search", "fractaldb", "--categories", "0"], ["categories = 0", ">= 1"]),
    ("render categories -3", ["render", "fractaldb", "--categories", "-3", "--instances", "2"], ["-3", ">= 1"]),
    ("show categories 0", ["show", "fractaldb", "--categories", "0"], ["categories = 0", ">= 1"]),
    ("size 7", ["render", "fractaldb", "--size", "7", "--categories", "1"], ["size = 7", ">= 8"]),
    ("size 0 search", ["search", "fractaldb", "--size", "0", "--categories", "1"], ["size = 0", ">= 8"]),
    ("search-size 4", ["search", "fractaldb", "--search-size", "4", "--categories", "1"], ["search_size = 4", ">= 8"]),
    ("size not an int", ["render", "fractaldb", "--size", "big"], ["--size", "'big'", "int"]),
    ("fill-rate 0", ["search", "fractaldb", "--fill-rate", "0", "--categories", "1"], ["fill_rate = 0.0", "(0.0, 1.0]"]),
    ("fill-rate -0.2", ["search", "fractaldb", "--fill-rate", "-0.2", "--categories", "1"], ["-0.2", "(0.0, 1.0]"]),
    ("fill-rate 1.5", ["render", "fractaldb", "--fill-rate", "1.5", "--categories", "1"], ["1.5", "(0.0, 1.0]"]),
    ("fill-rate nan", ["search", "fractaldb", "--fill-rate", "nan", "--categories", "1"], ["nan", "(0.0, 1.0]"]),
    ("sampler", ["search", "fractaldb", "--sampler", "sobol", "--categories", "1"], ["'sobol'", "fractaldb, anderson"]),
    ("family render", ["render", "mandelbrot"], ["'mandelbrot'", "fractaldb"]),
    ("family search", ["search", "julia"], ["'julia'", "fractaldb"]),
    ("family show", ["show", "lsystem"], ["'lsystem'", "fractaldb"]),
    ("render-mode", ["render", "fractaldb", "--render-mode", "blob", "--categories", "1"], ["'blob'", "patch, point"]),
    ("color", ["render", "fractaldb", "--color", "purple", "--categories", "1"], ["'purple'", "gray, color"]),
    ("interval", ["render", "fractaldb", "--interval", "0.7", "--categories", "1"], ["interval = 0.7", "[0.0, 0.5]"]),
    ("flips", ["render", "fractaldb", "--flips", "3", "--categories", "1"], ["flips = 3", "1, 2 or 4"]),
    ("gray-value", ["render", "fractaldb", "--gray-value", "0", "--categories", "1"], ["gray_value = 0", "[1, 255]"]),
    ("max-maps", ["search", "fractaldb", "--max-maps", "1", "--categories", "1"], ["max_maps", "2 <= min_maps"]),
    ("instances 0", ["render", "fractaldb", "--instances", "0", "--categories", "1"], ["instances = 0", ">= 1"]),
    ("instances 1001", ["render", "fractaldb", "--instances", "1001"], ["instances = 1001", "1000"]),
    ("workers 0 render", ["render", "fractaldb", "--workers", "0", "--categories", "1"], ["workers = 0", ">= 1"]),
    ("workers 0 search", ["search", "fractaldb", "--workers", "0", "--categories", "1"], ["workers = 0", ">= 1"]),
    ("shard 2/2", ["render", "fractaldb", "--shard", "2/2", "--categories", "1"], ["'2/2'", "0 <= i < N"]),
    ("shard text", ["render", "fractaldb", "--shard", "half", "--categories", "1"], ["'half'", "i/N"]),
    ("tile 4", ["show", "fractaldb", "--tile", "4", "--categories", "1"], ["tile = 4", ">= 8"]),
    ("show instances 0", ["show", "fractaldb", "--instances", "0", "--categories", "1"], ["instances = 0", ">= 1"]),
    ("unknown command", ["paint", "fractaldb"], ["'paint'", "list"]),
    ("more categories than CSVs", ["render", "fractaldb", "--param-dir", PARAMS, "--categories", "5"],
     ["categories = 5", "only 3"]),
]


def fill(argv: list[str], tmp, params) -> list[str]:
    return [a.format(tmp=tmp, params=params) for a in argv]


@pytest.mark.parametrize("argv, needles", [case[1:] for case in BAD_VALUES], ids=[case[0] for case in BAD_VALUES])
def test_bad_value(tmp_path, small_param_dir, run_cli, argv, needles):
    work = tmp_path / "work"
    work.mkdir()
    out = work / ("gallery.png" if argv[0] == "show" else "out")
    before = tree_snapshot(tmp_path)
    code, stdout, err = run_cli(*fill(argv, work, small_param_dir), "-o", out, *SMALL_FLAGS_FOR(argv))
    one_line_error(code, err, *needles, stdout=stdout)
    assert tree_snapshot(tmp_path) == before  # nothing written


def SMALL_FLAGS_FOR(argv: list[str]) -> list[str]:  # noqa: N802  (reads like the constant it extends)
    """The small family flags, except those the case sets itself (and none for an unknown family)."""
    if len(argv) < 2 or argv[1] not in list_formulas():
        return []
    flags = []
    for flag, value in zip(SMALL_FLAGS[::2], SMALL_FLAGS[1::2]):
        if flag not in argv:
            flags += [flag, value]
    return flags


# --- bad files and outputs ---------------------------------------------------------------------
BAD_CSVS = {
    "six columns": (b"0.1,0.2,0.3,0.4,0.5,0.6\n", ["line 1: 6 columns", "allowed: 7"]),
    "non-numeric": (b"0.1,0.2,zero,0.4,0.5,0.6,1\n", ["line 1: non-numeric", "zero"]),
    "non-finite": (b"0.1,0.2,0.3,0.4,0.5,0.6,1\n0.1,nan,0.3,0.4,0.5,0.6,1\n", ["line 2: non-finite", "nan"]),
    "empty": (b"", ["no rows", "one row per map"]),
    "binary": (b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01", ["not UTF-8 text", "allowed"]),
    "header": (b"a,b,c,d,e,f,p\n0.1,0.2,0.3,0.4,0.5,0.6,1\n", ["line 1: non-numeric", "'a'"]),
}


@pytest.mark.parametrize("content, needles", BAD_CSVS.values(), ids=BAD_CSVS.keys())
@pytest.mark.parametrize("command", ["render", "show"])
def test_malformed_csv(tmp_path, run_cli, command, content, needles):
    params = tmp_path / "params"
    params.mkdir()
    (params / "00000.csv").write_text("0.5,0,0,0.5,0,0,1\n0.5,0,0,0.5,0.5,0.5,1\n")
    (params / "00001.csv").write_bytes(content)
    out = tmp_path / ("g.png" if command == "show" else "out")
    before = tree_snapshot(tmp_path)
    code, stdout, err = run_cli(command, "fractaldb", "--param-dir", params, "--categories", "2", "-o", out,
                                *SMALL_FLAGS)
    one_line_error(code, err, *["00001.csv", *needles], stdout=stdout)
    assert tree_snapshot(tmp_path) == before


@pytest.mark.parametrize("what", ["missing", "empty", "a file"])
def test_missing_csvs(tmp_path, run_cli, what):
    params = tmp_path / "params"
    if what == "empty":
        params.mkdir()
    elif what == "a file":
        params.write_text("0.5,0,0,0.5,0,0,1\n")
    before = tree_snapshot(tmp_path)
    code, stdout, err = run_cli("render", "fractaldb", "--param-dir", params, "--categories", "1", "-o",
                                tmp_path / "out", *SMALL_FLAGS)
    one_line_error(code, err, *[str(params), "holds no .csv" if what == "empty" else "does not exist"], stdout=stdout)
    assert tree_snapshot(tmp_path) == before


def unwritable_outputs(tmp_path):
    """(output path, text naming it): a file in the way, a path under a file."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    return [(blocker, "exists and is not a directory"), (blocker / "sub" / "out", "blocker")]


@pytest.mark.parametrize("command", ["render", "search"])
def test_unwritable_output(tmp_path, small_param_dir, run_cli, command):
    extra = ["--param-dir", small_param_dir] if command == "render" else []
    for out, needle in unwritable_outputs(tmp_path):
        before = tree_snapshot(tmp_path)
        code, stdout, err = run_cli(command, "fractaldb", "--categories", "2", *extra, "-o", out, *SMALL_FLAGS)
        one_line_error(code, err, *[str(tmp_path / "blocker"), needle], stdout=stdout)
        assert tree_snapshot(tmp_path) == before


def test_show_to_an_unwritable_path_or_a_directory(tmp_path, small_param_dir, run_cli):
    (tmp_path / "a-dir").mkdir()
    under_a_file = unwritable_outputs(tmp_path)[1]  # (an existing file is a PNG to overwrite)
    cases = [under_a_file, (tmp_path / "a-dir", "is a directory")]
    for out, needle in cases:
        before = tree_snapshot(tmp_path)
        code, stdout, err = run_cli("show", "fractaldb", "--param-dir", small_param_dir, "--categories", "1",
                                    "-o", out, *SMALL_FLAGS)
        one_line_error(code, err, *[needle], stdout=stdout)
        assert tree_snapshot(tmp_path) == before


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root can write anywhere")
def test_output_without_write_permission(tmp_path, run_cli):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, stdout, err = run_cli("search", "fractaldb", "--categories", "1", "-o", locked / "out", *SMALL_FLAGS)
    one_line_error(code, err, *[str(locked), "not writable"], stdout=stdout)
    assert list(locked.iterdir()) == []


def test_real_process_exit_status(tmp_path):
    result = subprocess.run([sys.executable, "-m", "fdsl", "render", "fractaldb", "--size", "7", "-o",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr == "fdsl: error: size = 7 is too small; allowed: >= 8\n"
    assert not (tmp_path / "out").exists()


def test_an_error_re_raised_from_a_loader_worker_is_one_line():
    from fdsl.cli import error_line
    from fdsl.errors import FdslError

    wrapped = FdslError("Caught FdslError in DataLoader worker process 0.\nOriginal Traceback (most recent call "
                        "last):\n  File \"x.py\", line 1, in f\nfdsl.errors.FdslError: image file 'a/x.jpg': bad\n")
    assert error_line(wrapped) == "image file 'a/x.jpg': bad"
    assert error_line(FdslError("size = 7: too small")) == "size = 7: too small"


def test_a_reader_that_goes_away_ends_quietly():
    """`fdsl models 'vit_*' | head`: no BrokenPipeError traceback, the shell's SIGPIPE status."""
    process = subprocess.Popen([sys.executable, "-m", "fdsl", "models", "vit_*"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # before fdsl writes: its first write finds no reader
    err = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert err == ""


# --- commands that work ------------------------------------------------------------------------
def test_list_names_every_family(run_cli):
    code, out, _ = run_cli("list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == list_formulas()


def test_show_writes_a_png_grid_of_the_expected_size(tmp_path, run_cli):
    out = tmp_path / "deep" / "gallery.png"
    code, stdout, err = run_cli("show", "fractaldb", "--categories", "2", "--instances", "3", "--tile", "32",
                                "-o", out, *SMALL_FLAGS)
    assert code == 0, err
    image = Image.open(out)
    assert image.mode == "RGB"
    assert image.size == (LABEL_WIDTH + 3 * (32 + GAP), 2 * (32 + GAP))
    assert np.asarray(image)[:, LABEL_WIDTH:].max() > 100  # the fractals are drawn, not just the frame
    assert [p.name for p in out.parent.iterdir()] == ["gallery.png"]  # no temporary left


def test_search_writes_official_csvs_equal_to_the_library(tmp_path, run_cli):
    code, out, err = run_cli("search", "fractaldb", "--categories", "3", "--data-seed", "4", "--workers", "2",
                             "-o", tmp_path / "params", *SMALL_FLAGS)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "params").iterdir()) == ["00000.csv", "00001.csv", "00002.csv"]
    expected = search_categories(get_formula("fractaldb", **SMALL), 3, seed=4, progress=False)
    for index, params in enumerate(expected):
        rows = [[float(v) for v in line.split(",")]
                for line in (tmp_path / "params" / f"{index:05d}.csv").read_text().splitlines()]
        np.testing.assert_array_equal(rows, params)


def test_render_cli_writes_images_and_card(tmp_path, small_param_dir, run_cli):
    code, out, err = run_cli("render", "fractaldb", "--param-dir", small_param_dir, "--categories", "2",
                             "--instances", "3", "-o", tmp_path / "ds", *SMALL_FLAGS)
    assert code == 0, err
    assert "wrote 6 image samples of 2 categories" in out
    assert sorted(p.name for p in (tmp_path / "ds" / "00001").iterdir()) == [
        "00001_00_count_0_flip0.png", "00001_00_count_0_flip1.png", "00001_00_count_0_flip2.png"]
    assert (tmp_path / "ds" / "dataset_card.json").is_file()
