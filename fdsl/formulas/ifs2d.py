"""2-D iterated function systems: sampling, the chaos game and rasterisation.

Sources:
- Kataoka et al., "Pre-training without Natural Images", ACCV 2020 / IJCV 2022 (FractalDB):
  maps w_i(x) = [[a, b], [c, d]] x + [e, f] with a..f ~ U(-1, 1), N ~ U{2..7}, selection
  probability p_i = |det A_i| / sum_j |det A_j|; chaos game from (0, 0), start point kept;
  the points' bounding box stretched to the image in x and y separately with 6 px padding;
  3x3 patch rendering with one of the 511 non-empty binary masks per point.
- Anderson & Farrell, "Improved Fractal Pre-training", WACV 2022: A = U diag(s1, s2) V with
  random rotations/reflections U, V, 0 <= s2 <= s1 <= 1 and sum_i (s1 + 2 s2) ~ U((5+N)/2, (6+N)/2).

Numba kernels do the arithmetic only; their random numbers come from a splitmix64 stream seeded
by the caller's NumPy generator, so every image is a pure function of that generator.
"""
from __future__ import annotations

import threading
from typing import NamedTuple

import numba
import numpy as np

from fdsl.seeding import kernel_seed

#: Points whose coordinates leave this bound (or become non-finite) are dropped and the
#: orbit restarts at the origin: divergent systems then draw something bounded, never overflow.
ESCAPE_BOUND = 1e12


# --- sampling -----------------------------------------------------------------------------------
def sample_uniform_system(rng: np.random.Generator, n_maps: int) -> np.ndarray:
    """FractalDB's sampler: (n_maps, 6) parameters a, b, c, d, e, f ~ U(-1, 1)."""
    return rng.uniform(-1.0, 1.0, size=(n_maps, 6))


def _random_orthogonal(rng: np.random.Generator) -> np.ndarray:
    theta = rng.uniform(0.0, 2.0 * np.pi)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    if rng.random() < 0.5:
        rotation = rotation @ np.diag([1.0, -1.0])
    return rotation


def sample_anderson_system(rng: np.random.Generator, n_maps: int) -> np.ndarray:
    """Anderson & Farrell's sampler: contractive maps whose sigma factor sum_i(s1 + 2 s2) is
    drawn from U((5+N)/2, (6+N)/2).

    The budget is split over the maps one at a time, each share c_i = s1 + 2 s2 drawn uniformly
    in the interval that keeps the rest feasible (every share lies in [0, 3]); then
    s1 ~ U(c/3, min(1, c)) and s2 = (c - s1) / 2, which guarantees 0 <= s2 <= s1 <= 1.
    """
    budget = rng.uniform((5 + n_maps) / 2, (6 + n_maps) / 2)
    params = np.empty((n_maps, 6))
    for i in range(n_maps):
        left_after = n_maps - i - 1
        low, high = max(0.0, budget - 3.0 * left_after), min(3.0, budget)
        share = high if left_after == 0 else rng.uniform(low, high)
        budget -= share
        s1 = rng.uniform(share / 3.0, min(1.0, share))
        s2 = (share - s1) / 2.0
        matrix = _random_orthogonal(rng) @ np.diag([s1, s2]) @ _random_orthogonal(rng)
        params[i, :4] = matrix.ravel()
        params[i, 4:] = rng.uniform(-1.0, 1.0, size=2)
    return params


def determinant_probabilities(params: np.ndarray) -> np.ndarray:
    """p_i = |a_i d_i - b_i c_i| / sum_j |a_j d_j - b_j c_j|, uniform when every map is singular
    or the determinants overflow (huge or non-finite parameters: no warning, that is the fallback)."""
    with np.errstate(over="ignore", invalid="ignore"):
        dets = np.abs(params[:, 0] * params[:, 3] - params[:, 1] * params[:, 2])
        total = dets.sum()
    if not np.isfinite(total) or total <= 0.0:
        return np.full(len(params), 1.0 / len(params))
    return dets / total


