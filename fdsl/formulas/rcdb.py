"""RCDB, the Radial Contour DataBase: Perlin-perturbed concentric polygons.

Source: Kataoka et al., "Replacing Labeled Real-image Datasets with Auto-generated Contours",
CVPR 2022 (official code: masora1030/CVPR2022-Pretrained-ViT-PyTorch, ``rcdb_render``, run by
``RCDB_render.sh``). Values of the released RCDB-1k (1,000 categories x 1,000 instances, 512 px):

- Category: vertices V = int(Exp(mean 100)) within 3..200 (the official code redraws until it
  is; we sample the same truncated distribution by inverse CDF); contours L ~ U{1..200};
  noise coefficient c ~ U(0, 4); radial step lw ~ U(0, 0.1).
- Instance: start radius R ~ U{0..100}, oval rates ox, oy ~ U(1, 2), centre ~ U(56, 456) per
  axis (the official (512 + U{-400..400}) / 2); every contour's noise and grey are new draws.
- Drawing (:mod:`fdsl.kernels.contours`): N = pnoise1 * 2c - c per vertex and axis,
  1-px closed polylines in a random grey U{0..255} on a white background, with PIL's pixels
  (truncated coordinates).
- ``noise_gradient``: ``official`` (default) is ``noise.pnoise1`` as the released data used it
  (std 0.329); ``textbook`` the +-g gradient Perlin intended, 1.56x stronger, jaggier contours
  (:mod:`fdsl.kernels.perlin_noise`).

Official pitfalls avoided: the official dataset depends on the number of threads (each thread
seeds Python's ``random`` with its index and takes a slice of the categories); here category i
comes from its own generator (seed, i) and image (i, j) from (seed, i, j), whatever the workers.
The official grey ``random.randint(0, image_size / 2)`` passes a float bound, which Python 3.12
rejects; we draw integers from NumPy. Instances are unlimited draws (the paper uses 1,000).
Geometry is defined on the 512-px canvas and scaled to ``size``.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from fdsl.errors import check
from fdsl.formulas.base import Formula, FormulaConfig, check_choice, check_range
from fdsl.kernels.perlin_noise import NOISE1_GRADIENTS
from fdsl.kernels.contours import render_contours
from fdsl.registry import register
from fdsl.seeding import kernel_seed

#: Upper bounds that keep one image's work and memory sane (the papers use 200 and 200).
MAX_VERTICES = 100_000
MAX_CONTOURS = 10_000


@dataclasses.dataclass
class RCDBConfig(FormulaConfig):
    size: int = 512
    mean_vertices: float = 100.0
    min_vertices: int = 3
    max_vertices: int = 200
    min_contours: int = 1
    max_contours: int = 200
    noise_min: float = 0.0
    noise_max: float = 4.0
    max_step: float = 0.1
    min_radius: int = 0
    max_radius: int = 100
    max_oval_rate: float = 2.0
    center_min: float = 56.0
    center_max: float = 456.0
    noise_gradient: str = "official"

    def validate(self) -> None:
        check(8 <= self.size <= 16384, f"size = {self.size}; allowed: 8..16384")
        check_positive_finite("mean_vertices", self.mean_vertices)
        check_int_span("vertices", self.min_vertices, self.max_vertices, 3, MAX_VERTICES)
        check_int_span("contours", self.min_contours, self.max_contours, 1, MAX_CONTOURS)
        check_float_span("noise", self.noise_min, self.noise_max, 0.0, 1e3)
        check_range("max_step", self.max_step, 0.0, 1e3)
        check_int_span("radius", self.min_radius, self.max_radius, 0, 100_000)
        check_range("max_oval_rate", self.max_oval_rate, 1.0, 100.0)
        check_float_span("center", self.center_min, self.center_max, -1e5, 1e5)
        check_choice("noise_gradient", self.noise_gradient, NOISE1_GRADIENTS)


def check_positive_finite(name: str, value: float) -> None:
    check(math.isfinite(value) and value > 0, f"{name} = {value!r}; allowed: a finite number > 0")


def check_int_span(name: str, low: int, high: int, floor: int, ceiling: int) -> None:
    """min_<name> <= max_<name>, both within [floor, ceiling]."""
    check(
        floor <= low <= high <= ceiling,
        f"min_{name}, max_{name} = {low}, {high}; allowed: {floor} <= min_{name} <= max_{name} <= {ceiling}",
    )


def check_float_span(name: str, low: float, high: float, floor: float, ceiling: float) -> None:
    """<name>_min <= <name>_max, both finite within [floor, ceiling] (NaN fails every comparison)."""
    check(
        floor <= low <= high <= ceiling,
        f"{name}_min, {name}_max = {low!r}, {high!r}; allowed: {floor} <= {name}_min <= {name}_max <= {ceiling}",
    )


def truncated_exponential_int(rng: np.random.Generator, mean: float, low: int, high: int) -> int:
    """int(X), X ~ Exp(mean), conditioned on low <= int(X) <= high (i.e. X in [low, high + 1))."""
    width = high + 1 - low
    u = rng.random()
    value = low - mean * math.log1p(-u * -math.expm1(-width / mean))
    return min(max(int(value), low), high)  # the clamp only absorbs float round-off at the ends


@dataclasses.dataclass(frozen=True)
class RCDBCategory:
    vertices: int
    contours: int
    noise: float
    step: float


@register("rcdb")
class RCDB(Formula):
    """Radial contours: Perlin-perturbed concentric polygons (RCDB, CVPR 2022)."""

    Config = RCDBConfig
    quick_config = {"size": 64, "max_contours": 40}

    def sample_category(self, rng: np.random.Generator) -> RCDBCategory:
        c = self.config
        return RCDBCategory(
            vertices=truncated_exponential_int(rng, c.mean_vertices, c.min_vertices, c.max_vertices),
            contours=int(rng.integers(c.min_contours, c.max_contours + 1)),
            noise=float(rng.uniform(c.noise_min, c.noise_max)),
            step=float(rng.uniform(0.0, c.max_step)),
        )

    def decode_category(self, obj: dict) -> RCDBCategory:
        return RCDBCategory(**obj)

    def render(self, params: RCDBCategory, instance: int, rng: np.random.Generator) -> np.ndarray:
        c = self.config
        # one generator call for the five instance draws: the Python overhead matters at ~1 ms/image
        u_radius, u_ox, u_oy, u_cx, u_cy = rng.random(5).tolist()
        radius = c.min_radius + min(int(u_radius * (c.max_radius - c.min_radius + 1)), c.max_radius - c.min_radius)
        oval = (1.0 + u_ox * (c.max_oval_rate - 1.0), 1.0 + u_oy * (c.max_oval_rate - 1.0))
        span = c.center_max - c.center_min
        canvas = np.full((c.size, c.size), 255, dtype=np.uint8)
        return render_contours(
            canvas,
            vertices=params.vertices,
            contours=params.contours,
            radius=radius,
            oval=oval,
            center=(c.center_min + u_cx * span, c.center_min + u_cy * span),
            absolute=False,
            gain=2.0 * params.noise,
            offset=params.noise,
            step=params.step,
            frequencies=(0, 0),
            gradient=c.noise_gradient,
            seed=kernel_seed(rng),
        )
