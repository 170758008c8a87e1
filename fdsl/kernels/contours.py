"""Radial contours: the drawing shared by RCDB (CVPR 2022) and VisualAtom (CVPR 2023).

A closed polygon of V vertices starts at (cos(k a) R ox, sin(k a) R oy), a = 2 pi / V, around a
centre. Each contour first draws a random grey g ~ U{0..255}, then moves every vertex radially,

    x_k -= cos(k a) (Nx_k - lw),   y_k -= sin(k a) (Ny_k - lw),
    N_k  = pnoise1(u_k) * gain - offset - wave1_k - wave2_k,   u_k ~ U(0, 256) per vertex and axis,

and draws the closed 1-px polyline in grey g. RCDB uses gain = 2c, offset = c, no waves;
VisualAtom uses gain = c, offset = c, wave_k = 0.5 sin(k a n) for n = n1, n2. As the noise has
mean 0, each contour moves out by c + lw on average: the contours radiate from the centre.
The noise is :mod:`fdsl.kernels.perlin_noise`'s 1-D noise with the chosen gradient set
(``official`` by default: ``noise.pnoise1`` itself). The official code evaluates ``pnoise1`` at
a uniform point of [0, 10000]; one period of the lattice, [0, 256), gives the same values.

Pixels as the official renderers make them: each segment is a PIL ``ImageDraw.line`` of width 1,
which truncates its float end points toward zero (C's int conversion) and joins them with PIL's
Bresenham (ties step towards the end point), both end points included; pixels off the canvas are
skipped. Expressions are evaluated in the official order (the products, the sum of the waves,
and where the centre is added: RCDB adds it when drawing, VisualAtom keeps absolute vertices), so
that truncation sees the official doubles. With the noise at zero this reproduces the official
pixels exactly (tested against PIL).

Geometry is in the papers' 512-px canvas; ``scale`` maps it to the output size (the point is
scaled, then truncated), so a smaller render shows the same pattern. Random numbers come from a
splitmix64 stream seeded by the caller's NumPy generator.
"""
from __future__ import annotations

import numba
import numpy as np

from fdsl.kernels.perlin_noise import gradients1, noise1_at_random_bits
from fdsl.kernels.splitmix import next_u64

#: The papers' canvas: radii, centres and steps are in its pixels.
CANVAS = 512
#: End points are truncated to int64 only within this bound (PIL's int conversion fails at 2^31);
#: a segment reaching beyond it lies far off any canvas and is skipped.
COORDINATE_LIMIT = 2.0**30


