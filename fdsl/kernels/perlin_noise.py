"""Perlin's gradient noise in 1-D (that of the ``noise`` package) and 2-D, compiled with numba.

One implementation serves RCDB and VisualAtom (1-D noise perturbing each contour's vertices) and
the Perlin-noise baseline (2-D fractal noise: octaves, persistence, lacunarity).

1-D: the ``noise`` package's ``pnoise1`` (version 1.2.2, ``_perlin.c``), which the official RCDB,
VisualAtom and SegRCDB renderers call. Its lattice is Perlin's reference permutation
(:data:`PERLIN_PERMUTATION`, Perlin, SIGGRAPH 2002), offset by ``base``; cell i uses
i mod ``repeat`` (C's remainder), then & 255; the quintic fade 6t^5 - 15t^4 + 10t^3;
value = lerp(fade(t), g0 t, g1 (t - 1)) * 0.4; octaves sum noise(x f) with amplitude a, f and a
starting at 1 and multiplied by ``lacunarity`` and ``persistence`` per octave, repeat x f
per octave, divided by the sum of the amplitudes. Two gradient sets, by the hash's low 4 bits:

- ``official`` (the default): +1..+8, and -1 whenever bit 8 is set. This is what ``pnoise1``
  computes (a slip in its C code, where -g was meant), and so what the released datasets use.
  Measured over 1e6 uniform points of [0, 256): std 0.329, range -0.952..0.953.
- ``textbook``: +-(1..8), the gradient Perlin's code intends, on the same lattice. Std 0.512,
  range -1.600..1.501 (measured the same way): 1.56x the official noise, so contours come out
  jaggier and VisualAtom's waves drown in it.

2-D: an own fixed permutation of 0..255 (Fisher-Yates over a splitmix64 stream from a constant
seed, so the table never depends on a library version), the 8 gradients (+-1, +-1), (+-1, 0),
(0, +-1), values within [-1, 1], repeating every 256 units. Both noises are exactly zero at
lattice points (integer coordinates).

Why our own and not a package: RCDB and VisualAtom evaluate noise once per vertex per contour
(up to 200 x 200 x 2 for RCDB and 1,000 x 200 x 2 for VisualAtom per image) inside the compiled
drawing kernel. The maintained PyPI packages are either pure Python (``perlin-noise``,
``pythonperlin``, ``vnoise``: ~1 us or more per call), a C extension without a compiled entry
point that numba can call (``noise`` 1.2.2, unmaintained since 2015, no wheels for current
Pythons; the tests check our 1-D noise against it), or array-only 2-D/3-D APIs without 1-D
noise (``pyfastnoiselite``, ``opensimplex``: simplex, not Perlin). Any of them costs a Python
call per vertex, about 100x the time the speed target (100 images/s per core at 512 px) leaves;
inlined into the kernel a 1-D value costs ~5 ns.
"""
from __future__ import annotations

import numba
import numpy as np

from fdsl.errors import check

#: The 2-D noise repeats every PERIOD lattice units along each axis, as does the 1-D noise for
#: the default ``repeat`` (any multiple of 256).
PERIOD = 256
#: Scale of the 1-D noise (``pnoise1``'s 0.4).
NOISE1_SCALE = 0.4
#: The 1-D gradient sets, by name (see the module docstring); the first is the default.
NOISE1_GRADIENTS = ("official", "textbook")
_PERMUTATION_SEED = 0x5EED_F00D_CAFE_2002

#: Perlin's reference permutation of 0..255 (Perlin 2002; the ``noise`` package's PERM), twice,
#: so that index (i & 255) + base stays in the table for base in 0..256 as in the C code.
PERLIN_PERMUTATION = np.array([
    151, 160, 137, 91, 90, 15, 131, 13, 201, 95, 96, 53, 194, 233, 7, 225, 140, 36, 103, 30, 69,
    142, 8, 99, 37, 240, 21, 10, 23, 190, 6, 148, 247, 120, 234, 75, 0, 26, 197, 62, 94, 252, 219,
    203, 117, 35, 11, 32, 57, 177, 33, 88, 237, 149, 56, 87, 174, 20, 125, 136, 171, 168, 68, 175,
    74, 165, 71, 134, 139, 48, 27, 166, 77, 146, 158, 231, 83, 111, 229, 122, 60, 211, 133, 230,
    220, 105, 92, 41, 55, 46, 245, 40, 244, 102, 143, 54, 65, 25, 63, 161, 1, 216, 80, 73, 209, 76,
    132, 187, 208, 89, 18, 169, 200, 196, 135, 130, 116, 188, 159, 86, 164, 100, 109, 198, 173,
    186, 3, 64, 52, 217, 226, 250, 124, 123, 5, 202, 38, 147, 118, 126, 255, 82, 85, 212, 207,
    206, 59, 227, 47, 16, 58, 17, 182, 189, 28, 42, 223, 183, 170, 213, 119, 248, 152, 2, 44, 154,
    163, 70, 221, 153, 101, 155, 167, 43, 172, 9, 129, 22, 39, 253, 19, 98, 108, 110, 79, 113,
    224, 232, 178, 185, 112, 104, 218, 246, 97, 228, 251, 34, 242, 193, 238, 210, 144, 12, 191,
    179, 162, 241, 81, 51, 145, 235, 249, 14, 239, 107, 49, 192, 214, 31, 181, 199, 106, 157, 184,
    84, 204, 176, 115, 121, 50, 45, 127, 4, 150, 254, 138, 236, 205, 93, 222, 114, 67, 29, 24, 72,
    243, 141, 128, 195, 78, 66, 215, 61, 156, 180,
] * 2, dtype=np.int64)


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


