"""PC-FractalDB scenes: PC-FractalDB objects placed on a floor, with boxes, for 3-D detection.

Source: Yamada et al., CVPR 2022; official ryosuke-yamada/3dfractaldb,
``pcfractaldb/code/generate_scene.py`` (G) and ``pcfractaldb/PCFractalDB_render.sh`` (R), commit
6e6fd4e. The objects are those of :mod:`fdsl.formulas.pcfractaldb` with the same seed and options.

- Object count: ``base_objects`` + Poisson(5) (G ``setObjNum``); ``base_objects`` = 5 as R passes
  it (``--numof_object 5``; G's argparse default is 15).
- Size (G ``setObjSize``): a base U(0.75, 1.25) for x; y and z = base x U(0.9, 1.1) each.
- Placement (G ``setOneObject``): the size is drawn once, then up to 100 tries of a centre x, y
  uniform in [-room/2, room/2] (``room`` = 15, G ``--scene_size``), z = height / 2 (resting on the
  floor z = 0, z up). A try is rejected when its xy centre is closer to a placed object's than
  0.5 x (xy diagonal 1 + xy diagonal 2) + 0.25. After 100 rejected tries the scene stops adding
  objects (G returns None and breaks).
- Yaw = (1 - 2U) pi, drawn after placement and not used by the overlap test (G).
- Each object is drawn uniformly over the (class, instance) pairs of ``classes`` x
  ``object_instances`` (G ``np.random.randint(0, len(src_files))``; 1,000 x 1,000 by default, R
  uses 10 x 10); it is object (class, instance) of ``pcfractaldb`` with this seed.
- Fitting (ours: G writes JSON, and VoteNet's loader fits the clouds): each object's cloud is
  scaled per axis so that its bounding box is the object's size, centred on the box, then
  turned by the yaw about z. So every box holds exactly its object's points.
- Random stream: G's unseeded global ``np.random`` becomes the generator of (seed, scene group,
  scene), drawn in G's order (count, then per object: size, tries, yaw, object).

A scene is (category, instance) = (scene group, scene in the group): the category index only
groups scenes into folders, and category k's parameters (written by ``fdsl search``) are object
class k's 3-D IFS, the same search as ``pcfractaldb``. Samples are of the ``scene`` kind
(:mod:`fdsl.samples.scene`: points, per-point instance ids, boxes (centre, size, yaw), box
classes, VoteNet's (K, 8) boxes and a PLY); the class of a box is its object's category.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from fdsl.errors import check
from pathlib import Path

from fdsl.formulas.base import Formula, check_range
from fdsl.formulas.pcfractaldb import PCFractalDB, PCFractalDBConfig
from fdsl.registry import register
from fdsl.samples.scene import PLY_SCENE, Scene
from fdsl.seeding import RENDER, derive_rng

#: Placement tries per object (G ``ITERATION_MAX``).
MAX_TRIES = 100
#: Mean of the Poisson part of the object count (G ``np.random.poisson(lam=5)``).
EXTRA_OBJECTS_MEAN = 5.0
#: Gap added to the half diagonals in the overlap test (G).
GAP = 0.25


@dataclasses.dataclass
class PCFractalDBScenesConfig(PCFractalDBConfig):
    base_objects: int = 5
    object_instances: int = 1_000
    room: float = 15.0

    def validate(self) -> None:
        super().validate()
        check(0 <= self.base_objects <= 1000, f"base_objects = {self.base_objects}; allowed: 0..1000")
        check(
            1 <= self.object_instances <= self.classes,
            f"object_instances = {self.object_instances}; allowed: 1..classes ({self.classes})",
        )
        check_range("room", self.room, 0.0, 1000.0, low_open=True)


def object_size(rng: np.random.Generator) -> np.ndarray:
    """(3,) box size: a base U(0.75, 1.25) for x, y and z the base x U(0.9, 1.1) each."""
    base = 0.75 + rng.random() * 0.5
    aspects = np.ones(3)
    aspects[1:] = 0.9 + rng.random(2) * 0.2
    return aspects * base


def overlaps(centre: np.ndarray, size: np.ndarray, placed: list[np.ndarray]) -> bool:
    """G's rule: xy centre distance < 0.5 (xy diagonal + xy diagonal) + 0.25 to any placed box."""
    for box in placed:
        limit = 0.5 * (math.hypot(size[0], size[1]) + math.hypot(box[3], box[4])) + GAP
        if math.hypot(centre[0] - box[0], centre[1] - box[1]) < limit:
            return True
    return False