def variation_multipliers(interval: float) -> np.ndarray:
    """FractalDB's 25 parameter variations as multipliers of (a, b, c, d, e, f), shape (25, 6).

    Rows 0-4 scale a by {1-2K, 1-K, 1, 1+K, 1+2K}; then b, c, d, e, f in turn are each scaled by
    {1-2K, 1-K, 1+K, 1+2K}. Row 2 is the identity. A row scales that parameter in every map.
    """
    k = interval
    rows = [np.ones(6) for _ in range(25)]
    for row, factor in enumerate((1 - 2 * k, 1 - k, 1.0, 1 + k, 1 + 2 * k)):
        rows[row][0] = factor
    row = 5
    for parameter in range(1, 6):
        for factor in (1 - 2 * k, 1 - k, 1 + k, 1 + 2 * k):
            rows[row][parameter] = factor
            row += 1
    return np.array(rows)


# --- kernels ------------------------------------------------------------------------------------
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@numba.njit(cache=True, inline="always")
def _next_u64(state):
    """splitmix64: returns (new state, 64 random bits)."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return state, z ^ (z >> np.uint64(31))


@numba.njit(cache=True, inline="always")
def _next_unit(state):
    state, bits = _next_u64(state)
    return state, (bits >> np.uint64(11)) * (1.0 / 9007199254740992.0)


#: The map pick looks up the top PICK_BITS bits of each draw in a table (see ``_pick_table``).
PICK_BITS = 10


@numba.njit(cache=True)
def _pick_table(cumulative, n_maps):
    """For each of the 2**PICK_BITS buckets of draws sharing their top bits, the map that every
    draw in the bucket picks, or -1 where a cumulative boundary splits the bucket.

    The pick i(u) = #{j < N - 1 : u >= cumulative[j]} never decreases with u, so it is constant
    over a bucket exactly when its lowest and highest u agree: the table gives the same map as the
    full comparison for every draw, and the comparison only runs in the few split buckets.
    """
    width = 1 << (53 - PICK_BITS)  # u = (bits >> 11) / 2**53, so a bucket holds `width` values of u
    table = np.empty(1 << PICK_BITS, dtype=np.int32)
    for b in range(table.size):
        low = (b * width) * (1.0 / 9007199254740992.0)
        high = ((b + 1) * width - 1) * (1.0 / 9007199254740992.0)
        i_low = 0
        i_high = 0
        for j in range(n_maps - 1):
            i_low += low >= cumulative[j]
            i_high += high >= cumulative[j]
        table[b] = i_low if i_low == i_high else -1
    return table


@numba.njit(cache=True)
def chaos_game(params, cumulative, n_points, seed, xs, ys):
    """Fill xs, ys with the orbit from (0, 0) (the start point included, as in FractalDB).

    Returns (kept, (xmin, xmax, ymin, ymax)): the number of points kept and their bounding box.
    Escaped or non-finite points are dropped and the orbit restarts at the origin, so a
    non-contractive system still ends in bounded time and values.
    """
    n_maps = params.shape[0]
    table = _pick_table(cumulative, n_maps)
    state = seed
    x = 0.0
    y = 0.0
    xs[0] = 0.0
    ys[0] = 0.0
    xmin = xmax = ymin = ymax = 0.0
    kept = 1
    for _ in range(1, n_points):
        state, bits = _next_u64(state)
        i = table[bits >> np.uint64(64 - PICK_BITS)]
        if i < 0:  # a split bucket: the full pick (branch-free, as such draws are unpredictable)
            u = (bits >> np.uint64(11)) * (1.0 / 9007199254740992.0)
            i = 0
            for j in range(n_maps - 1):
                i += u >= cumulative[j]
        nx = params[i, 0] * x + params[i, 1] * y + params[i, 4]
        ny = params[i, 2] * x + params[i, 3] * y + params[i, 5]
        if abs(nx) < ESCAPE_BOUND and abs(ny) < ESCAPE_BOUND:  # False for NaN too
            x = nx
            y = ny
            xs[kept] = x
            ys[kept] = y
            kept += 1
            # Off the orbit's dependency chain, so free here, and it spares a pass over the points.
            xmin = min(xmin, x)
            xmax = max(xmax, x)
            ymin = min(ymin, y)
            ymax = max(ymax, y)
        else:
            x = 0.0
            y = 0.0
    return kept, (xmin, xmax, ymin, ymax)


@numba.njit(cache=True)
def _pixel_transform(bounds, size, pad):
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
    state, bits = _next_u64(state)
    return state, 1 + ((bits >> np.uint64(32)) * np.uint64(511) >> np.uint64(32))


@numba.njit(cache=True)
def _stamp(xs, ys, kept, bounds, size, pad, patch, seed, counts, color, hue_sum):
    """Count hits per pixel into arrays with a 1-px border (so no bounds checks are needed).

    With ``patch`` each point stamps one of the 511 non-empty 3x3 masks, drawn per point;
    with ``color`` each hit also adds the point's hue (its index over the orbit length).
    """
    xmin, sx, cx, ymin, sy, cy = _pixel_transform(bounds, size, pad)
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


#: Points per block in ``_stamp_masks``: the block's pixels and masks stay in L1.
_BLOCK = 256


@numba.njit(cache=True)
def _stamp_masks(xs, ys, kept, bounds, size, pad, patch, seed, masks):
    """Binary mode's stamp: OR each point's 3x3 mask into the uint16 ``masks`` at its own pixel
    (1-px border), one write per point instead of nine counts; ``_paint_binary`` then spreads
    the bits. The same pixels and the same mask stream as ``_stamp``.

    Per block of points, the pixel offsets and the masks are computed in loops of their own,
    which vectorise (the mask stream is counter based), and the writes follow in a short loop.
    """
    xmin, sx, cx, ymin, sy, cy = _pixel_transform(bounds, size, pad)
    flat = masks.reshape(masks.size)
    stride = size + 2
    where = np.empty(_BLOCK, dtype=np.int64)
    bits = np.full(_BLOCK, 1 << 4, dtype=np.uint16)  # a point is the mask with the middle bit only
    state = seed
    for start in range(0, kept, _BLOCK):
        n = min(_BLOCK, kept - start)
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
def _paint_binary(masks, value, flip, image):
    """The final (size, size) uint8 image from ``_stamp_masks``'s canvas: ``value`` where covered,
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
    xmin, sx, cx, ymin, sy, cy = _pixel_transform(bounds, size, pad)
    seen = np.zeros((size, size), dtype=np.bool_)
    filled = 0
    for k in range(kept):
        r = _to_index(ys[k], ymin, sy, cy, size)
        c = _to_index(xs[k], xmin, sx, cx, size)
        if not seen[r, c]:
            seen[r, c] = True
            filled += 1
    return filled


