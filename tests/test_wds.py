"""WebDataset shards: deterministic tars for any workers and shards, resume after SIGKILL, one card
merged from shard cards, `fdsl verify`, and pre-training from shards equal to the folder version."""
from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import webdataset

from fdsl.atomic import TMP_MARK
from fdsl.data.config import FormulaDataConfig
from fdsl.data.datasets import formula_datasets
from fdsl.data.wds import rank_share, split_name
from fdsl.data.writer import CARD_NAME, Shard, render_dataset
from fdsl.registry import get_formula
from fdsl.train.run import pretrain

from conftest import SMALL_FLAGS
from kill_helpers import kill_when
from train_helpers import TINY_PRETRAIN, tiny_pretrain

INSTANCES = 10
SHARD_SIZE = 7  # 30 samples: tars of 7, 7, 7, 7, 2, crossing category boundaries


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones too) -> bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def render(formula, categories, out, **options):
    return render_dataset(formula, categories, out, seed=7, instances=INSTANCES, data_format="wds",
                          shard_size=SHARD_SIZE, progress=False, **options)


@pytest.fixture(scope="module")
def whole(tmp_path_factory, small_fractaldb, small_categories):
    out = tmp_path_factory.mktemp("whole")
    return out, render(small_fractaldb, small_categories, out)


def test_tars_follow_the_webdataset_conventions(whole, tmp_path, small_fractaldb, small_categories):
    out, card = whole
    folder = tmp_path / "folder"
    render_dataset(small_fractaldb, small_categories, folder, seed=7, instances=INSTANCES, progress=False)
    assert sorted(p.name for p in (out / "shards").iterdir()) == [f"{t:06d}.tar" for t in range(5)]
    assert (card["format"], card["shard_size"], card["samples"]) == ("wds", SHARD_SIZE, 30)
    with tarfile.open(out / "shards" / "000000.tar") as tar:
        members = tar.getmembers()
    assert {(m.mtime, m.uid, m.gid, m.mode, m.uname, m.gname) for m in members} == {(0, 0, 0, 0o644, "", "")}
    # Read by the webdataset package itself: one sample per key, its PNG the folder version's file.
    samples = list(webdataset.WebDataset(sorted(str(p) for p in (out / "shards").glob("*.tar")), shardshuffle=False))
    pngs = sorted(folder.glob("*/*.png"))
    assert [s["__key__"] for s in samples] == [f"{p.parent.name}/{p.stem}" for p in pngs]  # ImageFolder's order
    assert all(s["png"] == p.read_bytes() for s, p in zip(samples, pngs))
    assert [int(s["cls"]) for s in samples] == [int(p.parent.name) for p in pngs]
    assert split_name("00001/a_b.mask.png") == ("00001/a_b", ".mask.png")


def test_workers_and_shards_write_the_same_bytes(whole, tmp_path, small_fractaldb, small_categories):
    out, _ = whole
    render(small_fractaldb, small_categories, tmp_path / "two", workers=2)
    assert tree(tmp_path / "two") == tree(out)
    for index in (1, 0):  # any order; the second to finish merges the cards
        render(small_fractaldb, small_categories, tmp_path / "sharded", shard=Shard(index, 2), workers=1 + index)
    sharded = tree(tmp_path / "sharded")
    shard_cards = {name for name in sharded if name.startswith("dataset_card.shard-")}
    assert shard_cards == {"dataset_card.shard-0-of-2.json", "dataset_card.shard-1-of-2.json"}
    assert {k: v for k, v in sharded.items() if k not in shard_cards} == tree(out)  # merged card included
    shard0 = json.loads(sharded["dataset_card.shard-0-of-2.json"])
    assert sorted(name for name in shard0["files"] if name.startswith("shards/")) == \
        ["shards/000000.tar", "shards/000002.tar", "shards/000004.tar"]  # whole tars 0, 2, 4


def test_rerun_renders_only_absent_tars(whole, tmp_path, small_fractaldb, small_categories):
    out, _ = whole
    render(small_fractaldb, small_categories, tmp_path)
    (tmp_path / "shards" / "000003.tar").unlink()
    stale = tmp_path / "shards" / f".000001.tar{TMP_MARK}99999"
    stale.write_bytes(b"half a tar")
    kept = tmp_path / "shards" / "000002.tar"
    mtime = kept.stat().st_mtime_ns
    render(small_fractaldb, small_categories, tmp_path)
    assert kept.stat().st_mtime_ns == mtime and not stale.exists()
    assert tree(tmp_path) == tree(out)


def test_card_merge_command(whole, tmp_path, small_fractaldb, small_categories, run_cli):
    out, _ = whole
    render(small_fractaldb, small_categories, tmp_path, shard=Shard(1, 2))
    code, _, err = run_cli("card", "merge", tmp_path)
    assert code == 2 and "shard(s) 0/2 are missing" in err
    render(small_fractaldb, small_categories, tmp_path, shard=Shard(0, 2))
    (tmp_path / CARD_NAME).unlink()
    code, out_text, err = run_cli("card", "merge", tmp_path)
    assert code == 0, err
    assert "30 samples" in out_text
    assert (tmp_path / CARD_NAME).read_bytes() == (out / CARD_NAME).read_bytes()
    card = json.loads((tmp_path / "dataset_card.shard-1-of-2.json").read_text())
    card["seed"] = 8
    (tmp_path / "dataset_card.shard-1-of-2.json").write_text(json.dumps(card))
    code, _, err = run_cli("card", "merge", tmp_path)
    assert code == 2 and "differ in 'seed'" in err


