"""FractalDB: categories are 2-D IFS found by filling-rate search; instances are parameter
variations x patch draws x flips.

Source: Kataoka et al., "Pre-training without Natural Images", ACCV 2020 / IJCV 2022
(official code: hirokatsukataoka16/FractalDB-Pretrained-ResNet-PyTorch).
- Search: N ~ U{2..7} maps, a..f ~ U(-1, 1); render 100,000 points as single pixels at 512 px;
  accept when the filling rate (non-zero pixels / all pixels) is >= 0.2.
- Instances: 25 parameter variations (interval K = 0.4 in the released FractalDB-1k) x 10 patch
  draws x 4 flips = 1,000 per category, rendered at 362 px with 200,000 points, 3x3 patches,
  grey value 127 ("patch_gray").
- Patches land as the official ``draw_patch`` lands them (``patch_mode="official"``, official code
  ``fractal_renderer/ifs_function.py``): the orbit stretched to [pad, size - pad], each point
  pasting its whole 3x3 mask, zeros included, one pixel right of and below its pixel, the last
  point to touch a pixel deciding it (the released images are speckled), then the image flipped
  top-bottom before the four flips, so flip k is the official flip k. ``patch_mode="union"`` ORs
  the masks centred on the points instead (solid shapes): fdsl's rendering before issue 27, kept
  to reproduce data rendered with it. Graded shading counts every hit in either mode.
- Naming of the released data: ``00000_00_count_0_flip0.png`` (category, variation, patch draw, flip).

Instance index i maps to flip = i % 4, variation = (i // 4) % 25, draw = i // 100, so that any
prefix of a category's instances spreads over flips and variations before repeating them.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from fdsl.config_fields import choices
from fdsl.errors import check
from fdsl.formulas import ifs2d
from fdsl.formulas.ifs2d import PATCH_MODES
from fdsl.formulas.base import Formula, FormulaConfig, check_choice, check_range
from fdsl.formulas.ifs_csv import IFS2D_CSV, read_category_csvs, write_category_csvs
from fdsl.registry import register
from fdsl.seeding import kernel_seed

SAMPLERS = ("fractaldb", "anderson")
RENDER_MODES = ("patch", "point")
COLORS = ("gray", "color")
N_VARIATIONS = 25


@dataclasses.dataclass
class FractalDBConfig(FormulaConfig):
    size: int = 362
    points: int = 200_000
    render_mode: str = dataclasses.field(default="patch", metadata=choices(RENDER_MODES))
    patch_mode: str = dataclasses.field(default="official", metadata=choices(PATCH_MODES))
    color: str = dataclasses.field(default="gray", metadata=choices(COLORS))
    graded: bool = False
    gray_value: int = 127
    padding: int = 6
    interval: float = 0.4
    patch_draws: int = 10
    flips: int = 4
    sampler: str = dataclasses.field(default="fractaldb", metadata=choices(SAMPLERS))
    min_maps: int = 2
    max_maps: int = 7
    search_size: int = 512
    search_points: int = 100_000
    fill_rate: float = 0.2

    def validate(self) -> None:
        check(self.size >= 8, f"size = {self.size} is too small; allowed: >= 8")
        check(self.search_size >= 8, f"search_size = {self.search_size} is too small; allowed: >= 8")
        check(self.points >= 1, f"points = {self.points}; allowed: >= 1")
        check(self.search_points >= 1, f"search_points = {self.search_points}; allowed: >= 1")
        check_choice("render_mode", self.render_mode, RENDER_MODES)
        check_choice("patch_mode", self.patch_mode, PATCH_MODES)
        check_choice("color", self.color, COLORS)
        check_choice("sampler", self.sampler, SAMPLERS)
        check_range("fill_rate", self.fill_rate, 0.0, 1.0, low_open=True)
        check_range("gray_value", self.gray_value, 1, 255)
        check_range("interval", self.interval, 0.0, 0.5)
        check(self.padding >= 0, f"padding = {self.padding}; allowed: >= 0")
        check(1 <= self.patch_draws, f"patch_draws = {self.patch_draws}; allowed: >= 1")
        check(self.flips in (1, 2, 4), f"flips = {self.flips}; allowed: 1, 2 or 4")
        check(
            2 <= self.min_maps <= self.max_maps <= 16,
            f"min_maps, max_maps = {self.min_maps}, {self.max_maps}; allowed: 2 <= min_maps <= max_maps <= 16",
        )


def effective_padding(padding: int, size: int) -> int:
    """The official 6 px padding, never more than 1/16 of the image (for small renders)."""
    return min(padding, size // 16)


@register("fractaldb")
class FractalDB(Formula):
    """2-D IFS fractals (FractalDB-1k / -10k)."""

    Config = FractalDBConfig
    quick_config = {"size": 64, "points": 8000, "search_size": 128, "search_points": 10000}

    def __init__(self, config: FractalDBConfig | None = None):
        super().__init__(config)
        self.image_mode = "RGB" if self.config.color == "color" else "L"
        self.multipliers = ifs2d.variation_multipliers(self.config.interval)

    # categories
    def sample_system(self, rng: np.random.Generator) -> np.ndarray:
        """An (N, 7) system a, b, c, d, e, f, p from the configured sampler."""
        c = self.config
        n_maps = int(rng.integers(c.min_maps, c.max_maps + 1))
        sampler = ifs2d.sample_anderson_system if c.sampler == "anderson" else ifs2d.sample_uniform_system
        params = sampler(rng, n_maps)
        return np.column_stack([params, ifs2d.determinant_probabilities(params)])

    def sample_category(self, rng: np.random.Generator) -> np.ndarray | None:
        c = self.config
        system = self.sample_system(rng)
        rate = ifs2d.filling_rate(
            system[:, :6],
            system[:, 6],
            size=c.search_size,
            n_points=c.search_points,
            pad=effective_padding(c.padding, c.search_size),
            seed=kernel_seed(rng),
        )
        return system if rate >= c.fill_rate else None

    def write_categories(self, categories: list[np.ndarray], directory: Path) -> None:
        write_category_csvs(categories, directory, IFS2D_CSV)

    def read_categories(self, directory: Path) -> list[np.ndarray]:
        return read_category_csvs(directory, IFS2D_CSV)

    # instances
    @property
    def instances_per_category(self) -> int:
        return N_VARIATIONS * self.config.patch_draws * self.config.flips

    def decompose(self, instance: int) -> tuple[int, int, int]:
        """Instance index -> (variation, patch draw, flip)."""
        flips = self.config.flips
        check(
            0 <= instance < self.instances_per_category,
            f"instance = {instance}; allowed: 0..{self.instances_per_category - 1}",
        )
        return (instance // flips) % N_VARIATIONS, instance // (flips * N_VARIATIONS), instance % flips

    def sample_stem(self, category: int, instance: int) -> str:
        variation, draw, which_flip = self.decompose(instance)
        return f"{category:05d}_{variation:02d}_count_{draw}_flip{which_flip}"

    def render(self, params: np.ndarray, instance: int, rng: np.random.Generator) -> np.ndarray:
        return self.render_at(params, instance, rng, size=self.config.size, points=self.config.points)

    def render_at(self, params: np.ndarray, instance: int, rng: np.random.Generator, *, size: int,
                  points: int) -> np.ndarray:
        """Instance ``instance`` at another size and point count than the config's (the objects of
        :mod:`fdsl.formulas.fractaldb_scenes`); ``render`` is this at the config's."""
        c = self.config
        variation, _, which_flip = self.decompose(instance)
        with np.errstate(over="ignore", invalid="ignore"):  # huge parameters: the kernel drops what escapes
            maps = params[:, :6] * self.multipliers[variation]  # p is kept, as in the official code
        return ifs2d.render_ifs(
            maps,
            params[:, 6],
            rng,
            size=size,
            n_points=points,
            pad=effective_padding(c.padding, size),
            patch=c.render_mode == "patch",
            color=c.color == "color",
            graded=c.graded,
            gray_value=c.gray_value,
            flip=which_flip,
            patch_mode=c.patch_mode,
        )
