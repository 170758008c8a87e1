"""The 2-D chaos game of the IFS families (FractalDB, OFDB): the orbit of an iterated function
system, drawn from a splitmix64 stream.

Source: Kataoka et al., "Pre-training without Natural Images", ACCV 2020 / IJCV 2022: the orbit
starts at (0, 0) and keeps its start point; map i is picked with probability p_i.
"""
from __future__ import annotations

import numba
import numpy as np

from fdsl.kernels.splitmix import UNIT, next_u64

#: Points whose coordinates leave this bound (or become non-finite) are dropped and the
#: orbit restarts at the origin: divergent systems then draw something bounded, never overflow.
ESCAPE_BOUND = 1e12

#: The map pick looks up the top PICK_BITS bits of each draw in a table (see ``pick_table``).
PICK_BITS = 10


@numba.njit(cache=True)
def pick_table(cumulative, n_maps):
    """For each of the 2**PICK_BITS buckets of draws sharing their top bits, the map that every
    draw in the bucket picks, or -1 where a cumulative boundary splits the bucket.

    The pick i(u) = #{j < N - 1 : u >= cumulative[j]} never decreases with u, so it is constant
    over a bucket exactly when its lowest and highest u agree: the table gives the same map as the
    full comparison for every draw, and the comparison only runs in the few split buckets.
    """
    width = 1 << (53 - PICK_BITS)  # u = (bits >> 11) / 2**53, so a bucket holds `width` values of u
    table = np.empty(1 << PICK_BITS, dtype=np.int32)
    for b in range(table.size):
        low = (b * width) * UNIT
        high = ((b + 1) * width - 1) * UNIT
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
    table = pick_table(cumulative, n_maps)
    state = seed
    x = 0.0
    y = 0.0
    xs[0] = 0.0
    ys[0] = 0.0
    xmin = xmax = ymin = ymax = 0.0
    kept = 1
    for _ in range(1, n_points):
        state, bits = next_u64(state)
        i = table[bits >> np.uint64(64 - PICK_BITS)]
        if i < 0:  # a split bucket: the full pick (branch-free, as such draws are unpredictable)
            u = (bits >> np.uint64(11)) * UNIT
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
def log_ratios(top, out):
    """out[c] = 255 log1p(c) / log1p(top) for c = 0..top, with libm's scalar log1p (graded shading;
    the caller settles the values next to an integer exactly)."""
    scale = 255.0 / np.log1p(np.float64(top))
    for c in range(top + 1):
        out[c] = np.log1p(np.float64(c)) * scale
