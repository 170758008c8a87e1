"""3-D iterated function systems: sampling, the chaos game, normalisation, and a software
perspective rasteriser; plus the base shared by the 3-D fractal families.

Source: Yamada et al., "MV-FractalDB" (IROS 2021) and "Point Cloud Pre-training with Natural 3D
Structures" (PC-FractalDB, CVPR 2022), official code ryosuke-yamada/3dfractaldb
(3dfractal_render/category_search.py, instance.py, image_render/render.py); reused by
Kataoka et al., CVPR 2022 (ExFractalDB) and Nakamura et al., ICCV 2023 (3D-OFDB).

- A category is N ~ U{2..7} maps w_i(v) = A_i v + t_i with 12 parameters U(-1, 1), laid out as
  the official CSV columns a..l: A = [[a, b, c], [d, e, f], [g, h, i]], t = (j, k, l); column 13 is
  p_i = |det A_i| / sum_j |det A_j|, kept unchanged for every parameter variation.
- Chaos game from (0, 0, 0), the start point not recorded (the official code keeps
  ``point_num - 1`` = 9,999 points; we keep ``points``). Normalisation: one joint min-max over
  all coordinates to [-1, 1], then the centroid is subtracted.
- Acceptance: Var(x), Var(y), Var(z) of the normalised cloud each > 0.05 (the value of the
  released scripts; 0.15 is an unused argparse default). The official search rejects clouds with
  NaNs (divergent systems); we reject any system whose orbit escapes (see ``ESCAPE_BOUND``).
- 145 parameter variations: row 0 is the identity; row 1 + 12 p + k scales parameter p (a..l)
  of every map by ``VARIATION_FACTORS[k]`` = 0.4, 0.5, ..., 0.9, 1.1, ..., 1.6.
- Rendering (official: OpenGL through EGL): 1-px white points on black, 224 px, perspective
  camera with a 45 degree vertical field of view at distance 4 looking at the origin, up = +y.
  Here a numba rasteriser does the same projection in software (no OpenGL/EGL needed). Our
  images have +y at the top; the official PNGs are stored bottom row first (``glReadPixels``
  order), i.e. upside down relative to ours.

Camera convention: azimuth ``az`` and elevation ``el`` (degrees) put the camera at
``distance * (cos el sin az, sin el, cos el cos az)``; az = el = 0 looks down -z with +x to the
right of the image. A view of a cloud's variation uses an orbit whose seed is a hash of
(parameters, variation), so every view of a variation shows the same 3-D model.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
from pathlib import Path

import numba
import numpy as np

from fdsl.errors import FdslError, check
from fdsl.formulas.base import Formula, FormulaConfig, check_range
from fdsl.formulas.ifs2d import ESCAPE_BOUND, _next_unit

N_PARAMS = 12
N_COLUMNS = N_PARAMS + 1
VARIATION_FACTORS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6)
N_VARIATIONS = 1 + N_PARAMS * len(VARIATION_FACTORS)  # 145
#: Depth range kept by the camera (the MV-FractalDB renderer's zNear, zFar).
NEAR, FAR = 0.1, 100.0


# --- sampling -----------------------------------------------------------------------------------
def determinant_probabilities(params: np.ndarray) -> np.ndarray:
    """p_i = |det A_i| / sum_j |det A_j| (uniform when every map is singular)."""
    dets = np.abs(np.linalg.det(params[:, :9].reshape(-1, 3, 3)))
    total = dets.sum()
    if not np.isfinite(total) or total <= 0.0:
        return np.full(len(params), 1.0 / len(params))
    return dets / total


def sample_system(rng: np.random.Generator, min_maps: int, max_maps: int) -> np.ndarray:
    """An (N, 13) system: a..l ~ U(-1, 1) per map, N ~ U{min_maps..max_maps}, then p."""
    n_maps = int(rng.integers(min_maps, max_maps + 1))
    params = rng.uniform(-1.0, 1.0, size=(n_maps, N_PARAMS))
    return np.column_stack([params, determinant_probabilities(params)])


def variation_multipliers() -> np.ndarray:
    """The 145 variations as multipliers of a..l, shape (145, 12); row 0 is the identity."""
    rows = np.ones((N_VARIATIONS, N_PARAMS))
    for parameter in range(N_PARAMS):
        for k, factor in enumerate(VARIATION_FACTORS):
            rows[1 + parameter * len(VARIATION_FACTORS) + k, parameter] = factor
    return rows


MULTIPLIERS = variation_multipliers()


# --- kernels ------------------------------------------------------------------------------------
@numba.njit(cache=True)
def _maps_and_cdf(params, multipliers):
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
    maps, cumulative = _maps_and_cdf(params, multipliers)
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
        state, u = _next_unit(state)
        i = 0
        for j in range(n_maps - 1):  # branch-free pick, as in ifs2d
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
def rasterise(points, kept, camera, focal, point_size, image):
    """Draw each point as a ``point_size`` square of 255 where the perspective camera sees it.

    ``camera`` rows: position, right, up, forward; ``focal`` = 1 / tan(fov / 2). Points outside
    the (NEAR, FAR) depth range or the image are skipped: nothing is written out of bounds.
    Two passes (project every point, then paint): the first has no stores to the image, which
    makes it about a third faster.
    """
    size = image.shape[0]
    half = 0.5 * size
    bound = float(size)
    px, py, pz = camera[0, 0], camera[0, 1], camera[0, 2]
    rx, ry, rz = camera[1, 0], camera[1, 1], camera[1, 2]
    ux, uy, uz = camera[2, 0], camera[2, 1], camera[2, 2]
    fx, fy, fz = camera[3, 0], camera[3, 1], camera[3, 2]
    xs, ys, zs = points[0], points[1], points[2]
    pixels = np.empty(kept, dtype=np.int64)  # row * size + column, or -1 when not visible
    for k in range(kept):
        vx = xs[k] - px
        vy = ys[k] - py
        vz = zs[k] - pz
        depth = vx * fx + vy * fy + vz * fz
        s = focal * half / depth
        sx = half + (vx * rx + vy * ry + vz * rz) * s  # image x grows to the right
        sy = half - (vx * ux + vy * uy + vz * uz) * s  # image rows grow downwards, +y is up
        visible = (NEAR < depth) & (depth < FAR) & (0.0 <= sx) & (sx < bound) & (0.0 <= sy) & (sy < bound)
        pixels[k] = np.int64(sy) * size + np.int64(sx) if visible else -1
    if point_size == 1:
        flat = image.reshape(size * size)  # a view: ``image`` is C-contiguous
        for k in range(kept):
            if pixels[k] >= 0:
                flat[pixels[k]] = 255
        return
    lo = (point_size - 1) // 2
    for k in range(kept):
        if pixels[k] < 0:
            continue
        r0, c0 = divmod(pixels[k], size)
        for r in range(max(r0 - lo, 0), min(r0 - lo + point_size, size)):
            for c in range(max(c0 - lo, 0), min(c0 - lo + point_size, size)):
                image[r, c] = 255


# --- Python wrappers ----------------------------------------------------------------------------
def orbit_seed(params: np.ndarray, variation: int) -> np.uint64:
    """The orbit seed of (category, variation): a hash of the parameters, so that every view,
    process and machine sees the same 3-D model, also for categories read from CSV files."""
    digest = hashlib.blake2b(params.tobytes() + int(variation).to_bytes(4, "little"), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little") | 1)


_cache = threading.local()


def point_cloud(params: np.ndarray, variation: int, n_points: int) -> tuple[np.ndarray, int]:
    """The normalised, centred cloud (3, n_points) of a variation and how many points are valid.

    The last cloud is kept per thread: consecutive views of one variation (MV-FractalDB's order)
    reuse it. Callers must not modify the returned array.
    """
    params = np.ascontiguousarray(params, dtype=np.float64)
    check(
        params.ndim == 2 and params.shape[1] == N_COLUMNS and len(params) >= 1,
        f"3-D IFS parameters of shape {params.shape}; allowed: (N, {N_COLUMNS}) with N >= 1",
    )
    check(0 <= variation < N_VARIATIONS, f"variation = {variation}; allowed: 0..{N_VARIATIONS - 1}")
    key = (params.tobytes(), variation, n_points)
    cached = getattr(_cache, "cloud", None)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    points, stats = np.empty((3, n_points)), np.empty(5)
    kept = chaos_game(params, MULTIPLIERS[variation], n_points, orbit_seed(params, variation), points, stats)
    normalise(points, kept, stats)
    _cache.cloud = (key, points, kept)
    return points, kept


def axis_variances(points: np.ndarray, kept: int) -> np.ndarray:
    return points[:, :kept].var(axis=1) if kept > 0 else np.zeros(3)


def accepts(points: np.ndarray, kept: int, n_points: int, variance: float) -> bool:
    """The search's test: no point escaped, and Var(x), Var(y), Var(z) each > ``variance``."""
    return kept == n_points and bool((axis_variances(points, kept) > variance).all())


def camera_matrix(azimuth: float, elevation: float, distance: float) -> np.ndarray:
    """Rows: camera position, right, up, forward (unit vectors), for the convention above."""
    az, el = math.radians(azimuth), math.radians(elevation)
    ca, sa, ce, se = math.cos(az), math.sin(az), math.cos(el), math.sin(el)
    forward = (-ce * sa, -se, -ce * ca)
    right = (ca, 0.0, -sa)
    up = (-se * sa, ce, -se * ca)  # right x forward
    position = tuple(-distance * f for f in forward)
    return np.array([position, right, up, forward])


def render_view(
    points: np.ndarray,
    kept: int,
    *,
    azimuth: float,
    elevation: float,
    size: int,
    distance: float,
    fov: float,
    point_size: int,
) -> np.ndarray:
    """uint8 (size, size) image of the cloud seen from (azimuth, elevation) in degrees."""
    image = np.zeros((size, size), dtype=np.uint8)
    focal = 1.0 / math.tan(math.radians(fov) / 2.0)
    rasterise(points, kept, camera_matrix(azimuth, elevation, distance), focal, point_size, image)
    return image


# --- parameter files ----------------------------------------------------------------------------
def write_category_csvs(categories: list[np.ndarray], directory: Path) -> None:
    """The official layout: ``000000.csv``, ... one row per map, 13 columns a..l, p, no header."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for index, params in enumerate(categories):
        path = directory / f"{index:06d}.csv"
        tmp = path.with_name(f".{path.name}.tmp")
        # repr round-trips a float exactly, so a re-read category renders the same bytes.
        tmp.write_text("".join(",".join(repr(float(v)) for v in row) + "\n" for row in params))
        tmp.replace(path)


def read_category_csv(path: Path) -> np.ndarray:
    try:
        params = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as error:
        raise FdslError(f"malformed CSV {str(path)!r}: {error}") from None
    check(
        params.shape[0] >= 1 and params.shape[1] == N_COLUMNS,
        f"malformed CSV {str(path)!r}: shape {params.shape}; allowed: one row per map, {N_COLUMNS} columns a..l, p",
    )
    check(bool(np.isfinite(params).all()), f"malformed CSV {str(path)!r}: non-finite value")
    return params


def read_category_csvs(directory: Path) -> list[np.ndarray]:
    directory = Path(directory)
    check(directory.is_dir(), f"category directory {str(directory)!r} does not exist")
    paths = sorted(directory.glob("*.csv"))
    check(len(paths) > 0, f"category directory {str(directory)!r} holds no .csv files")
    return [read_category_csv(path) for path in paths]


# --- the base of the 3-D families ---------------------------------------------------------------
@dataclasses.dataclass
class Fractal3DConfig(FormulaConfig):
    """Options shared by the 3-D fractal families (defaults: the official MV-FractalDB scripts)."""

    size: int = 224
    points: int = 10_000
    variance: float = 0.05
    min_maps: int = 2
    max_maps: int = 7
    point_size: int = 1
    distance: float = 4.0
    fov: float = 45.0

    def validate(self) -> None:
        check(8 <= self.size <= 8192, f"size = {self.size}; allowed: 8..8192")
        check(1 <= self.points <= 100_000_000, f"points = {self.points}; allowed: 1..100000000")
        check_range("variance", self.variance, 0.0, 1.0)
        check(
            2 <= self.min_maps <= self.max_maps <= 16,
            f"min_maps, max_maps = {self.min_maps}, {self.max_maps}; allowed: 2 <= min_maps <= max_maps <= 16",
        )
        check(1 <= self.point_size <= 16, f"point_size = {self.point_size}; allowed: 1..16")
        check_range("distance", self.distance, 0.0, 50.0, low_open=True)
        check_range("fov", self.fov, 0.0, 170.0, low_open=True)


class Fractal3DFormula(Formula):
    """Shared by the 3-D families: the variance search, the official CSVs, and views of a variation.
    Subclasses define the instances (which variation, which viewpoint) and ``render``."""

    Config = Fractal3DConfig

    def sample_category(self, rng: np.random.Generator) -> np.ndarray | None:
        """Accept when the identity variation's normalised cloud has Var > ``variance`` on every
        axis and its orbit never escaped (the official search's NaN rejection)."""
        c = self.config
        params = sample_system(rng, c.min_maps, c.max_maps)
        points, kept = point_cloud(params, 0, c.points)
        return params if accepts(points, kept, c.points, c.variance) else None

    def write_categories(self, categories: list[np.ndarray], directory: Path) -> None:
        write_category_csvs(categories, directory)

    def read_categories(self, directory: Path) -> list[np.ndarray]:
        return read_category_csvs(directory)

    def check_instance(self, instance: int) -> None:
        limit = self.instances_per_category
        allowed = ">= 0" if limit is None else f"0..{limit - 1}"
        check(instance >= 0 and (limit is None or instance < limit), f"instance = {instance}; allowed: {allowed}")

    def view(self, params: np.ndarray, variation: int, azimuth: float, elevation: float) -> np.ndarray:
        """Variation ``variation`` of the category seen from (azimuth, elevation) in degrees."""
        c = self.config
        points, kept = point_cloud(params, variation, c.points)
        return render_view(
            points, kept, azimuth=azimuth, elevation=elevation, size=c.size,
            distance=c.distance, fov=c.fov, point_size=c.point_size,
        )
