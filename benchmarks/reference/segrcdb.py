"""SegRCDB rendered the official way (``SegRCDB_render.py``): Python loops over the vertices, one
Perlin call per noise value in Python, one PIL ``ImageDraw.line`` per segment on an RGB image and
on an RGB mask (M1), ``ImageDraw.polygon`` for the M2 / M3 regions, the mask converted to "L".

Written from the algorithm's description (Shinoda et al., ICCV 2023; shared/reference/FORMULAS.md):
per instance a class uniform over 1..K and a centre (512 + randint(-p, p)) / 2 per axis, then
RCDB's contour loop (:func:`reference.rcdb.draw_contours` for the image) with the class's
parameters; the mask gets the class id. Random numbers come from a Python ``random.Random``
seeded from ``rng``, as the official code uses ``random``.
"""
from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw

from fdsl.samples.image_mask import ImageMask
from reference.rcdb import CANVAS, pnoise1

FAMILY = "segrcdb"


def contour_points(classes, label: int, centre, rand, scale):
    """Every contour of one instance as a list of (x, y) vertex lists in output pixels, with its grey."""
    i = label - 1
    vertices, noise = int(classes["vertices"][i]), float(classes["noise"][i])
    radius, step = float(classes["radius"][i]), float(classes["step"][i])
    ox, oy = float(classes["oval_x"][i]), float(classes["oval_y"][i])
    angle = (math.pi * 2) / vertices
    xs = [math.cos(angle * k) * radius * ox for k in range(vertices)]
    ys = [math.sin(angle * k) * radius * oy for k in range(vertices)]
    for _ in range(int(classes["contours"][i])):
        grey = rand.randint(0, 255)
        noise_x = [pnoise1(rand.uniform(0, 10000)) * 2 * noise - noise for _ in range(vertices)]
        noise_y = [pnoise1(rand.uniform(0, 10000)) * 2 * noise - noise for _ in range(vertices)]
        for k in range(vertices):
            xs[k] -= math.cos(angle * k) * (noise_x[k] - step)
            ys[k] -= math.sin(angle * k) * (noise_y[k] - step)
        yield grey, [((x + centre[0]) * scale, (y + centre[1]) * scale) for x, y in zip(xs, ys)]


def closed_lines(draw, points, fill):
    for k in range(len(points)):
        draw.line(points[k] + points[(k + 1) % len(points)], fill=fill, width=1)


def render(formula, params, instance: int, rng: np.random.Generator) -> ImageMask:
    c = formula.config
    rand = random.Random(int(rng.integers(2**63)))
    image = Image.new("RGB", (c.size, c.size), (0, 0, 0))
    mask = Image.new("RGB", (c.size, c.size), (0, 0, 0))
    draw, mask_draw = ImageDraw.Draw(image), ImageDraw.Draw(mask)
    for _ in range(c.instances_per_image):
        label = rand.randint(1, c.classes)
        centre_y = (CANVAS + rand.randint(-c.center_spread, c.center_spread)) / 2
        centre_x = (CANVAS + rand.randint(-c.center_spread, c.center_spread)) / 2
        contours = list(contour_points(params.classes, label, (centre_x, centre_y), rand, c.size / CANVAS))
        for grey, points in contours:
            if c.mask_mode == "M1":
                closed_lines(mask_draw, points, (label,) * 3)
            closed_lines(draw, points, (grey,) * 3)
        if c.mask_mode == "M3":
            mask_draw.polygon(contours[-1][1], fill=(label,) * 3)
        elif c.mask_mode == "M2" and len(contours) > 1:
            mask_draw.polygon(contours[-1][1], fill=(label,) * 3)
            mask_draw.polygon(contours[0][1], fill=(0, 0, 0))
            closed_lines(mask_draw, contours[0][1], (label,) * 3)
            closed_lines(mask_draw, contours[-1][1], (label,) * 3)
    return ImageMask(np.asarray(image)[..., 0].copy(), np.asarray(mask.convert("L")).copy())
