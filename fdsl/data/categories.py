"""Where a run's categories come from: the first N read from a parameter folder (the family's
files, e.g. official FractalDB CSVs), or N searched from a seed. ``fdsl render``, ``fdsl show``,
on-the-fly datasets and the demo all go through :func:`load_or_search`, so the same options give
the same categories everywhere.
"""
from __future__ import annotations

import multiprocessing
from pathlib import Path

from fdsl.data.processes import ProgressBar, pool_start_method
from fdsl.errors import check
from fdsl.formulas.base import Formula


def load_or_search(formula: Formula, count: int, *, param_dir: str | Path | None, seed: int, workers: int = 1,
                   progress: bool = True, count_name: str = "categories") -> list:
    """The first ``count`` categories of ``param_dir``, or, without one, ``count`` searched from
    ``seed``. ``count_name`` is how errors name ``count`` (the caller's option or config key)."""
    check(count >= 1, f"{count_name} = {count}; allowed: >= 1")
    if param_dir is None:
        return search_categories(formula, count, seed=seed, workers=workers, progress=progress)
    categories = formula.read_categories(Path(param_dir))
    check(len(categories) >= count, f"{count_name} = {count} but {str(param_dir)!r} holds only {len(categories)}")
    return categories[:count]


def search_categories(formula: Formula, count: int, *, seed: int, workers: int = 1, progress: bool = True) -> list:
    """Category ``i`` is the first accepted candidate of its own generator, whatever the workers."""
    check(count >= 1, f"categories = {count}; allowed: >= 1")
    check(workers >= 1, f"workers = {workers}; allowed: >= 1")
    indices = range(count)
    bar = ProgressBar(total=count, unit="cat", disable=not progress, desc="search")
    if workers == 1 or count == 1:
        found = []
        for i in indices:
            found.append(formula.search_category(seed, i))
            bar.update()
    else:
        with multiprocessing.get_context(pool_start_method()).Pool(workers) as pool:
            found = []
            for params in pool.imap(_SearchTask(formula, seed), indices, chunksize=1):
                found.append(params)
                bar.update()
    bar.close()
    return found


class _SearchTask:
    def __init__(self, formula: Formula, seed: int):
        self.formula, self.seed = formula, seed

    def __call__(self, index: int):
        return self.formula.search_category(self.seed, index)
