"""RCDB rendered the official way (``rcdb_render/make_rcdb.py``): Python loops over the vertices,
one Perlin call per noise value in Python, one PIL ``ImageDraw.line`` call per segment on an
RGB image (as the official code draws; fdsl's images are the grey channel).

Written from the algorithm's description (Kataoka et al., CVPR 2022; shared/reference/FORMULAS.md):
start polygon (cos(k a) R ox, sin(k a) R oy) around the centre; per contour a grey, then every
vertex moves by x_k -= cos(k a) (Nx - lw), y_k -= sin(k a) (Ny - lw), N = pnoise1(u) 2c - c with
u ~ U(0, 10000) per vertex and axis, then the closed 1-px polyline is drawn, segment by segment
(PIL truncates the float coordinates, as in the official code). ``pnoise1`` is the ``noise``
package's (1.2.2, one octave, repeat 1024, base 0), official gradient: -1 when the hash bit is set.
The instance draws (radius, oval rates, centre) follow fdsl's config; random numbers come from a
Python ``random.Random`` seeded from ``rng``, as the official code uses ``random``.
"""
from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw

from fdsl.kernels.perlin_noise import NOISE1_SCALE, PERLIN_PERMUTATION

FAMILY = "rcdb"
#: The papers' canvas: geometry is in its pixels and scaled to the output size, as in fdsl.
CANVAS = 512
_PERM = PERLIN_PERMUTATION.tolist()
#: pnoise1's default period in lattice cells.
REPEAT = 1024


def gradient1(hash_value: int, distance: float) -> float:
    """pnoise1's gradient: 1..8 by the low 3 bits, -1 whenever bit 8 is set."""
    return -distance if hash_value & 8 else ((hash_value & 7) + 1.0) * distance


def pnoise1(x: float) -> float:
    """The noise package's 1-D Perlin noise (one octave, repeat 1024, base 0), one call per value."""
    cell = math.floor(x)
    t = x - cell
    i = cell % REPEAT
    a = gradient1(_PERM[i & 255], t)
    b = gradient1(_PERM[((i + 1) % REPEAT) & 255], t - 1.0)
    fade = t * t * t * (t * (t * 6 - 15) + 10)
    return (a + fade * (b - a)) * NOISE1_SCALE


def draw_contours(draw, vertices, contours, radius, oval, center, gain, offset, step, waves, scale, rand,
                  absolute=False):
    """The official contour loop; ``waves`` (two per vertex) are VisualAtom's sinusoidal terms,
    zeros for RCDB. ``absolute``: the vertices hold the centre (VisualAtom's code) instead of
    getting it added when drawn (RCDB's)."""
    angle = (math.pi * 2) / vertices
    start = center if absolute else (0.0, 0.0)
    center = (0.0, 0.0) if absolute else center
    xs = [math.cos(angle * k) * radius * oval[0] + start[0] for k in range(vertices)]
    ys = [math.sin(angle * k) * radius * oval[1] + start[1] for k in range(vertices)]
    xs.append(xs[0])
    ys.append(ys[0])
    for _ in range(contours):
        grey = rand.randint(0, 255)
        fill = (grey, grey, grey)
        noise_x = [pnoise1(rand.uniform(0, 10000)) * gain - offset - waves[k][0] - waves[k][1]
                   for k in range(vertices)]
        noise_y = [pnoise1(rand.uniform(0, 10000)) * gain - offset - waves[k][0] - waves[k][1]
                   for k in range(vertices)]
        for k in range(vertices):
            xs[k] -= math.cos(angle * k) * (noise_x[k] - step)
            ys[k] -= math.sin(angle * k) * (noise_y[k] - step)
        xs[vertices] = xs[0]
        ys[vertices] = ys[0]
        for k in range(vertices):
            draw.line(((xs[k] + center[0]) * scale, (ys[k] + center[1]) * scale,
                       (xs[k + 1] + center[0]) * scale, (ys[k + 1] + center[1]) * scale), fill=fill, width=1)


def render(formula, params, instance: int, rng: np.random.Generator) -> np.ndarray:
    c = formula.config
    rand = random.Random(int(rng.integers(2**63)))
    radius = rand.randint(c.min_radius, c.max_radius)
    oval = (rand.uniform(1, c.max_oval_rate), rand.uniform(1, c.max_oval_rate))
    center = (rand.uniform(c.center_min, c.center_max), rand.uniform(c.center_min, c.center_max))
    image = Image.new("RGB", (c.size, c.size), (255, 255, 255))
    draw_contours(ImageDraw.Draw(image), params.vertices, params.contours, radius, oval, center,
                  2 * params.noise, params.noise, params.step, [(0.0, 0.0)] * params.vertices, c.size / CANVAS, rand)
    return np.asarray(image)[..., 0].copy()
