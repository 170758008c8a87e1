"""Bad data found before anything is written, in one line naming the file or value (exit status 2):
renders checked against their cards when training reads them, unreadable images of ImageFolders
and segmentation folders, bad point files, label maps with values no class has; and a full disk."""
from __future__ import annotations

import errno
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tree_snapshot
from PIL import Image
from train_helpers import (TINY_FINETUNE, TINY_POINT_MODEL, TINY_PRETRAIN, make_image_folder, make_point_folder,
                           make_seg_folder, one_line_error, save_run_weights, tiny, write_yaml)

from fdsl.data.cards import RENDER_RECORD, configuration_of, read_card
from fdsl.data.config import RealDataConfig
from fdsl.data.datasets import evaluation_dataset, load_rgb
from fdsl.data.pointfolders import normalise, read_points
from fdsl.data.writer import CARD_NAME, file_digest, render_dataset
from fdsl.errors import FdslError


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# --- training from a render checks its files against the card -----------------------------------
@pytest.fixture(scope="module")
def renders(tmp_path_factory, small_fractaldb, small_categories):
    """A tiny FractalDB render as folders and as WebDataset tars (3 categories x 4 instances)."""
    root = tmp_path_factory.mktemp("renders")
    for data_format in ("folder", "wds"):
        render_dataset(small_fractaldb, small_categories, root / data_format, seed=0, instances=4, progress=False,
                       data_format=data_format, shard_size=5)
    return root


@pytest.fixture
def pretrain_on(renders, tmp_path, run_cli):
    """Copy a render, let the test spoil it, then pre-train on it: (exit status, stderr), having
    checked that neither the data nor anything else in the test's folder changed."""
    # the family options are the render's business: --family another keeps none of them
    tiny = {**TINY_PRETRAIN, "data": {k: v for k, v in TINY_PRETRAIN["data"].items() if k != "formula"}}
    yaml = write_yaml(tmp_path / "pre.yaml", tiny)

    def run(data_format: str, spoil, *flags: str) -> tuple[int, str]:
        data = tmp_path / data_format
        shutil.copytree(renders / data_format, data)
        spoil(data)
        before = tree_snapshot(tmp_path)
        code, _, err = run_cli("pretrain", "--config", yaml, "--data-dir", data, *flags, "-o", tmp_path / "run")
        assert tree_snapshot(tmp_path) == before  # no run folder, the data untouched
        return code, err

    return run


def first_png(data: Path, category: str = "00001") -> Path:
    return sorted((data / category).glob("*.png"))[0]


def test_a_deleted_png_of_a_render_is_named(pretrain_on):
    victims = []
    code, err = pretrain_on("folder", lambda data: victims.append(first_png(data)) or victims[0].unlink())
    one_line_error(code, err, str(victims[0]), "is missing", "dataset card", after_progress=True)


def test_a_stray_png_in_a_render_is_named(pretrain_on):
    def copy_into_another_category(data):
        source = first_png(data, "00000")
        shutil.copy(source, data / "00001" / source.name)

    code, err = pretrain_on("folder", copy_into_another_category)
    one_line_error(code, err, "00001/00000_", "is not listed in the dataset card", after_progress=True)


def test_a_corrupt_rendered_png_is_named(pretrain_on):
    def truncate(data):
        victim = first_png(data)
        victim.write_bytes(victim.read_bytes()[:-20])

    code, err = pretrain_on("folder", truncate)
    one_line_error(code, err, "00001/", "is corrupt", after_progress=True)


def test_a_render_of_another_family_is_refused(pretrain_on):
    code, err = pretrain_on("folder", lambda data: None, "--family", "rcdb")
    one_line_error(code, err, "holds a fractaldb render", "data.family is 'rcdb'", "--family fractaldb", after_progress=True)


def test_an_unfinished_render_is_refused(pretrain_on):
    def unfinish(data):
        record = configuration_of(read_card(data / CARD_NAME))
        (data / CARD_NAME).unlink()
        (data / RENDER_RECORD).write_text(json.dumps(record))

    code, err = pretrain_on("folder", unfinish)
    one_line_error(code, err, "no dataset card", "unfinished render", after_progress=True)


def test_a_deleted_tar_is_named(pretrain_on):
    code, err = pretrain_on("wds", lambda data: (data / "shards" / "000001.tar").unlink())
    one_line_error(code, err, "000001.tar", "is missing", after_progress=True)


