"""PC-FractalDB objects: 3-D fractal point clouds made by FractalNoiseMix.

Source: Yamada et al., "Point Cloud Pre-training with Natural 3D Structures", CVPR 2022; official
code ryosuke-yamada/3dfractaldb, ``pcfractaldb/`` (``code/category_search.py`` (S),
``code/fractal_noise_mix.py`` (M), ``PCFractalDB_render.sh`` (R)), checked at commit 6e6fd4e.

- Categories (S): the 3-D IFS search of :mod:`fdsl.formulas.ifs3d`: N ~ U{2..7} maps
  (``np.random.randint(2, 8)``), 12 parameters U(-1, 1) each, p_i = |det A_i| / sum |det A_j|;
  a system is accepted when its 10,000-point cloud (``--point_num`` 10000), min-max scaled to
  [-1, 1] and centred, has Var(x), Var(y), Var(z) each > ``variance`` = 0.05 (R passes 0.05; S's
  argparse default is 0.05 too). The same search as ExFractalDB / MV-FractalDB, so with the same
  seed category k is the same fractal in all of them. Category files: the official 13-column CSVs.
- Objects (M): ``--iteration`` 10,000 is the point budget ``points`` and ``--ratio`` 0.8 the
  main share ``ratio``. The category's main cloud is the orbit of ``calculate(points * ratio)``,
  which keeps one point less: 7,999 points; it is computed once per category and shared by all
  its instances. Instance j adds a mix cloud of ``calculate(int(points * (1 - ratio)) + 1)``: 1,999
  points (the float 10000 * 0.2 truncates to 1,999, and the + 1 and the dropped start point leave
  it there) of the 3-D IFS of another category. An object therefore has 7,999 + 1,999 = 9,998
  points (the official count; every part keeps ``n - 1`` of ``calculate(n)``).
- Normalisation (M, ``min_max`` and ``centoroid``): each part is min-max scaled jointly over x,
  y, z to [-1, 1] and shifted by its coordinate sums divided by the *budget* (10,000), not by its
  own number of points: the main part is shifted by 0.7999 of its mean, the mix by 0.1999 of
  its. We keep that arithmetic (it decides where the mix sits on the main cloud); the merged
  cloud is then shifted by its sums / 10,000 (nearly its mean) and not rescaled. The mix is a
  full-size fractal at a quarter of the main's density, not small noise.
- Which category mixes in (M): ``random.sample`` of all category files, ``k = numof_instance``,
  drawn once per run, unseeded, without replacement (it may include the category itself);
  instance j of *every* category mixes with the j-th of that list. Here the list is a permutation
  of ``range(classes)`` drawn from ``(seed, "pcfractaldb-mix")`` alone, so the mix category of
  instance j is a pure function of (seed, j), the same for every category as officially; its
  parameters are category ``perm[j]`` of the search with the same seed (cached per process).
  ``classes`` is the pool (the official ``--numof_classes`` 1,000): as officially, a category has
  at most ``classes`` instances (1,000 in the paper). Officially the pool is the category files
  present; with categories read from files (``--param-dir``) the mix still comes from the search.
- Random streams: the official code uses unseeded global RNGs. Here the main orbit's seed is a
  hash of the category's parameters (so it is shared by every instance and survives CSV files),
  and the mix orbit's seed comes from the generator of (seed, category, instance): pure functions
  of (seed, category, instance), whatever the order or the number of workers.
- There are no parameter variations in PC-FractalDB. Orbits that escape (non-contractive systems)
  drop their escaped points (see :func:`fdsl.kernels.chaos3d.chaos_game`): such an object has
  fewer points. Officially a NaN in the y row skips the file.

Samples are float32 (N, 3) point clouds (the ``point cloud`` kind, written as ``.npy`` and a
binary ``.ply``); the category index is the label.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path

import numpy as np

from fdsl.errors import check
from fdsl.formulas.base import Formula, FormulaConfig, check_range
from fdsl.formulas.ifs3d import N_COLUMNS, accepts, check_search, point_cloud, sample_system
from fdsl.formulas.ifs_csv import IFS3D_CSV, read_category_csvs, write_category_csvs
from fdsl.kernels.chaos3d import chaos_game
from fdsl.kernels.noise_mix import merge_parts, scale_part
from fdsl.registry import register
from fdsl.samples.point_cloud import PLY_POINT_CLOUD, PointCloud
from fdsl.seeding import RENDER, derive_rng, kernel_seed

#: Domain of the generator of the run's list of mix categories.
MIX_DOMAIN = "pcfractaldb-mix"
#: All-ones multipliers: the category's system as it is (no parameter variations here).
IDENTITY = np.ones(N_COLUMNS - 1)


@dataclasses.dataclass
class PCFractalDBConfig(FormulaConfig):
    """Defaults: the official scripts (see the module docstring)."""

    points: int = 10_000
    ratio: float = 0.8
    classes: int = 1_000
    variance: float = 0.05
    min_maps: int = 2
    max_maps: int = 7

    def validate(self) -> None:
        check(10 <= self.points <= 10_000_000, f"points = {self.points}; allowed: 10..10000000")
        check_range("ratio", self.ratio, 0.0, 1.0, low_open=True)
        check(1 <= self.classes <= 1_000_000, f"classes = {self.classes}; allowed: 1..1000000")
        check_search(self.variance, self.min_maps, self.max_maps)
        main, mix = part_sizes(self.points, self.ratio)
        check(main >= 1 and mix >= 1, f"points = {self.points}, ratio = {self.ratio!r} leave a part with no point")

    @property
    def object_points(self) -> int:
        return sum(part_sizes(self.points, self.ratio))


def part_sizes(points: int, ratio: float) -> tuple[int, int]:
    """(main, mix) point counts: ``calculate(int(points * ratio))`` and ``calculate(int(points *
    (1 - ratio)) + 1)``, each keeping one point less (7,999 and 1,999 at the defaults)."""
    return int(points * ratio) - 1, int(points * (1 - ratio))


def orbit_seed(params: np.ndarray, part: bytes) -> np.uint64:
    digest = hashlib.blake2b(params.tobytes() + part, digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little") | 1)


def scaled_part(params: np.ndarray, n_points: int, seed: np.uint64, budget: int) -> np.ndarray:
    """(kept, 3) float64: the orbit of ``params`` min-max scaled and shifted as one official part."""
    raw, stats = np.empty((3, n_points)), np.empty(5)
    kept = chaos_game(params, IDENTITY, n_points, seed, raw, stats)
    part = np.empty((kept, 3))
    scale_part(raw, kept, stats, budget, part)
    return part


@functools.lru_cache(maxsize=64)
def main_part(params_bytes: bytes, n_maps: int, n_points: int, budget: int) -> np.ndarray:
    """The category's main part, computed once per process and shared by its instances (read-only)."""
    params = np.frombuffer(params_bytes).reshape(n_maps, N_COLUMNS)
    part = scaled_part(params, n_points, orbit_seed(params, b"main"), budget)
    part.flags.writeable = False
    return part


