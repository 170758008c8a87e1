"""Points to pixels for the 2-D IFS families: FractalDB's stretch of the orbit's bounding box to
the image, 3x3 patches with one of the 511 non-empty binary masks per point, and the filling
rate's pixel count.

Source: Kataoka et al., "Pre-training without Natural Images", ACCV 2020 / IJCV 2022 (the
bounding box stretched to the image in x and y separately with 6 px padding; "patch" rendering);
official code hirokatsukataoka16/FractalDB-Pretrained-ResNet-PyTorch, ``fractal_renderer/
ifs_function.py`` (``__rescale``, ``draw_patch``, ``make_patch3_3``).

Two ways to land a patch:
- ``stamp_latest`` + ``paint_latest`` (``paint_latest_rgb``): the official one. Every point pastes
  its whole 3x3 block, the mask's 0 bits as black pixels, in orbit order, so the last point to
  touch a pixel decides it and the images are speckled (about 34-47% of the footprint lit).
- ``stamp_masks`` + ``paint_binary`` (and ``stamp_counts``): the masks ORed (or counted), so a
  pixel any point covered stays lit: solid shapes. Kept as the ``union`` patch mode and for graded
  shading, which counts hits.
"""
from __future__ import annotations

import numba
import numpy as np

from fdsl.kernels.splitmix import next_u64


@numba.njit(cache=True)
def pixel_transform(bounds, size, pad):
    """Offsets and scales that stretch the bounding box (xmin, xmax, ymin, ymax) to
    [pad, size - 1 - pad] in x and y separately (FractalDB does not keep the aspect); a flat
    axis maps to the centre."""
    xmin, xmax, ymin, ymax = bounds
    span = size - 1 - 2 * pad
    # A width so small (subnormal) that span / width overflows counts as flat: an infinite scale
    # would make (v - vmin) * scale NaN and the pixel index undefined.
    sx = span / (xmax - xmin) if xmax > xmin else np.inf
    sy = span / (ymax - ymin) if ymax > ymin else np.inf
    cx = pad + 0.5 if sx < np.inf else (size - 1) // 2 + 0.5
    cy = pad + 0.5 if sy < np.inf else (size - 1) // 2 + 0.5
    sx = sx if sx < np.inf else 0.0
    sy = sy if sy < np.inf else 0.0
    return xmin, sx, cx, ymin, sy, cy


@numba.njit(cache=True, inline="always")
def _to_index(v, vmin, scale, offset, size):
    return min(max(int(offset + (v - vmin) * scale), 0), size - 1)


@numba.njit(cache=True, inline="always")
def _patch_mask(state):
    """One of the 511 non-empty 3x3 masks: (new state, mask); bit b covers the offset
    (b // 3 - 1, b % 3 - 1) from the point's pixel."""
    state, bits = next_u64(state)
    return state, 1 + ((bits >> np.uint64(32)) * np.uint64(511) >> np.uint64(32))


