"""VisualAtom: RCDB's radial orbits modulated by two sinusoidal waves.

Source: Takashima et al., "Visual Atoms: Pre-training Vision Transformers with Sinusoidal Waves",
CVPR 2023 (official code: masora1030/CVPR2023-FDSL-on-VisualAtom, ``visual_atomic_renderer``,
run by ``make_VisualAtom.sh``). Values of the released VisualAtom-1k (1,000 x 1,000, 512 px):

- Category: quantisation q (vertices per orbit) ~ U{200..1000}; orbits K ~ U{1..200};
  noise coefficient c ~ U(0, 4); radial step lw ~ U(0, 0.1); start radius ~ U{10..60};
  oval rates ox, oy ~ U(1, 2); frequencies n1, n2 ~ U{0..20} with n2 != n1 unless n1 = 0
  (the official redraw loop; we draw n2 from the allowed values directly, same distribution).
- Per orbit and vertex k: N = pnoise1 * c - c - 0.5 sin(k a n1) - 0.5 sin(k a n2), a = 2 pi / q,
  with RCDB's radial update (:mod:`fdsl.kernels.contours`): the radius of the orbits
  as a function of the angle carries the two waves.
- Instance: only the centre changes, ~ U(0, 512) per axis (the official (512 + U{-512..512}) / 2);
  every orbit's noise and grey U{0..255} are new draws. Black background, 1-px lines.
- ``noise_gradient``: ``official`` (default) is ``noise.pnoise1`` as the released data used it;
  ``textbook`` (Perlin's intended +-g, 1.56x stronger) drowns the wave rings in noise.

As in RCDB, category i comes from the generator (seed, i) and image (i, j) from (seed, i, j), so
the data never depend on the number of threads. Instances are unlimited draws (the paper uses
1,000). Geometry is defined on the 512-px canvas and scaled to ``size``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from fdsl.errors import check
from fdsl.formulas.base import Formula, FormulaConfig, check_choice, check_range
from fdsl.kernels.perlin_noise import NOISE1_GRADIENTS
from fdsl.kernels.contours import render_contours
from fdsl.formulas.rcdb import MAX_CONTOURS, MAX_VERTICES, check_float_span, check_int_span
from fdsl.registry import register
from fdsl.seeding import kernel_seed


@dataclasses.dataclass
class VisualAtomConfig(FormulaConfig):
    size: int = 512
    min_vertices: int = 200
    max_vertices: int = 1000
    min_orbits: int = 1
    max_orbits: int = 200
    noise_min: float = 0.0
    noise_max: float = 4.0
    max_step: float = 0.1
    min_radius: int = 10
    max_radius: int = 60
    max_oval_rate: float = 2.0
    max_frequency: int = 20
    center_min: float = 0.0
    center_max: float = 512.0
    noise_gradient: str = "official"

    def validate(self) -> None:
        check(8 <= self.size <= 16384, f"size = {self.size}; allowed: 8..16384")
        check_int_span("vertices", self.min_vertices, self.max_vertices, 3, MAX_VERTICES)
        check_int_span("orbits", self.min_orbits, self.max_orbits, 1, MAX_CONTOURS)
        check_float_span("noise", self.noise_min, self.noise_max, 0.0, 1e3)
        check_range("max_step", self.max_step, 0.0, 1e3)
        check_int_span("radius", self.min_radius, self.max_radius, 0, 100_000)
        check_range("max_oval_rate", self.max_oval_rate, 1.0, 100.0)
        check_range("max_frequency", self.max_frequency, 0, 10_000)
        check_float_span("center", self.center_min, self.center_max, -1e5, 1e5)
        check_choice("noise_gradient", self.noise_gradient, NOISE1_GRADIENTS)


@dataclasses.dataclass(frozen=True)
class VisualAtomCategory:
    vertices: int
    orbits: int
    noise: float
    step: float
    radius: int
    oval_x: float
    oval_y: float
    n1: int
    n2: int


def sample_frequencies(rng: np.random.Generator, highest: int) -> tuple[int, int]:
    """n1 ~ U{0..highest}; n2 ~ U{0..highest} minus {n1}, or U{0..highest} when n1 = 0."""
    n1 = int(rng.integers(0, highest + 1))
    if n1 == 0:
        return n1, int(rng.integers(0, highest + 1))
    n2 = int(rng.integers(0, highest))  # highest >= n1 >= 1: one value fewer, skipping n1
    return n1, n2 + (n2 >= n1)


@register("visualatom")
class VisualAtom(Formula):
    """Radial orbits with two sinusoidal waves (VisualAtom, CVPR 2023)."""

    Config = VisualAtomConfig
    quick_config = {"size": 64, "min_vertices": 100, "max_vertices": 200, "max_orbits": 40}

    def sample_category(self, rng: np.random.Generator) -> VisualAtomCategory:
        c = self.config
        vertices = int(rng.integers(c.min_vertices, c.max_vertices + 1))
        orbits = int(rng.integers(c.min_orbits, c.max_orbits + 1))
        noise = float(rng.uniform(c.noise_min, c.noise_max))
        step = float(rng.uniform(0.0, c.max_step))
        radius = int(rng.integers(c.min_radius, c.max_radius + 1))
        oval_x, oval_y = (float(v) for v in rng.uniform(1.0, c.max_oval_rate, size=2))
        n1, n2 = sample_frequencies(rng, c.max_frequency)
        return VisualAtomCategory(vertices, orbits, noise, step, radius, oval_x, oval_y, n1, n2)

    def decode_category(self, obj: dict) -> VisualAtomCategory:
        return VisualAtomCategory(**obj)

    def render(self, params: VisualAtomCategory, instance: int, rng: np.random.Generator) -> np.ndarray:
        c = self.config
        center = rng.uniform(c.center_min, c.center_max, size=2)
        canvas = np.zeros((c.size, c.size), dtype=np.uint8)
        return render_contours(
            canvas,
            vertices=params.vertices,
            contours=params.orbits,
            radius=params.radius,
            oval=(params.oval_x, params.oval_y),
            center=(center[0], center[1]),
            absolute=True,
            gain=params.noise,
            offset=params.noise,
            step=params.step,
            frequencies=(params.n1, params.n2),
            gradient=c.noise_gradient,
            seed=kernel_seed(rng),
        )