@pytest.mark.parametrize("data_format", ["wds", "folder"])
def test_verify_names_missing_and_corrupt_files(tmp_path, run_cli, data_format):
    out = tmp_path / "ds"
    code, _, err = run_cli("render", "fractaldb", "--categories", "2", "--instances", "6", "--format", data_format,
                           "--shard-size", "4", *SMALL_FLAGS, "-o", out)
    assert code == 0, err
    names = sorted(json.loads((out / CARD_NAME).read_text())["files"])
    assert len(names) == (12 + 1 if data_format == "folder" else 3 + 2)  # samples (tars) and category files
    code, text, _ = run_cli("verify", out)
    assert code == 0 and f"{len(names)} of {len(names)} files match" in text
    deleted, truncated, flipped = [name for name in names if name.endswith((".tar", ".png"))][:3]
    (out / deleted).unlink()
    (out / truncated).write_bytes((out / truncated).read_bytes()[:-1])
    data = bytearray((out / flipped).read_bytes())
    data[len(data) // 2] ^= 1
    (out / flipped).write_bytes(bytes(data))
    code, text, _ = run_cli("verify", out)
    assert code == 1
    assert f"{deleted}: missing" in text and f"{truncated}: corrupt" in text and f"{flipped}: corrupt" in text
    assert "3 missing or corrupt" in text


def test_verify_bad_input(tmp_path, run_cli):
    code, _, err = run_cli("verify", tmp_path)
    assert code == 2 and "no dataset card" in err
    code, _, err = run_cli("verify", tmp_path / "absent")
    assert code == 2 and "does not exist" in err


def test_each_rank_reads_its_own_tars(whole, monkeypatch):
    out, _ = whole
    shares = []
    for rank in range(2):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        train, val, _ = formula_datasets(FormulaDataConfig(data_dir=str(out), val_instances=2))
        assert train.rank_local and not val.rank_local and len(val) == 6
        shares.append({stored.path for stored in train.stored})
        assert len(train) == 12  # of the 24 training samples (the last 2 of each category are held out)
    # Tar 4 holds only held-out samples: rank 0 trains on tars 0 and 2.
    assert shares[0] == {str(out / "shards" / f"{t:06d}.tar") for t in (0, 2)}
    assert shares[1] == {str(out / "shards" / f"{t:06d}.tar") for t in (1, 3)}
    assert rank_share([0, 1, 2, 3, 4], [0, 0, 1, 1, 1], 1, 2) == [2, 3]


@pytest.mark.slow  # trains a model
def test_first_epoch_loss_from_shards_equals_the_folder_version(tmp_path):
    data = TINY_PRETRAIN["data"]
    formula = get_formula("fractaldb", **data["formula"])
    categories = [formula.search_category(0, c) for c in range(data["categories"])]
    losses = []
    for data_format in ("folder", "wds"):
        render_dataset(formula, categories, tmp_path / data_format, seed=0, progress=False, data_format=data_format,
                       instances=data["instances"] + data["val_instances"], shard_size=7)
        config = tiny_pretrain({"train": {"epochs": 1}, "data": {"data_dir": str(tmp_path / data_format)}})
        row = pretrain(config, tmp_path / f"run-{data_format}").last
        losses.append((row["train_loss"], row["val_loss"], row["val_top1"]))
    assert losses[0] == losses[1]


# --- a real `fdsl render --format wds` killed mid-way ------------------------------------------
KILL_FLAGS = ["--size", "128", "--points", "20000"]


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path, small_param_dir):
    """SIGKILL `fdsl render --format wds --workers 2` once tars appear: every tar is whole, and
    rerunning the same command gives the bytes of an uninterrupted render."""
    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "fdsl", "render", "fractaldb", "--param-dir", str(small_param_dir),
                "--categories", "3", "--instances", "150", "--data-seed", "3", "--workers", "2", *KILL_FLAGS,
                "--format", "wds", "--shard-size", "15", "-o", str(out)]

    out = tmp_path / "killed"
    kill_when(command(out), lambda: len(list(out.glob("shards/*.tar"))) >= 2)
    partial = tree(out / "shards")
    assert 2 <= sum(not name.startswith(".") for name in partial) < 30, "killed too late to test a resume"
    assert not (out / CARD_NAME).exists()

    expected = tmp_path / "uninterrupted"
    assert subprocess.run(command(expected), capture_output=True, timeout=300).returncode == 0
    expected_tree = tree(expected)
    for name, data in partial.items():
        if not name.startswith("."):  # a temporary of the tar being written is swept by the rerun
            assert data == expected_tree[f"shards/{name}"], f"{name} was left half-written or differs"
    rerun = subprocess.run(command(out), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert tree(out) == expected_tree
