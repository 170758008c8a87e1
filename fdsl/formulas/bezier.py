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
(:mod:`fdsl.formulas.raster2d`). 362 px, as FractalDB's instances.
"""
from __future__ import annotations

import dataclasses

import numba
import numpy as np

from fdsl.errors import check
from fdsl.formulas.base import FormulaConfig
from fdsl.formulas.grid import GridFormula, ParameterGrid
from fdsl.formulas.raster2d import draw_polyline
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
    _place_curves(uniforms, curves, degree, float(spread), LAYOUTS.index(layout), points)
    return points


@numba.njit(cache=True)
def _place_curves(uniforms, curves, degree, spread, layout, points):
    """Fill ``points`` from the uniforms: anchor + U(-spread, spread) per control point, each curve
    moved (and shrunk only when wider than 1) into [0, 1]^2, then the layout (index in LAYOUTS)."""
    n = degree + 1
    for i in range(curves):
        base = i * (2 + 2 * n)
        for axis in range(2):
            anchor = uniforms[base + axis]
            low = np.inf
            high = -np.inf
            for k in range(n):
                v = anchor + (2.0 * uniforms[base + 2 + 2 * k + axis] - 1.0) * spread
                points[i, k, axis] = v
                low = min(low, v)
                high = max(high, v)
            shrink = min(1.0, 1.0 / max(high - low, 1e-12))
            high = low + (high - low) * shrink
            shift = max(0.0, -low) - max(0.0, high - 1.0)
            for k in range(n):
                points[i, k, axis] = (points[i, k, axis] - low) * shrink + low + shift
    if layout == 1:  # closed: each curve starts where the previous ends; the last closes the loop
        for axis in range(2):
            for i in range(1, curves):
                points[i, 0, axis] = points[i - 1, n - 1, axis]
            points[curves - 1, n - 1, axis] = points[0, 0, axis]
    elif layout == 2:  # mirror about the vertical centre line
        for i in range(curves):
            for k in range(n):
                points[curves + i, k, 0] = 1.0 - points[i, k, 0]
                points[curves + i, k, 1] = points[i, k, 1]
    elif layout == 3:  # turned by 180 degrees about the centre
        for i in range(curves):
            for k in range(n):
                points[curves + i, k, 0] = 1.0 - points[i, k, 0]
                points[curves + i, k, 1] = 1.0 - points[i, k, 1]


@numba.njit(cache=True)
def draw_bezier_curves(canvas, points, samples_per_px, max_samples, value):
    """Draw each curve of ``points`` (n, degree + 1, 2) in pixels, sampled evenly in t.

    A curve is turned once into power form B(t) = sum_k c_k t^k (c_k = C(d, k) times the k-th
    forward difference of the control points), then each sample costs one Horner pass of d
    steps instead of de Casteljau's d(d + 1)/2 interpolations; for d <= 5 the two agree to
    ~1e-12 px.
    """
    n_curves, n_ctrl, _ = points.shape
    degree = n_ctrl - 1
    xs = np.empty(max_samples + 1)
    ys = np.empty(max_samples + 1)
    diff = np.empty((n_ctrl, 2))
    coef = np.empty((n_ctrl, 2))
    for i in range(n_curves):
        length = 0.0
        for k in range(degree):
            length += np.hypot(points[i, k + 1, 0] - points[i, k, 0], points[i, k + 1, 1] - points[i, k, 1])
        segments = min(max(int(length * samples_per_px), 8), max_samples)
        for k in range(n_ctrl):
            diff[k, 0] = points[i, k, 0]
            diff[k, 1] = points[i, k, 1]
        binomial = 1.0
        for k in range(n_ctrl):
            coef[k, 0] = binomial * diff[0, 0]
            coef[k, 1] = binomial * diff[0, 1]
            for m in range(degree - k):  # next forward difference, in place
                diff[m, 0] = diff[m + 1, 0] - diff[m, 0]
                diff[m, 1] = diff[m + 1, 1] - diff[m, 1]
            binomial = binomial * (degree - k) / (k + 1)
        for s in range(segments + 1):
            t = s / segments
            x = coef[degree, 0]
            y = coef[degree, 1]
            for k in range(degree - 1, -1, -1):
                x = x * t + coef[k, 0]
                y = y * t + coef[k, 1]
            xs[s] = x
            ys[s] = y
        draw_polyline(canvas, xs, ys, segments + 1, False, value)


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
