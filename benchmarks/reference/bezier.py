"""Bezier curves rendered the obvious way: each curve point by de Casteljau in Python, one PIL
``ImageDraw.line`` call per segment. No official code exists (FractalDB IJCV baseline); this
follows fdsl's definition in fdsl/formulas/bezier.py (control points from its ``control_points``,
a segment every ~2 px of control-polygon length, white on black).
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from fdsl.formulas.bezier import MAX_SAMPLES, SAMPLES_PER_PX, control_points

FAMILY = "bezier"


def de_casteljau(points: list[tuple[float, float]], t: float) -> tuple[float, float]:
    work = list(points)
    while len(work) > 1:
        work = [(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])) for a, b in zip(work, work[1:])]
    return work[0]


def render(formula, params: dict, instance: int, rng: np.random.Generator) -> np.ndarray:
    size = formula.config.size
    curves = control_points(rng, params["curves"], params["degree"], params["spread"], params["layout"])
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    for curve in (curves * (size - 1)).tolist():
        points = [tuple(p) for p in curve]
        length = sum(math.dist(a, b) for a, b in zip(points, points[1:]))
        segments = min(max(int(length * SAMPLES_PER_PX), 8), MAX_SAMPLES)
        samples = [de_casteljau(points, s / segments) for s in range(segments + 1)]
        for a, b in zip(samples, samples[1:]):
            draw.line((a, b), fill=255, width=1)
    return np.asarray(image).copy()
