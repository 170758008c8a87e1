"""Points to pixels for the 2-D IFS families: FractalDB's stretch of the orbit's bounding box to
the image, 3x3 patches with one of the 511 non-empty binary masks per point, and the filling
rate's pixel count.

Source: Kataoka et al., "Pre-training without Natural Images", ACCV 2020 / IJCV 2022 (the
bounding box stretched to the image in x and y separately with 6 px padding; "patch" rendering);
official code hirokatsukataoka16/FractalDB-Pretrained-ResNet-PyTorch, ``fractal_renderer/
ifs_function.py`` (``__rescale``, ``draw_patch``, ``make_patch3_3``).

Two ways to land a patch:
- ``paste_patches`` / ``paste_patches_rgb``: the official one. Every point pastes its whole 3x3
  block, the mask's 0 bits as black pixels, in orbit order, so the last point to touch a pixel
  decides it and the images are speckled (about 34-47% of the footprint lit).
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
def _patch_corners(xs, ys, start, n, terms, size, pad, stride, step, where):
    """Flat canvas offsets of the top-left pixels of the patches of points start .. start + n - 1:
    one pixel right of and below the point's pixel (``image.paste(patch, (x + 1, y + 1))``)."""
    xmin, width_x, ymin, width_y, extent, flat = terms
    for t in range(n):
        row = _official_pixel(ys[start + t], ymin, width_y, extent, pad, flat, size) + 1
        col = _official_pixel(xs[start + t], xmin, width_x, extent, pad, flat, size) + 1
        where[t] = row * stride + col * step


@numba.njit(cache=True, inline="always")
def _patch_masks(state, n, masks):
    """The next n masks of the stream (the same draws as ``stamp_masks``): (new state)."""
    for t in range(n):
        state, mask = _patch_mask(state)
        masks[t] = mask
    return state


@numba.njit(cache=True, inline="always")
def _official_bit(mask, cell):
    """Whether cell 3 i + j (row i, column j) of the patch is lit: the official ``'{:09b}'`` string
    of the mask read row by row, i.e. its most significant bit first."""
    return np.uint8((mask >> np.uint64(8 - cell)) & np.uint64(1))


@numba.njit(cache=True)
def paste_patches(xs, ys, kept, bounds, size, pad, seed, value, canvas):
    """FractalDB's patches as the official ``draw_patch`` lands them, in grey ``value``.

    For every point in orbit order, the 3x3 block one pixel right of and below the point's pixel
    (official stretch) gets the point's mask: 1 bits ``value``, 0 bits black, over whatever was
    there (PIL's paste without a mask), so the last point to touch a pixel decides it. One mask of
    1..511 per point (the official ``random.randrange(1, 512)``), from the stream of ``stamp_masks``.

    ``canvas``: (size + 4, size + 4) uint8 zeros, room for every patch (PIL clips what lies past
    the image: the caller keeps the top-left (size, size) and flips it top-bottom, as the official
    code does before its four flips).
    """
    terms = official_transform(bounds, size, pad)
    flat = canvas.reshape(canvas.size)
    stride = canvas.shape[1]
    where = np.empty(BLOCK, dtype=np.int64)
    masks = np.empty(BLOCK, dtype=np.uint64)
    on = np.uint8(value)
    state = seed
    for start in range(0, kept, BLOCK):
        n = min(BLOCK, kept - start)
        _patch_corners(xs, ys, start, n, terms, size, pad, stride, 1, where)
        state = _patch_masks(state, n, masks)
        for t in range(n):
            for i in range(3):
                for j in range(3):
                    flat[where[t] + i * stride + j] = on * _official_bit(masks[t], 3 * i + j)


@numba.njit(cache=True)
def paste_patches_rgb(xs, ys, kept, bounds, size, pad, seed, colours, canvas):
    """``paste_patches`` in colour: point k's 1 bits take ``colours[k % len(colours)]`` (the
    official colour mode cycles 128 colours with the point's index), its 0 bits black.
    ``canvas``: (size + 4, size + 4, 3) uint8 zeros."""
    terms = official_transform(bounds, size, pad)
    flat = canvas.reshape(canvas.size)
    stride = canvas.shape[1] * 3
    where = np.empty(BLOCK, dtype=np.int64)
    masks = np.empty(BLOCK, dtype=np.uint64)
    n_colours = colours.shape[0]
    slot = 0
    state = seed
    for start in range(0, kept, BLOCK):
        n = min(BLOCK, kept - start)
        _patch_corners(xs, ys, start, n, terms, size, pad, stride, 3, where)
        state = _patch_masks(state, n, masks)
        for t in range(n):
            for i in range(3):
                for j in range(3):
                    bit = _official_bit(masks[t], 3 * i + j)
                    for channel in range(3):
                        flat[where[t] + i * stride + 3 * j + channel] = colours[slot, channel] * bit
            slot = slot + 1 if slot + 1 < n_colours else 0


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
