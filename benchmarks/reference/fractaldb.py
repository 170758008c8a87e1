"""FractalDB rendered the official way: one point at a time in a Python loop, one 3x3 paste per point.

Written from the algorithm's description (Kataoka et al., ACCV 2020 / IJCV 2022; the facts in
shared/reference/FORMULAS.md), not from the official code, and kept as plain as it reads there:

1. Variation: multiply a..f of every map by the variation's row (interval K); p is kept.
2. Chaos game: start at (0, 0) and keep it; for each further point draw u ~ U[0, 1), take the
   first map whose cumulative probability exceeds u, apply it, append the point. Non-finite points
   are dropped and the orbit restarts at the origin.
3. Drawing: shift the points to >= 0, divide by their extent, scale to [pad, size - pad] and
   truncate, in x and y separately; for every point in turn paste one of the 511 non-empty 3x3
   binary patterns, chosen at random per point, whole (its zeros black over what was there) with
   its top-left corner one pixel right of and below the point's pixel, in grey ``gray_value``;
   then flip the image top-bottom.
4. Flip: none, top-bottom, left-right or both.

The uniform draws are made in bulk (as the official chaos game does), so the timing is not
inflated by one generator call per point; everything else is per point.
"""
from __future__ import annotations

import math

import numpy as np

FAMILY = "fractaldb"

#: The 3x3 binary pattern of each mask 0..511, its most significant bit top-left, row by row.
PATTERNS = [np.array([(m >> (8 - bit)) & 1 for bit in range(9)], dtype=np.uint8).reshape(3, 3) for m in range(512)]


def variation_row(interval: float, variation: int) -> list[float]:
    """Row ``variation`` of the 25: a by 1-2K .. 1+2K (rows 0-4), then b..f by 1-2K, 1-K, 1+K, 1+2K."""
    k = interval
    row = [1.0] * 6
    if variation < 5:
        row[0] = (1 - 2 * k, 1 - k, 1.0, 1 + k, 1 + 2 * k)[variation]
    else:
        parameter, step = divmod(variation - 5, 4)
        row[1 + parameter] = (1 - 2 * k, 1 - k, 1 + k, 1 + 2 * k)[step]
    return row


def chaos_game(maps: list[list[float]], probabilities: list[float], n_points: int, rng) -> tuple[list, list]:
    total = sum(probabilities)
    cumulative, running = [], 0.0
    for p in probabilities:
        running += p / total
        cumulative.append(running)
    x, y = 0.0, 0.0
    xs, ys = [x], [y]
    for u in rng.random(n_points - 1).tolist():
        chosen = maps[-1]
        for edge, w in zip(cumulative, maps):
            if u < edge:
                chosen = w
                break
        a, b, c, d, e, f = chosen
        x, y = a * x + b * y + e, c * x + d * y + f
        if math.isfinite(x) and math.isfinite(y):
            xs.append(x)
            ys.append(y)
        else:
            x, y = 0.0, 0.0
    return xs, ys


def pixels(values: list[float], size: int, pad: int) -> list[int]:
    """The values stretched to [pad, size - pad] and truncated; a flat axis to the middle."""
    low, high = min(values), max(values)
    if high > low:
        return [int((v - low) / (high - low) * (size - 2 * pad) + pad) for v in values]
    return [(size - 1) // 2 - 2] * len(values)


def draw_patches(xs: list, ys: list, size: int, pad: int, gray_value: int, rng) -> np.ndarray:
    canvas = np.zeros((size + 4, size + 4), dtype=np.uint8)  # room for the patches past the far edges
    tiles = [pattern * np.uint8(gray_value) for pattern in PATTERNS]
    for col, row, m in zip(pixels(xs, size, pad), pixels(ys, size, pad), rng.integers(1, 512, len(xs)).tolist()):
        canvas[row + 1:row + 4, col + 1:col + 4] = tiles[m]  # the whole patch, zeros included
    return canvas[size - 1::-1, :size]  # cut to the image, flipped top-bottom


def render(formula, params: np.ndarray, instance: int, rng: np.random.Generator) -> np.ndarray:
    c = formula.config
    if (c.render_mode, c.color, c.graded, c.patch_mode) != ("patch", "gray", False, "official"):
        raise ValueError("the reference draws the released setting only: official patches, gray, not graded")
    variation, _, which_flip = formula.decompose(instance)  # fdsl's instance numbering
    row = variation_row(c.interval, variation)
    maps = [[v * m for v, m in zip(w, row)] for w in params[:, :6].tolist()]
    xs, ys = chaos_game(maps, params[:, 6].tolist(), c.points, rng)
    pad = min(c.padding, c.size // 16)  # as fdsl: the official 6 px, at most 1/16 of the image
    image = draw_patches(xs, ys, c.size, pad, c.gray_value, rng)
    if which_flip & 1:
        image = image[::-1]
    if which_flip & 2:
        image = image[:, ::-1]
    return np.ascontiguousarray(image)
