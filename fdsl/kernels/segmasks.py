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

Filling follows Pillow's ``ImageDraw.polygon(points, fill=...)`` (``libImaging/Draw.c``, as in
Pillow 13): vertices truncated to integers, horizontal edges drawn as runs, every other edge
crossing each row from its top to its bottom row in float32 (its lower end twice, except on the
polygon's last row), sorted, and the pairs filled from ROUND_UP(left) to ROUND_DOWN(right). Its
"connect discontiguous corners" fix-up is left out: on random polygons over 80% of fills are
Pillow's pixels exactly and the rest differ by a few pixels (tested).
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
def round_half_away(x):
    """C's ``(int) floor(x + 0.5)`` mirrored for negatives: Pillow's ROUND_UP."""
    return np.int64(np.floor(x + 0.5)) if x >= 0 else -np.int64(np.floor(-x + 0.5))


@numba.njit(cache=True)
def round_half_down(x):
    """Pillow's ROUND_DOWN: ``(int) ceil(x - 0.5)``, mirrored for negatives."""
    return np.int64(np.ceil(x - 0.5)) if x >= 0 else -np.int64(np.ceil(-x - 0.5))


@numba.njit(cache=True)
def hline(mask, row, x0, x1, value):
    if 0 <= row < mask.shape[0]:
        for column in range(max(min(x0, x1), 0), min(max(x0, x1), mask.shape[1] - 1) + 1):
            mask[row, column] = value


@numba.njit(cache=True)
def fill_scanline(mask, px, py, slopes, row, bottom, crossings, value):
    """Fill row ``row`` between pairs of the sorted float32 crossings of the closed polygon's
    slanted edges (each counted on the rows lo..hi, twice at its lower end except the bottom's)."""
    n = px.shape[0]
    count = 0
    for k in range(n):
        j = k + 1 if k + 1 < n else 0
        y0, y1 = py[k], py[j]
        low, high = min(y0, y1), max(y0, y1)
        if y0 == y1 or row < low or row > high:
            continue
        x = np.float32(row - y0) * slopes[k] + np.float32(px[k])
        copies = 2 if (row == high and row < bottom) else 1
        for _ in range(copies):
            i = count
            while i > 0 and crossings[i - 1] > x:  # insertion sort: few crossings per row
                crossings[i] = crossings[i - 1]
                i -= 1
            crossings[i] = x
            count += 1
    for pair in range(1, count, 2):
        start, end = round_half_away(crossings[pair - 1]), round_half_down(crossings[pair])
        if end >= start:
            hline(mask, row, start, end, value)


@numba.njit(cache=True)
def outline(mask, px, py, value):
    n = px.shape[0]
    for k in range(n):
        j = k + 1 if k + 1 < n else 0
        pil_line(mask, px[k], py[k], px[j], py[j], value)


@numba.njit(cache=True)
def fill_polygon(mask, xs, ys, origin_x, origin_y, scale, value):
    """Fill the closed polygon of vertices ((origin + xs) scale, (origin + ys) scale) with
    ``value``, with the pixels of Pillow's ``ImageDraw.polygon(points, fill=value)``."""
    px, py, ok = truncated_vertices(xs, ys, origin_x, origin_y, scale)
    if not ok:
        return
    n = px.shape[0]
    slopes = np.zeros(n, np.float32)
    top, bottom = np.int64(2**62), -np.int64(2**62)
    for k in range(n):
        j = k + 1 if k + 1 < n else 0
        if py[k] == py[j]:
            hline(mask, py[k], px[k], px[j], value)  # Pillow draws horizontal edges as they are
        else:
            slopes[k] = np.float32(px[j] - px[k]) / np.float32(py[j] - py[k])
            top, bottom = min(top, py[k], py[j]), max(bottom, py[k], py[j])
    crossings = np.empty(2 * n, np.float32)
    for row in range(max(top, 0), min(bottom, mask.shape[0] - 1) + 1):
        fill_scanline(mask, px, py, slopes, row, bottom, crossings, value)


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
        fill_polygon(mask, xs, ys, cx, cy, scale, label)
    elif mode == RING and contours >= 2:
        fill_polygon(mask, xs, ys, cx, cy, scale, label)
        fill_polygon(mask, first_xs, first_ys, cx, cy, scale, 0)
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
