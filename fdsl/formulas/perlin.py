"""Perlin-noise baseline of FractalDB: grey fractal-noise textures, a category per noise setting.

Source: Kataoka et al., "Pre-training without Natural Images", IJCV 2022, which pre-trains on
Perlin-100 and Perlin-1296 (category counts) and compares them with FractalDB (ResNet-50 fine-tuned
from Perlin-100: CIFAR-10 90.9, CIFAR-100 70.2). No official code exists; this grid is our choice.

A category is a cell of a grid over the fBm generator's parameters (:mod:`fdsl.kernels.perlin_noise`):

- Perlin-100 (``variant=100``): frequency {1, 2, 4, 8, 16} lattice cells across the image
  x octaves {2, 3, 4, 6} x persistence {0.2, 0.35, 0.5, 0.65, 0.8}; lacunarity 2 (5 x 4 x 5 = 100).
- Perlin-1296 (``variant=1296``): frequency {1, 2, 3, 4, 6, 8} x octaves {2..7}
  x persistence {0.25, 0.35, 0.45, 0.55, 0.65, 0.75} x lacunarity {1.5, 1.75, 2, 2.25, 2.5, 3}
  (6^4 = 1296).

Every cell has at least 2 octaves, so persistence and lacunarity matter in every category (with
one octave they would not, and cells would repeat). Category index = cell index, the last axis varying fastest (:mod:`fdsl.formulas.grid`).
An instance is the same noise setting at a random offset in the noise's 256 x 256 period; the
value is stretched to 0..255 per image. Octaves finer than a pixel are kept (they show as grain):
skipping them would make cells that differ only there identical. 362 px, as FractalDB's instances.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from fdsl.errors import check
from fdsl.formulas.base import FormulaConfig
from fdsl.formulas.grid import GridFormula, ParameterGrid
from fdsl.kernels.perlin_noise import PERIOD, fractal_noise
from fdsl.registry import register

GRIDS = {
    100: ParameterGrid("Perlin-100", {
        "frequency": (1.0, 2.0, 4.0, 8.0, 16.0),
        "octaves": (2, 3, 4, 6),
        "persistence": (0.2, 0.35, 0.5, 0.65, 0.8),
        "lacunarity": (2.0,),
    }),
    1296: ParameterGrid("Perlin-1296", {
        "frequency": (1.0, 2.0, 3.0, 4.0, 6.0, 8.0),
        "octaves": (2, 3, 4, 5, 6, 7),
        "persistence": (0.25, 0.35, 0.45, 0.55, 0.65, 0.75),
        "lacunarity": (1.5, 1.75, 2.0, 2.25, 2.5, 3.0),
    }),
}


@dataclasses.dataclass
class PerlinConfig(FormulaConfig):
    size: int = 362
    variant: int = 100

    def validate(self) -> None:
        check(8 <= self.size <= 16384, f"size = {self.size}; allowed: 8..16384")
        check(self.variant in GRIDS, f"variant = {self.variant!r}; allowed: {', '.join(map(str, GRIDS))}")


def stretch_to_bytes(values: np.ndarray) -> np.ndarray:
    """Map min..max linearly to 0..255 (a flat image becomes mid-grey)."""
    low, high = float(values.min()), float(values.max())
    if not high > low:
        return np.full(values.shape, 128, dtype=np.uint8)
    return ((values - low) * (255.0 / (high - low)) + 0.5).astype(np.uint8)


@register("perlin")
class Perlin(GridFormula):
    """Perlin-noise textures on a frequency x octaves x persistence (x lacunarity) grid (FractalDB IJCV baseline)."""

    Config = PerlinConfig
    quick_config = {"size": 32}

    def __init__(self, config: PerlinConfig | None = None):
        super().__init__(config)
        self.grid = GRIDS[self.config.variant]

    def render(self, params: dict, instance: int, rng: np.random.Generator) -> np.ndarray:
        size = self.config.size
        offset = rng.uniform(0.0, PERIOD, size=2)
        noise = fractal_noise(size, size, frequency=params["frequency"], octaves=params["octaves"],
                              persistence=params["persistence"], lacunarity=params["lacunarity"],
                              offset=(offset[0], offset[1]))
        return stretch_to_bytes(noise)
