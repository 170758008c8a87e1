"""3-D iterated function systems: sampling, point clouds and their views (over the kernels of
:mod:`fdsl.kernels.chaos3d` and :mod:`fdsl.kernels.project3d`); plus the base shared by the 3-D
fractal families.

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
  NaNs (divergent systems); we reject any system whose orbit escapes (see :data:`fdsl.kernels.chaos2d.ESCAPE_BOUND`).
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

import numpy as np

from fdsl.errors import check
from fdsl.formulas.base import Formula, FormulaConfig, check_range
from fdsl.formulas.ifs_csv import IFS3D_CSV, read_category_csvs, write_category_csvs
from fdsl.kernels.chaos3d import N_PARAMS, chaos_game, normalise
from fdsl.kernels.chaos3d import axis_variances as variances
from fdsl.kernels.project3d import rasterise

N_COLUMNS = N_PARAMS + 1
VARIATION_FACTORS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6)
N_VARIATIONS = 1 + N_PARAMS * len(VARIATION_FACTORS)  # 145


# --- sampling -----------------------------------------------------------------------------------
def determinants(params: np.ndarray) -> np.ndarray:
    """det A_i of each map, by cofactors along the first row, a (e i - f h) - b (d i - f g) + c (d h - e g),
    in this order: elementwise IEEE operations give the same bits on every CPU. (``np.linalg.det``
    goes through LAPACK's LU, whose rounding depends on the BLAS kernel the CPU selects: the last
    bits of p, hashed into the orbit seeds, then differed between machines.)"""
    a, b, c, d, e, f, g, h, i = (params[:, k] for k in range(9))
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


def determinant_probabilities(params: np.ndarray) -> np.ndarray:
    """p_i = |det A_i| / sum_j |det A_j| (uniform when every map is singular), summed in map order."""
    dets = np.abs(determinants(params))
    total = 0.0
    for det in dets.tolist():
        total += det
    if not math.isfinite(total) or total <= 0.0:
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
    """Var(x), Var(y), Var(z) of the first ``kept`` points, in a fixed order (see the kernel)."""
    out = np.empty(3)
    variances(points, kept, out)
    return out


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


# --- the base of the 3-D families ---------------------------------------------------------------
def check_search(variance: float, min_maps: int, max_maps: int) -> None:
    """The category search's options, shared by every 3-D IFS family."""
    check_range("variance", variance, 0.0, 1.0)
    check(2 <= min_maps <= max_maps <= 16,
          f"min_maps, max_maps = {min_maps}, {max_maps}; allowed: 2 <= min_maps <= max_maps <= 16")


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
        check_search(self.variance, self.min_maps, self.max_maps)
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
        write_category_csvs(categories, directory, IFS3D_CSV)

    def read_categories(self, directory: Path) -> list[np.ndarray]:
        return read_category_csvs(directory, IFS3D_CSV)

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
