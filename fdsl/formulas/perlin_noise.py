"""Perlin's "improved" gradient noise (Perlin, SIGGRAPH 2002) in 1-D and 2-D, compiled with numba.

One implementation serves RCDB and VisualAtom (1-D noise perturbing each contour's vertices) and
the Perlin-noise baseline (2-D fractal noise: octaves, persistence, lacunarity).

- Lattice: a fixed permutation of 0..255 (Fisher-Yates over a splitmix64 stream from a constant
  seed, so the table never depends on a library version); the noise repeats every 256 units.
- Interpolation: the quintic fade 6t^5 - 15t^4 + 10t^3, so the noise is C2-smooth.
- 1-D gradients g = +-(1..8) chosen by the hash, value = lerp(fade(t), g0 t, g1 (t - 1)) * 0.4.
  The 0.4 scale is that of the ``noise`` package's ``pnoise1`` that the official RCDB and
  VisualAtom renderers call, so contour displacements keep the official magnitude (|value| <= 1.6).
  ``pnoise1`` has a slip (a negative gradient becomes -1 instead of -g); we use the intended +-g.
- 2-D gradients: the 8 directions (+-1, +-1), (+-1, 0), (0, +-1); values within [-1, 1].
- Both are exactly zero at lattice points (integer coordinates).

Why our own and not a package: RCDB and VisualAtom evaluate noise once per vertex per contour
(up to 200 x 200 x 2 for RCDB and 1,000 x 200 x 2 for VisualAtom per image) inside the compiled
drawing kernel. The maintained PyPI packages are either pure Python (``perlin-noise``,
``pythonperlin``, ``vnoise``: ~1 us or more per call), a C extension without a compiled entry
point that numba can call (``noise`` 1.2.2, unmaintained since 2015, no wheels for current
Pythons), or array-only 2-D/3-D APIs without 1-D noise (``pyfastnoiselite``, ``opensimplex``:
simplex, not Perlin). Any of them costs a Python call per vertex, about 100x the time the speed
target (100 images/s per core at 512 px) leaves; inlined into the kernel a 1-D value costs ~5 ns.
"""
from __future__ import annotations

import numba
import numpy as np

#: The noise repeats every PERIOD lattice units along each axis.
PERIOD = 256
#: Scale of the 1-D noise (that of the ``noise`` package's pnoise1, used by the official code).
NOISE1_SCALE = 0.4
_PERMUTATION_SEED = 0x5EED_F00D_CAFE_2002


