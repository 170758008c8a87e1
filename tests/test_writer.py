"""The dataset writer: byte-identical output whatever the workers or shards, resume after a killed
render, and the dataset card."""
from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import fdsl
from fdsl.atomic import TMP_MARK
from fdsl.data.categories import search_categories
from fdsl.data.writer import CARD_NAME, Shard, plan_tasks, render_dataset
from fdsl.errors import FdslError
from fdsl.registry import get_formula

from conftest import SMALL
from kill_helpers import kill_when

INSTANCES = 12


def pngs(root: Path) -> dict[str, bytes]:
    """Every visible PNG under ``root`` (relative path -> bytes)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("*/*.png"))}


def hidden_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if p.is_file()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, small_fractaldb, small_categories):
    """The whole small dataset rendered in-process, one worker, no shard: (directory, card)."""
    out = tmp_path_factory.mktemp("reference")
    card = render_dataset(small_fractaldb, small_categories, out, seed=7, instances=INSTANCES, workers=1,
                          progress=False)
    return out, card


def test_two_workers_write_the_same_bytes_as_one(tmp_path, reference, small_fractaldb, small_categories):
    ref_dir, ref_card = reference
    card = render_dataset(small_fractaldb, small_categories, tmp_path, seed=7, instances=INSTANCES, workers=2,
                          progress=False)
    assert len(pngs(ref_dir)) == 3 * INSTANCES
    assert pngs(tmp_path) == pngs(ref_dir)
    assert card == ref_card
    assert (tmp_path / CARD_NAME).read_bytes() == (ref_dir / CARD_NAME).read_bytes()


def test_shards_together_write_the_same_bytes_as_the_whole(tmp_path, reference, small_fractaldb, small_categories):
    ref_dir, _ = reference
    cards = [
        render_dataset(small_fractaldb, small_categories, tmp_path, seed=7, instances=INSTANCES,
                       workers=1 + index, shard=Shard(index, 2), progress=False)
        for index in (1, 0)  # any order
    ]
    assert pngs(tmp_path) == pngs(ref_dir)
    assert sorted(card["shard"] for card in cards) == ["0/2", "1/2"]
    assert sum(card["samples"] for card in cards) == 3 * INSTANCES
    assert (tmp_path / "dataset_card.shard-0-of-2.json").is_file()
    assert (tmp_path / "dataset_card.shard-1-of-2.json").is_file()
    # The last shard to finish merged the two cards into the card of the whole render.
    assert (tmp_path / CARD_NAME).read_bytes() == (ref_dir / CARD_NAME).read_bytes()


def test_one_shard_writes_only_its_images(tmp_path, reference, small_fractaldb, small_categories):
    render_dataset(small_fractaldb, small_categories, tmp_path, seed=7, instances=INSTANCES,
                   shard=Shard(1, 3), progress=False)
    written = pngs(tmp_path)
    assert len(written) == INSTANCES  # 36 images / 3 shards
    assert written.items() <= pngs(reference[0]).items()
    assert not (tmp_path / CARD_NAME).exists()  # one shard of three does not claim the whole dataset


@settings(max_examples=50, deadline=None)
@given(categories=st.integers(1, 6), instances=st.integers(1, 9), count=st.integers(1, 7))
def test_shards_partition_the_tasks(categories, instances, count):
    shards = [plan_tasks(categories, instances, Shard(i, count)) for i in range(count)]
    flat = [task for shard in shards for task in shard]
    assert sorted(flat) == [(c, i) for c in range(categories) for i in range(instances)]
    assert max(map(len, shards)) - min(map(len, shards)) <= 1  # balanced


@pytest.mark.parametrize("text", ["2/2", "-1/2", "0/0", "1", "a/b", "1/2/3"])
def test_bad_shard_text(text):
    with pytest.raises(FdslError, match="allowed: i/N"):
        Shard.parse(text)


def test_torchrun_shard(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert Shard.from_torchrun() == Shard(3, 8)


def test_card_contents(reference, small_fractaldb, small_categories, tmp_path):
    ref_dir, card = reference
    assert json.loads((ref_dir / CARD_NAME).read_text()) == card
    assert card["family"] == "fractaldb" and card["fdsl_version"] == fdsl.__version__
    assert card["config"] == small_fractaldb.config.to_dict() and card["config"]["size"] == SMALL["size"]
    assert (card["seed"], card["categories"], card["instances_per_category"], card["samples"]) == (7, 3, INSTANCES, 36)
    assert (card["shard"], card["kind"], card["image_mode"], card["category_source"]) == ("0/1", "image", "L", "search")
    assert (card["format"], card["category_files"]) == ("folder", "categories.tar")
    # Every file, samples and category parameters, with its sha256.
    on_disk = sorted(str(p.relative_to(ref_dir)) for p in ref_dir.rglob("*") if p.is_file() and p.name != CARD_NAME)
    assert sorted(card["files"]) == on_disk and len(on_disk) == 3 * INSTANCES + 1
    for name, digest in card["files"].items():
        assert hashlib.sha256((ref_dir / name).read_bytes()).hexdigest() == digest
    with tarfile.open(ref_dir / "categories.tar") as tar:
        tar.extractall(tmp_path / "params", filter="data")
    assert [c.tobytes() for c in small_fractaldb.read_categories(tmp_path / "params")] == \
        [c.tobytes() for c in small_categories]
    # One checksum per category over "name:sha256" lines in name order, recomputed from the files.
    assert sorted(card["checksums"]) == ["00000", "00001", "00002"]
    for category, checksum in card["checksums"].items():
        lines = "".join(f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()}\n"
                        for p in sorted((ref_dir / category).glob("*.png")))
        assert hashlib.sha256(lines.encode()).hexdigest() == checksum


def test_files_are_official_names_and_valid_pngs(reference, small_fractaldb, small_categories):
    ref_dir, _ = reference
    names = sorted(p.name for p in (ref_dir / "00001").iterdir())
    assert names == sorted(f"{small_fractaldb.sample_stem(1, i)}.png" for i in range(INSTANCES))
    image = Image.open(ref_dir / "00001" / "00001_00_count_0_flip1.png")
    assert (image.mode, image.size) == ("L", (48, 48))
    assert image.tobytes() == small_fractaldb.sample(small_categories[1], 7, 1, 1).tobytes()


def test_rerun_renders_only_what_is_missing_and_cleans_stale_temporaries(tmp_path, reference, small_fractaldb,
                                                                         small_categories):
    ref_dir, ref_card = reference
    render_dataset(small_fractaldb, small_categories, tmp_path, seed=7, instances=INSTANCES, progress=False)
    victim = tmp_path / "00002" / f"{small_fractaldb.sample_stem(2, 5)}.png"
    victim.unlink()
    stale = tmp_path / "00000" / f".{small_fractaldb.sample_stem(0, 0)}.png{TMP_MARK}99999"
    stale.write_bytes(b"half a png")
    kept = tmp_path / "00001" / f"{small_fractaldb.sample_stem(1, 3)}.png"
    mtime = kept.stat().st_mtime_ns
    card = render_dataset(small_fractaldb, small_categories, tmp_path, seed=7, instances=INSTANCES, progress=False)
    assert victim.is_file() and not stale.exists()
    assert kept.stat().st_mtime_ns == mtime  # existing files are not rewritten
    assert pngs(tmp_path) == pngs(ref_dir) and card == ref_card


def test_search_with_two_workers_matches_one(small_fractaldb, small_categories):
    found = search_categories(small_fractaldb, 3, seed=0, workers=2, progress=False)
    assert [p.tobytes() for p in found] == [p.tobytes() for p in small_categories]


# --- a real `fdsl render` killed mid-way -------------------------------------------------------
KILL_CONFIG = {"size": 128, "points": 20_000}
KILL_INSTANCES = 300


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path, small_param_dir):
    """SIGKILL a real `fdsl render --workers 2` once images appear: every visible file is whole, and
    rerunning the same command completes a dataset identical to an uninterrupted one."""
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "fdsl", "render", "fractaldb", "--param-dir", str(small_param_dir),
               "--categories", "3", "--instances", str(KILL_INSTANCES), "--data-seed", "3", "--workers", "2",
               "--size", str(KILL_CONFIG["size"]), "--points", str(KILL_CONFIG["points"]), "-o", str(out)]
    total = 3 * KILL_INSTANCES
    kill_when(command, lambda: len(list(out.glob("*/*.png"))) >= 30)
    partial = pngs(out)
    assert 30 <= len(partial) < total, "killed too late to test a resume"
    assert not (out / CARD_NAME).exists()  # the card is written last

    formula = get_formula("fractaldb", **KILL_CONFIG)
    categories = formula.read_categories(small_param_dir)
    expected_dir = tmp_path / "uninterrupted"
    expected_card = render_dataset(formula, categories, expected_dir, seed=3, instances=KILL_INSTANCES, workers=2,
                                   category_source=str(small_param_dir), progress=False)
    expected = pngs(expected_dir)
    for name, data in partial.items():
        assert data == expected[name], f"{name} was left half-written or differs"

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert pngs(out) == expected
    assert hidden_files(out) == []  # no temporary left behind
    assert json.loads((out / CARD_NAME).read_text()) == expected_card