# --- Python wrappers ----------------------------------------------------------------------------
def _cumulative(probabilities: np.ndarray) -> np.ndarray:
    probabilities = np.where(np.isfinite(probabilities), np.abs(probabilities), 0.0)
    with np.errstate(over="ignore"):  # huge p overflow the sum to inf: then p / total = 0, no crash
        total = probabilities.sum()
    if total <= 0.0:
        probabilities, total = np.ones_like(probabilities), float(len(probabilities))
    return np.cumsum(probabilities / total)


class Orbit(NamedTuple):
    """The chaos game's points: ``kept`` valid points at the front of xs, ys (per-thread scratch
    arrays, see ``_point_buffers``) and their bounding box (xmin, xmax, ymin, ymax)."""

    xs: np.ndarray
    ys: np.ndarray
    kept: int
    bounds: tuple[float, float, float, float]


def orbit(maps: np.ndarray, probabilities: np.ndarray, n_points: int, seed: np.uint64) -> Orbit:
    """The chaos game's points.

    ``probabilities`` are used as given (normalised), as FractalDB keeps a category's p for
    all its parameter variations.
    """
    params = np.ascontiguousarray(maps, dtype=np.float64)
    cumulative = _cumulative(np.asarray(probabilities, dtype=np.float64))
    xs, ys = _point_buffers(n_points)
    kept, bounds = chaos_game(params, cumulative, n_points, seed, xs, ys)
    return Orbit(xs, ys, kept, bounds)


