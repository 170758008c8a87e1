"""Sample kinds: each writes and reads back its samples, makes a training item and a gallery tile,
and goes through the writer, the on-the-fly dataset, the gallery and the CLI inside a toy family.

The 1-D signal kind below is defined here only, to show that a new kind is one module: with it
and a family that declares it, ``render_dataset``, ``fdsl render``, ``FormulaDataset`` and the
gallery work with no change to fdsl.
"""
from __future__ import annotations

import dataclasses
import json
import tarfile
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from fdsl.data.datasets import FormulaDataset
from fdsl.data.writer import render_dataset
from fdsl.errors import FdslError
from fdsl.formulas.base import Formula, FormulaConfig
from fdsl.registry import get_formula, register, unregister
from fdsl.samples.base import SampleKind, check_array, decode_npy, encode_npy
from fdsl.samples.image import IMAGE
from fdsl.samples.image_instances import IMAGE_INSTANCES, ImageInstances, mask_extents
from fdsl.samples.image_mask import IGNORE, IMAGE_MASK, ImageMask
from fdsl.samples.point_cloud import LABELLED_POINT_CLOUD, POINT_CLOUD, PointCloud
from fdsl.samples.scene import SCENE, Scene
from fdsl.samples.video import MP4_VIDEO, VIDEO
from fdsl.viz.gallery import GAP, LABEL_WIDTH, STRIP_GAP, formula_gallery

SEED = 3
TILE = 24


# --- a test-only kind: a 1-D signal, in one class ------------------------------------------------
class SignalKind(SampleKind):
    """float32 (L,), stored as ``<stem>.npy``; the tile plots the signal as a line."""

    name = "signal"
    suffixes = (".npy",)

    def validate(self, sample: Any) -> None:
        check_array("signal", sample, dtype="float32", ndim=1)

    def encode(self, sample: np.ndarray) -> list[bytes]:
        return [encode_npy(sample)]

    def decode(self, blobs: list[bytes]) -> np.ndarray:
        return decode_npy(blobs[0])

    def training_item(self, sample: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(sample))[None]  # (1, L): one channel

    def tile(self, sample: np.ndarray, size: int) -> np.ndarray:
        canvas = np.zeros((size, size, 3), np.uint8)
        columns = np.arange(size)
        values = np.interp(np.linspace(0, len(sample) - 1, size), np.arange(len(sample)), sample)
        span = float(values.max() - values.min()) or 1.0
        rows = np.round((size - 1) * (values.max() - values) / span).astype(np.intp)
        canvas[rows, columns] = 255
        return canvas


# --- toy families, one per kind ------------------------------------------------------------------
@dataclasses.dataclass
class ToyConfig(FormulaConfig):
    length: int = 40

    def validate(self) -> None:
        if self.length < 8:
            raise FdslError(f"length = {self.length}; allowed: >= 8")


def toy_image(rng: np.random.Generator, length: int) -> np.ndarray:
    return rng.integers(0, 256, (length, length), dtype=np.uint8)


def toy_points(rng: np.random.Generator, length: int) -> np.ndarray:
    return rng.normal(size=(length, 3)).astype(np.float32)


