"""A render into a folder that holds another render is refused (one line naming what differs, exit 2,
nothing changed), also when the other render was interrupted before its card; the same command
resumes. `fdsl verify` names the files its card does not list."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SMALL_FLAGS, tree_snapshot
from train_helpers import one_line_error

from fdsl.data import writer
from fdsl.data.cards import RENDER_RECORD
from fdsl.data.writer import CARD_NAME


def render_args(out, params, *extra):
    """A tiny FractalDB render from the fixture's CSVs, with ``extra`` flags last (argparse keeps the last)."""
    return ["render", "fractaldb", "--param-dir", params, "--categories", "2", "--instances", "2", *SMALL_FLAGS,
            "-o", out, *extra]


@pytest.fixture
def rendered(tmp_path, small_param_dir, run_cli):
    out = tmp_path / "r"
    code, _, err = run_cli(*render_args(out, small_param_dir))
    assert code == 0, err
    return out


OTHER_CONFIGURATIONS = {
    "size": (["--size", "64"], ["option 'size'", "48", "64"]),
    "data seed": (["--data-seed", "1"], ["data seed is 0", "1"]),
    "format": (["--format", "wds"], ["format is 'folder'", "'wds'"]),
    "instances": (["--instances", "3"], ["instances per category is 2", "3"]),
    "categories": (["--categories", "3"], ["categories is 2", "3"]),
}


@pytest.mark.parametrize("extra, needles", OTHER_CONFIGURATIONS.values(), ids=OTHER_CONFIGURATIONS.keys())
def test_another_configuration_is_refused(rendered, small_param_dir, run_cli, extra, needles):
    before = tree_snapshot(rendered)
    code, out, err = run_cli(*render_args(rendered, small_param_dir, *extra))
    one_line_error(code, err, str(rendered), CARD_NAME, *needles, stdout=out)
    assert tree_snapshot(rendered) == before


def test_another_family_is_refused(rendered, run_cli):
    before = tree_snapshot(rendered)
    code, out, err = run_cli("render", "perlin", "--categories", "2", "--instances", "2", "--size", "48",
                             "-o", rendered)
    one_line_error(code, err, "family is 'fractaldb'", "'perlin'", stdout=out)
    assert tree_snapshot(rendered) == before


def test_other_category_parameters_are_refused(rendered, small_param_dir, tmp_path, run_cli):
    other = tmp_path / "other-params"
    other.mkdir()
    for name in ("00000.csv", "00001.csv"):  # the categories swapped: same count, other parameters
        (other / name).write_bytes((small_param_dir / ("00001.csv" if name == "00000.csv" else "00000.csv")).read_bytes())
    before = tree_snapshot(rendered)
    code, out, err = run_cli(*render_args(rendered, other))
    one_line_error(code, err, "category parameters", stdout=out)
    assert tree_snapshot(rendered) == before


def test_the_same_command_rerenders_what_is_missing(rendered, small_param_dir, run_cli):
    card = (rendered / CARD_NAME).read_bytes()
    victim = next(rendered.glob("00001/*.png"))
    victim.unlink()
    code, _, err = run_cli(*render_args(rendered, small_param_dir))
    assert code == 0, err
    assert victim.is_file() and (rendered / CARD_NAME).read_bytes() == card
    assert not (rendered / RENDER_RECORD).exists()


def interrupted_render(out, params, run_cli, monkeypatch, *extra):
    """The render cut short by a Ctrl-C after its first sample: files, but no card yet."""
    real, calls = writer._render_one, {"n": 0}

    def render_one(task):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(writer, "_render_one", render_one)
    code, _, _ = run_cli(*render_args(out, params, *extra))
    monkeypatch.setattr(writer, "_render_one", real)
    assert code == 130 and not (out / CARD_NAME).exists() and len(list(out.glob("*/*.png"))) == 1


def test_an_interrupted_render_refuses_another_configuration_and_resumes(tmp_path, small_param_dir, run_cli,
                                                                         monkeypatch, rendered):
    out = tmp_path / "cut"
    interrupted_render(out, small_param_dir, run_cli, monkeypatch)
    assert (out / RENDER_RECORD).is_file()
    before = tree_snapshot(out)
    code, text, err = run_cli(*render_args(out, small_param_dir, "--size", "64"))
    one_line_error(code, err, RENDER_RECORD, "option 'size'", stdout=text)
    assert tree_snapshot(out) == before
    code, _, err = run_cli("verify", out)
    assert code == 2 and "unfinished render" in err
    code, _, err = run_cli(*render_args(out, small_param_dir))
    assert code == 0, err
    assert tree_snapshot(out) == tree_snapshot(rendered)  # as if never interrupted, and no record left


