"""The 3-D chaos game of the 3-D fractal families (MV-FractalDB, ExFractalDB, 3D-OFDB) and the
official normalisation of its cloud.

Source: Yamada et al., MV-FractalDB (IROS 2021) / PC-FractalDB (CVPR 2022), official code
ryosuke-yamada/3dfractaldb: maps w_i(v) = A_i v + t_i with A = [[a, b, c], [d, e, f], [g, h, i]],
t = (j, k, l), picked with probability p_i; the orbit starts at the origin, the start point not
recorded; one joint min-max of all coordinates to [-1, 1], then the centroid subtracted.
"""
from __future__ import annotations

import numba
import numpy as np

from fdsl.kernels.chaos2d import ESCAPE_BOUND
from fdsl.kernels.splitmix import next_unit

#: Parameters a..l of one map (the columns before p in the official CSV).
N_PARAMS = 12


@numba.njit(cache=True)
def maps_and_cdf(params, multipliers):
    """The variation's maps (a..l times ``multipliers``; p kept) and the cumulative selection
    probabilities, non-finite or negative p counting as 0 and all-zero p as uniform."""
    n_maps = params.shape[0]
    maps = np.empty((n_maps, N_PARAMS))
    cdf = np.empty(n_maps)
    total = 0.0
    for i in range(n_maps):
        for j in range(N_PARAMS):
            maps[i, j] = params[i, j] * multipliers[j]
        p = abs(params[i, N_PARAMS])
        cdf[i] = p if p < np.inf else 0.0  # False for NaN too
        total += cdf[i]
    running = 0.0
    for i in range(n_maps):
        running += cdf[i] / total if 0.0 < total < np.inf else 1.0 / n_maps
        cdf[i] = running
    return maps, cdf


@numba.njit(cache=True)
def chaos_game(params, multipliers, n_points, seed, out, stats):
    """Fill out[:, :kept] with the orbit from the origin (start point not recorded) of the maps
    ``params[:, :12] * multipliers`` picked with probabilities ``params[:, 12]``; returns kept.

    ``stats`` receives what the normalisation needs, gathered on the way (off the orbit's
    dependency chain, so nearly free): min and max over all coordinates, sum of x, y, z.
    Escaped or non-finite points are dropped and the orbit restarts at the origin, so any system
    (non-contractive, singular) ends after ``n_points`` steps with bounded values.
    """
    maps, cumulative = maps_and_cdf(params, multipliers)
    n_maps = maps.shape[0]
    state = seed
    x = 0.0
    y = 0.0
    z = 0.0
    low = np.inf
    high = -np.inf
    sum_x = 0.0
    sum_y = 0.0
    sum_z = 0.0
    kept = 0
    for _ in range(n_points):
        state, u = next_unit(state)
        i = 0
        for j in range(n_maps - 1):  # branch-free pick, as in chaos2d
            i += u >= cumulative[j]
        m = maps[i]
        # grouped so that the chain from (x, y, z) to the next point is one product and two sums
        nx = (m[0] * x + m[9]) + (m[1] * y + m[2] * z)
        ny = (m[3] * x + m[10]) + (m[4] * y + m[5] * z)
        nz = (m[6] * x + m[11]) + (m[7] * y + m[8] * z)
        if abs(nx) < ESCAPE_BOUND and abs(ny) < ESCAPE_BOUND and abs(nz) < ESCAPE_BOUND:  # False for NaN
            x = nx
            y = ny
            z = nz
            out[0, kept] = x
            out[1, kept] = y
            out[2, kept] = z
            kept += 1
            low = min(low, x, y, z)
            high = max(high, x, y, z)
            sum_x += x
            sum_y += y
            sum_z += z
        else:
            x = 0.0
            y = 0.0
            z = 0.0
    stats[0] = low
    stats[1] = high
    stats[2] = sum_x
    stats[3] = sum_y
    stats[4] = sum_z
    return kept


@numba.njit(cache=True)
def normalise(points, kept, stats):
    """In place: one joint min-max of all coordinates to [-1, 1], then subtract the centroid
    (``stats`` from ``chaos_game``). A cloud of one repeated point becomes the origin."""
    low = stats[0]
    high = stats[1]
    scale = 2.0 / (high - low) if high > low else 0.0
    if not scale < np.inf:  # a subnormal width: treat the cloud as one point
        scale = 0.0
    for axis in range(3):
        # the centroid of the normalised cloud, from the raw sum (normalisation is affine)
        mean = (stats[2 + axis] / kept - low) * scale - 1.0 if kept > 0 else 0.0
        shift = -1.0 - mean
        row = points[axis]
        for k in range(kept):
            row[k] = (row[k] - low) * scale + shift


@numba.njit(cache=True)
def axis_variances(points, kept, out):
    """out[axis] = the population variance of points[axis, :kept], two passes in index order: one
    fixed sequence of IEEE operations, so the search's Var > threshold test gives the same answer
    on every CPU (a library's reduction may change its order with the vector width or version)."""
    for axis in range(3):
        row = points[axis]
        total = 0.0
        for k in range(kept):
            total += row[k]
        mean = total / kept if kept > 0 else 0.0
        squares = 0.0
        for k in range(kept):
            squares += (row[k] - mean) * (row[k] - mean)
        out[axis] = squares / kept if kept > 0 else 0.0
