"""Perlin-noise textures rendered the obvious way: one Python fBm call per pixel, each octave one
Python call of 2-D improved Perlin noise (the lattice of fdsl.kernels.perlin_noise), then the
min-max stretch to 0..255. No official code exists (FractalDB IJCV baseline); this follows
fdsl's definition in fdsl/formulas/perlin.py: pixel centres sample the noise, ``frequency``
lattice cells span the width, a random offset in the 256-unit period per instance.
"""
from __future__ import annotations

import math

import numpy as np

from fdsl.kernels.perlin_noise import PERIOD, PERM

FAMILY = "perlin"
_PERM = PERM.tolist()


def fade(t: float) -> float:
    return t * t * t * (t * (t * 6 - 15) + 10)


def gradient2(hash_value: int, x: float, y: float) -> float:
    h = hash_value & 7
    if h < 4:
        return (x if h & 1 else -x) + (y if h & 2 else -y)
    if h < 6:
        return x if h & 1 else -x
    return y if h & 1 else -y


def pnoise2(x: float, y: float) -> float:
    fx, fy = math.floor(x), math.floor(y)
    i, j = fx & (PERIOD - 1), fy & (PERIOD - 1)
    tx, ty = x - fx, y - fy
    a, b = _PERM[i] + j, _PERM[i + 1] + j
    n00 = gradient2(_PERM[a], tx, ty)
    n10 = gradient2(_PERM[b], tx - 1, ty)
    n01 = gradient2(_PERM[a + 1], tx, ty - 1)
    n11 = gradient2(_PERM[b + 1], tx - 1, ty - 1)
    u, v = fade(tx), fade(ty)
    low = n00 + u * (n10 - n00)
    high = n01 + u * (n11 - n01)
    return low + v * (high - low)


def fbm(x: float, y: float, octaves: int, persistence: float, lacunarity: float) -> float:
    total, norm, amplitude, frequency = 0.0, 0.0, 1.0, 1.0
    for _ in range(octaves):
        total += amplitude * pnoise2(x * frequency, y * frequency)
        norm += amplitude
        amplitude *= persistence
        frequency *= lacunarity
    return total / norm


def render(formula, params: dict, instance: int, rng: np.random.Generator) -> np.ndarray:
    size = formula.config.size
    ox, oy = rng.uniform(0.0, PERIOD, size=2).tolist()
    step = params["frequency"] / size
    values = [[fbm(ox + (c + 0.5) * step, oy + (r + 0.5) * step, params["octaves"], params["persistence"],
                   params["lacunarity"]) for c in range(size)] for r in range(size)]
    low = min(min(row) for row in values)
    high = max(max(row) for row in values)
    scale = 255.0 / (high - low) if high > low else 0.0
    return np.array([[int((v - low) * scale + 0.5) for v in row] for row in values], dtype=np.uint8)
