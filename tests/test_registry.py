"""Registry-wide tests: every registered family, at its ``quick_config``, through the Formula
interface and its sample kind only. A new family is covered here without a line of change."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fdsl.data.writer import render_dataset
from fdsl.errors import FdslError
from fdsl.formulas.base import Formula, encode_json
from fdsl.registry import formula_class, get_formula, list_formulas, register

FAMILIES = list_formulas()
SEED = 11


@dataclasses.dataclass
class Family:
    name: str
    formula: Formula
    categories: list  # categories 0 and 1 searched from SEED


@pytest.fixture(scope="module", params=FAMILIES)
def family(request) -> Family:
    name = request.param
    formula = get_formula(name, **formula_class(name).quick_config)
    return Family(name, formula, [formula.search_category(SEED, i) for i in range(2)])


def sample_bytes(formula: Formula, params, category: int, instance: int, seed: int = SEED) -> bytes:
    """The bytes the writer stores (and the dataset card hashes) for one sample."""
    return b"".join(formula.kind.encode(formula.sample(params, seed, category, instance)))


def n_instances(formula: Formula) -> int:
    return formula.instances_per_category or 1_000_000


def test_registry_is_not_empty_and_sorted():
    assert "fractaldb" in FAMILIES and FAMILIES == sorted(FAMILIES)


def test_unknown_family_lists_the_valid_ones():
    with pytest.raises(FdslError, match="unknown formula family 'no-such-family'; valid: .*fractaldb"):
        get_formula("no-such-family")


@pytest.mark.parametrize("name", FAMILIES)
def test_configs_validate_and_round_trip(name):
    cls = formula_class(name)
    default = cls.Config()
    default.validate()
    quick = cls.Config.from_dict(cls.quick_config)
    assert cls.Config.from_dict(quick.to_dict()) == quick
    assert set(cls.quick_config) <= {f.name for f in dataclasses.fields(cls.Config)}
    # None means "keep the default", as for unset CLI flags.
    assert get_formula(name, **{k: None for k in default.to_dict()}).config == default


@pytest.mark.parametrize("name", FAMILIES)
def test_unknown_option_raises(name):
    with pytest.raises(FdslError, match="unknown option 'no_such_option'"):
        get_formula(name, no_such_option=1)


@pytest.mark.parametrize("name", FAMILIES)
def test_duplicate_registration_raises(name):
    original = formula_class(name)

    class Impostor(original):  # a different class under a taken name
        pass

    with pytest.raises(ValueError, match="already registered"):
        register(name)(Impostor)
    assert formula_class(name) is original


def test_sample_contract(family):
    formula = family.formula
    sample = formula.sample(family.categories[0], SEED, 0, 0)
    formula.kind.validate(sample)
    tile = formula.kind.tile(sample, 32)
    assert tile.shape[0] == 32 and tile.shape[1] >= 32 and tile.shape[2] == 3 and tile.dtype == np.uint8
    assert int(tile.max()) > int(tile.min())  # something is drawn


def test_image_contract(family):
    formula = family.formula
    if formula.kind.name != "image":
        pytest.skip(f"{family.name} yields {formula.kind.name} samples")
    image = formula.sample(family.categories[0], SEED, 0, 0)
    assert formula.image_mode in ("L", "RGB")
    assert image.ndim == (2 if formula.image_mode == "L" else 3)
    size = getattr(formula.config, "size", None)
    if isinstance(size, int):
        assert image.shape[:2] == (size, size)
    assert min(image.shape[:2]) >= 8
    assert int(image.max()) > int(image.min())  # something is drawn, and values use the uint8 range
    assert image.flags.c_contiguous  # PNG encoders and tensors want plain memory


def test_same_seed_gives_the_same_bytes(family):
    again = get_formula(family.name, **formula_class(family.name).quick_config)
    params = again.search_category(SEED, 0)
    assert encode_json(params) == encode_json(family.categories[0])
    for instance in (0, min(3, n_instances(again) - 1)):
        assert sample_bytes(again, params, 0, instance) == sample_bytes(family.formula, family.categories[0], 0,
                                                                      instance)


def test_different_categories_differ(family):
    first, second = family.categories
    assert encode_json(first) != encode_json(second)
    assert sample_bytes(family.formula, first, 0, 0) != sample_bytes(family.formula, second, 1, 0)


def test_a_different_seed_gives_a_different_dataset(family):
    # Through the category (searched families) or the render (grid-defined categories, e.g. Perlin).
    other = family.formula.search_category(SEED + 1, 0)
    assert sample_bytes(family.formula, other, 0, 0, seed=SEED + 1) != sample_bytes(family.formula,
                                                                                  family.categories[0], 0, 0)


def test_instances_of_a_category_differ(family):
    count = n_instances(family.formula)
    if count == 1:
        pytest.skip(f"{family.name} has one instance per category")
    picks = sorted({0, 1, count // 2, count - 1})
    images = {sample_bytes(family.formula, family.categories[0], 0, i) for i in picks}
    assert len(images) == len(picks)


def test_sample_file_names_are_distinct(family):
    kind = family.formula.kind
    count = min(n_instances(family.formula), 64)
    names = [name for i in range(count) for name in kind.file_names(family.formula.sample_stem(3, i))]
    assert len(set(names)) == count * len(kind.suffixes) and all("/" not in n for n in names)


def test_category_count_is_none_or_a_reachable_count(family):
    count = family.formula.category_count
    if count is None:
        pytest.skip(f"{family.name} searches as many categories as asked")
    assert isinstance(count, int) and count >= 2
    family.formula.search_category(SEED, count - 1)  # the last category exists


def test_category_files_round_trip_render_the_same_bytes(family, tmp_path):
    family.formula.write_categories(family.categories, tmp_path)
    read = family.formula.read_categories(tmp_path)
    assert len(read) == 2
    for index, (written, loaded) in enumerate(zip(family.categories, read)):
        assert sample_bytes(family.formula, loaded, index, 0) == sample_bytes(family.formula, written, index, 0)


def test_writer_stores_exactly_the_rendered_images(family, tmp_path):
    formula = family.formula
    instances = min(2, n_instances(formula))
    card = render_dataset(formula, family.categories, tmp_path, seed=SEED, instances=instances, workers=1,
                          progress=False)
    assert card["family"] == family.name and card["samples"] == 2 * instances
    assert card["kind"] == formula.kind.name
    for category, params in enumerate(family.categories):
        for instance in range(instances):
            stored = formula.kind.read(tmp_path / f"{category:05d}", formula.sample_stem(category, instance))
            assert b"".join(formula.kind.encode(stored)) == sample_bytes(formula, params, category, instance)
