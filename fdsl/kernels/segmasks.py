"""SegRCDB scenes: many radial-contour instances on one canvas, with their class mask.

Each instance is RCDB's contour drawing (:func:`fdsl.kernels.contours.draw_contours`) around its
own centre with its class's parameters; the image gets every contour in a random grey, later
instances over earlier ones. The mask (class id per pixel, 0 background) follows one of the
official modes (``SegRCDB_render.py``):

- M1: the same 1-px lines as the image, every contour. The image is drawn on a uint16 canvas whose
  high byte is the class id, so one write per pixel makes both (the pixels are identical by design).
- M2: fill the last contour, then fill the first with 0 (which also erases earlier instances
  there), then outline both; an instance with one contour gets no mask.
- M3: fill the last (outermost) contour, covering earlier labels.

Filling (the official ``ImageDraw.polygon``): vertices truncated to integers as PIL's lines do, an
even-odd scanline fill at pixel centres (a pixel is in when its centre is inside or on an edge),
then the outline drawn with the PIL line pixels, so the boundary pixels are covered as Pillow's
filled polygons cover them. Pillow's own scanline rules changed between versions; this matches
Pillow 13 on ~99% of a polygon's pixels (tested), not bit for bit.
"""
from __future__ import annotations

import numba
import numpy as np

from fdsl.kernels.contours import CANVAS, COORDINATE_LIMIT, draw_contours, pil_line
from fdsl.kernels.splitmix import next_u64

#: The mask modes, by their official names, and their codes in the kernels.
MASK_MODES = ("M1", "M2", "M3")
LINES, RING, FILLED = 1, 2, 3


@numba.njit(cache=True)
def truncated_vertices(xs, ys, origin_x, origin_y, scale):
    """int64 pixel coordinates of the vertices as PIL gets them (truncated toward zero); ok is
    False when one is beyond :data:`COORDINATE_LIMIT` or NaN (nothing is filled then)."""
    n = xs.shape[0]
    px = np.empty(n, np.int64)
    py = np.empty(n, np.int64)
    for k in range(n):
        x = (xs[k] + origin_x) * scale
        y = (ys[k] + origin_y) * scale
        if not (abs(x) < COORDINATE_LIMIT and abs(y) < COORDINATE_LIMIT):
            return px, py, False
        px[k], py[k] = np.int64(x), np.int64(y)
    return px, py, True


@numba.njit(cache=True)
def fill_scanline(mask, px, py, row, crossings, value):
    """Fill row ``row`` between pairs of the sorted crossings of the closed polygon (px, py)."""
    n = px.shape[0]
    count = 0
    for k in range(n):
        j = k + 1 if k + 1 < n else 0
        y0, y1 = py[k], py[j]
        # half-open in y, so that a vertex shared by a rising and a falling edge counts once or twice
        if (y0 <= row < y1) or (y1 <= row < y0):
            x = px[k] + (row - y0) * (px[j] - px[k]) / (y1 - y0)
            i = count
            while i > 0 and crossings[i - 1] > x:  # insertion sort: few crossings per row
                crossings[i] = crossings[i - 1]
                i -= 1
            crossings[i] = x
            count += 1
    width = mask.shape[1]
    for pair in range(0, count - 1, 2):
        first = max(np.int64(np.ceil(crossings[pair])), 0)
        last = min(np.int64(np.floor(crossings[pair + 1])), width - 1)
        for column in range(first, last + 1):
            mask[row, column] = value


@numba.njit(cache=True)
def outline(mask, px, py, value):
    n = px.shape[0]
    for k in range(n):
        j = k + 1 if k + 1 < n else 0
        pil_line(mask, px[k], py[k], px[j], py[j], value)


@numba.njit(cache=True)
def fill_polygon(mask, xs, ys, origin_x, origin_y, scale, value, with_outline):
    """Fill the closed polygon of vertices ((origin + xs) scale, (origin + ys) scale) with
    ``value``; ``with_outline`` also draws its 1-px outline in the same value."""
    px, py, ok = truncated_vertices(xs, ys, origin_x, origin_y, scale)
    if not ok:
        return
    crossings = np.empty(px.shape[0], np.float64)
    low = max(py.min(), 0)
    high = min(py.max(), mask.shape[0] - 1)
    for row in range(low, high + 1):
        fill_scanline(mask, px, py, row, crossings, value)
    if with_outline:
        outline(mask, px, py, value)