def place_object(rng: np.random.Generator, placed: list[np.ndarray], room: float) -> np.ndarray | None:
    """(centre xyz, size xyz) of a new object, or None after ``MAX_TRIES`` rejected centres."""
    size = object_size(rng)
    for _ in range(MAX_TRIES):
        centre = np.array([*((1.0 - rng.random(2) * 2.0) * room * 0.5), size[2] * 0.5])
        if not overlaps(centre, size, placed):
            return np.concatenate([centre, size])
    return None


def fit_into_box(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """float64 (N, 3): ``points`` stretched per axis to the box's size, centred on it, turned by its yaw."""
    low, high = points.min(axis=0).astype(np.float64), points.max(axis=0).astype(np.float64)
    extent = high - low
    scale = np.divide(box[3:6], extent, out=np.zeros(3), where=extent > 0)
    local = (points - (low + high) / 2) * scale
    cos, sin = math.cos(box[6]), math.sin(box[6])
    turned = np.column_stack([cos * local[:, 0] - sin * local[:, 1], sin * local[:, 0] + cos * local[:, 1],
                              local[:, 2]])
    return turned + box[:3]


@register("pcfractaldb-scenes")
class PCFractalDBScenes(Formula):
    """PC-FractalDB scenes (CVPR 2022): objects on a 15 x 15 floor, with boxes and classes."""

    Config = PCFractalDBScenesConfig
    quick_config = {"points": 300, "classes": 4, "object_instances": 4, "base_objects": 2}
    kind = PLY_SCENE

    def __init__(self, config: PCFractalDBScenesConfig | None = None):
        super().__init__(config)
        shared = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(PCFractalDBConfig)}
        self.objects = PCFractalDB(PCFractalDBConfig(**shared))

    def sample_category(self, rng: np.random.Generator) -> np.ndarray | None:
        return self.objects.sample_category(rng)

    def write_categories(self, categories: list[np.ndarray], directory: Path) -> None:
        self.objects.write_categories(categories, directory)

    def read_categories(self, directory: Path) -> list[np.ndarray]:
        return self.objects.read_categories(directory)

    def sample_stem(self, category: int, instance: int) -> str:
        return f"scene_{category:05d}_{instance:05d}"

    def sample(self, params: np.ndarray, seed: int, category: int, instance: int) -> Scene:
        return self.render(params, instance, derive_rng(seed, RENDER, category, instance), seed=seed)

    def render(self, params: np.ndarray, instance: int, rng: np.random.Generator, *, seed: int = 0) -> Scene:
        """A scene drawn from ``rng``; its objects are ``pcfractaldb``'s with ``seed``. The scene
        group's ``params`` are not used (see the module docstring)."""
        layout = self.layout(rng)
        clouds = [self.fitted_object(box, int(pair), seed) for box, pair in zip(layout["boxes"], layout["pairs"])]
        points = np.concatenate(clouds).astype(np.float32) if clouds else np.zeros((1, 3), np.float32)
        instances = np.repeat(np.arange(len(clouds), dtype=np.int32), [len(c) for c in clouds])
        if not clouds:  # no object: one point at the origin, owned by no box
            instances = np.full(1, -1, np.int32)
        classes = (layout["pairs"] // self.config.object_instances).astype(np.int32)
        return Scene(points, instances, layout["boxes"].astype(np.float32), classes)

    def layout(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """G's scene: boxes (K, 7: centre, size, yaw) and (class, instance) pair indices (K,)."""
        c = self.config
        count = c.base_objects + int(rng.poisson(EXTRA_OBJECTS_MEAN))
        boxes, pairs = [], []
        for _ in range(count):
            placed = place_object(rng, boxes, c.room)
            if placed is None:
                break
            yaw = (1.0 - rng.random() * 2.0) * math.pi
            boxes.append(np.append(placed, yaw))
            pairs.append(int(rng.integers(0, c.classes * c.object_instances)))
        return {"boxes": np.array(boxes).reshape(-1, 7), "pairs": np.array(pairs, dtype=np.int64)}

    def fitted_object(self, box: np.ndarray, pair: int, seed: int) -> np.ndarray:
        category, instance = divmod(pair, self.config.object_instances)
        objects = self.objects
        cloud = objects.sample(objects.searched_category(seed, category), seed, category, instance).points
        return fit_into_box(cloud, box)