@numba.njit(cache=True, inline="always")
def _ceil_div(a, b):
    """ceil(a / b) for integers, b > 0."""
    return -((-a) // b)


@numba.njit(cache=True)
def _major_range(major0, minor0, d_major, d_minor, s_major, s_minor, major_size, minor_size):
    """Steps i in [first, last] of a Bresenham line (minor offset m_i = floor((2 d_minor i +
    d_major) / (2 d_major))) whose pixel lies on the canvas; first > last when none does."""
    first, last = 0, d_major
    if s_major > 0:
        first, last = max(first, -major0), min(last, major_size - 1 - major0)
    else:
        first, last = max(first, major0 - (major_size - 1)), min(last, major0)
    low, high = (-minor0, minor_size - 1 - minor0) if s_minor > 0 else (minor0 - (minor_size - 1), minor0)
    if d_minor == 0:
        return (first, last) if low <= 0 <= high else (1, 0)
    # m_i >= low  <=>  i >= ceil((2 d_major low - d_major) / (2 d_minor)); m_i <= high likewise
    first = max(first, _ceil_div(2 * d_major * low - d_major, 2 * d_minor))
    last = min(last, _ceil_div(2 * d_major * (high + 1) - d_major, 2 * d_minor) - 1)
    return first, last


@numba.njit(cache=True)
def pil_line(canvas, x0, y0, x1, y1, value):
    """The pixels of PIL's ``ImageDraw.line((x0, y0, x1, y1), width=1)``: truncated end points,
    Bresenham from the first to the second (x major when |dx| > |dy|), both ends drawn, pixels
    off the canvas skipped (the steps on it are found in closed form, not walked)."""
    if not (abs(x0) < COORDINATE_LIMIT and abs(y0) < COORDINATE_LIMIT
            and abs(x1) < COORDINATE_LIMIT and abs(y1) < COORDINATE_LIMIT):
        return  # also catches NaN
    c0, r0, c1, r1 = np.int64(x0), np.int64(y0), np.int64(x1), np.int64(y1)
    height, width = canvas.shape
    dc, dr = abs(c1 - c0), abs(r1 - r0)
    sc = 1 if c1 >= c0 else -1
    sr = 1 if r1 >= r0 else -1
    x_major = dc > dr
    d_major, d_minor = (dc, dr) if x_major else (dr, dc)
    if 0 <= c0 < width and 0 <= c1 < width and 0 <= r0 < height and 0 <= r1 < height:
        first, last, m = 0, d_major, 0  # the common case: no clipping, no division
    else:
        if x_major:
            first, last = _major_range(c0, r0, dc, dr, sc, sr, width, height)
        else:
            first, last = _major_range(r0, c0, dr, dc, sr, sc, height, width)
        if first > last:
            return
        m = (2 * d_minor * first + d_major) // (2 * d_major) if d_major > 0 else 0
    # error term of PIL's loop at step i: e = 2 d_minor (i + 1) - d_major - 2 d_major m_i
    e = 2 * d_minor * (first + 1) - d_major - 2 * d_major * m
    for i in range(first, last + 1):
        if x_major:
        # on the canvas, so non-negative: unsigned indices skip the negative-index check
            canvas[np.uint64(r0 + sr * m), np.uint64(c0 + sc * i)] = value
        else:
            canvas[np.uint64(r0 + sr * i), np.uint64(c0 + sc * m)] = value
        up = np.int64(e >= 0)  # branch-free: the minor step is data-dependent
        m += up
        e += 2 * d_minor - 2 * d_major * up


@numba.njit(cache=True)
def draw_contours(canvas, xs, ys, cos_k, sin_k, wave1, wave2, n_contours, gain, offset, step, gradients,
                  origin_x, origin_y, scale, seed, tag=0):
    """Draw ``n_contours`` contours from the start polygon (xs, ys), updated in place; vertex k
    is drawn at ((origin_x + xs[k]) scale, (origin_y + ys[k]) scale). Lengths in canvas pixels.
    Each pixel gets grey + ``tag`` (SegRCDB's uint16 canvas keeps a class id in the high byte).
    Returns the splitmix state, so that drawing n contours, then m more from it, draws n + m."""
    n = xs.shape[0]
    state = seed
    for _ in range(n_contours):
        state, bits = next_u64(state)
        value = np.int64(bits >> np.uint64(56)) + tag
        for k in range(n):
            state, bits = next_u64(state)
            nx = noise1_at_random_bits(bits, gradients) * gain - offset - wave1[k] - wave2[k]
            state, bits = next_u64(state)
            ny = noise1_at_random_bits(bits, gradients) * gain - offset - wave1[k] - wave2[k]
            xs[k] -= cos_k[k] * (nx - step)
            ys[k] -= sin_k[k] * (ny - step)
        # the official loop draws segment k -> k + 1 (k + 1 taken mod n); the direction matters at ties
        for k in range(n):
            j = k + 1 if k + 1 < n else 0
            pil_line(canvas, (xs[k] + origin_x) * scale, (ys[k] + origin_y) * scale,
                     (xs[j] + origin_x) * scale, (ys[j] + origin_y) * scale, value)
    return state


@numba.njit(cache=True)
def _contour_image(canvas, vertices, contours, radius, ox, oy, cx, cy, absolute, gain, offset, step, n1, n2,
                   gradients, seed):
    """Start polygon, waves and contours in one compiled call (no per-image NumPy temporaries)."""
    angle = 2.0 * np.pi / vertices
    cos_k = np.empty(vertices)
    sin_k = np.empty(vertices)
    wave1 = np.empty(vertices)
    wave2 = np.empty(vertices)
    xs = np.empty(vertices)
    ys = np.empty(vertices)
    for k in range(vertices):
        cos_k[k] = np.cos(angle * k)
        sin_k[k] = np.sin(angle * k)
        wave1[k] = 0.5 * np.sin(angle * k * n1)
        wave2[k] = 0.5 * np.sin(angle * k * n2)
        xs[k] = cos_k[k] * radius * ox + (cx if absolute else 0.0)
        ys[k] = sin_k[k] * radius * oy + (cy if absolute else 0.0)
    origin_x, origin_y = (0.0, 0.0) if absolute else (cx, cy)
    draw_contours(canvas, xs, ys, cos_k, sin_k, wave1, wave2, contours, gain, offset, step, gradients,
                  origin_x, origin_y, canvas.shape[1] / CANVAS, seed)


def render_contours(
    canvas: np.ndarray,
    *,
    vertices: int,
    contours: int,
    radius: float,
    oval: tuple[float, float],
    center: tuple[float, float],
    absolute: bool,
    gain: float,
    offset: float,
    step: float,
    frequencies: tuple[int, int],
    gradient: str,
    seed: np.uint64,
) -> np.ndarray:
    """Draw onto ``canvas`` (uint8, square) and return it. ``frequencies`` = VisualAtom's
    (n1, n2); RCDB's (0, 0) makes the wave terms exactly zero. ``absolute``: the vertices hold
    the centre (VisualAtom's code) instead of getting it added when drawn (RCDB's). ``gradient``
    names the 1-D noise's gradient set (:data:`fdsl.kernels.perlin_noise.NOISE1_GRADIENTS`)."""
    _contour_image(canvas, int(vertices), int(contours), float(radius), float(oval[0]), float(oval[1]),
                   float(center[0]), float(center[1]), bool(absolute), float(gain), float(offset), float(step),
                   float(frequencies[0]), float(frequencies[1]), gradients1(gradient), seed)
    return canvas