def test_a_shard_card_refuses_another_configuration(tmp_path, small_param_dir, run_cli):
    out = tmp_path / "half"
    code, _, err = run_cli(*render_args(out, small_param_dir, "--shard", "0/2"))
    assert code == 0, err
    before = tree_snapshot(out)
    code, text, err = run_cli(*render_args(out, small_param_dir, "--shard", "1/2", "--data-seed", "5"))
    one_line_error(code, err, "dataset_card.shard-0-of-2.json", "data seed", stdout=text)
    assert tree_snapshot(out) == before
    code, _, err = run_cli(*render_args(out, small_param_dir, "--shard", "1/2"))
    assert code == 0, err
    assert (out / CARD_NAME).is_file() and not (out / RENDER_RECORD).exists()


def test_wds_shard_size_is_part_of_the_configuration(tmp_path, small_param_dir, run_cli):
    out = tmp_path / "wds"
    code, _, err = run_cli(*render_args(out, small_param_dir, "--format", "wds", "--shard-size", "2"))
    assert code == 0, err
    before = tree_snapshot(out)
    code, text, err = run_cli(*render_args(out, small_param_dir, "--format", "wds", "--shard-size", "3"))
    one_line_error(code, err, "shard size is 2", "3", stdout=text)
    assert tree_snapshot(out) == before


def test_a_folder_of_other_files_is_refused(tmp_path, small_param_dir, run_cli):
    out = tmp_path / "photos"
    (out / "cats").mkdir(parents=True)
    (out / "cats" / "tom.jpg").write_bytes(b"a photo")
    before = tree_snapshot(out)
    code, text, err = run_cli(*render_args(out, small_param_dir))
    one_line_error(code, err, "files of no fdsl render", "cats/tom.jpg", stdout=text)
    assert tree_snapshot(out) == before


def test_a_render_record_holds_the_configuration_until_the_card(tmp_path, small_param_dir, run_cli, monkeypatch):
    out = tmp_path / "cut"
    interrupted_render(out, small_param_dir, run_cli, monkeypatch)
    record = json.loads((out / RENDER_RECORD).read_text())
    assert (record["family"], record["seed"], record["categories"], record["config"]["size"]) == ("fractaldb", 0, 2, 48)
    assert list(record["category_files"]) == ["categories.tar"]


# --- verify names the files its card does not list ---------------------------------------------------
def test_verify_names_a_stray_file(rendered, run_cli):
    stray = next(rendered.glob("00000/*.png"))
    (rendered / "00001" / stray.name).write_bytes(stray.read_bytes())  # a mislabelled sample
    (rendered / "notes.txt").write_text("mine")
    code, text, _ = run_cli("verify", rendered)
    assert code == 1
    assert f"00001/{stray.name}: not listed in the dataset card" in text and "notes.txt: not listed" in text
    assert text.strip().endswith("5 of 5 files match the dataset card; 2 file(s) it does not list")


@pytest.mark.parametrize("data_format", ["folder", "wds"])
def test_a_rerun_renders_again_a_file_that_differs_from_the_card(tmp_path, small_param_dir, run_cli, data_format):
    """A resumed render does not list a damaged file's bytes in a new card (verify would then pass)."""
    out = tmp_path / data_format
    flags = ["--format", data_format, "--shard-size", "2"]
    assert run_cli(*render_args(out, small_param_dir, *flags))[0] == 0
    before = tree_snapshot(out)
    victim = next(out.glob("shards/*.tar" if data_format == "wds" else "00001/*.png"))
    damaged = bytearray(victim.read_bytes())
    damaged[len(damaged) // 2] ^= 1
    victim.write_bytes(bytes(damaged))
    code, _, err = run_cli(*render_args(out, small_param_dir, *flags))
    assert code == 0, err
    assert tree_snapshot(out) == before


def test_verify_and_training_name_an_unreadable_file(rendered, run_cli, monkeypatch):
    from fdsl.data import cards
    from fdsl.data.cards import check_rendered_dataset
    from fdsl.errors import FdslError

    victim = next(rendered.glob("00000/*.png"))
    real = cards.file_digest

    def unreadable(path):  # as a file without read permission (the tests may run as root)
        if Path(path) == victim:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(cards, "file_digest", unreadable)
    code, text, _ = run_cli("verify", rendered)
    assert code == 1 and f"00000/{victim.name}: unreadable (Permission denied)" in text
    with pytest.raises(FdslError, match=f"'{victim}' is unreadable \\(Permission denied\\)"):
        check_rendered_dataset(rendered)


def test_a_card_of_an_older_fdsl_without_files_is_rebuilt(rendered, small_param_dir, run_cli):
    card = json.loads((rendered / CARD_NAME).read_text())
    old = {key: value for key, value in card.items() if key not in ("files", "format")}
    (rendered / CARD_NAME).write_text(json.dumps(old))
    code, _, err = run_cli("verify", rendered)
    assert code == 2 and "render again to rebuild it" in err
    code, _, err = run_cli(*render_args(rendered, small_param_dir))
    assert code == 0, err
    assert json.loads((rendered / CARD_NAME).read_text()) == card
