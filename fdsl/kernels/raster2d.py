"""1-px line drawing for the 2-D contour and curve families (RCDB, VisualAtom, Bezier), in numba.

Coordinates are in pixels, x along columns and y along rows, with pixel (r, c) centred on
(x, y) = (c, r). A segment is first clipped to the canvas (Liang-Barsky, in floating point, so
far-away or huge coordinates cost nothing and never overflow an integer), then its rounded end
points are joined one pixel per step along the major axis (a DDA: Bresenham's pixels, up to
ties). No anti-aliasing: the official renderers draw 1-px PIL lines, which are not anti-aliased
either. Non-finite coordinates draw nothing.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _clip_edge(p, q, t0, t1):
    """One Liang-Barsky boundary: keep t with p t <= q. Returns (t0, t1), t0 > t1 when empty."""
    if p == 0.0:
        if q < 0.0:
            return 1.0, 0.0
        return t0, t1
    r = q / p
    if p < 0.0:
        return max(t0, r), t1
    return t0, min(t1, r)


@numba.njit(cache=True)
def draw_line(canvas, x0, y0, x1, y1, value):
    """Set the pixels of the segment (x0, y0)-(x1, y1) to ``value``, clipped to ``canvas``."""
    height, width = canvas.shape
    right = width - 1.0
    bottom = height - 1.0
    if 0.0 <= x0 <= right and 0.0 <= x1 <= right and 0.0 <= y0 <= bottom and 0.0 <= y1 <= bottom:
        # inside (and finite: NaN fails every comparison): the common case needs no clipping,
        # and rounding non-negative values is int(v + 0.5)
        join_pixels(canvas, int(x0 + 0.5), int(y0 + 0.5), int(x1 + 0.5), int(y1 + 0.5), value)
        return
    if (x0 < -0.5 and x1 < -0.5) or (x0 > right + 0.5 and x1 > right + 0.5) or \
            (y0 < -0.5 and y1 < -0.5) or (y0 > bottom + 0.5 and y1 > bottom + 0.5):
        return  # wholly on one side: the cheap rejection of most off-canvas segments
    dx = x1 - x0
    dy = y1 - y0
    if not (np.isfinite(dx) and np.isfinite(dy)):  # also catches non-finite end points
        return
    t0, t1 = 0.0, 1.0
    t0, t1 = _clip_edge(-dx, x0 + 0.5, t0, t1)
    t0, t1 = _clip_edge(dx, width - 0.5 - x0, t0, t1)
    t0, t1 = _clip_edge(-dy, y0 + 0.5, t0, t1)
    t0, t1 = _clip_edge(dy, height - 0.5 - y0, t0, t1)
    if t0 > t1:
        return
    # after clipping every coordinate lies in [-0.5, size - 0.5]: clamp the rounding at the edges
    c = min(max(int(np.floor(x0 + t0 * dx + 0.5)), 0), width - 1)
    r = min(max(int(np.floor(y0 + t0 * dy + 0.5)), 0), height - 1)
    c_end = min(max(int(np.floor(x0 + t1 * dx + 0.5)), 0), width - 1)
    r_end = min(max(int(np.floor(y0 + t1 * dy + 0.5)), 0), height - 1)
    join_pixels(canvas, c, r, c_end, r_end, value)


#: 1 / n for the step counts of most segments (the same doubles as the division), 0 for n = 0.
INVERSES = np.concatenate(([0.0], 1.0 / np.arange(1, 1024)))


@numba.njit(cache=True)
def join_pixels(canvas, c, r, c_end, r_end, value):
    """Pixels from (c, r) to (c_end, r_end), both on the canvas, one per step along the major
    axis (a DDA, which picks the same pixels as Bresenham's algorithm up to ties, without its
    data-dependent branches: about twice as fast on the short segments of contours)."""
    steps = max(abs(c_end - c), abs(r_end - r))
    # a table lookup instead of a division on the short segments; INVERSES[0] = 0 draws one pixel
    inverse = INVERSES[steps] if steps < INVERSES.shape[0] else 1.0 / steps
    step_c = (c_end - c) * inverse
    step_r = (r_end - r) * inverse
    fc = c + 0.5
    fr = r + 0.5
    for _ in range(steps + 1):
        # both >= 0, so the conversion floors; unsigned indices skip numba's negative-index
        # wraparound check
        canvas[np.uint64(fr), np.uint64(fc)] = value
        fc += step_c
        fr += step_r


@numba.njit(cache=True)
def draw_polyline(canvas, xs, ys, count, closed, value):
    """Join the first ``count`` points in order (and the last to the first when ``closed``)."""
    for k in range(count - 1):
        draw_line(canvas, xs[k], ys[k], xs[k + 1], ys[k + 1], value)
    if closed and count > 2:
        draw_line(canvas, xs[count - 1], ys[count - 1], xs[0], ys[0], value)
