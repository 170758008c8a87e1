"""1-px line drawing for the 2-D contour and curve families (RCDB, VisualAtom, Bezier), in numba.

Coordinates are in pixels, x along columns and y along rows, with pixel (r, c) centred on
(x, y) = (c, r). A segment is first clipped to the canvas (Liang-Barsky, in floating point, so
far-away or huge coordinates cost nothing and never overflow an integer), then its rounded end
points are joined by Bresenham's algorithm. No anti-aliasing: the official renderers draw 1-px
PIL lines, which are not anti-aliased either. Non-finite coordinates draw nothing.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
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
    step_c = 1 if c_end >= c else -1
    step_r = 1 if r_end >= r else -1
    span_c = abs(c_end - c)
    span_r = -abs(r_end - r)
    error = span_c + span_r
    while True:
        canvas[r, c] = value
        if c == c_end and r == r_end:
            return
        twice = 2 * error
        if twice >= span_r:
            error += span_r
            c += step_c
        if twice <= span_c:
            error += span_c
            r += step_r


@numba.njit(cache=True)
def draw_polyline(canvas, xs, ys, count, closed, value):
    """Join the first ``count`` points in order (and the last to the first when ``closed``)."""
    for k in range(count - 1):
        draw_line(canvas, xs[k], ys[k], xs[k + 1], ys[k + 1], value)
    if closed and count > 2:
        draw_line(canvas, xs[count - 1], ys[count - 1], xs[0], ys[0], value)
