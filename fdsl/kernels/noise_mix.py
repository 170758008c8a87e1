"""The arithmetic of PC-FractalDB's FractalNoiseMix (Yamada et al., CVPR 2022; official
ryosuke-yamada/3dfractaldb, ``pcfractaldb/code/fractal_noise_mix.py``): each part of an object,
the orbit of one 3-D IFS, is min-max scaled jointly over x, y, z to [-1, 1] and shifted by its
coordinate sums divided by the point budget (the official ``centoroid``); the merged object is
shifted once more by its own sums over the budget.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def scale_part(raw, kept, stats, budget, out):
    """out[:kept] (rows of x, y, z) = raw[:, :kept] min-max scaled jointly to [-1, 1], then shifted
    by its sums / ``budget``. ``stats`` are :func:`fdsl.kernels.chaos3d.chaos_game`'s (min, max over
    all coordinates, sums of x, y, z). A part of one repeated point lands on -1 before the shift."""
    low = stats[0]
    high = stats[1]
    scale = 2.0 / (high - low) if high > low else 0.0
    if not scale < np.inf:  # a subnormal width: treat the part as one point
        scale = 0.0
    for axis in range(3):
        scaled_sum = (stats[2 + axis] - kept * low) * scale - kept  # sum of (v - low) * scale - 1
        shift = -1.0 - scaled_sum / budget
        for k in range(kept):
            out[k, axis] = (raw[axis, k] - low) * scale + shift


@numba.njit(cache=True)
def merge_parts(main, mix, budget, out):
    """out (float32, rows of main then mix) = the concatenation shifted by its sums / ``budget``."""
    n_main = main.shape[0]
    for axis in range(3):
        total = 0.0
        for k in range(n_main):
            total += main[k, axis]
        for k in range(mix.shape[0]):
            total += mix[k, axis]
        shift = total / budget
        for k in range(n_main):
            out[k, axis] = main[k, axis] - shift
        for k in range(mix.shape[0]):
            out[n_main + k, axis] = mix[k, axis] - shift
