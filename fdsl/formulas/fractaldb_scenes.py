"""FractalDB scenes: several FractalDB objects on one canvas, each with its class, box and mask, for
detection and instance-segmentation pre-training (ours: no paper renders these; the objects are
FractalDB's, Kataoka et al., ACCV 2020 / IJCV 2022, drawn by :mod:`fdsl.formulas.fractaldb`).

- Object classes: FractalDB categories 0 .. ``classes`` - 1, searched from the seed with
  FractalDB's search (``search_size``, ``search_points``, ``fill_rate``; N ~ U{2..7} maps), so
  with the same seed and search settings class k is category k of ``fractaldb``.
- A scene (drawn in this order from the scene's generator): K ~ U{``min_objects`` ..
  ``max_objects``} objects; per object its class ~ U{0 .. classes - 1}, its FractalDB instance ~
  U{0 .. 999} (parameter variation, patch draw, flip), its side s ~ U{floor(size x ``min_scale``)
  .. floor(size x ``max_scale``)} pixels, its top-left corner ~ U{0 .. size - s} per axis (the whole
  object on the canvas) and its grey level ~ U{``min_gray`` .. 255}; then each object is rendered
  as FractalDB renders an instance (official patches, or ``patch_mode`` union), at s x s pixels
  with floor(``points_per_pixel`` x s^2) points (1.5: FractalDB's 200,000 points at 362 px), its
  kernel seeds drawn from the same generator, in object order.
- Occlusion: objects are painted in order onto a black canvas, each over the pixels it lights, so
  a later object hides an earlier one's pixels where they meet (its unlit pixels hide nothing). An
  object's mask is the pixels it still owns at the end; its box is the extent of that mask (x1, y1
  exclusive). An object left with fewer than ``min_visible`` pixels is dropped (1: only fully
  hidden ones; a larger value leaves the dropped object's few pixels in the image, unlabelled).
- Every decision is an integer draw from the generator of (seed, scene bucket, scene), and the
  pixels are FractalDB's (IEEE arithmetic in a fixed order), so a scene is the same on any machine.

What "category" means here, as for ``segrcdb``: a category index is a bucket of scenes (``fdsl render
fractaldb-scenes --categories 1 --instances 20000`` renders 20,000 scenes). Its parameters are the
bucket and the object classes' systems, shared by every bucket; ``fdsl search`` writes them once,
as FractalDB's official CSVs in ``classes/`` with ``scenes.json`` (the bucket count) beside, so
``--param-dir`` can also bring released FractalDB-1k CSVs as object classes.

Samples are of the ``image+instances`` kind (:mod:`fdsl.samples.image_instances`): the grey scene,
its instance map, and per object its class (the FractalDB category) and box.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from fdsl.atomic import write_text_atomic
from fdsl.config_fields import choices
from fdsl.errors import FdslError, check
from fdsl.formulas.base import Formula, FormulaConfig, check_choice, check_range
from fdsl.formulas.fractaldb import FractalDB, FractalDBConfig
from fdsl.formulas.ifs2d import PATCH_MODES
from fdsl.formulas.ifs_csv import IFS2D_CSV, read_category_csvs, write_category_csvs
from fdsl.registry import register
from fdsl.samples.image_instances import IMAGE_INSTANCES, MAX_INSTANCES, ImageInstances

CLASS_DIR = "classes"
SCENES_FILE = "scenes.json"
#: The smallest object side: FractalDB's smallest image.
MIN_SIDE = 8


@dataclasses.dataclass
class FractalDBScenesConfig(FormulaConfig):
    size: int = 512
    classes: int = 100
    min_objects: int = 2
    max_objects: int = 8
    min_scale: float = 0.2
    max_scale: float = 0.5
    points_per_pixel: float = 1.5
    patch_mode: str = dataclasses.field(default="official", metadata=choices(PATCH_MODES))
    min_gray: int = 64
    min_visible: int = 1
    search_size: int = 512
    search_points: int = 100_000
    fill_rate: float = 0.2

    def validate(self) -> None:
        check(16 <= self.size <= 8192, f"size = {self.size}; allowed: 16..8192")
        check(1 <= self.classes <= 100_000, f"classes = {self.classes}; allowed: 1..100000")
        check(1 <= self.min_objects <= self.max_objects <= MAX_INSTANCES,
              f"min_objects, max_objects = {self.min_objects}, {self.max_objects}; allowed: "
              f"1 <= min_objects <= max_objects <= {MAX_INSTANCES}")
        check_range("min_scale", self.min_scale, 0.0, 1.0, low_open=True)
        check_range("max_scale", self.max_scale, self.min_scale, 1.0)
        check(int(self.size * self.min_scale) >= MIN_SIDE,
              f"size x min_scale = {self.size} x {self.min_scale} is under {MIN_SIDE} pixels; raise either")
        check_range("points_per_pixel", self.points_per_pixel, 0.0, 100.0, low_open=True)
        check_choice("patch_mode", self.patch_mode, PATCH_MODES)
        check_range("min_gray", self.min_gray, 1, 255)
        check(self.min_visible >= 1, f"min_visible = {self.min_visible}; allowed: >= 1")
        self.object_config().validate()

    def object_config(self) -> FractalDBConfig:
        """The objects' FractalDB: its search and patches (size and points are per object)."""
        return FractalDBConfig(patch_mode=self.patch_mode, search_size=self.search_size,
                               search_points=self.search_points, fill_rate=self.fill_rate)


