"""Video Perlin Noise clips rendered the obvious way: one Python fBm call per voxel, each octave one
call of Perlin's improved noise written as his 2002 reference ``ImprovedNoise`` writes it (nested
lerps, the branching ``grad``), then fdsl's fixed grey mapping (``floor(v x gain + 128)``, clipped). No official VPN code exists
(Kataoka et al., WACV 2022); this follows fdsl's definition in fdsl/formulas/vpn.py: pixel and frame
centres sample the noise, ``frequency_x`` / ``frequency_y`` lattice cells span the frame and
``frequency_t`` the clip, a random offset in the 256-unit period per instance and axis.
"""
from __future__ import annotations

import math

import numpy as np

from fdsl.formulas.vpn import grey_gain
from fdsl.kernels.perlin_noise import PERIOD, PERLIN_PERMUTATION

FAMILY = "vpn"
_P = PERLIN_PERMUTATION.tolist()


def fade(t: float) -> float:
    return t * t * t * (t * (t * 6 - 15) + 10)


def lerp(t: float, a: float, b: float) -> float:
    return a + t * (b - a)


def grad(hash_value: int, x: float, y: float, z: float) -> float:
    h = hash_value & 15
    u = x if h < 8 else y
    v = y if h < 4 else (x if h in (12, 14) else z)
    return (u if h & 1 == 0 else -u) + (v if h & 2 == 0 else -v)


def noise(x: float, y: float, z: float) -> float:
    fx, fy, fz = math.floor(x), math.floor(y), math.floor(z)
    X, Y, Z = fx & (PERIOD - 1), fy & (PERIOD - 1), fz & (PERIOD - 1)  # noqa: N806 (Perlin's names)
    x, y, z = x - fx, y - fy, z - fz
    u, v, w = fade(x), fade(y), fade(z)
    a = _P[X] + Y
    aa, ab = _P[a] + Z, _P[a + 1] + Z
    b = _P[X + 1] + Y
    ba, bb = _P[b] + Z, _P[b + 1] + Z
    return lerp(w, lerp(v, lerp(u, grad(_P[aa], x, y, z), grad(_P[ba], x - 1, y, z)),
                        lerp(u, grad(_P[ab], x, y - 1, z), grad(_P[bb], x - 1, y - 1, z))),
                lerp(v, lerp(u, grad(_P[aa + 1], x, y, z - 1), grad(_P[ba + 1], x - 1, y, z - 1)),
                        lerp(u, grad(_P[ab + 1], x, y - 1, z - 1), grad(_P[bb + 1], x - 1, y - 1, z - 1))))


def fbm(x: float, y: float, t: float, octaves: int, persistence: float, lacunarity: float) -> float:
    total, norm, amplitude, scale = 0.0, 0.0, 1.0, 1.0
    for _ in range(octaves):
        total += amplitude * noise(x * scale, y * scale, t * scale)
        norm += amplitude
        amplitude *= persistence
        scale *= lacunarity
    return total / norm


def render(formula, params: dict, instance: int, rng: np.random.Generator) -> np.ndarray:
    c = formula.config
    ox, oy, ot = rng.uniform(0.0, PERIOD, size=3).tolist()
    step_x, step_y = params["frequency_x"] / c.size, params["frequency_y"] / c.size
    step_t = params["frequency_t"] / c.frames
    values = [[[fbm(ox + (col + 0.5) * step_x, oy + (row + 0.5) * step_y, ot + (k + 0.5) * step_t,
                    c.octaves, c.persistence, c.lacunarity)
                for col in range(c.size)] for row in range(c.size)] for k in range(c.frames)]
    gain = grey_gain(c.octaves, c.persistence)
    return np.array([[[min(max(math.floor(v * gain + 128.0), 0), 255) for v in row] for row in frame]
                     for frame in values], dtype=np.uint8)