@functools.lru_cache(maxsize=8)
def mix_order(seed: int, classes: int) -> np.ndarray:
    """The run's list of mix categories: a permutation of ``range(classes)`` drawn from the seed alone."""
    order = derive_rng(seed, MIX_DOMAIN).permutation(classes)
    order.flags.writeable = False
    return order


def check_system(params: np.ndarray) -> np.ndarray:
    params = np.ascontiguousarray(params, dtype=np.float64)
    check(
        params.ndim == 2 and params.shape[1] == N_COLUMNS and len(params) >= 1,
        f"3-D IFS parameters of shape {params.shape}; allowed: (N, {N_COLUMNS}) with N >= 1",
    )
    return params


@register("pcfractaldb")
class PCFractalDB(Formula):
    """PC-FractalDB objects (CVPR 2022): a category's 3-D fractal plus a quarter-density fractal of
    another category (FractalNoiseMix)."""

    Config = PCFractalDBConfig
    quick_config = {"points": 1000, "classes": 8}
    kind = PLY_POINT_CLOUD

    def __init__(self, config: PCFractalDBConfig | None = None):
        super().__init__(config)
        self.searched: dict[tuple[int, int], np.ndarray] = {}

    def sample_category(self, rng: np.random.Generator) -> np.ndarray | None:
        c = self.config
        params = sample_system(rng, c.min_maps, c.max_maps)
        points, kept = point_cloud(params, 0, c.points)
        return params if accepts(points, kept, c.points, c.variance) else None

    def write_categories(self, categories: list[np.ndarray], directory: Path) -> None:
        write_category_csvs(categories, directory, IFS3D_CSV)

    def read_categories(self, directory: Path) -> list[np.ndarray]:
        return read_category_csvs(directory, IFS3D_CSV)

    @property
    def instances_per_category(self) -> int:
        return self.config.classes

    def sample_stem(self, category: int, instance: int) -> str:
        return f"{category:06d}_{instance:04d}"  # the official names: 000000_0000.ply

    def mix_category(self, seed: int, instance: int) -> int:
        check(0 <= instance < self.config.classes, f"instance = {instance}; allowed: 0..{self.config.classes - 1}")
        return int(mix_order(seed, self.config.classes)[instance])

    def searched_category(self, seed: int, category: int) -> np.ndarray:
        """Category ``category`` of the search with ``seed``, cached per process (a mix or a scene's
        object class: the official scripts read these from the category files)."""
        key = (seed, category)
        if key not in self.searched:
            if len(self.searched) >= 4096:
                self.searched.clear()
            self.searched[key] = self.search_category(seed, category)
        return self.searched[key]

    def mix_params(self, seed: int, instance: int) -> np.ndarray:
        """The parameters of instance ``instance``'s mix category, searched with ``seed``."""
        return self.searched_category(seed, self.mix_category(seed, instance))

    def sample(self, params: np.ndarray, seed: int, category: int, instance: int) -> PointCloud:
        return self.render(params, instance, derive_rng(seed, RENDER, category, instance), seed=seed)

    def render(self, params: np.ndarray, instance: int, rng: np.random.Generator, *, seed: int = 0) -> PointCloud:
        """Instance ``instance`` of the category ``params``; its mix category is searched with ``seed``."""
        return PointCloud(self.mixed_cloud(check_system(params), check_system(self.mix_params(seed, instance)), rng))

    def mixed_cloud(self, params: np.ndarray, mix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """float32 (main + mix points, 3): FractalNoiseMix of the systems ``params`` and ``mix``."""
        c = self.config
        n_main, n_mix = part_sizes(c.points, c.ratio)
        main = main_part(params.tobytes(), len(params), n_main, c.points)
        mixed = scaled_part(mix, n_mix, kernel_seed(rng), c.points)
        out = np.empty((len(main) + len(mixed), 3), np.float32)
        merge_parts(main, mixed, c.points, out)
        return out if len(out) else np.zeros((1, 3), np.float32)  # every point escaped: one at the origin
