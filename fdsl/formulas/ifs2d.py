"""2-D iterated function systems: sampling, the chaos game and rasterisation (the kernels are
:mod:`fdsl.kernels.chaos2d` and :mod:`fdsl.kernels.points2d`).

Sources:
- Kataoka et al., "Pre-training without Natural Images", ACCV 2020 / IJCV 2022 (FractalDB):
  maps w_i(x) = [[a, b], [c, d]] x + [e, f] with a..f ~ U(-1, 1), N ~ U{2..7}, selection
  probability p_i = |det A_i| / sum_j |det A_j|; chaos game from (0, 0), start point kept;
  the points' bounding box stretched to the image in x and y separately with 6 px padding;
  3x3 patch rendering with one of the 511 non-empty binary masks per point. How a patch lands
  and the colours follow the official code, hirokatsukataoka16/FractalDB-Pretrained-ResNet-PyTorch,
  ``fractal_renderer/ifs_function.py`` (``draw_patch``, ``convert_color``): see ``render_ifs``.
- Anderson & Farrell, "Improved Fractal Pre-training", WACV 2022: A = U diag(s1, s2) V with
  random rotations/reflections U, V, 0 <= s2 <= s1 <= 1 and sum_i (s1 + 2 s2) ~ U((5+N)/2, (6+N)/2).

Numba kernels do the arithmetic only; their random numbers come from a splitmix64 stream seeded
by the caller's NumPy generator, so every image is a pure function of that generator.
"""
from __future__ import annotations

import functools
import math
import threading
from typing import NamedTuple

import numpy as np

from fdsl.kernels.chaos2d import chaos_game, log_ratios
from fdsl.kernels.points2d import (
    KEY_SHIFT,
    count_filled,
    paint_binary,
    paint_latest,
    paint_latest_rgb,
    stamp_counts,
    stamp_latest,
    stamp_masks,
)
from fdsl.seeding import kernel_seed


# --- sampling -----------------------------------------------------------------------------------
def sample_uniform_system(rng: np.random.Generator, n_maps: int) -> np.ndarray:
    """FractalDB's sampler: (n_maps, 6) parameters a, b, c, d, e, f ~ U(-1, 1)."""
    return rng.uniform(-1.0, 1.0, size=(n_maps, 6))


def _random_orthogonal(rng: np.random.Generator) -> np.ndarray:
    """A rotation, or a rotation then a reflection of the second axis (probability 1/2). ``math``'s
    cos and sin, not NumPy's: NumPy picks its implementation by the CPU's vector extensions."""
    theta = rng.uniform(0.0, 2.0 * np.pi)
    cos, sin = math.cos(theta), math.sin(theta)
    if rng.random() < 0.5:
        return np.array([[cos, sin], [sin, -cos]])  # [[cos, -sin], [sin, cos]] @ diag(1, -1)
    return np.array([[cos, -sin], [sin, cos]])


def _product_2x2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b written out: a BLAS kernel's rounding (FMA or not) depends on the CPU."""
    return np.array([
        [a[0, 0] * b[0, 0] + a[0, 1] * b[1, 0], a[0, 0] * b[0, 1] + a[0, 1] * b[1, 1]],
        [a[1, 0] * b[0, 0] + a[1, 1] * b[1, 0], a[1, 0] * b[0, 1] + a[1, 1] * b[1, 1]],
    ])


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
        matrix = _product_2x2(_product_2x2(_random_orthogonal(rng), np.diag([s1, s2])), _random_orthogonal(rng))
        params[i, :4] = matrix.ravel()
        params[i, 4:] = rng.uniform(-1.0, 1.0, size=2)
    return params


def determinant_probabilities(params: np.ndarray) -> np.ndarray:
    """p_i = |a_i d_i - b_i c_i| / sum_j |a_j d_j - b_j c_j|, uniform when every map is singular
    or the determinants overflow (huge or non-finite parameters: no warning, that is the fallback)."""
    with np.errstate(over="ignore", invalid="ignore"):
        dets = np.abs(params[:, 0] * params[:, 3] - params[:, 1] * params[:, 2])
    total = ordered_sum(dets)
    if not math.isfinite(total) or total <= 0.0:
        return np.full(len(params), 1.0 / len(params))
    return dets / total


def ordered_sum(values: np.ndarray) -> float:
    """values[0] + values[1] + ... in index order: a library's reduction may change its order with
    its version, and these sums pick data (the probabilities, hashed into seeds)."""
    total = 0.0
    for value in values.tolist():
        total += value
    return total


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


# --- Python wrappers ----------------------------------------------------------------------------
def _cumulative(probabilities: np.ndarray) -> np.ndarray:
    probabilities = np.where(np.isfinite(probabilities), np.abs(probabilities), 0.0)
    total = ordered_sum(probabilities)  # huge p overflow the sum to inf: then p / total = 0, no crash
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


