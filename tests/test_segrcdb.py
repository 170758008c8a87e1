"""SegRCDB: the class table, the scenes and their masks in the three official modes."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from fdsl.errors import FdslError
from fdsl.kernels.segmasks import fill_polygon
from fdsl.registry import get_formula
from fdsl.samples.image_mask import IGNORE

SEED = 5
QUICK = {"size": 64, "instances_per_image": 8, "max_contours": 10}


def scene(**config):
    formula = get_formula("segrcdb", **{**QUICK, **config})
    return formula.sample(formula.search_category(SEED, 0), SEED, 0, 0)


def dilate(mask: np.ndarray) -> np.ndarray:
    """Pixels within one pixel (8-neighbourhood) of a True pixel."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    return np.any([padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)


def test_class_table_follows_the_official_scripts():
    formula = get_formula("segrcdb")
    table = formula.search_category(SEED, 0).classes
    assert all(len(column) == 254 for column in table.values())
    assert table["vertices"].min() >= 3 and table["vertices"].max() <= 500
    assert 60 < np.mean(table["vertices"]) < 140  # Exp(mean 100), truncated
    assert table["contours"].min() >= 1 and table["contours"].max() <= 50
    assert table["radius"].min() >= 0 and table["radius"].max() <= 50
    assert 0 <= table["noise"].min() and table["noise"].max() <= 4 and table["step"].max() <= 0.1
    assert 1 <= min(table["oval_x"].min(), table["oval_y"].min()) and max(table["oval_x"].max(), table["oval_y"].max()) <= 2


def test_every_category_shares_the_seeds_class_table():
    formula = get_formula("segrcdb", **QUICK)
    first, other = formula.search_category(SEED, 0), formula.search_category(SEED, 7)
    assert (first.bucket, other.bucket) == (0, 7)
    assert all(np.array_equal(first.classes[k], other.classes[k]) for k in first.classes)
    fresh = get_formula("segrcdb", **QUICK).search_category(SEED + 1, 0).classes
    assert not np.array_equal(fresh["noise"], first.classes["noise"])


@pytest.mark.parametrize("mode", ["M1", "M2", "M3"])
def test_shapes_dtypes_and_class_ids(mode):
    sample = scene(mask_mode=mode, size=96, classes=20)
    assert sample.image.shape == sample.mask.shape == (96, 96)
    assert sample.image.dtype == sample.mask.dtype == np.uint8
    ids = set(np.unique(sample.mask).tolist())
    assert ids <= set(range(21)) and IGNORE not in ids and len(ids - {0}) >= 2
    assert sample.image.max() > 0


def test_m1_masks_exactly_the_drawn_lines():
    sample = scene(mask_mode="M1")
    assert (sample.image[sample.mask == 0] == 0).all()  # undrawn pixels are black
    assert (sample.mask > 0).sum() >= (sample.image > 0).sum() > 0  # a line's grey may be 0, its id is not


@pytest.mark.parametrize("mode", ["M2", "M3"])
def test_noise_free_regions_hold_every_contour(mode):
    """Without noise the contours are concentric ovals: the filled outermost (M3) or the ring (M2)
    covers every drawn pixel up to the one-pixel edge, and the centre is in (M3) or out (M2)."""
    config = dict(mask_mode=mode, instances_per_image=1, noise_max=0.0, min_radius=20, max_radius=20,
                  min_contours=2, max_contours=10, size=128, center_spread=0)
    sample = scene(**config)
    drawn, labelled = sample.image > 0, sample.mask > 0
    assert drawn.any() and (drawn & ~dilate(labelled)).sum() == 0
    centre = sample.mask[64, 64]
    assert (centre > 0) if mode == "M3" else (centre == 0)
    assert len(np.unique(sample.mask)) == 2  # background and the one class


def test_m2_skips_single_contour_instances():
    sample = scene(mask_mode="M2", min_contours=1, max_contours=1)
    assert sample.image.any() and not sample.mask.any()


def test_later_instances_cover_earlier_ones_in_m3():
    one = scene(mask_mode="M3", instances_per_image=1)
    many = scene(mask_mode="M3", instances_per_image=8)
    assert (many.mask > 0).sum() > (one.mask > 0).sum()


def test_fill_is_pillows_polygon_fill_on_almost_every_pixel():
    rng = np.random.default_rng(0)
    exact = 0
    for trial in range(60):
        n = int(rng.integers(3, 60))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(5, 40, n)
        xs, ys = radii * np.cos(angles), radii * np.sin(angles)
        cx, cy = rng.uniform(0, 64, 2)
        ours = np.zeros((64, 64), np.uint8)
        fill_polygon(ours, xs, ys, cx, cy, 1.0, 7)
        image = Image.new("L", (64, 64), 0)
        ImageDraw.Draw(image).polygon([(x + cx, y + cy) for x, y in zip(xs, ys)], fill=7)
        pil = np.asarray(image)
        exact += bool(np.array_equal(ours, pil))
        assert (ours != pil).sum() <= max(4, 0.02 * (pil > 0).sum())
    assert exact >= 40


@pytest.mark.parametrize("option, value", [("mask_mode", "M4"), ("classes", 255), ("instances_per_image", 0),
                                           ("max_vertices", 2), ("center_spread", -1)])
def test_bad_values_name_the_option(option, value):
    with pytest.raises(FdslError, match=option):
        get_formula("segrcdb", **{option: value})


def test_bad_mask_mode_on_the_command_line_exits_2(run_cli, tmp_path):
    code, _, err = run_cli("render", "segrcdb", "--mask-mode", "M9", "-o", str(tmp_path / "out"))
    assert code == 2 and "mask_mode 'M9'" in err and "Traceback" not in err


@settings(max_examples=25, deadline=None)
@given(mode=st.sampled_from(["M1", "M2", "M3"]), vertices=st.integers(3, 400), contours=st.integers(1, 30),
       noise=st.floats(0, 50), step=st.floats(0, 50), radius=st.integers(0, 5000), oval=st.floats(1, 100),
       spread=st.integers(0, 100_000), size=st.integers(8, 48), seed=st.integers(0, 2**32))
def test_fuzzed_parameters_never_crash(mode, vertices, contours, noise, step, radius, oval, spread, size, seed):
    config = dict(mask_mode=mode, min_vertices=vertices, max_vertices=vertices, min_contours=contours,
                  max_contours=contours, noise_min=noise, noise_max=noise, max_step=step, min_radius=radius,
                  max_radius=radius, max_oval_rate=oval, center_spread=spread, size=size, instances_per_image=3,
                  classes=3)
    formula = get_formula("segrcdb", **config)
    sample = formula.sample(formula.search_category(seed, 0), seed, 0, 0)
    assert sample.mask.shape == sample.image.shape == (size, size) and sample.mask.max() <= 3


@settings(max_examples=40, deadline=None)
@given(points=st.lists(st.tuples(st.floats(allow_infinity=False), st.floats()), min_size=1, max_size=12))
def test_fill_never_crashes_on_wild_vertices(points):
    mask = np.zeros((16, 16), np.uint8)
    xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    fill_polygon(mask, xs, ys, 0.0, 0.0, 1.0, 9)
    assert set(np.unique(mask).tolist()) <= {0, 9}