@numba.njit(cache=True)
def stamp_counts(xs, ys, kept, bounds, size, pad, patch, seed, counts, color, hue_sum):
    """Count hits per pixel into arrays with a 1-px border (so no bounds checks are needed).

    With ``patch`` each point stamps one of the 511 non-empty 3x3 masks, drawn per point;
    with ``color`` each hit also adds the point's hue (its index over the orbit length).
    """
    xmin, sx, cx, ymin, sy, cy = pixel_transform(bounds, size, pad)
    state = seed
    for k in range(kept):
        r0 = _to_index(ys[k], ymin, sy, cy, size) + 1
        c0 = _to_index(xs[k], xmin, sx, cx, size) + 1
        hue = k / kept
        if not patch:
            counts[r0, c0] += 1
            if color:
                hue_sum[r0, c0] += hue
            continue
        state, mask = _patch_mask(state)
        for b in range(9):
            hit = (mask >> np.uint64(b)) & np.uint64(1)
            counts[r0 + b // 3 - 1, c0 + b % 3 - 1] += hit
            if color:
                hue_sum[r0 + b // 3 - 1, c0 + b % 3 - 1] += hue * hit


#: Points per block in ``stamp_masks``: the block's pixels and masks stay in L1.
BLOCK = 256


@numba.njit(cache=True)
def stamp_masks(xs, ys, kept, bounds, size, pad, patch, seed, masks):
    """Binary mode's stamp: OR each point's 3x3 mask into the uint16 ``masks`` at its own pixel
    (1-px border), one write per point instead of nine counts; ``paint_binary`` then spreads
    the bits. The same pixels and the same mask stream as ``stamp_counts``.

    Per block of points, the pixel offsets and the masks are computed in loops of their own,
    which vectorise (the mask stream is counter based), and the writes follow in a short loop.
    """
    xmin, sx, cx, ymin, sy, cy = pixel_transform(bounds, size, pad)
    flat = masks.reshape(masks.size)
    stride = size + 2
    where = np.empty(BLOCK, dtype=np.int64)
    bits = np.full(BLOCK, 1 << 4, dtype=np.uint16)  # a point is the mask with the middle bit only
    state = seed
    for start in range(0, kept, BLOCK):
        n = min(BLOCK, kept - start)
        for t in range(n):
            r0 = _to_index(ys[start + t], ymin, sy, cy, size) + 1
            c0 = _to_index(xs[start + t], xmin, sx, cx, size) + 1
            where[t] = r0 * stride + c0
        if patch:
            for t in range(n):
                state, mask = _patch_mask(state)
                bits[t] = mask
        for t in range(n):
            flat[where[t]] |= bits[t]


@numba.njit(cache=True, inline="always")
def _covered(up, mid, down, q):
    """Whether column q of the middle row is covered: bit b of the mask stored at (P, Q) covers
    (P + b // 3 - 1, Q + b % 3 - 1), so bit b is read from the neighbour that it points back from."""
    return (
        (down[q + 1] & 1) | (down[q] & 2) | (down[q - 1] & 4)
        | (mid[q + 1] & 8) | (mid[q] & 16) | (mid[q - 1] & 32)
        | (up[q + 1] & 64) | (up[q] & 128) | (up[q - 1] & 256)
    ) != 0


@numba.njit(cache=True)
def paint_binary(masks, value, flip, image):
    """The final (size, size) uint8 image from ``stamp_masks``'s canvas: ``value`` where covered,
    0 elsewhere, written already flipped (``flip`` as in ``flip_image``), so no temporaries."""
    size = image.shape[0]
    on = np.uint8(value)
    off = np.uint8(0)
    for r in range(size):
        up, mid, down = masks[r], masks[r + 1], masks[r + 2]
        row = image[size - 1 - r] if flip & 1 else image[r]
        if flip & 2:
            for c in range(size):
                row[size - 1 - c] = on if _covered(up, mid, down, c + 1) else off
        else:
            for c in range(size):
                row[c] = on if _covered(up, mid, down, c + 1) else off


# --- the official paste ------------------------------------------------------------------------
@numba.njit(cache=True)
def official_transform(bounds, size, pad):
    """The terms of the official stretch: (xmin, x width, ymin, y width, extent, flat pixel).

    ``__rescale`` maps v to trunc((v - vmin) / (vmax - vmin) * (size - 2 pad) + pad), a pixel in
    [pad, size - pad]. A flat axis, where the official code divides 0 by 0, takes the flat pixel,
    which puts the patch's middle pixel on the image's middle.
    """
    xmin, xmax, ymin, ymax = bounds
    return xmin, xmax - xmin, ymin, ymax - ymin, float(size - 2 * pad), (size - 1) // 2 - 2


@numba.njit(cache=True, inline="always")
def _official_pixel(v, vmin, width, extent, pad, flat, size):
    """The official pixel of v, in the official order of operations (a product by extent / width
    would round differently), clamped to [0, size] in case the padding exceeds half the size."""
    pixel = int((v - vmin) / width * extent + pad) if width > 0.0 else flat
    return min(max(pixel, 0), size)


@numba.njit(cache=True, inline="always")
def _patch_corners(xs, ys, start, n, terms, size, pad, stride, where):
    """Flat canvas offsets of the top-left pixels of the patches of points start .. start + n - 1:
    one pixel right of and below the point's pixel (``image.paste(patch, (x + 1, y + 1))``)."""
    xmin, width_x, ymin, width_y, extent, flat = terms
    for t in range(n):
        row = _official_pixel(ys[start + t], ymin, width_y, extent, pad, flat, size) + 1
        col = _official_pixel(xs[start + t], xmin, width_x, extent, pad, flat, size) + 1
        where[t] = row * stride + col


#: A key's bits above the mask: the point's number (index + 1), so the larger key is the later point.
KEY_SHIFT = 9


@numba.njit(cache=True)
def stamp_latest(xs, ys, kept, bounds, size, pad, seed, keys):
    """The official paste's first half: for every patch, the last point that pasted it there.

    The official ``draw_patch`` pastes each point's whole 3x3 patch (its mask's 0 bits black) over
    whatever was there, in orbit order, so a pixel ends with the bit of the last point whose patch
    covers it. That needs one write per point, not nine: ``keys`` at the patch's bottom-right pixel
    gets (point number << KEY_SHIFT) | mask, later points overwriting earlier ones; ``paint_latest``
    then takes, for every pixel, the latest of the nine patches that cover it.

    The patch's top-left pixel is one pixel right of and below the point's pixel (official stretch,
    ``official_transform``); one mask of 1..511 per point (the official ``random.randrange(1,
    512)``), from the stream of ``stamp_masks``. ``keys``: (size + 4, size + 4) zeros, int32 when the
    point numbers fit in 22 bits, else int64; patches past the image's far edges land in the border.
    """
    terms = official_transform(bounds, size, pad)
    flat = keys.reshape(keys.size)
    stride = keys.shape[1]
    where = np.empty(BLOCK, dtype=np.int64)
    masks = np.empty(BLOCK, dtype=np.int64)
    state = seed
    for start in range(0, kept, BLOCK):
        n = min(BLOCK, kept - start)
        _patch_corners(xs, ys, start, n, terms, size, pad, stride, where)
        for t in range(n):
            state, mask = _patch_mask(state)
            masks[t] = mask
        for t in range(n):
            flat[where[t] + 2 * stride + 2] = ((start + t + 1) << KEY_SHIFT) | masks[t]


@numba.njit(cache=True, inline="always")
def _latest_cover(keys, r, keeps, latest):
    """For every pixel (r, c) of the image, the key of the latest patch covering it with only the
    pixel's own mask bit kept (0 where none does), into ``latest``.

    The patch whose bottom-right pixel is (r + a, c + b) covers (r, c) with its cell (2 - a, 2 - b),
    which the official '{:09b}' string, read row by row, gives bit 8 - 3 (2 - a) - (2 - b) = 3 a + b;
    ``keeps[3 a + b]`` keeps the point number and that bit. Keys differ in their point numbers, so
    the largest masked key is the last point's. (One pass per neighbour: these loops vectorise.)
    """
    size = latest.shape[0]
    latest[:] = 0
    for a in range(3):
        row = keys[r + a]
        for b in range(3):
            keep = keeps[3 * a + b]
            for c in range(size):
                key = row[c + b] & keep
                latest[c] = key if key > latest[c] else latest[c]


@numba.njit(cache=True, inline="always")
def _cover_keeps(keys):
    """The nine masks of ``_latest_cover``, of the keys' type: the point number and bit 3 a + b."""
    keeps = np.empty(9, dtype=keys.dtype)
    for bit in range(9):
        keeps[bit] = (-1 << KEY_SHIFT) | (1 << bit)
    return keeps


@numba.njit(cache=True)
def paint_latest(keys, value, flip, image):
    """The official grey patch image from ``stamp_latest``'s keys: ``value`` where the last patch
    over a pixel has its bit set, 0 elsewhere, flipped top-bottom as ``draw_patch`` does, then by
    ``flip`` (as in ``flip_image``), written in place."""
    size = image.shape[0]
    on = np.uint8(value)
    off = np.uint8(0)
    keeps = _cover_keeps(keys)
    latest = np.empty(size, dtype=keys.dtype)
    low = (1 << KEY_SHIFT) - 1
    for r in range(size):
        _latest_cover(keys, r, keeps, latest)
        row = image[r] if flip & 1 else image[size - 1 - r]
        if flip & 2:
            for c in range(size):
                row[size - 1 - c] = on if latest[c] & low else off
        else:
            for c in range(size):
                row[c] = on if latest[c] & low else off


@numba.njit(cache=True)
def paint_latest_rgb(keys, colours, flip, image):
    """``paint_latest`` in colour: point k's set bits take ``colours[k % len(colours)]`` (the
    official colour mode cycles 128 colours with the point's index). ``image``: (size, size, 3)."""
    size = image.shape[0]
    n_colours = colours.shape[0]
    keeps = _cover_keeps(keys)
    latest = np.empty(size, dtype=keys.dtype)
    low = (1 << KEY_SHIFT) - 1
    for r in range(size):
        _latest_cover(keys, r, keeps, latest)
        row = image[r] if flip & 1 else image[size - 1 - r]
        for c in range(size):
            column = size - 1 - c if flip & 2 else c
            colour = ((latest[c] >> KEY_SHIFT) - 1) % n_colours
            for channel in range(3):
                row[column, channel] = colours[colour, channel] if latest[c] & low else 0


@numba.njit(cache=True)
def count_filled(xs, ys, kept, bounds, size, pad):
    """Number of distinct pixels hit when every point is one pixel, for the filling rate."""
    xmin, sx, cx, ymin, sy, cy = pixel_transform(bounds, size, pad)
    seen = np.zeros((size, size), dtype=np.bool_)
    filled = 0
    for k in range(kept):
        r = _to_index(ys[k], ymin, sy, cy, size)
        c = _to_index(xs[k], xmin, sx, cx, size)
        if not seen[r, c]:
            seen[r, c] = True
            filled += 1
    return filled