#: How binary patches land: "official", each point's whole 3x3 block over what was there (the
#: released, speckled images); "union", the masks ORed (solid shapes; fdsl's rendering before issue 27).
PATCH_MODES = ("official", "union")


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
    patch_mode: str = "official",
) -> np.ndarray:
    """Draw the attractor: uint8 (size, size) grey or (size, size, 3) colour, black background,
    flipped by ``flip`` (see ``flip_image``).

    Binary mode paints every hit pixel ``gray_value`` (FractalDB's "patch_gray" uses 127);
    graded mode scales brightness with log hit density up to 255 (every hit of every patch counts,
    whatever ``patch_mode``). Colour mode cycles the hue with the point's index along the orbit.

    Patches in the "official" ``patch_mode`` (not graded) are the official ``draw_patch``: the
    official stretch, each point's whole 3x3 block pasted one pixel right of and below its pixel
    in orbit order, the last writer winning, then the official top-bottom flip before ``flip``; in
    colour, the official colours (``official_colours``) instead of the hue average.
    """
    orbit_seed, patch_seed = kernel_seed(rng), kernel_seed(rng)
    points = orbit(maps, probabilities, n_points, orbit_seed)
    if patch and not graded and patch_mode == "official":
        return _paste_official(points, size, pad, patch_seed, color, gray_value, flip)
    if not color and not graded:  # FractalDB's released mode: only "hit or not" matters
        masks = np.zeros((size + 2, size + 2), dtype=np.uint16)
        stamp_masks(*points, size, pad, patch, patch_seed, masks)
        image = np.empty((size, size), dtype=np.uint8)
        paint_binary(masks, gray_value, flip, image)
        return image
    counts = np.zeros((size + 2, size + 2), dtype=np.uint32)
    hue_sum = np.zeros((size + 2, size + 2) if color else (1, 1))
    stamp_counts(*points, size, pad, patch, patch_seed, counts, color, hue_sum)
    counts, hue_sum = counts[1:-1, 1:-1], hue_sum[1:-1, 1:-1]
    if graded:
        level = density_levels(max(int(counts.max()), 1))[counts]
    else:
        level = np.where(counts > 0, np.uint8(gray_value), np.uint8(0))
    if not color:
        return flip_image(level, flip)
    hue = np.divide(hue_sum, counts, out=np.zeros_like(hue_sum), where=counts > 0)
    return flip_image((_hsv_to_rgb(hue) * level[..., None] + 0.5).astype(np.uint8), flip)


def _paste_official(
    points: Orbit, size: int, pad: int, seed: np.uint64, color: bool, gray_value: int, flip: int
) -> np.ndarray:
    """The official patch image (see ``stamp_latest``): the last point over each pixel decides it;
    patches past the far edges are cut off as PIL clips them; flipped top-bottom as ``draw_patch``
    does, then by ``flip``."""
    fits_int32 = points.kept < 1 << (31 - KEY_SHIFT)  # point numbers << KEY_SHIFT stay positive
    keys = np.zeros((size + 4, size + 4), dtype=np.int32 if fits_int32 else np.int64)
    stamp_latest(*points, size, pad, seed, keys)
    if color:
        image = np.empty((size, size, 3), dtype=np.uint8)
        paint_latest_rgb(keys, official_colours(), flip, image)
    else:
        image = np.empty((size, size), dtype=np.uint8)
        paint_latest(keys, gray_value, flip, image)
    return image


@functools.lru_cache(maxsize=1)
def official_colours(n_hues: int = 128) -> np.ndarray:
    """The official colour mode's colours, (n_hues, 3) uint8, read-only: point k takes row k % n_hues
    (``convert_color(k, 128)`` in ``ifs_function.py``).

    Hue 2 pi (k / n_hues), saturation and intensity 0.75, six sectors; each channel is truncated
    from value x 255. The channels are in the order the official function returns them (its
    comment says BGR), which is the order they land in the RGB patch. The arithmetic is the
    official expressions' (IEEE double operations only, so the same bytes on every CPU).
    """
    colours = np.empty((n_hues, 3), dtype=np.uint8)
    saturation = intensity = 0.75
    for k in range(n_hues):
        hue = 2.0 * math.pi * (float(k) / float(n_hues))
        sector = math.floor((3.0 / math.pi) * hue)
        full = int(intensity * 255.0)
        low = int(intensity * (1.0 - saturation) * 255.0)
        falling = int(intensity * (1.0 - saturation * ((3.0 / math.pi) * hue - sector)) * 255.0)
        rising = int(intensity * (1.0 - saturation * ((1.0 - (3.0 / math.pi) * hue) + sector)) * 255.0)
        colours[k] = (
            (low, rising, full), (low, full, falling), (rising, full, low),
            (full, falling, low), (full, low, rising), (falling, low, full),
        )[sector]
    colours.flags.writeable = False
    return colours


@functools.lru_cache(maxsize=1024)
def density_levels(top: int) -> np.ndarray:
    """Graded mode's grey level of every hit count c = 0..top: floor(255 ln(1 + c) / ln(1 + top)),
    exactly, as a read-only uint8 table.

    The logarithms are libm's, good to an ulp; where the quotient lies within 1e-9 of an integer k
    (c = top always, and ties of the powers), integer arithmetic decides: (1 + c)^255 >= (1 + top)^k.
    So a level never depends on how a library rounds, which NumPy's log1p does differently with
    AVX-512 (that moved the demo's data between machines).
    """
    values = np.empty(top + 1)
    log_ratios(top, values)
    levels = values.astype(np.uint8)
    for c in np.flatnonzero(np.abs(values - np.round(values)) < 1e-9).tolist():
        k = int(round(values[c]))
        levels[c] = k if (1 + c) ** 255 >= (1 + top) ** k else k - 1
    levels.flags.writeable = False
    return levels