_buffers = threading.local()


def _point_buffers(n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-thread scratch arrays for the orbit: fresh multi-MB arrays per image cost page
    faults comparable to the chaos game itself. Callers use them before the next call."""
    cached = getattr(_buffers, "xy", None)
    if cached is None or cached.shape[1] < n_points:
        cached = _buffers.xy = np.empty((2, n_points))
    return cached[0, :n_points], cached[1, :n_points]


def filling_rate(
    maps: np.ndarray, probabilities: np.ndarray, *, size: int, n_points: int, pad: int, seed: np.uint64
) -> float:
    """Fraction of pixels hit when ``n_points`` are drawn as single pixels (FractalDB's search)."""
    return count_filled(*orbit(maps, probabilities, n_points, seed), size, pad) / float(size * size)


def image_filling_rate(image: np.ndarray) -> float:
    """Fraction of non-zero pixels of a (H, W) or (H, W, C) image."""
    occupied = image if image.ndim == 2 else image.max(axis=-1)
    return float(np.count_nonzero(occupied)) / occupied.size


def _hsv_to_rgb(hue: np.ndarray) -> np.ndarray:
    """Fully saturated, full-value colours for hues in [0, 1): (..., 3) floats in [0, 1]."""
    k = (np.array([5.0, 3.0, 1.0]) + hue[..., None] * 6.0) % 6.0
    return 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def flip_image(image: np.ndarray, which: int) -> np.ndarray:
    """FractalDB's four flips, as a contiguous copy: 0 none, 1 top-bottom, 2 left-right, 3 both."""
    if which & 1:
        image = image[::-1]
    if which & 2:
        image = image[:, ::-1]
    return np.ascontiguousarray(image)


def render_ifs(
    maps: np.ndarray,
    probabilities: np.ndarray,
    rng: np.random.Generator,
    *,
    size: int,
    n_points: int,
    pad: int,
    patch: bool,
    color: bool,
    graded: bool,
    gray_value: int,
    flip: int = 0,
) -> np.ndarray:
    """Draw the attractor: uint8 (size, size) grey or (size, size, 3) colour, black background,
    flipped by ``flip`` (see ``flip_image``).

    Binary mode paints every hit pixel ``gray_value`` (FractalDB's "patch_gray" uses 127);
    graded mode scales brightness with log hit density up to 255. Colour mode cycles the hue with
    the point's index along the orbit.
    """
    orbit_seed, patch_seed = kernel_seed(rng), kernel_seed(rng)
    points = orbit(maps, probabilities, n_points, orbit_seed)
    if not color and not graded:  # FractalDB's released mode: only "hit or not" matters
        masks = np.zeros((size + 2, size + 2), dtype=np.uint16)
        _stamp_masks(*points, size, pad, patch, patch_seed, masks)
        image = np.empty((size, size), dtype=np.uint8)
        _paint_binary(masks, gray_value, flip, image)
        return image
    counts = np.zeros((size + 2, size + 2), dtype=np.uint32)
    hue_sum = np.zeros((size + 2, size + 2) if color else (1, 1))
    _stamp(*points, size, pad, patch, patch_seed, counts, color, hue_sum)
    counts, hue_sum = counts[1:-1, 1:-1], hue_sum[1:-1, 1:-1]
    if graded:
        level = np.log1p(counts) * (255.0 / np.log1p(max(int(counts.max()), 1)))
    else:
        level = np.where(counts > 0, float(gray_value), 0.0)
    if not color:
        return flip_image(level.astype(np.uint8), flip)
    hue = np.divide(hue_sum, counts, out=np.zeros_like(hue_sum), where=counts > 0)
    return flip_image((_hsv_to_rgb(hue) * level[..., None] + 0.5).astype(np.uint8), flip)
