"""ExFractalDB: 3-D fractal categories projected to 2-D from random viewpoints.

Source: Kataoka et al., "Replacing Labeled Real-image Datasets with Auto-generated Contours",
CVPR 2022 (ExFractalDB-1k / -21k). The 3-D categories are those of MV-FractalDB / PC-FractalDB
(Yamada et al.; see :mod:`fdsl.formulas.ifs3d`): N ~ U{2..7} maps of 12 parameters U(-1, 1),
p ~ |det|, 10,000 points, accepted when Var(x), Var(y), Var(z) > 0.05 after normalisation.
The paper projects each 3-D fractal from *random* viewpoints; the released code only renders
MV-FractalDB's fixed views (OpenGL/EGL), so the random camera here is ours: the same perspective
camera as MV-FractalDB (45 degree field of view, distance 4, 1-px white points, 224 px), with a
direction uniform on the sphere (``max_elevation`` = 90) or on the band |elevation| <=
``max_elevation``.

Instance i is variation i % 145 (identity + 144 single-parameter scalings) seen from a viewpoint
drawn from the instance's own generator; instances are unlimited (1,000 per category in the paper).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from fdsl.formulas.base import check_range
from fdsl.formulas.ifs3d import N_VARIATIONS, Fractal3DConfig, Fractal3DFormula
from fdsl.registry import register


@dataclasses.dataclass
class ExFractalDBConfig(Fractal3DConfig):
    max_elevation: float = 90.0

    def validate(self) -> None:
        super().validate()
        check_range("max_elevation", self.max_elevation, 0.0, 90.0)


def random_viewpoint(rng: np.random.Generator, max_elevation: float) -> tuple[float, float]:
    """(azimuth, elevation) in degrees, uniform over the sphere's band |elevation| <= max_elevation
    (sin(elevation) uniform, so the poles are not over-sampled)."""
    azimuth = rng.uniform(0.0, 360.0)
    bound = math.sin(math.radians(max_elevation))
    elevation = math.degrees(math.asin(rng.uniform(-bound, bound)))
    return azimuth, elevation


@register("exfractaldb")
class ExFractalDB(Fractal3DFormula):
    """3-D IFS fractals projected from random viewpoints (ExFractalDB, CVPR 2022)."""

    Config = ExFractalDBConfig
    quick_config = {"size": 64, "points": 2000}

    def decompose(self, instance: int) -> tuple[int, int]:
        """Instance index -> (variation, viewpoint draw)."""
        self.check_instance(instance)
        return instance % N_VARIATIONS, instance // N_VARIATIONS

    def sample_stem(self, category: int, instance: int) -> str:
        variation, draw = self.decompose(instance)
        return f"{category:05d}_{variation:03d}_{draw:04d}"

    def render(self, params: np.ndarray, instance: int, rng: np.random.Generator) -> np.ndarray:
        variation, _ = self.decompose(instance)
        azimuth, elevation = random_viewpoint(rng, self.config.max_elevation)
        return self.view(params, variation, azimuth, elevation)