def toy_instances(rng: np.random.Generator, length: int) -> ImageInstances:
    """Two rectangles at random places, the second over the first."""
    instance_map = np.zeros((length, length), np.uint8)
    for k in (1, 2):
        top, left = rng.integers(0, length // 2, size=2)
        instance_map[top: top + length // 3, left: left + length // 3] = k
    classes = rng.integers(0, 5, 2)
    return ImageInstances(instance_map * 90, instance_map, classes, mask_extents(instance_map, 2))


SAMPLERS = {
    "image": toy_image,
    "image+instances": toy_instances,
    "image+mask": lambda rng, n: ImageMask(toy_image(rng, n), rng.choice([0, 1, 2, IGNORE], (n, n)).astype(np.uint8)),
    "point cloud": lambda rng, n: PointCloud(toy_points(rng, n)),
    "labelled point cloud": lambda rng, n: PointCloud(toy_points(rng, n), rng.integers(0, 4, n)),
    "scene": lambda rng, n: Scene(toy_points(rng, n), rng.integers(0, 3, n).astype(np.int32),
                                  np.array([[0, 0, 0, 1, 2, 1, 0.3], [1, -1, 0, 0.5, 0.5, 1, 0]], np.float32),
                                  np.array([0, 1], np.int64)),
    "signal": lambda rng, n: np.cumsum(rng.normal(size=n)).astype(np.float32),
    "video": lambda rng, n: rng.integers(0, 256, (5, n, n), dtype=np.uint8),
    "mp4 video": lambda rng, n: rng.integers(0, 256, (3, n, n + 1, 3), dtype=np.uint8),
}
KINDS = {"image": IMAGE, "image+instances": IMAGE_INSTANCES, "image+mask": IMAGE_MASK, "point cloud": POINT_CLOUD,
         "labelled point cloud": LABELLED_POINT_CLOUD, "scene": SCENE, "signal": SignalKind(),
         "video": VIDEO, "mp4 video": MP4_VIDEO}


def toy_family(label: str) -> type[Formula]:
    class Toy(Formula):
        """A toy family (tests only): random samples of one kind."""

        Config = ToyConfig
        kind = KINDS[label]

        def sample_category(self, rng: np.random.Generator) -> dict:
            return {"offset": float(rng.normal())}

        def render(self, params: dict, instance: int, rng: np.random.Generator) -> Any:
            return SAMPLERS[label](rng, self.config.length)

    return Toy


@pytest.fixture(params=sorted(KINDS))
def toy(request):
    """A toy family of each kind, registered for the test only (the registry refuses duplicates)."""
    name = "toy-" + request.param.replace(" ", "-").replace("+", "-")
    register(name)(toy_family(request.param))
    yield get_formula(name)
    unregister(name)


def same_sample(kind: SampleKind, a: Any, b: Any) -> bool:
    return b"".join(kind.encode(a)) == b"".join(kind.encode(b))


def gallery_width(tile: np.ndarray, columns: int) -> int:
    """The width of a gallery of ``columns`` tiles like ``tile``: strips (wider than tall) stand further apart."""
    gap = GAP if tile.shape[1] == tile.shape[0] else STRIP_GAP
    return LABEL_WIDTH + columns * (tile.shape[1] + gap)


# --- every kind, through the library ------------------------------------------------------------
def test_write_then_read_gives_the_sample_back(toy, tmp_path):
    sample = toy.sample(toy.search_category(SEED, 0), SEED, 0, 0)
    digests = toy.kind.write(sample, tmp_path, "s")
    assert sorted(digests) == sorted(p.name for p in tmp_path.iterdir()) == sorted(toy.kind.file_names("s"))
    assert same_sample(toy.kind, toy.kind.read(tmp_path, "s"), sample)


def test_render_dataset_writes_every_file_and_resumes(toy, tmp_path):
    categories = [toy.search_category(SEED, c) for c in range(2)]
    card = render_dataset(toy, categories, tmp_path, seed=SEED, instances=2, progress=False)
    assert (card["kind"], card["samples"]) == (toy.kind.name, 4)
    for category in range(2):
        for instance in range(2):
            stored = toy.kind.read(tmp_path / f"{category:05d}", toy.sample_stem(category, instance))
            assert same_sample(toy.kind, stored, toy.sample(categories[category], SEED, category, instance))
    (tmp_path / "00001" / toy.kind.file_names(toy.sample_stem(1, 1))[-1]).unlink()  # an interrupted sample
    assert render_dataset(toy, categories, tmp_path, seed=SEED, instances=2, progress=False) == card


def test_dataset_items_and_gallery_tiles(toy):
    categories = [toy.search_category(SEED, c) for c in range(2)]
    dataset = FormulaDataset(toy, categories, seed=SEED, instances=range(3))
    item, label = dataset[4]
    assert label == 1
    expected = toy.kind.training_item(toy.sample(categories[1], SEED, 1, 1))
    if isinstance(item, dict):
        assert item.keys() == expected.keys()
        item, expected = next(iter(item.values())), next(iter(expected.values()))
    assert type(item) is type(expected)
    assert np.array_equal(np.asarray(item), np.asarray(expected))
    gallery = formula_gallery(toy, categories, seed=SEED, instances=[0, 2], tile=TILE)
    tile = toy.kind.tile(toy.sample(categories[0], SEED, 0, 0), TILE)
    assert gallery.size == (gallery_width(tile, 2), 2 * (TILE + GAP))
    assert tile.shape[0] == TILE and tile.shape[2] == 3 and tile.dtype == np.uint8 and tile.max() > tile.min()


def test_cli_renders_and_shows_a_family_of_any_kind(toy, tmp_path, run_cli):
    code, out, err = run_cli("render", toy.name, "--categories", "2", "--instances", "2", "--length", "16",
                             "-o", tmp_path / "ds")
    assert code == 0, err
    assert f"wrote 4 {toy.kind.name} samples of 2 categories" in out
    assert json.loads((tmp_path / "ds" / "dataset_card.json").read_text())["config"] == {"length": 16}
    assert len(list((tmp_path / "ds" / "00001").iterdir())) == 2 * len(toy.kind.suffixes)
    code, _, err = run_cli("show", toy.name, "--categories", "2", "--instances", "2", "--tile", "16",
                           "-o", tmp_path / "show.png")
    assert code == 0, err
    tile = toy.kind.tile(get_formula(toy.name, length=16).sample(toy.search_category(0, 0), 0, 0, 0), 16)
    assert Image.open(tmp_path / "show.png").size == (gallery_width(tile, 2), 2 * 18)


def test_webdataset_tars_hold_the_files_of_any_kind(toy, tmp_path):
    """`--format wds`: one tar member per file the kind writes (the folder version's bytes), plus the label."""
    categories = [toy.search_category(SEED, c) for c in range(2)]
    render_dataset(toy, categories, tmp_path / "folder", seed=SEED, instances=3, progress=False)
    render_dataset(toy, categories, tmp_path / "wds", seed=SEED, instances=3, progress=False, data_format="wds",
                   shard_size=4)
    members = {}
    for path in sorted((tmp_path / "wds" / "shards").glob("*.tar")):
        with tarfile.open(path) as tar:
            members.update({m.name: tar.extractfile(m).read() for m in tar})
    files = {str(p.relative_to(tmp_path / "folder")): p.read_bytes() for p in (tmp_path / "folder").glob("*/*")}
    assert len(files) == 6 * len(toy.kind.suffixes)
    assert {name: data for name, data in members.items() if not name.endswith(".cls")} == files
    labels = {name: data for name, data in members.items() if name.endswith(".cls")}
    assert len(labels) == 6 and all(data == str(int(name[:5])).encode() for name, data in labels.items())


def test_a_family_can_be_unregistered_only_once():
    register("toy-once")(toy_family("signal"))
    unregister("toy-once")
    with pytest.raises(FdslError, match="unknown formula family 'toy-once'"):
        unregister("toy-once")


# --- kind-specific details ------------------------------------------------------------------------
@pytest.mark.parametrize("kind, sample, message", [
    (IMAGE, np.zeros((8, 8), np.float32), "dtype float32; expected uint8"),
    (IMAGE, np.zeros((8, 8, 4), np.uint8), r"shape \(8, 8, 4\); expected \(H, W\) or \(H, W, 3\)"),
    (IMAGE_MASK, ImageMask(np.zeros((8, 8), np.uint8), np.zeros((8, 9), np.uint8)), "expected the image's"),
    (POINT_CLOUD, PointCloud(np.zeros((5, 2), np.float32)), "expected 3 columns"),
    (POINT_CLOUD, PointCloud(np.full((5, 3), np.nan, np.float32)), "non-finite"),
    (POINT_CLOUD, PointCloud(np.zeros((5, 3), np.float32), np.zeros(5, np.int64)), "unlabelled"),
    (LABELLED_POINT_CLOUD, PointCloud(np.zeros((5, 3), np.float32), np.zeros(4, np.int64)), "4 rows; expected 5"),
    (SCENE, Scene(np.zeros((5, 3), np.float32), np.zeros(5, np.int64), np.zeros((1, 6), np.float32),
                  np.zeros(1, np.int64)), "expected 7 columns"),
    (SCENE, np.zeros((5, 3), np.float32), "expected Scene"),
    (IMAGE_INSTANCES, ImageInstances(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), np.zeros(1, np.int64),
                                     np.zeros((1, 4), np.float32)), "an instance has no pixel"),
    (IMAGE_INSTANCES, ImageInstances(np.zeros((8, 8), np.uint8), np.ones((8, 8), np.uint8), np.zeros(1, np.int64),
                                     np.array([[0, 0, 8, 7]], np.float32)), "not the extents"),
    (IMAGE_INSTANCES, ImageInstances(np.zeros((8, 8), np.uint8), np.full((8, 8), 2, np.uint8), np.zeros(1, np.int64),
                                     np.array([[0, 0, 8, 8]], np.float32)), "holds id 2 but there are 1 instances"),
    (IMAGE_INSTANCES, ImageInstances(np.zeros((8, 8), np.uint8), np.ones((8, 9), np.uint8), np.zeros(1, np.int64),
                                     np.array([[0, 0, 9, 8]], np.float32)), "expected the image's"),
    (VIDEO, np.zeros((8, 8), np.uint8), r"shape \(8, 8\); expected 3 or 4 dimensions"),
    (VIDEO, np.zeros((4, 8, 8, 4), np.uint8), r"expected \(T, H, W\) or \(T, H, W, 3\)"),
    (VIDEO, np.zeros((0, 8, 8), np.uint8), "expected at least one frame"),
    (MP4_VIDEO, np.zeros((4, 8, 8), np.int16), "dtype int16; expected uint8"),
])
def test_bad_samples_are_named(kind, sample, message, tmp_path):
    with pytest.raises(FdslError, match=message):
        kind.write(sample, tmp_path, "bad")
    assert not list(tmp_path.iterdir())


def test_mask_tile_colours_the_classes_over_the_image():
    image = np.full((16, 16), 100, np.uint8)
    mask = np.zeros((16, 16), np.uint8)
    mask[:, 8:] = 1
    tile = IMAGE_MASK.tile(ImageMask(image, mask), 16)
    assert (tile[:, :6] == 100).all()  # background: the image as it is
    assert not (tile[:, 10:] == 100).all(axis=-1).any()  # class 1: coloured
    item = IMAGE_MASK.training_item(ImageMask(image, mask))
    assert (item["image"].mode, item["mask"].mode) == ("RGB", "L")


def test_scene_tile_draws_box_outlines_from_above():
    points = np.array([[0, 0, 0], [4, 4, 1]], np.float32)
    boxes = np.array([[2, 2, 0, 2, 2, 1, 0]], np.float32)
    scene = Scene(points, np.zeros(2, np.int64), boxes, np.zeros(1, np.int64))
    tile = SCENE.tile(scene, 41)
    # The box spans x, y in [1, 3] of [0, 4]: its outline is a square around the tile's centre.
    lit = tile.any(axis=-1)
    assert lit[20, 11] and lit[20, 29] and lit[11, 20] and lit[29, 20] and not lit[20, 20]
    item = SCENE.training_item(scene)
    assert item["boxes"].shape == (1, 7) and item["box_classes"].dtype == torch.int64
    empty = Scene(points, np.zeros(2, np.int64), np.zeros((0, 7), np.float32), np.zeros(0, np.int64))
    SCENE.validate(empty)
    assert SCENE.tile(empty, 41).any(axis=-1).sum() == 2  # no boxes: the two points only


def test_instances_tile_tints_each_object_and_outlines_its_box():
    instance_map = np.zeros((32, 32), np.uint8)
    instance_map[4:12, 4:20] = 1
    sample = ImageInstances(np.where(instance_map > 0, 200, 0).astype(np.uint8), instance_map, np.array([3]),
                            mask_extents(instance_map, 1))
    tile = IMAGE_INSTANCES.tile(sample, 32)
    assert (tile[20:, 20:] == 0).all()  # background: black, as the image
    assert not (tile[6:10, 6:18] == 200).all(axis=-1).any()  # the object: tinted
    assert (tile[4, 4:20] == tile[11, 4:20]).all() and tile[4, 4:20].any()  # its box: one colour, top and bottom
    item = IMAGE_INSTANCES.training_item(sample)
    assert item["labels"].tolist() == [4] and item["masks"].shape == (1, 32, 32)
