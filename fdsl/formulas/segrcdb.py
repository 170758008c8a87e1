"""SegRCDB: radial-contour scenes with per-pixel class masks, for segmentation pre-training.

Source: Shinoda et al., "SegRCDB: Semantic Segmentation via Formula-Driven Supervised Learning",
ICCV 2023; official code dahlian00/SegRCDB (commit 763effd): ``SegRCDB_params.py`` (P),
``SegRCDB_render.py`` (R), ``make_SegRCDB.sh`` (S). Every value below is the shipped script's:

- Classes (P, with S's arguments): 254 classes, ids 1..254, mask value = class id (S: CLASS=254;
  P's ``gray = gray + 1``). Per class: vertices V = int(Exp(mean 500 / 5 = 100)) with 3 <= V <= 500
  (P redraws until it is; we draw the same truncated law by inverse CDF); contours L ~ U{1..50};
  noise amplitude c ~ U(0, 4); radial step w ~ U(0, 0.1) (S passes 0.1; P's default 0.01 is
  unused); start radius r ~ U{0..50}; oval rates ox, oy ~ U(1, 2). Unlike RCDB, the radius and
  oval rates belong to the class, not the instance.
- Image (R): 512 x 512, black; 32 instances (S), each of a class uniform over 1..254 (repeats
  allowed) at centre ((512 + U{-512..512}) / 2) per axis, i.e. anywhere on the canvas in
  half-pixel steps (S: POSITION=512); no per-instance rotation or scale. Each instance is RCDB's
  contour drawing (:mod:`fdsl.kernels.contours`: N = pnoise1 2c - c per vertex and axis, a grey
  U{0..255} per contour, 1-px PIL lines), later instances over earlier ones. The image is grey
  (R draws R = G = B), stored as "L".
- Mask (R, :mod:`fdsl.kernels.segmasks`): ``mask_mode`` M1 (the default of R and S, the shipped
  dataset) the same lines as the image with the class id; M2 the ring between the first and last
  contour; M3 the last contour filled. 0 is the background; 255 (:data:`fdsl.samples.image_mask.IGNORE`)
  is never written, as in the official masks (mmseg uses it for padding only).

What "category" means here: the official dataset is 20,000 scenes (S), not classes x instances.
The 254 classes are one table drawn from the seed alone (the same for every sample); a category
is only a bucket of scenes, so ``fdsl render segrcdb --categories N --instances M`` writes N x M
scenes (``--categories 1 --instances 20000`` is the official size), and scene (c, i) is a pure
function of (seed, c, i) whatever the workers. The category's parameters are its bucket index
and the shared class table.

Disk layout (:mod:`fdsl.samples.image_mask`): ``<out>/<category>/<stem>.png`` (the grey image)
and ``<stem>.mask.png`` (uint8 class ids). mmsegmentation reads it as a custom dataset with
``img_suffix='.png', seg_map_suffix='.mask.png'`` and an ``ann_file`` listing the stems
(``ls out/*/*.mask.png | sed 's/.mask.png$//'``): without the list, ``.png`` would match the
masks too. Set ``reduce_zero_label=False`` and 255 classes (0..254), as the official configs do.

Official pitfalls avoided: R seeds ``random`` with the thread index (the data depend on the
number of threads) and reads each class from a CSV per instance; here the class table comes
from (seed) and scene (c, i) from (seed, c, i).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from fdsl.errors import check
from fdsl.formulas.base import Formula, FormulaConfig, check_choice, check_range
from fdsl.formulas.rcdb import (MAX_CONTOURS, MAX_VERTICES, check_float_span, check_int_span, check_positive_finite,
                                truncated_exponential_int)
from fdsl.kernels.contours import CANVAS
from fdsl.kernels.perlin_noise import NOISE1_GRADIENTS, gradients1
from fdsl.kernels.segmasks import MASK_MODES, render_scene
from fdsl.registry import register
from fdsl.samples.image_mask import IGNORE, IMAGE_MASK, ImageMask
from fdsl.seeding import SEARCH, derive_rng, kernel_seed

#: Columns of the class table: ints, then floats.
INT_COLUMNS = ("vertices", "contours", "radius")
FLOAT_COLUMNS = ("noise", "step", "oval_x", "oval_y")


@dataclasses.dataclass
class SegRCDBConfig(FormulaConfig):
    size: int = 512
    classes: int = 254
    instances_per_image: int = 32
    mean_vertices: float = 100.0
    min_vertices: int = 3
    max_vertices: int = 500
    min_contours: int = 1
    max_contours: int = 50
    noise_min: float = 0.0
    noise_max: float = 4.0
    max_step: float = 0.1
    min_radius: int = 0
    max_radius: int = 50
    max_oval_rate: float = 2.0
    center_spread: int = 512
    mask_mode: str = "M1"
    noise_gradient: str = "official"

    def validate(self) -> None:
        check(8 <= self.size <= 16384, f"size = {self.size}; allowed: 8..16384")
        check(1 <= self.classes < IGNORE, f"classes = {self.classes}; allowed: 1..{IGNORE - 1} (mask ids)")
        check(1 <= self.instances_per_image <= 10_000,
              f"instances_per_image = {self.instances_per_image}; allowed: 1..10000")
        check_positive_finite("mean_vertices", self.mean_vertices)
        check_int_span("vertices", self.min_vertices, self.max_vertices, 3, MAX_VERTICES)
        check_int_span("contours", self.min_contours, self.max_contours, 1, MAX_CONTOURS)
        check_float_span("noise", self.noise_min, self.noise_max, 0.0, 1e3)
        check_range("max_step", self.max_step, 0.0, 1e3)
        check_int_span("radius", self.min_radius, self.max_radius, 0, 100_000)
        check_range("max_oval_rate", self.max_oval_rate, 1.0, 100.0)
        check(0 <= self.center_spread <= 100_000, f"center_spread = {self.center_spread}; allowed: 0..100000")
        check_choice("mask_mode", self.mask_mode, MASK_MODES)
        check_choice("noise_gradient", self.noise_gradient, NOISE1_GRADIENTS)


@dataclasses.dataclass(frozen=True, eq=False)
class SegRCDBScenes:
    """A bucket of scenes: its index and the class table (column -> array over classes 1..K)."""

    bucket: int
    classes: dict[str, np.ndarray]


@register("segrcdb")
class SegRCDB(Formula):
    """Radial-contour scenes with class masks (SegRCDB, ICCV 2023)."""

    Config = SegRCDBConfig
    quick_config = {"size": 64, "instances_per_image": 8, "max_contours": 10}
    kind = IMAGE_MASK

    def __init__(self, config: SegRCDBConfig | None = None):
        super().__init__(config)
        self.class_tables: dict[int, dict[str, np.ndarray]] = {}

    def sample_class(self, rng: np.random.Generator) -> dict[str, float]:
        """One class's parameters, drawn as P draws them (see the module docstring)."""
        c = self.config
        return {
            "vertices": truncated_exponential_int(rng, c.mean_vertices, c.min_vertices, c.max_vertices),
            "contours": int(rng.integers(c.min_contours, c.max_contours + 1)),
            "noise": float(rng.uniform(c.noise_min, c.noise_max)),
            "step": float(rng.uniform(0.0, c.max_step)),
            "radius": int(rng.integers(c.min_radius, c.max_radius + 1)),
            "oval_x": float(rng.uniform(1.0, c.max_oval_rate)),
            "oval_y": float(rng.uniform(1.0, c.max_oval_rate)),
        }

    def sample_category(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """A whole class table from ``rng`` (the table of a seed is :meth:`class_table`)."""
        rows = [self.sample_class(rng) for _ in range(self.config.classes)]
        return as_columns({name: [row[name] for row in rows] for name in INT_COLUMNS + FLOAT_COLUMNS})

    def class_table(self, seed: int) -> dict[str, np.ndarray]:
        """The seed's classes, shared by every scene: drawn from (seed) alone, cached."""
        if seed not in self.class_tables:
            self.class_tables[seed] = self.sample_category(derive_rng(seed, SEARCH))
        return self.class_tables[seed]

    def search_category(self, seed: int, index: int) -> SegRCDBScenes:
        return SegRCDBScenes(bucket=index, classes=self.class_table(seed))

    def decode_category(self, obj: Any) -> SegRCDBScenes:
        return SegRCDBScenes(bucket=int(obj["bucket"]), classes=as_columns(obj["classes"]))

    def render(self, params: SegRCDBScenes, instance: int, rng: np.random.Generator) -> ImageMask:
        c = self.config
        count = c.instances_per_image
        labels = rng.integers(1, c.classes + 1, size=count)
        # R: centre = (512 + randint(-512, 512)) / 2 per axis, height drawn first
        heights_widths = (CANVAS + rng.integers(-c.center_spread, c.center_spread + 1, size=(count, 2))) / 2
        centres = heights_widths[:, ::-1]  # (x, y)
        image, mask = render_scene(c.size, c.mask_mode, labels, centres, params.classes,
                                   gradients1(c.noise_gradient), kernel_seed(rng))
        return ImageMask(image, mask)


def as_columns(columns: dict[str, Any]) -> dict[str, np.ndarray]:
    """The class table as contiguous int64 / float64 arrays, the kernel's types."""
    table = {name: np.ascontiguousarray(columns[name], dtype=np.int64) for name in INT_COLUMNS}
    table.update({name: np.ascontiguousarray(columns[name], dtype=np.float64) for name in FLOAT_COLUMNS})
    return table