def test_a_stray_file_beside_the_tars_is_named(pretrain_on):
    code, err = pretrain_on("wds", lambda data: shutil.copy(data / "shards" / "000000.tar", data / "shards" / "x.tar"))
    one_line_error(code, err, "shards/x.tar", "is not listed", after_progress=True)


def relabel(data: Path, label: int) -> None:
    """Give the first sample of tar 0 another ``.cls``, and the card the tar's new sha256 (a card
    rebuilt over edited shards: only the label check can tell)."""
    tar_path = data / "shards" / "000000.tar"
    with tarfile.open(tar_path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for k, (member, blob) in enumerate(members):
            blob = str(label).encode() if k == 0 or not member.name.endswith(".cls") else blob
            member.size = len(blob)
            tar.addfile(member, io.BytesIO(blob))
    card = json.loads((data / CARD_NAME).read_text())
    card["files"]["shards/000000.tar"] = file_digest(tar_path)
    (data / CARD_NAME).write_text(json.dumps(card))


@pytest.mark.parametrize("label", [7, -1])
def test_a_shard_label_outside_the_categories_is_named(pretrain_on, label):
    code, err = pretrain_on("wds", lambda data: relabel(data, label))
    one_line_error(code, err, "000000.tar", f"has label {label}", "3 categories (0..2)", after_progress=True)


def test_a_truncated_image_of_a_folder_without_card_is_named(pretrain_on):
    def strip_card(data):
        (data / CARD_NAME).unlink()
        victim = first_png(data)
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])

    code, err = pretrain_on("folder", strip_card)
    one_line_error(code, err, "00001/", "cannot be read", after_progress=True)