@dataclasses.dataclass(frozen=True, eq=False)
class FractalDBScenesBucket:
    """A bucket of scenes: its index and the object classes' FractalDB systems ((N, 7) each)."""

    bucket: int
    systems: tuple[np.ndarray, ...]


class SceneObject(NamedTuple):
    """One object of a scene's layout: its class, FractalDB instance, side, corner and grey level."""

    cls: int
    instance: int
    side: int
    x: int
    y: int
    gray: int


@register("fractaldb-scenes")
class FractalDBScenes(Formula):
    """Scenes of FractalDB objects with classes, boxes and occlusion-aware masks (detection; ours)."""

    Config = FractalDBScenesConfig
    quick_config = {"size": 64, "classes": 4, "max_objects": 4, "search_size": 128, "search_points": 10000}
    kind = IMAGE_INSTANCES

    def __init__(self, config: FractalDBScenesConfig | None = None):
        super().__init__(config)
        self.objects = FractalDB(self.config.object_config())
        self.class_systems: dict[int, tuple[np.ndarray, ...]] = {}

    # --- categories: buckets sharing the object classes ---------------------------------------------
    def sample_category(self, rng: np.random.Generator) -> np.ndarray | None:
        """One candidate object class (FractalDB's search); :meth:`search_category` buckets them."""
        return self.objects.sample_category(rng)

    def classes_of_seed(self, seed: int) -> tuple[np.ndarray, ...]:
        """The object classes of ``seed``: FractalDB categories 0 .. classes - 1, searched once per process."""
        if seed not in self.class_systems:
            self.class_systems[seed] = tuple(self.objects.search_category(seed, k) for k in range(self.config.classes))
        return self.class_systems[seed]

    def search_category(self, seed: int, index: int) -> FractalDBScenesBucket:
        return FractalDBScenesBucket(bucket=index, systems=self.classes_of_seed(seed))

    def write_categories(self, categories: list[FractalDBScenesBucket], directory: Path) -> None:
        """The object classes once, as FractalDB CSVs in ``classes/``, and the bucket count in ``scenes.json``."""
        systems = categories[0].systems
        check(all(same_systems(bucket.systems, systems) for bucket in categories),
              "fractaldb-scenes buckets with different object classes cannot share one category folder")
        directory = Path(directory)
        write_category_csvs(list(systems), directory / CLASS_DIR, IFS2D_CSV)
        write_text_atomic(directory / SCENES_FILE, json.dumps({"family": self.name, "buckets": len(categories)}))

    def read_categories(self, directory: Path) -> list[FractalDBScenesBucket]:
        path = Path(directory) / SCENES_FILE
        check(path.is_file(), f"category file {str(path)!r} does not exist; run `fdsl search {self.name}` first")
        try:
            buckets = json.loads(path.read_text())["buckets"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise FdslError(f"malformed category file {str(path)!r}: {error}") from None
        check(isinstance(buckets, int) and buckets >= 1, f"malformed category file {str(path)!r}: buckets = {buckets!r}")
        systems = read_category_csvs(Path(directory) / CLASS_DIR, IFS2D_CSV)
        check(len(systems) >= self.config.classes, f"{str(Path(directory) / CLASS_DIR)!r} holds {len(systems)} "
                                                   f"object classes; classes = {self.config.classes}")
        shared = tuple(systems[: self.config.classes])
        return [FractalDBScenesBucket(bucket, shared) for bucket in range(buckets)]

    # --- scenes ----------------------------------------------------------------------------------------
    def sides(self) -> tuple[int, int]:
        c = self.config
        return int(c.size * c.min_scale), int(c.size * c.max_scale)

    def layout(self, rng: np.random.Generator, classes: int) -> list[SceneObject]:
        """The scene's objects, drawn in the order of the module docstring."""
        c = self.config
        low, high = self.sides()
        objects = []
        for _ in range(int(rng.integers(c.min_objects, c.max_objects + 1))):
            cls = int(rng.integers(0, classes))
            instance = int(rng.integers(0, self.objects.instances_per_category))
            side = int(rng.integers(low, high + 1))
            x, y = (int(v) for v in rng.integers(0, c.size - side + 1, size=2))
            objects.append(SceneObject(cls, instance, side, x, y, int(rng.integers(c.min_gray, 256))))
        return objects

    def render(self, params: FractalDBScenesBucket, instance: int, rng: np.random.Generator) -> ImageInstances:
        c = self.config
        objects = self.layout(rng, len(params.systems))
        image = np.zeros((c.size, c.size), np.uint8)
        owner = np.zeros((c.size, c.size), np.uint8)  # 0 background, k + 1 object k
        for k, obj in enumerate(objects):
            points = int(c.points_per_pixel * obj.side * obj.side)
            lit = self.objects.render_at(params.systems[obj.cls], obj.instance, rng, size=obj.side,
                                         points=max(points, 1)) > 0
            window = np.s_[obj.y: obj.y + obj.side, obj.x: obj.x + obj.side]
            image[window][lit] = obj.gray
            owner[window][lit] = k + 1
        return visible_instances(image, owner, objects, c.min_visible)


def visible_instances(image: np.ndarray, owner: np.ndarray, objects: list[SceneObject],
                      min_visible: int) -> ImageInstances:
    """The sample: objects with at least ``min_visible`` pixels, renumbered 1.. in paint order, each
    box the extent of its pixels (searched in its own window only: the rest of the map is not its)."""
    pixels = np.bincount(owner.ravel(), minlength=len(objects) + 1)[1:]
    kept = [k for k in range(len(objects)) if pixels[k] >= min_visible]
    renumber = np.zeros(len(objects) + 1, np.uint8)
    renumber[[k + 1 for k in kept]] = np.arange(1, len(kept) + 1)
    boxes = np.zeros((len(kept), 4), np.float32)
    for new, k in enumerate(kept):
        obj = objects[k]
        mine = owner[obj.y: obj.y + obj.side, obj.x: obj.x + obj.side] == k + 1
        rows, columns = np.flatnonzero(mine.any(axis=1)), np.flatnonzero(mine.any(axis=0))
        boxes[new] = (obj.x + columns[0], obj.y + rows[0], obj.x + columns[-1] + 1, obj.y + rows[-1] + 1)
    classes = np.array([objects[k].cls for k in kept], np.int64)
    return ImageInstances(image, renumber[owner], classes, boxes)


def same_systems(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> bool:
    return a is b or (len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b)))
