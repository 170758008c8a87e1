"""PC-FractalDB objects the official way (``fractal_noise_mix.py`` of ryosuke-yamada/3dfractaldb,
from its description in shared/reference/FORMULAS.md, not its code): a Python loop per point for
each chaos game, ``min_max`` over all coordinates, and the ``centoroid`` shift by sums / budget.

As officially, the category's main cloud is computed once and kept (here: per category's
parameters); each object computes its mix cloud and merges. The mix system is the one fdsl uses
for this instance with the benchmark's seed (0), which the official script reads from a CSV.
"""
from __future__ import annotations

import numpy as np

from .ifs3d_views import chaos_game

FAMILY = "pcfractaldb"
#: The benchmark's seed (``bench_render.SEED``): the mix categories are searched with it.
BENCH_SEED = 0

main_clouds: dict[bytes, list[tuple]] = {}


def min_max_and_shift(points: list[tuple], budget: int) -> list[tuple]:
    low = min(min(p) for p in points)
    high = max(max(p) for p in points)
    scale = 2.0 / (high - low) if high > low else 0.0
    scaled = [tuple((v - low) * scale - 1.0 for v in p) for p in points]
    return shift_by_sums(scaled, budget)


def shift_by_sums(points: list[tuple], budget: int) -> list[tuple]:
    shift = [sum(p[axis] for p in points) / budget for axis in range(3)]
    return [(x - shift[0], y - shift[1], z - shift[2]) for x, y, z in points]


def part(params: np.ndarray, n_points: int, budget: int, rng) -> list[tuple]:
    maps = params[:, :12].tolist()
    points = chaos_game(maps, params[:, 12].tolist(), n_points, rng)
    return min_max_and_shift(points, budget) if points else []


def render(formula, params: np.ndarray, instance: int, rng: np.random.Generator) -> np.ndarray:
    c = formula.config
    n_main, n_mix = int(c.points * c.ratio) - 1, int(c.points * (1 - c.ratio))
    key = params.tobytes()
    if key not in main_clouds:
        main_clouds[key] = part(params, n_main, c.points, rng)
    mix = part(formula.mix_params(BENCH_SEED, instance), n_mix, c.points, rng)
    return np.array(shift_by_sums(main_clouds[key] + mix, c.points), dtype=np.float32)