# --- ImageFolders: every image read is checked before the run folder exists ----------------------
def bomb(path: Path, monkeypatch) -> None:
    """A 64 x 64 PNG over twice a pixel limit lowered to the 32 x 32 of the other images: PIL refuses it
    as a decompression bomb."""
    path.write_bytes(png_bytes(np.zeros((64, 64, 3), np.uint8)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 32 * 32)


BAD_IMAGES = {
    "truncated": (lambda p, mp: p.write_bytes(png_bytes(np.full((32, 32, 3), 90, np.uint8))[:-30]), "truncated"),
    "zero bytes": (lambda p, mp: p.write_bytes(b""), "not an image format"),
    "not an image": (lambda p, mp: p.write_text("hello"), "not an image format"),
    "symlink loop": (lambda p, mp: p.symlink_to(p), "Too many levels of symbolic links"),
    "decompression bomb": (bomb, "decompression bomb"),
    "32-bit pixels": (lambda p, mp: Image.fromarray(np.zeros((4, 4), np.int32)).save(p, format="TIFF"), "mode I"),
}


@pytest.mark.parametrize("make, reason", BAD_IMAGES.values(), ids=BAD_IMAGES.keys())
def test_finetune_names_an_unreadable_image_before_writing(tmp_path, run_cli, monkeypatch, make, reason):
    images = make_image_folder(tmp_path / "images")
    bad = images / "class1" / "000_bad.png"
    make(bad, monkeypatch)
    yaml = write_yaml(tmp_path / "ft.yaml", TINY_FINETUNE)
    code, _, err = run_cli("finetune", "--config", yaml, "--dataset", images, "-o", tmp_path / "run")
    line = one_line_error(code, err, str(bad), "cannot be read" if reason != "mode I" else "32-bit integer", reason, after_progress=True)
    assert line.count(str(bad)) == 1
    assert not (tmp_path / "run").exists()
    with pytest.raises(FdslError, match="000_bad.png"):  # and so does `fdsl evaluate` on it
        evaluation_dataset(RealDataConfig(dataset=str(images), holdout=0.0))


def test_a_16_bit_grey_png_reads_as_its_8_bit_greys(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    rgb = np.asarray(load_rgb(str(tmp_path / "deep.png")))
    assert rgb.shape == (1, 4, 3) and rgb[0, :, 0].tolist() == [0, 1, 128, 255]  # not all white


def test_only_the_images_a_run_reads_are_decoded(tmp_path):
    images = make_image_folder(tmp_path / "images")
    (images / "class0" / "007.png").write_bytes(b"")  # the last of its class: held out, and not scored
    data = RealDataConfig(dataset=str(images), holdout=0.25, train_per_class=2, val_per_class=1)
    from fdsl.data.datasets import real_datasets

    train, val, _ = real_datasets(data)
    assert len(train) == 6 and len(val) == 3


# --- segmentation folders ---------------------------------------------------------------------------
def seg_folder(tmp_path: Path) -> Path:
    return make_seg_folder(tmp_path / "seg")


def seg_args(data: Path) -> list:
    return ["--dataset", data, "--num-classes", "3", "--void", "3", "--workers", "0"]


@pytest.fixture(scope="module")
def seg_weights(tmp_path_factory):
    """Untrained segmentation weights for 3 classes, saved as a run saves them."""
    from fdsl.tasks.segmentation.models import create_seg_model

    out = tmp_path_factory.mktemp("seg-weights") / "w"
    config = tiny("segmentation", "finetune", dataset=out)
    return save_run_weights("segmentation", "finetune", create_seg_model(config.model, num_classes=3), out,
                            config=config, label_names=["0", "1", "2"], metrics={"val_miou": 1.0, "val_pixel_acc": 1.0})


@pytest.mark.parametrize("split", ["train", "val"])
def test_a_truncated_segmentation_image_is_named(tmp_path, run_cli, seg_weights, split):
    data = seg_folder(tmp_path)
    victim = data / split / "001.png"
    victim.write_bytes(victim.read_bytes()[:-40])
    yaml = write_yaml(tmp_path / "ft.yaml", {"data": {"num_classes": 3, "void": 3, "class_names": []}})
    for workers in ("0", "1"):
        code, _, err = run_cli("finetune", "--task", "segmentation", "--config", yaml, "--dataset", data,
                               "--workers", workers, "-o", tmp_path / "run")
        one_line_error(code, err, str(victim), "cannot be read", "truncated", after_progress=True)
        assert not (tmp_path / "run").exists()
    code, _, err = run_cli("evaluate", "--task", "segmentation", seg_weights, *seg_args(data))
    one_line_error(code, err, str(victim), "truncated", after_progress=True)


@pytest.mark.parametrize("value", [-1, -253, 300])
def test_a_label_map_value_outside_0_255_is_refused(tmp_path, run_cli, seg_weights, value):
    data = seg_folder(tmp_path)
    labels = np.zeros((48, 64), np.int32)
    labels[5, 5] = value
    (data / "valannot" / "000.png").unlink()
    Image.fromarray(labels).save(data / "valannot" / "000.tif")  # mode I: 32-bit class ids
    code, _, err = run_cli("evaluate", "--task", "segmentation", seg_weights, *seg_args(data))
    one_line_error(code, err, "000.tif", f"class id {value}", after_progress=True)


def test_two_label_files_of_one_stem_are_refused(tmp_path, run_cli, seg_weights):
    data = seg_folder(tmp_path)
    Image.open(data / "trainannot" / "001.png").save(data / "trainannot" / "001.bmp")
    code, _, err = run_cli("evaluate", "--task", "segmentation", seg_weights, *seg_args(data))
    one_line_error(code, err, "001.bmp", "001.png", "share the stem '001'", after_progress=True)


def test_a_rendered_scene_folder_of_another_family_is_refused(tmp_path):
    from fdsl.data.datasets import rendered_card

    assert run_render(tmp_path / "scenes", "segrcdb", "--size", "64", "--classes", "3", "--instances-per-image", "2",
                      "--max-contours", "3") == 0
    with pytest.raises(FdslError, match="holds a segrcdb render .* but data.family is 'other'"):
        rendered_card(tmp_path / "scenes", "other")


def run_render(out: Path, family: str, *flags: str) -> int:
    from fdsl.cli import main

    return main(["render", family, "--categories", "1", "--instances", "2", *flags, "-o", str(out)])


# --- point folders ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def point_weights(tmp_path_factory):
    """Untrained point-cloud weights for classes class0, class1, saved as a run saves them."""
    from fdsl.tasks.points.models import create_point_model

    out = tmp_path_factory.mktemp("point-weights") / "w"
    config = tiny("points", "finetune", dataset=out)
    model = create_point_model(TINY_POINT_MODEL["name"], num_classes=2, **TINY_POINT_MODEL["kwargs"])
    return save_run_weights("points", "finetune", model, out, config=config, label_names=["class0", "class1"])


def test_a_zero_byte_npy_is_named(tmp_path, run_cli, point_weights):
    data = make_point_folder(tmp_path / "points", classes=2, per_class=5)
    victim = data / "class1" / "004.npy"
    victim.write_bytes(b"")
    yaml = write_yaml(tmp_path / "ft.yaml", {"model": TINY_POINT_MODEL, "train": {"epochs": 1, "workers": 0}})
    code, _, err = run_cli("finetune", "--task", "points", "--config", yaml, "--dataset", data, "-o", tmp_path / "run")
    one_line_error(code, err, str(victim), "is empty", after_progress=True)
    assert not (tmp_path / "run").exists()
    code, _, err = run_cli("evaluate", "--task", "points", point_weights, "--dataset", data, "--holdout", "0.2",
                           "--workers", "0")
    one_line_error(code, err, str(victim), "is empty", after_progress=True)


def test_a_huge_coordinate_is_normalised_not_zeroed():
    points = torch.tensor([[0.0, 0.0, 0.0], [1e30, 0.0, 0.0], [0.0, 2e30, 0.0]])
    unit = normalise(points)
    assert torch.isfinite(unit).all() and float(unit.norm(dim=1).max()) == pytest.approx(1.0)
    tiny = normalise(torch.tensor([[0.0, 0.0, 0.0], [1e-26, 0.0, 0.0], [0.0, 2e-26, 0.0]]))  # squares vanish
    assert float(tiny.norm(dim=1).max()) == pytest.approx(1.0)
    ordinary = torch.randn(50, 3)
    centred = ordinary - ordinary.mean(dim=0)
    assert torch.equal(normalise(ordinary), centred / centred.norm(dim=1).max())  # ordinary clouds: unchanged


def write_off_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BAD_POINT_FILES = {
    "float64 beyond float32": ("a.npy", lambda p: np.save(p, np.array([[0, 0, 1e39]])), "beyond float32's range"),
    "OFF with more vertices than lines": (
        "b.off", lambda p: write_off_text(p, "OFF\n5 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"),
        "declares 5 vertices and 1 faces but holds 4 lines"),
    "OFF keyword only": ("c.off", lambda p: write_off_text(p, "OFF\n"), "holds no vertex and face counts"),
    "OFF not ASCII": ("d.off", lambda p: p.write_bytes(b"OFF\n1 0 0\n0 0 \xff\n"), "byte 0xff at offset 14"),
    "PLY header not ASCII": ("e.ply", lambda p: p.write_bytes(b"ply\nformat ascii 1.0\ncomment \xe9\nend_header\n"),
                             "is not a PLY file (byte 0xe9"),
    "binary PLY cut short": ("f.ply", lambda p: p.write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 4\nproperty float x\nproperty float y\n"
        b"property float z\nend_header\n" + bytes(20)), "declares 4 vertices (48 bytes) but holds 20 bytes"),
}


@pytest.mark.parametrize("name, make, reason", BAD_POINT_FILES.values(), ids=BAD_POINT_FILES.keys())
def test_bad_point_files_are_named(tmp_path, name, make, reason):
    make(tmp_path / name)
    with pytest.raises(FdslError) as caught:
        read_points(tmp_path / name)
    message = str(caught.value)
    assert str(tmp_path / name) in message and reason in message and "\n" not in message, message
    assert "codec" not in message and "list index" not in message


# --- a full disk --------------------------------------------------------------------------------
def disk_full_on(monkeypatch, suffix: str) -> None:
    """Every write of a file whose temporary ends in ``suffix`` (and a number) finds the disk full."""
    real = Path.write_bytes

    def write_bytes(self, data):
        if suffix in self.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def test_a_render_on_a_full_disk_ends_in_one_line(tmp_path, small_param_dir, run_cli, monkeypatch):
    args = ["render", "fractaldb", "--param-dir", small_param_dir, "--categories", "2", "--instances", "2",
            "--size", "48", "--points", "4000", "-o", tmp_path / "r"]
    disk_full_on(monkeypatch, ".png.tmp-")
    code, _, err = run_cli(*args)
    one_line_error(code, err, str(tmp_path / "r" / "00000"), ".png'", "No space left on device", after_progress=True)
    assert not list((tmp_path / "r").rglob("*.tmp-*")) and not (tmp_path / "r" / CARD_NAME).exists()
    monkeypatch.undo()
    code, _, err = run_cli(*args)  # with space again, the same command finishes the render
    assert code == 0, err
    assert run_cli("verify", tmp_path / "r")[0] == 0


def test_a_full_disk_outside_the_atomic_writer_ends_in_one_line(tmp_path, run_cli, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "mkdir", full)
    code, _, err = run_cli("search", "fractaldb", "--categories", "1", "--size", "48", "--search-size", "96",
                           "--search-points", "6000", "--points", "4000", "-o", tmp_path / "params")
    one_line_error(code, err, str(tmp_path / "params"), "No space left on device", after_progress=True)