#: The 16 gradients of each 1-D gradient set (rows in NOISE1_GRADIENTS order), indexed by
#: hash & 15 (a table: the hash is random, so a branch on it would be mispredicted half the time).
GRAD1 = np.array([
    [(h & 7) + 1.0 if h < 8 else -1.0 for h in range(16)],
    [(h & 7) + 1.0 if h < 8 else -((h & 7) + 1.0) for h in range(16)],
])


def gradients1(name: str) -> np.ndarray:
    """The 16 gradients of the 1-D gradient set ``name`` (one of NOISE1_GRADIENTS)."""
    check(name in NOISE1_GRADIENTS, f"unknown noise gradient {name!r}; valid: {', '.join(NOISE1_GRADIENTS)}")
    return GRAD1[NOISE1_GRADIENTS.index(name)]


@numba.njit(cache=True, inline="always")
def _lerp_gradients1(gradients, hash0, hash1, t):
    a = gradients[hash0 & 15] * t
    b = gradients[hash1 & 15] * (t - 1.0)
    return (a + _fade(t) * (b - a)) * NOISE1_SCALE


@numba.njit(cache=True, inline="always")
def _c_remainder(a, b):
    """a % b with C's sign (that of a), as in pnoise1's cell arithmetic."""
    r = abs(a) % abs(b)
    return -r if a < 0 else r


@numba.njit(cache=True)
def noise1(x, repeat, base, gradients):
    """One octave of pnoise1 at x; NaN where |x| >= 2^31 (C's int conversion is undefined there)."""
    if not abs(x) < 2147483648.0:
        return np.nan
    fx = np.floor(x)
    i = _c_remainder(np.int64(fx), repeat)
    j = _c_remainder(i + 1, repeat)
    hash0 = PERLIN_PERMUTATION[(i & 255) + base]
    hash1 = PERLIN_PERMUTATION[(j & 255) + base]
    return _lerp_gradients1(gradients, hash0, hash1, x - fx)


@numba.njit(cache=True)
def fractal_noise1(x, octaves, persistence, lacunarity, repeat, base, gradients):
    """pnoise1(x, octaves, persistence, lacunarity, repeat, base) of the ``noise`` package."""
    if octaves == 1:
        return noise1(x, repeat, base, gradients)
    total = 0.0
    norm = 0.0
    amplitude = 1.0
    frequency = 1.0
    for _ in range(octaves):
        total += noise1(x * frequency, np.int64(repeat * frequency), base, gradients) * amplitude
        norm += amplitude
        frequency *= lacunarity
        amplitude *= persistence
    return total / norm


@numba.njit(cache=True, inline="always")
def noise1_at_random_bits(bits, gradients):
    """noise1 (repeat 1024, base 0) at the uniform point of [0, PERIOD) that 64 random bits
    encode: the top 8 bits pick the lattice cell, the low 53 the fraction (what RCDB needs,
    without a float floor)."""
    cell = np.int64(bits >> np.uint64(56))
    t = (bits & np.uint64(0x1FFFFFFFFFFFFF)) * (1.0 / 9007199254740992.0)
    return _lerp_gradients1(gradients, PERLIN_PERMUTATION[cell], PERLIN_PERMUTATION[cell + 1], t)


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
def fbm2_grid(out, frequency, octaves, persistence, lacunarity, offset_x, offset_y):
    """Fill ``out`` (H, W) with fBm noise; ``frequency`` lattice cells span the width.

    Pixel centres sample the noise, so no pixel lands on the lattice for every octave at once.
    Fractal (fBm) noise: sum_o p^o noise2(l^o (x, y)) / sum_o p^o for persistence p and
    lacunarity l, computed octave by octave so that the column terms (cell, fraction,
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
def _noise1_array(xs, out, octaves, persistence, lacunarity, repeat, base, gradients):
    for k in range(xs.shape[0]):
        out[k] = fractal_noise1(xs[k], octaves, persistence, lacunarity, repeat, base, gradients)


@numba.njit(cache=True)
def _noise2_array(xs, ys, out):
    for k in range(xs.shape[0]):
        out[k] = noise2(xs[k], ys[k])


# --- NumPy wrappers -----------------------------------------------------------------------------
def perlin1(
    x,
    *,
    octaves: int = 1,
    persistence: float = 0.5,
    lacunarity: float = 2.0,
    repeat: int = 1024,
    base: int = 0,
    gradient: str = "official",
) -> np.ndarray:
    """1-D Perlin noise of an array (any shape) of coordinates: ``noise.pnoise1`` with the same
    keywords and defaults (in float64, where the C code rounds to float32), and a gradient set."""
    gradients = gradients1(gradient)
    check(1 <= octaves <= 32, f"octaves = {octaves!r}; allowed: 1..32")
    check(lacunarity >= 1.0, f"lacunarity = {lacunarity!r}; allowed: >= 1 (pnoise1 divides by repeat x lacunarity^octave)")
    check(1 <= repeat < 2**31, f"repeat = {repeat!r}; allowed: 1..2^31 - 1")
    check(0 <= base <= 256, f"base = {base!r}; allowed: 0..256 (pnoise1 reads past its table beyond)")
    xs = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty(xs.size)
    _noise1_array(xs.ravel(), out, int(octaves), float(persistence), float(lacunarity), int(repeat), int(base),
                  gradients)
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
