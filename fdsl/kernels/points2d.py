"""Points to pixels for the 2-D IFS families: FractalDB's stretch of the orbit's bounding box to
the image, 3x3 patch stamping with one of the 511 non-empty binary masks per point, and the
filling rate's pixel count.

Source: Kataoka et al., "Pre-training without Natural Images", ACCV 2020 / IJCV 2022 (the
bounding box stretched to the image in x and y separately with 6 px padding; "patch" rendering).
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
