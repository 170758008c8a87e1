"""VisualAtom rendered the official way (``visual_atomic_renderer/render_VisualAtom.py``): RCDB's
Python loops over the vertices, one Python Perlin call per noise value, one PIL
``ImageDraw.line`` call per segment on an RGB image, plus the two sinusoidal waves per vertex.

Written from the algorithm's description (Takashima et al., CVPR 2023; shared/reference/FORMULAS.md):
N = pnoise1(u) c - c - 0.5 sin(k a n1) - 0.5 sin(k a n2) per vertex and axis, then RCDB's radial
update; black background. The centre is the only instance draw.
"""
from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw

from reference.rcdb import CANVAS, draw_contours

FAMILY = "visualatom"


def render(formula, params, instance: int, rng: np.random.Generator) -> np.ndarray:
    c = formula.config
    rand = random.Random(int(rng.integers(2**63)))
    center = (rand.uniform(c.center_min, c.center_max), rand.uniform(c.center_min, c.center_max))
    angle = (math.pi * 2) / params.vertices
    waves = [(0.5 * math.sin(angle * k * params.n1), 0.5 * math.sin(angle * k * params.n2))
             for k in range(params.vertices)]
    image = Image.new("RGB", (c.size, c.size), (0, 0, 0))
    draw_contours(ImageDraw.Draw(image), params.vertices, params.orbits, params.radius,
                  (params.oval_x, params.oval_y), center, params.noise, params.noise, params.step, waves,
                  c.size / CANVAS, rand, absolute=True)
    return np.asarray(image)[..., 0].copy()
