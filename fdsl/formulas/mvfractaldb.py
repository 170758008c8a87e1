"""MV-FractalDB: 3-D fractal categories, each variation seen from fixed azimuths.

Source: Yamada et al., "MV-FractalDB: Formula-driven Supervised Learning for Multi-view Image
Recognition", IROS 2021; official code ryosuke-yamada/3dfractaldb (mvfractaldb/): the 3-D IFS
search (Var > 0.05 on every axis, 10,000 points), 145 parameter variations per category (PLY
files), each rendered by OpenGL from 12 azimuths 30 degrees apart around the vertical axis,
camera at distance 4, 45 degree field of view, elevation 0, white points on black. The official
``render.py`` also turns each azimuth by ``radians(uniform(-pi, pi))``, a jitter of at most 3.14
degrees (an angle in radians passed through ``radians``); we leave it out, so views are exact.
We render 1-px points at 224 px (3D-OFDB's ``render1view.py`` settings; MV's ``render.py`` used
3-px points at 512 px: ``--point-size 3 --size 512``).

Instance i is variation i // views seen from azimuth (i % views) * 360 / views: 145 x 12 = 1,740
instances per category, in the official file order (``000000_00000_000.png``: category,
variation, view).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from fdsl.errors import check
from fdsl.formulas.ifs3d import N_VARIATIONS, Fractal3DConfig, Fractal3DFormula
from fdsl.registry import register


@dataclasses.dataclass
class MVFractalDBConfig(Fractal3DConfig):
    views: int = 12

    def validate(self) -> None:
        super().validate()
        check(1 <= self.views <= 360, f"views = {self.views}; allowed: 1..360")


@register("mvfractaldb")
class MVFractalDB(Fractal3DFormula):
    """3-D IFS fractals, 145 variations x 12 fixed azimuths (MV-FractalDB, IROS 2021)."""

    Config = MVFractalDBConfig
    quick_config = {"size": 64, "points": 2000}

    @property
    def instances_per_category(self) -> int:
        return N_VARIATIONS * self.config.views

    def decompose(self, instance: int) -> tuple[int, int]:
        """Instance index -> (variation, view)."""
        self.check_instance(instance)
        return divmod(instance, self.config.views)

    def azimuth(self, view: int) -> float:
        return view * 360.0 / self.config.views

    def sample_stem(self, category: int, instance: int) -> str:
        variation, view = self.decompose(instance)
        return f"{category:06d}_{variation:05d}_{view:03d}"

    def render(self, params: np.ndarray, instance: int, rng: np.random.Generator) -> np.ndarray:
        variation, view = self.decompose(instance)
        return self.view(params, variation, self.azimuth(view), 0.0)
