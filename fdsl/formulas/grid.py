"""Families whose categories are the cells of a fixed parameter grid (the Perlin-noise and
Bezier-curve baselines of FractalDB, IJCV 2022, for which no official code exists).

Category ``index`` is grid cell ``index`` whatever the seed (the last axis varies fastest), so a
dataset's labels are readable from the index alone; the seed only changes the instances.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from fdsl.errors import check
from fdsl.formulas.base import Formula


class ParameterGrid:
    """The product of named axes; ``cell(i)`` is a dict ``{"cell": i, axis: value, ...}``.

    ``label`` names the grid in messages (e.g. "Perlin-100"); ``remedy`` says how to get more cells.
    """

    def __init__(self, label: str, axes: dict[str, tuple], remedy: str = "choose the larger variant"):
        self.label = label
        self.axes = axes
        self.remedy = remedy

    def __len__(self) -> int:
        return math.prod(len(values) for values in self.axes.values())

    def cell(self, index: int) -> dict[str, Any]:
        check(
            0 <= index < len(self),
            f"category {index} does not exist: {self.label} has {len(self)} categories (0..{len(self) - 1}); "
            f"ask for fewer categories or {self.remedy}",
        )
        values_at: dict[str, Any] = {}
        rest = int(index)
        for name, values in reversed(self.axes.items()):
            rest, position = divmod(rest, len(values))
            values_at[name] = values[position]
        return {"cell": int(index), **{name: values_at[name] for name in self.axes}}


class GridFormula(Formula):
    """A :class:`Formula` whose categories are the cells of ``self.grid`` (set in ``__init__``)."""

    grid: ParameterGrid

    @property
    def category_count(self) -> int:
        return len(self.grid)

    def sample_category(self, rng: np.random.Generator) -> dict[str, Any]:
        """A uniformly drawn cell (for callers that want random categories)."""
        return self.grid.cell(int(rng.integers(len(self.grid))))

    def search_category(self, seed: int, index: int) -> dict[str, Any]:
        """Cell ``index``: deterministic and seed-independent; out of range is an FdslError."""
        return self.grid.cell(index)

    def decode_category(self, obj: Any) -> dict[str, Any]:
        check(isinstance(obj, dict) and "cell" in obj, f"{self.name}: a category must hold its grid 'cell', got {obj!r}")
        cell = self.grid.cell(int(obj["cell"]))
        check(obj == cell, f"{self.name}: category {obj!r} is not cell {obj['cell']} of {self.grid.label} "
                           f"({cell!r}); was the file written with another variant?")
        return cell
