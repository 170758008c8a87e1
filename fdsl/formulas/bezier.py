"""Bezier-curve baseline of FractalDB: white 1-px Bezier curves on black, a category per curve setting.

Source: Kataoka et al., "Pre-training without Natural Images", IJCV 2022, which pre-trains on
Bezier-144 and Bezier-1024 (category counts) and compares them with FractalDB (ResNet-50 fine-tuned
from Bezier-1024: CIFAR-10 89.7, CIFAR-100 68.1). No official code exists; this grid is our choice.

A category is a cell of a grid over the number of curves and their control-point configuration:

- Bezier-144 (``variant=144``): curves {1, 2, 4, 8, 16, 32} x degree {2, 3, 4, 5} (3 to 6 control
  points) x spread {0.2, 0.3, 0.4, 0.55, 0.7, 0.9}, layout "free" (6 x 4 x 6 = 144).
- Bezier-1024 (``variant=1024``): curves {1, 2, 3, 4, 6, 8, 12, 16} x degree {2..5} x spread {0.2, 0.3, ..., 0.9}
  x layout {free, closed, mirror, turn} (8 x 4 x 8 x 4 = 1024).

Spread: the control points of a curve lie within +-spread x image size of its anchor (uniform);
a curve whose control points leave the image is moved (and, when wider than the image, shrunk)
back inside, keeping its shape, so every curve lies in the image. Layouts: "free" curves have independent
anchors; "closed" chains the curves into one loop (each starts where the previous ends, the last
ends where the first starts; one curve closes on itself); "mirror" adds each free curve's mirror
image about the vertical centre line; "turn" adds its copy turned by 180 degrees about the
centre. Every layout differs from the others for any number of curves. Category index = cell index, the last axis varying fastest
(:mod:`fdsl.formulas.grid`). An instance is a new draw of anchors and control points.
Curves are sampled every ~2 px of control-polygon length and drawn as 1-px polylines
(:mod:`fdsl.kernels.raster2d`). 362 px, as FractalDB's instances.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from fdsl.errors import check
from fdsl.formulas.base import FormulaConfig
from fdsl.formulas.grid import GridFormula, ParameterGrid
from fdsl.kernels.bezier import draw_bezier_curves, place_curves
from fdsl.registry import register

LAYOUTS = ("free", "closed", "mirror", "turn")
GRIDS = {
    144: ParameterGrid("Bezier-144", {
        "curves": (1, 2, 4, 8, 16, 32),
        "degree": (2, 3, 4, 5),
        "spread": (0.2, 0.3, 0.4, 0.55, 0.7, 0.9),
        "layout": ("free",),
    }),
    1024: ParameterGrid("Bezier-1024", {
        "curves": (1, 2, 3, 4, 6, 8, 12, 16),
        "degree": (2, 3, 4, 5),
        "spread": (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
        "layout": LAYOUTS,
    }),
}
#: Curve samples per pixel of control-polygon length (a segment every ~2 px).
SAMPLES_PER_PX = 0.5
MAX_SAMPLES = 4096


@dataclasses.dataclass
class BezierConfig(FormulaConfig):
    size: int = 362
    variant: int = 1024

    def validate(self) -> None:
        check(8 <= self.size <= 16384, f"size = {self.size}; allowed: 8..16384")
        check(self.variant in GRIDS, f"variant = {self.variant!r}; allowed: {', '.join(map(str, GRIDS))}")


def control_points(rng: np.random.Generator, curves: int, degree: int, spread: float, layout: str) -> np.ndarray:
    """(curves', degree + 1, 2) control points in [0, 1]^2 (curves' = 2 curves for "mirror", "turn")."""
    check(layout in LAYOUTS, f"layout = {layout!r}; allowed: {', '.join(LAYOUTS)}")
    uniforms = rng.random(curves * (2 + 2 * (degree + 1)))
    copies = 2 if layout in ("mirror", "turn") else 1
    points = np.empty((copies * curves, degree + 1, 2))
    place_curves(uniforms, curves, degree, float(spread), LAYOUTS.index(layout), points)
    return points


@register("bezier")
class Bezier(GridFormula):
    """Bezier curves on a curves x degree x spread (x layout) grid (FractalDB IJCV baseline)."""

    Config = BezierConfig
    quick_config = {"size": 32}

    def __init__(self, config: BezierConfig | None = None):
        super().__init__(config)
        self.grid = GRIDS[self.config.variant]

    def render(self, params: dict, instance: int, rng: np.random.Generator) -> np.ndarray:
        size = self.config.size
        points = control_points(rng, params["curves"], params["degree"], params["spread"], params["layout"])
        canvas = np.zeros((size, size), dtype=np.uint8)
        # [0, 1] spans the pixel centres 0 .. size - 1
        draw_bezier_curves(canvas, points * (size - 1), SAMPLES_PER_PX, MAX_SAMPLES, np.uint8(255))
        return canvas
