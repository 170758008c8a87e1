"""2D-OFDB the official way: FractalDB's per-point chaos game and 3x3 pastes (``fractaldb``
reference) for the one image of a category, the identity variation (or row 0 with
``official_row0``), flipped top-bottom once as FractalDB's first flip."""
from __future__ import annotations

import numpy as np

from .fractaldb import chaos_game, draw_patches, variation_row

FAMILY = "ofdb"


def render(formula, params: np.ndarray, instance: int, rng: np.random.Generator) -> np.ndarray:
    c = formula.config
    if (c.render_mode, c.color, c.graded, c.patch_mode) != ("patch", "gray", False, "official"):
        raise ValueError("the reference draws the released setting only: official patches, gray, not graded")
    row = variation_row(c.interval, 0 if c.official_row0 else 2)
    maps = [[v * m for v, m in zip(w, row)] for w in params[:, :6].tolist()]
    xs, ys = chaos_game(maps, params[:, 6].tolist(), c.points, rng)
    return np.ascontiguousarray(draw_patches(xs, ys, c.size, min(c.padding, c.size // 16), c.gray_value, rng))
