"""FractalDB rendered the official way: one point at a time in a Python loop, one 3x3 paste per point.

Written from the algorithm's description (Kataoka et al., ACCV 2020 / IJCV 2022; the facts in
shared/reference/FORMULAS.md), not from the official code, and kept as plain as it reads there:

1. Variation: multiply a..f of every map by the variation's row (interval K); p is kept.
2. Chaos game: start at (0, 0) and keep it; for each further point draw u ~ U[0, 1), take the
   first map whose cumulative probability exceeds u, apply it, append the point. Non-finite points
   are dropped and the orbit restarts at the origin.
3. Drawing: stretch the points' bounding box to [pad, size - 1 - pad] in x and y separately; for
   every point paste one of the 511 non-empty 3x3 binary patterns, chosen at random per point,
   in grey ``gray_value`` on black.
4. Flip: none, top-bottom, left-right or both.

The uniform draws are made in bulk (as the official chaos game does), so the timing is not
inflated by one generator call per point; everything else is per point.
"""
from __future__ import annotations

import math

import numpy as np

FAMILY = "fractaldb"

#: The 511 non-empty 3x3 binary patterns, pattern m - 1 having the bits of m.
PATTERNS = [np.array([(m >> bit) & 1 for bit in range(9)], dtype=bool).reshape(3, 3) for m in range(1, 512)]


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


def axis_scale(values: list[float], size: int, pad: int) -> tuple[float, float, float]:
    """(minimum, scale, offset) mapping the values onto [pad, size - 1 - pad]; a flat axis to the centre."""
    low, high = min(values), max(values)
    if high > low:
        return low, (size - 1 - 2 * pad) / (high - low), pad + 0.5
    return low, 0.0, (size - 1) // 2 + 0.5


def draw_patches(xs: list, ys: list, size: int, pad: int, gray_value: int, rng) -> np.ndarray:
    canvas = np.zeros((size + 2, size + 2), dtype=np.uint8)  # a 1-px border takes the patches' overhang
    xmin, sx, cx = axis_scale(xs, size, pad)
    ymin, sy, cy = axis_scale(ys, size, pad)
    for x, y, m in zip(xs, ys, rng.integers(0, 511, len(xs)).tolist()):
        col = min(max(int(cx + (x - xmin) * sx), 0), size - 1)
        row = min(max(int(cy + (y - ymin) * sy), 0), size - 1)
        canvas[row:row + 3, col:col + 3][PATTERNS[m]] = gray_value  # the 3x3 centred on (row, col)
    return canvas[1:-1, 1:-1]


def render(formula, params: np.ndarray, instance: int, rng: np.random.Generator) -> np.ndarray:
    c = formula.config
    if (c.render_mode, c.color, c.graded) != ("patch", "gray", False):
        raise ValueError("the reference draws the released setting only: patch, gray, not graded")
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