@numba.njit(cache=True)
def draw_instance(canvas, mask, mode, label, vertices, contours, noise, step, radius, ox, oy, cx, cy, gradients,
                  scale, state):
    """One instance: its contours on ``canvas`` (uint16: grey, plus the label in the high byte for
    M1) and its mask region on ``mask`` (M2, M3). Returns the splitmix state."""
    angle = 2.0 * np.pi / vertices
    cos_k = np.empty(vertices)
    sin_k = np.empty(vertices)
    xs = np.empty(vertices)
    ys = np.empty(vertices)
    for k in range(vertices):
        cos_k[k] = np.cos(angle * k)
        sin_k[k] = np.sin(angle * k)
        xs[k] = cos_k[k] * radius * ox
        ys[k] = sin_k[k] * radius * oy
    waves = np.zeros(vertices)
    tag = np.int64(label) << 8 if mode == LINES else np.int64(0)
    # the first contour apart: M2 needs its vertices
    state = draw_contours(canvas, xs, ys, cos_k, sin_k, waves, waves, 1, 2.0 * noise, noise, step, gradients,
                          cx, cy, scale, state, tag)
    first_xs, first_ys = xs.copy(), ys.copy()
    state = draw_contours(canvas, xs, ys, cos_k, sin_k, waves, waves, contours - 1, 2.0 * noise, noise, step,
                          gradients, cx, cy, scale, state, tag)
    if mode == FILLED:
        fill_polygon(mask, xs, ys, cx, cy, scale, label, False)
    elif mode == RING and contours >= 2:
        fill_polygon(mask, xs, ys, cx, cy, scale, label, False)
        fill_polygon(mask, first_xs, first_ys, cx, cy, scale, 0, False)
        px, py, ok = truncated_vertices(first_xs, first_ys, cx, cy, scale)
        if ok:
            outline(mask, px, py, label)
        px, py, ok = truncated_vertices(xs, ys, cx, cy, scale)
        if ok:
            outline(mask, px, py, label)
    return state


@numba.njit(cache=True)
def split_canvas(canvas, image, mask, mode):
    """image = the low byte (the greys); for M1, mask = the high byte (the class ids)."""
    height, width = canvas.shape
    for r in range(height):
        for c in range(width):
            image[r, c] = canvas[r, c] & 0xFF
            if mode == LINES:
                mask[r, c] = canvas[r, c] >> 8


@numba.njit(cache=True)
def _scene(image, mask, mode, labels, centres_x, centres_y, vertices, contours, noise, step, radius, oval_x,
           oval_y, gradients, seed):
    canvas = np.zeros(image.shape, np.uint16)
    scale = image.shape[1] / CANVAS
    state = seed
    for i in range(labels.shape[0]):
        c = labels[i] - 1
        state, bits = next_u64(state)  # each instance's noise starts from its own draw
        draw_instance(canvas, mask, mode, labels[i], vertices[c], contours[c], noise[c], step[c], radius[c],
                      oval_x[c], oval_y[c], centres_x[i], centres_y[i], gradients, scale, bits)
    split_canvas(canvas, image, mask, mode)


def render_scene(size: int, mode: str, labels: np.ndarray, centres: np.ndarray, classes: dict[str, np.ndarray],
                 gradients: np.ndarray, seed: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    """(image, mask), uint8 (size, size): instance i of class ``labels[i]`` (1-based into the
    ``classes`` columns: vertices, contours, noise, step, radius, oval_x, oval_y) centred at
    ``centres[i]`` (canvas pixels, 512 px canvas), drawn in order; ``mode`` one of MASK_MODES."""
    image = np.empty((size, size), np.uint8)
    mask = np.zeros((size, size), np.uint8)
    _scene(image, mask, MASK_MODES.index(mode) + 1, labels.astype(np.int64), centres[:, 0].astype(np.float64),
           centres[:, 1].astype(np.float64), classes["vertices"], classes["contours"], classes["noise"],
           classes["step"], classes["radius"], classes["oval_x"], classes["oval_y"], gradients, seed)
    return image, mask