def _permutation_table(seed: int) -> np.ndarray:
    """0..255 shuffled by Fisher-Yates over splitmix64, then repeated twice (for hash chaining)."""
    mask = (1 << 64) - 1
    state = seed & mask
    table = list(range(PERIOD))
    for i in range(PERIOD - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        j = z % (i + 1)
        table[i], table[j] = table[j], table[i]
    return np.array(table + table, dtype=np.int64)


PERM = _permutation_table(_PERMUTATION_SEED)


# --- kernels ------------------------------------------------------------------------------------
@numba.njit(cache=True, inline="always")
def _fade(t):
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


#: The 16 gradients of the 1-D noise, +-(1..8), indexed by hash & 15 (a table: the hash is
#: random, so a branch on its sign bit would be mispredicted half the time).
GRAD1 = np.array([(h & 7) + 1.0 if h < 8 else -((h & 7) + 1.0) for h in range(16)])


@numba.njit(cache=True, inline="always")
def _grad1(h, t):
    return GRAD1[h & 15] * t


@numba.njit(cache=True, inline="always")
def _noise1_cell(i, t):
    """Noise in lattice cell i (0..PERIOD-1) at fraction t in [0, 1)."""
    a = _grad1(PERM[i], t)
    b = _grad1(PERM[i + 1], t - 1.0)
    return (a + _fade(t) * (b - a)) * NOISE1_SCALE


@numba.njit(cache=True)
def noise1(x):
    """1-D Perlin noise at x: smooth, zero at integers, |value| <= 1.6."""
    fx = np.floor(x)
    return _noise1_cell(int(fx) & (PERIOD - 1), x - fx)


@numba.njit(cache=True, inline="always")
def noise1_at_random_bits(bits):
    """noise1 at the uniform point of [0, PERIOD) that 64 random bits encode: the top 8 bits
    pick the lattice cell, the low 53 the fraction (what RCDB needs, without a float floor)."""
    cell = np.int64(bits >> np.uint64(56))
    t = (bits & np.uint64(0x1FFFFFFFFFFFFF)) * (1.0 / 9007199254740992.0)
    return _noise1_cell(cell, t)


#: The 8 gradients of the 2-D noise, indexed by hash & 7 (tables, not branches: the hash is
#: random, so branches on it would be mispredicted half the time).
GRAD2_X = np.array([-1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 0.0, 0.0])
GRAD2_Y = np.array([-1.0, -1.0, 1.0, 1.0, 0.0, 0.0, -1.0, 1.0])


@numba.njit(cache=True, inline="always")
def _grad2(h, x, y):
    return GRAD2_X[h & 7] * x + GRAD2_Y[h & 7] * y


@numba.njit(cache=True)
def noise2(x, y):
    """2-D Perlin noise at (x, y): smooth, zero at integer points, values within [-1, 1]."""
    fx = np.floor(x)
    fy = np.floor(y)
    i = int(fx) & (PERIOD - 1)
    j = int(fy) & (PERIOD - 1)
    tx = x - fx
    ty = y - fy
    a = PERM[i] + j
    b = PERM[i + 1] + j
    n00 = _grad2(PERM[a], tx, ty)
    n10 = _grad2(PERM[b], tx - 1.0, ty)
    n01 = _grad2(PERM[a + 1], tx, ty - 1.0)
    n11 = _grad2(PERM[b + 1], tx - 1.0, ty - 1.0)
    u = _fade(tx)
    v = _fade(ty)
    bottom = n00 + u * (n10 - n00)
    top = n01 + u * (n11 - n01)
    return bottom + v * (top - bottom)


@numba.njit(cache=True)
def fbm2(x, y, octaves, persistence, lacunarity):
    """Fractal (fBm) 2-D noise: sum_o persistence^o noise2(lacunarity^o (x, y)) / sum_o persistence^o."""
    total = 0.0
    norm = 0.0
    amplitude = 1.0
    frequency = 1.0
    for _ in range(octaves):
        total += amplitude * noise2(x * frequency, y * frequency)
        norm += amplitude
        amplitude *= persistence
        frequency *= lacunarity
    return total / norm if norm > 0.0 else 0.0


@numba.njit(cache=True)
def fbm2_grid(out, frequency, octaves, persistence, lacunarity, offset_x, offset_y):
    """Fill ``out`` (H, W) with fBm noise; ``frequency`` lattice cells span the width.

    Pixel centres sample the noise, so no pixel lands on the lattice for every octave at once.
    The values are fbm2's, computed octave by octave so that the column terms (cell, fraction,
    fade) are computed once per column instead of once per pixel.
    """
    height, width = out.shape
    step = frequency / width
    cells = np.empty(width, dtype=np.int64)
    fractions = np.empty(width)
    fades = np.empty(width)
    out[:, :] = 0.0
    norm = 0.0
    amplitude = 1.0
    scale = 1.0
    for _ in range(octaves):
        for c in range(width):
            x = (offset_x + (c + 0.5) * step) * scale
            fx = np.floor(x)
            cells[c] = int(fx) & (PERIOD - 1)
            fractions[c] = x - fx
            fades[c] = _fade(x - fx)
        for r in range(height):
            y = (offset_y + (r + 0.5) * step) * scale
            fy = np.floor(y)
            j = int(fy) & (PERIOD - 1)
            ty = y - fy
            v = _fade(ty)
            for c in range(width):
                i = cells[c]
                tx = fractions[c]
                a = PERM[i] + j
                b = PERM[i + 1] + j
                n00 = _grad2(PERM[a], tx, ty)
                n10 = _grad2(PERM[b], tx - 1.0, ty)
                n01 = _grad2(PERM[a + 1], tx, ty - 1.0)
                n11 = _grad2(PERM[b + 1], tx - 1.0, ty - 1.0)
                u = fades[c]
                bottom = n00 + u * (n10 - n00)
                top = n01 + u * (n11 - n01)
                out[r, c] += amplitude * (bottom + v * (top - bottom))
        norm += amplitude
        amplitude *= persistence
        scale *= lacunarity
    if norm > 0.0:
        out /= norm


@numba.njit(cache=True)
def _noise1_array(xs, out):
    for k in range(xs.shape[0]):
        out[k] = noise1(xs[k])


@numba.njit(cache=True)
def _noise2_array(xs, ys, out):
    for k in range(xs.shape[0]):
        out[k] = noise2(xs[k], ys[k])


# --- NumPy wrappers -----------------------------------------------------------------------------
def perlin1(x) -> np.ndarray:
    """1-D Perlin noise of an array (any shape) of coordinates."""
    xs = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty(xs.size)
    _noise1_array(xs.ravel(), out)
    return out.reshape(xs.shape)


def perlin2(x, y) -> np.ndarray:
    """2-D Perlin noise of two broadcastable arrays of coordinates."""
    xs, ys = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    out = np.empty(xs.size)
    _noise2_array(np.ascontiguousarray(xs).ravel(), np.ascontiguousarray(ys).ravel(), out)
    return out.reshape(xs.shape)


def fractal_noise(
    height: int,
    width: int,
    *,
    frequency: float,
    octaves: int,
    persistence: float,
    lacunarity: float = 2.0,
    offset: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """(height, width) float64 fBm noise in [-1, 1] with ``frequency`` lattice cells across the width."""
    out = np.empty((height, width))
    fbm2_grid(out, float(frequency), int(octaves), float(persistence), float(lacunarity),
              float(offset[0]), float(offset[1]))
    return out
