"""One way to get a run's categories: the first N of a parameter folder, or N searched from a seed."""
from __future__ import annotations

import numpy as np
import pytest

from fdsl.data.categories import load_or_search, search_categories
from fdsl.errors import FdslError


def test_without_a_folder_the_categories_are_searched_from_the_seed(small_fractaldb):
    found = load_or_search(small_fractaldb, 2, param_dir=None, seed=5, progress=False)
    expected = search_categories(small_fractaldb, 2, seed=5, progress=False)
    for a, b in zip(found, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_folder_gives_its_first_categories_in_name_order(small_fractaldb, small_categories, small_param_dir):
    read = load_or_search(small_fractaldb, 2, param_dir=small_param_dir, seed=123, progress=False)
    for a, b in zip(read, small_categories[:2], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("count_name", ["categories", "data.categories"])
def test_errors_name_the_count_as_the_caller_does(small_fractaldb, small_param_dir, count_name):
    with pytest.raises(FdslError, match=rf"^{count_name} = 9 but '.*' holds only 3$"):
        load_or_search(small_fractaldb, 9, param_dir=str(small_param_dir), seed=0, count_name=count_name)
    with pytest.raises(FdslError, match=rf"^{count_name} = 0; allowed: >= 1$"):
        load_or_search(small_fractaldb, 0, param_dir=None, seed=0, count_name=count_name)
