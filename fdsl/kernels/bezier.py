"""Bezier curves: control points placed from uniforms, and 1-px curves drawn through
:func:`fdsl.kernels.raster2d.draw_polyline` (the Bezier baseline of Kataoka et al., IJCV 2022;
the placement and the layouts are ours, see :mod:`fdsl.formulas.bezier`)."""
from __future__ import annotations

import numba
import numpy as np

from fdsl.kernels.raster2d import draw_polyline


@numba.njit(cache=True)
def place_curves(uniforms, curves, degree, spread, layout, points):
    """Fill ``points`` from the uniforms: anchor + U(-spread, spread) per control point, each curve
    moved (and shrunk only when wider than 1) into [0, 1]^2, then the layout (its index in ``fdsl.formulas.bezier.LAYOUTS``)."""
    n = degree + 1
    for i in range(curves):
        base = i * (2 + 2 * n)
        for axis in range(2):
            anchor = uniforms[base + axis]
            low = np.inf
            high = -np.inf
            for k in range(n):
                v = anchor + (2.0 * uniforms[base + 2 + 2 * k + axis] - 1.0) * spread
                points[i, k, axis] = v
                low = min(low, v)
                high = max(high, v)
            shrink = min(1.0, 1.0 / max(high - low, 1e-12))
            high = low + (high - low) * shrink
            shift = max(0.0, -low) - max(0.0, high - 1.0)
            for k in range(n):
                points[i, k, axis] = (points[i, k, axis] - low) * shrink + low + shift
    if layout == 1:  # closed: each curve starts where the previous ends; the last closes the loop
        for axis in range(2):
            for i in range(1, curves):
                points[i, 0, axis] = points[i - 1, n - 1, axis]
            points[curves - 1, n - 1, axis] = points[0, 0, axis]
    elif layout == 2:  # mirror about the vertical centre line
        for i in range(curves):
            for k in range(n):
                points[curves + i, k, 0] = 1.0 - points[i, k, 0]
                points[curves + i, k, 1] = points[i, k, 1]
    elif layout == 3:  # turned by 180 degrees about the centre
        for i in range(curves):
            for k in range(n):
                points[curves + i, k, 0] = 1.0 - points[i, k, 0]
                points[curves + i, k, 1] = 1.0 - points[i, k, 1]


@numba.njit(cache=True)
def draw_bezier_curves(canvas, points, samples_per_px, max_samples, value):
    """Draw each curve of ``points`` (n, degree + 1, 2) in pixels, sampled evenly in t.

    A curve is turned once into power form B(t) = sum_k c_k t^k (c_k = C(d, k) times the k-th
    forward difference of the control points), then each sample costs one Horner pass of d
    steps instead of de Casteljau's d(d + 1)/2 interpolations; for d <= 5 the two agree to
    ~1e-12 px.
    """
    n_curves, n_ctrl, _ = points.shape
    degree = n_ctrl - 1
    xs = np.empty(max_samples + 1)
    ys = np.empty(max_samples + 1)
    diff = np.empty((n_ctrl, 2))
    coef = np.empty((n_ctrl, 2))
    for i in range(n_curves):
        length = 0.0
        for k in range(degree):
            length += np.hypot(points[i, k + 1, 0] - points[i, k, 0], points[i, k + 1, 1] - points[i, k, 1])
        segments = min(max(int(length * samples_per_px), 8), max_samples)
        for k in range(n_ctrl):
            diff[k, 0] = points[i, k, 0]
            diff[k, 1] = points[i, k, 1]
        binomial = 1.0
        for k in range(n_ctrl):
            coef[k, 0] = binomial * diff[0, 0]
            coef[k, 1] = binomial * diff[0, 1]
            for m in range(degree - k):  # next forward difference, in place
                diff[m, 0] = diff[m + 1, 0] - diff[m, 0]
                diff[m, 1] = diff[m + 1, 1] - diff[m, 1]
            binomial = binomial * (degree - k) / (k + 1)
        for s in range(segments + 1):
            t = s / segments
            x = coef[degree, 0]
            y = coef[degree, 1]
            for k in range(degree - 1, -1, -1):
                x = x * t + coef[k, 0]
                y = y * t + coef[k, 1]
            xs[s] = x
            ys[s] = y
        draw_polyline(canvas, xs, ys, segments + 1, False, value)
