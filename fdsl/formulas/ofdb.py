"""OFDB, the One-instance FractalDataBase: one image (2-D) or one 3-D model (3-D) per category.

Source: Nakamura et al., "Pre-training Vision Transformers with Very Limited Synthesized
Images", ICCV 2023; official code ryoo-nakamura/OFDB. OFDB replaces FractalDB's 1,000 instances
per category by a single one and makes up for it with heavy augmentation and long training
(the recipe lives with the training presets, not here). Two registered families:

- ``ofdb`` (2D-OFDB): FractalDB's category search (N ~ U{2..7}, a..f ~ U(-1, 1), filling rate
  >= 0.2 at 512 px with 100,000 points), then one 362 px, 200,000-point, 3x3-patch grey (127)
  render of the *identity* variation, its patches pasted as FractalDB's official ones are
  (``patch_mode``, see :mod:`fdsl.formulas.fractaldb`; OFDB's ``ifs_function.py`` has the same
  ``draw_patch``). The official ``make_2dofdb.py`` renders the first row of ``weights_0.4.csv``
  instead, i.e. FractalDB variation 0, which multiplies every map's a by 1 - 2K = 0.2: a bug.
  ``official_row0=True`` reproduces it, only to re-create the released 2D-OFDB. A category's
  image is FractalDB's identity render with the same generator, so 2D-OFDB-1k categories searched
  from a seed are FractalDB-1k's categories from that seed.
- ``ofdb3d`` (3D-OFDB): the 3-D category search of MV-FractalDB (:mod:`fdsl.formulas.ifs3d`,
  Var > 0.05 per axis, 10,000 points); one 3-D model per category (the identity variation, the
  official ``instance.py`` keeps only ``weights[0:1]``), rendered from 12 azimuths 30 degrees
  apart at elevation 0 (``render1view.py --view_point 12``; 224 px, 1-px points, distance 4, 45
  degree field of view); training draws one of the 12 views per epoch. Instance v is view v,
  named as the official ``000000_00000_000.png`` (category, model, view).

Two names rather than a ``dimension`` option, because the two variants share no option: each
config keeps its own paper defaults (362 px vs 224 px).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from fdsl.errors import check
from fdsl.formulas.base import Formula, FormulaConfig
from fdsl.formulas.fractaldb import FractalDB, FractalDBConfig
from fdsl.formulas.ifs3d import Fractal3DConfig, Fractal3DFormula
from fdsl.registry import register

IDENTITY_VARIATION = 2  # FractalDB's variation rows 0..4 scale a by 1-2K, 1-K, 1, 1+K, 1+2K
OFFICIAL_ROW = 0


@dataclasses.dataclass
class OFDBConfig(FormulaConfig):
    size: int = 362
    points: int = 200_000
    render_mode: str = "patch"
    patch_mode: str = "official"
    color: str = "gray"
    graded: bool = False
    gray_value: int = 127
    padding: int = 6
    official_row0: bool = False
    interval: float = 0.4
    sampler: str = "fractaldb"
    min_maps: int = 2
    max_maps: int = 7
    search_size: int = 512
    search_points: int = 100_000
    fill_rate: float = 0.2

    def fractaldb_config(self) -> FractalDBConfig:
        """FractalDB's config with the same search and rendering (one patch draw, no flips)."""
        values = {k: v for k, v in self.to_dict().items() if k != "official_row0"}
        return FractalDBConfig(**values, patch_draws=1, flips=1)

    def validate(self) -> None:
        self.fractaldb_config().validate()


@register("ofdb")
class OFDB(Formula):
    """2D-OFDB: one FractalDB identity render per category (ICCV 2023)."""

    Config = OFDBConfig
    quick_config = {"size": 64, "points": 8000, "search_size": 128, "search_points": 10000}

    def __init__(self, config: OFDBConfig | None = None):
        super().__init__(config)
        self.fractaldb = FractalDB(self.config.fractaldb_config())
        self.image_mode = self.fractaldb.image_mode
        # FractalDB with flips=1 numbers its instances by variation (one patch draw).
        self.variation = OFFICIAL_ROW if self.config.official_row0 else IDENTITY_VARIATION

    def sample_category(self, rng: np.random.Generator) -> np.ndarray | None:
        return self.fractaldb.sample_category(rng)

    def write_categories(self, categories: list[np.ndarray], directory: Path) -> None:
        self.fractaldb.write_categories(categories, directory)

    def read_categories(self, directory: Path) -> list[np.ndarray]:
        return self.fractaldb.read_categories(directory)

    @property
    def instances_per_category(self) -> int:
        return 1

    def sample_stem(self, category: int, instance: int) -> str:
        check(instance == 0, f"instance = {instance}; allowed: 0 (OFDB has one instance per category)")
        return f"{category:05d}_00_count_0_flip0"

    def render(self, params: np.ndarray, instance: int, rng: np.random.Generator) -> np.ndarray:
        check(instance == 0, f"instance = {instance}; allowed: 0 (OFDB has one instance per category)")
        return self.fractaldb.render(params, self.variation, rng)


@dataclasses.dataclass
class OFDB3DConfig(Fractal3DConfig):
    views: int = 12

    def validate(self) -> None:
        super().validate()
        check(1 <= self.views <= 360, f"views = {self.views}; allowed: 1..360")


@register("ofdb3d")
class OFDB3D(Fractal3DFormula):
    """3D-OFDB: one 3-D fractal per category seen from 12 azimuths (ICCV 2023)."""

    Config = OFDB3DConfig
    quick_config = {"size": 64, "points": 2000}

    @property
    def instances_per_category(self) -> int:
        return self.config.views

    def sample_stem(self, category: int, instance: int) -> str:
        self.check_instance(instance)
        return f"{category:06d}_00000_{instance:03d}"

    def render(self, params: np.ndarray, instance: int, rng: np.random.Generator) -> np.ndarray:
        self.check_instance(instance)
        return self.view(params, 0, instance * 360.0 / self.config.views, 0.0)
