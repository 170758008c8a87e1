"""Radial contours: the drawing shared by RCDB (CVPR 2022) and VisualAtom (CVPR 2023).

A closed polygon of V vertices starts at (R ox cos(k a), R oy sin(k a)), a = 2 pi / V, around a
centre. Each contour first draws a random grey g ~ U{0..255}, then moves every vertex radially,

    x_k -= cos(k a) (Nx_k - lw),   y_k -= sin(k a) (Ny_k - lw),
    N_k  = perlin1(u_k) * gain - offset - wave_k,   u_k ~ U(0, 256) drawn per vertex and axis,

and draws the closed 1-px polyline in grey g. RCDB uses gain = 2c, offset = c, wave = 0;
VisualAtom uses gain = c, offset = c, wave_k = 0.5 sin(k a n1) + 0.5 sin(k a n2). As the noise has
mean 0, each contour moves out by c + lw on average: the contours radiate from the centre.
(The official code evaluates ``pnoise1`` at a uniform point of [0, 10000], its period being
1024; one period of ours, [0, 256), gives the same distribution of values.)

Geometry is in the papers' 512-px canvas; ``scale`` maps it to the output size, so a smaller
render shows the same pattern. Random numbers come from a splitmix64 stream seeded by the
caller's NumPy generator.
"""
from __future__ import annotations

import numba
import numpy as np

from fdsl.kernels.splitmix import next_u64 as _next_u64
from fdsl.formulas.perlin_noise import noise1_at_random_bits
from fdsl.kernels.raster2d import draw_line, join_pixels

#: The papers' canvas: radii, centres and steps are in its pixels.
CANVAS = 512


@numba.njit(cache=True)
def draw_contours(canvas, xs, ys, cos_k, sin_k, wave, n_contours, gain, offset, step, cx, cy, scale, seed):
    """Draw ``n_contours`` contours from the start polygon (xs, ys), relative to the centre
    (cx, cy); xs and ys are updated in place. All lengths in canvas pixels, times ``scale``."""
    n = xs.shape[0]
    right = canvas.shape[1] - 1.0
    bottom = canvas.shape[0] - 1.0
    state = seed
    for _ in range(n_contours):
        state, bits = _next_u64(state)
        grey = np.uint8(bits >> np.uint64(56))
        for k in range(n):
            state, bits = _next_u64(state)
            nx = noise1_at_random_bits(bits) * gain - offset - wave[k]
            state, bits = _next_u64(state)
            ny = noise1_at_random_bits(bits) * gain - offset - wave[k]
            xs[k] -= cos_k[k] * (nx - step)
            ys[k] -= sin_k[k] * (ny - step)
        # Each vertex is rounded once; a segment with both ends on the canvas (the common case)
        # skips draw_line's clipping.
        px = (cx + xs[n - 1]) * scale
        py = (cy + ys[n - 1]) * scale
        p_in = 0.0 <= px <= right and 0.0 <= py <= bottom  # False for NaN too
        pc = int(px + 0.5) if p_in else 0
        pr = int(py + 0.5) if p_in else 0
        for k in range(n):
            qx = (cx + xs[k]) * scale
            qy = (cy + ys[k]) * scale
            q_in = 0.0 <= qx <= right and 0.0 <= qy <= bottom
            qc = int(qx + 0.5) if q_in else 0
            qr = int(qy + 0.5) if q_in else 0
            if p_in and q_in:
                join_pixels(canvas, pc, pr, qc, qr, grey)
            else:
                draw_line(canvas, px, py, qx, qy, grey)
            px, py, p_in, pc, pr = qx, qy, q_in, qc, qr


@numba.njit(cache=True)
def _contour_image(canvas, vertices, contours, radius, ox, oy, cx, cy, gain, offset, step, n1, n2, seed):
    """Start polygon, waves and contours in one compiled call (no per-image NumPy temporaries)."""
    angle = 2.0 * np.pi / vertices
    cos_k = np.empty(vertices)
    sin_k = np.empty(vertices)
    wave = np.empty(vertices)
    xs = np.empty(vertices)
    ys = np.empty(vertices)
    for k in range(vertices):
        cos_k[k] = np.cos(k * angle)
        sin_k[k] = np.sin(k * angle)
        wave[k] = 0.5 * np.sin(k * angle * n1) + 0.5 * np.sin(k * angle * n2)
        xs[k] = radius * ox * cos_k[k]
        ys[k] = radius * oy * sin_k[k]
    draw_contours(canvas, xs, ys, cos_k, sin_k, wave, contours, gain, offset, step, cx, cy,
                  canvas.shape[1] / CANVAS, seed)


def render_contours(
    canvas: np.ndarray,
    *,
    vertices: int,
    contours: int,
    radius: float,
    oval: tuple[float, float],
    center: tuple[float, float],
    gain: float,
    offset: float,
    step: float,
    frequencies: tuple[int, int],
    seed: np.uint64,
) -> np.ndarray:
    """Draw onto ``canvas`` (uint8, square) and return it. ``frequencies`` = VisualAtom's
    (n1, n2); RCDB's (0, 0) makes the wave term exactly zero."""
    _contour_image(canvas, int(vertices), int(contours), float(radius), float(oval[0]), float(oval[1]),
                   float(center[0]), float(center[1]), float(gain), float(offset), float(step),
                   float(frequencies[0]), float(frequencies[1]), seed)
    return canvas
