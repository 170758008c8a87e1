"""The 2-D IFS machinery: |det| probabilities, FractalDB's 25 variations, filling rate, samplers,
and a fuzz of the chaos game and renderer over arbitrary (divergent, degenerate, huge) systems."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fdsl.formulas import ifs2d
from fdsl.kernels import chaos2d, points2d
from fdsl.seeding import derive_rng

SEED = np.uint64(12345)


# --- selection probabilities -------------------------------------------------------------------
def test_probabilities_are_normalised_absolute_determinants():
    params = np.array(
        [
            [1.0, 0.0, 0.0, 1.0, 0.3, 0.3],  # det 1
            [0.0, 1.0, 1.0, 0.0, 0.0, 0.0],  # det -1: the absolute value counts
            [2.0, 1.0, 1.0, 2.0, 0.0, 0.0],  # det 3
            [0.5, 0.5, 0.5, 0.5, 0.0, 0.0],  # singular: never picked
        ]
    )
    np.testing.assert_allclose(ifs2d.determinant_probabilities(params), [0.2, 0.2, 0.6, 0.0], rtol=0, atol=1e-15)


def test_translations_do_not_affect_probabilities():
    rng = np.random.default_rng(0)
    params = rng.uniform(-1, 1, size=(5, 6))
    moved = params.copy()
    moved[:, 4:] = rng.uniform(-1, 1, size=(5, 2))
    np.testing.assert_array_equal(ifs2d.determinant_probabilities(params), ifs2d.determinant_probabilities(moved))


@pytest.mark.filterwarnings("error::RuntimeWarning")  # inf - inf and overflow fall back silently
@pytest.mark.parametrize("fill", [0.0, np.inf, np.nan, 1e300, -1e300, 1e160])
def test_probabilities_fall_back_to_uniform_without_a_usable_total(fill):
    params = np.full((4, 6), fill)
    np.testing.assert_array_equal(ifs2d.determinant_probabilities(params), [0.25] * 4)


def test_sampled_probabilities_sum_to_one():
    rng = np.random.default_rng(1)
    for n_maps in range(2, 8):
        p = ifs2d.determinant_probabilities(ifs2d.sample_uniform_system(rng, n_maps))
        assert p.shape == (n_maps,) and np.all(p >= 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)


# --- the 25 variations (FORMULAS.md, FractalDB) -------------------------------------------------
def expected_multipliers(k: float) -> list[list[float]]:
    """Written out from the text: rows 0-4 scale a by 1-2K, 1-K, 1, 1+K, 1+2K; then b, c, d, e, f
    in turn by 1-2K, 1-K, 1+K, 1+2K."""
    lo2, lo1, hi1, hi2 = 1 - 2 * k, 1 - k, 1 + k, 1 + 2 * k
    rows = [[f, 1, 1, 1, 1, 1] for f in (lo2, lo1, 1, hi1, hi2)]
    for column in range(1, 6):
        for f in (lo2, lo1, hi1, hi2):
            row = [1.0] * 6
            row[column] = f
            rows.append(row)
    return rows


def test_multipliers_for_released_interval_0_4():
    table = ifs2d.variation_multipliers(0.4)
    assert table.shape == (25, 6)
    # Spelled out so a transposed or shifted table cannot pass by construction.
    np.testing.assert_allclose(table[:5, 0], [0.2, 0.6, 1.0, 1.4, 1.8], atol=1e-12)
    np.testing.assert_allclose(table[5:9, 1], [0.2, 0.6, 1.4, 1.8], atol=1e-12)
    np.testing.assert_allclose(table[21:25, 5], [0.2, 0.6, 1.4, 1.8], atol=1e-12)
    np.testing.assert_allclose(table, expected_multipliers(0.4), atol=1e-12)


def test_multipliers_for_code_default_interval_0_1():
    table = ifs2d.variation_multipliers(0.1)
    np.testing.assert_allclose(table[:5, 0], [0.8, 0.9, 1.0, 1.1, 1.2], atol=1e-12)
    np.testing.assert_allclose(table[17:21, 4], [0.8, 0.9, 1.1, 1.2], atol=1e-12)  # e
    np.testing.assert_allclose(table, expected_multipliers(0.1), atol=1e-12)


@pytest.mark.parametrize("k", [0.1, 0.4])
def test_each_variation_changes_one_parameter_and_row_2_is_the_identity(k):
    table = ifs2d.variation_multipliers(k)
    np.testing.assert_array_equal(table[2], np.ones(6))
    changed = (table != 1.0).sum(axis=1)
    assert changed[2] == 0 and np.all(np.delete(changed, 2) == 1)
    assert len({tuple(row) for row in table}) == 25


# --- filling rate ------------------------------------------------------------------------------
def test_image_filling_rate_on_hand_made_images():
    image = np.zeros((10, 10), np.uint8)
    assert ifs2d.image_filling_rate(image) == 0.0
    image[:5, :5] = 127
    assert ifs2d.image_filling_rate(image) == 0.25
    image[9, 9] = 1
    assert ifs2d.image_filling_rate(image) == 0.26
    assert ifs2d.image_filling_rate(np.full((4, 6), 255, np.uint8)) == 1.0
    colour = np.zeros((4, 5, 3), np.uint8)
    colour[0, 0, 2] = 9  # one channel is enough for the pixel to count once
    colour[1, 1] = 200
    assert ifs2d.image_filling_rate(colour) == 2 / 20


LINE = np.array([[0.5, 0, 0, 0, 0.0, 0], [0.5, 0, 0, 0, 0.5, 0]], float)  # attractor: [0, 1] x {0}
SQUARE = np.array([[0.5, 0, 0, 0.5, e, f] for e in (0, 0.5) for f in (0, 0.5)], float)  # [0, 1]^2


def test_filling_rate_of_a_line_is_one_row_between_the_paddings():
    size, pad = 64, 2
    rate = ifs2d.filling_rate(LINE, np.ones(2), size=size, n_points=20_000, pad=pad, seed=SEED)
    assert rate == (size - 2 * pad) / size**2


@pytest.mark.parametrize("pad", [0, 3])
def test_filling_rate_of_a_full_square_is_the_padded_area(pad):
    size = 64
    rate = ifs2d.filling_rate(
        SQUARE, ifs2d.determinant_probabilities(SQUARE), size=size, n_points=100_000, pad=pad, seed=SEED
    )
    assert rate == (size - 2 * pad) ** 2 / size**2


def test_collapsed_system_keeps_the_start_point():
    # Every map sends everything to (0.3, 0.3): the orbit is (0, 0) then (0.3, 0.3) forever, and
    # the kept start point stretches the box, so exactly two opposite corners are hit.
    maps = np.array([[0, 0, 0, 0, 0.3, 0.3]] * 3, float)
    image = ifs2d.render_ifs(maps, np.ones(3), derive_rng(0, "t"), size=16, n_points=50, pad=1,
                             patch=False, color=False, graded=False, gray_value=127)
    assert np.argwhere(image).tolist() == [[1, 1], [14, 14]]


def test_flat_and_subnormal_spans_draw_at_the_centre():
    # A width of 5e-324 overflows span / width; it must count as flat (centre), not as NaN.
    for e in (0.0, 5e-324):
        maps = np.array([[0, 0, 0, 0, e, e]], float)
        image = ifs2d.render_ifs(maps, np.ones(1), derive_rng(0, "t"), size=16, n_points=10, pad=1,
                                 patch=False, color=False, graded=False, gray_value=127)
        assert np.argwhere(image).tolist() == [[7, 7]]


def test_divergent_system_escapes_and_restarts_without_non_finite_points():
    maps = np.array([[3.0, 0, 0, 3.0, 1.0, 1.0]])
    xs, ys, kept, _ = ifs2d.orbit(maps, np.ones(1), 1000, SEED)
    assert 1 < kept < 1000  # some points escaped and were dropped
    assert np.all(np.abs(xs[:kept]) < chaos2d.ESCAPE_BOUND) and np.all(np.isfinite(ys[:kept]))


def test_point_mode_hits_at_most_one_pixel_per_point_and_patch_mode_more():
    kwargs = dict(size=64, n_points=300, pad=2, color=False, graded=False, gray_value=127)
    p = ifs2d.determinant_probabilities(SQUARE)
    point = ifs2d.render_ifs(SQUARE, p, derive_rng(0, "t"), patch=False, **kwargs)
    patch = ifs2d.render_ifs(SQUARE, p, derive_rng(0, "t"), patch=True, **kwargs)
    assert 0 < np.count_nonzero(point) <= 300
    assert np.count_nonzero(patch) > np.count_nonzero(point)
    assert set(np.unique(patch).tolist()) == {0, 127}


def test_patch_masks_cover_all_511_non_empty_patterns():
    # One point in the middle of a flat image: count how often each pixel of the 3x3 is hit.
    hits = np.zeros((3, 3))
    patterns = set()
    for draw in range(3000):
        counts = np.zeros((11, 11), np.uint32)
        xs, ys = np.zeros(1), np.zeros(1)
        points2d.stamp_counts(xs, ys, 1, (0.0,) * 4, 9, 0, True, np.uint64(draw + 1), counts, False, np.zeros((1, 1)))
        window = counts[4:7, 4:7] > 0
        assert counts.sum() == window.sum() >= 1  # non-empty, all inside the 3x3
        hits += window
        patterns.add(window.tobytes())
    assert len(patterns) > 490  # 511 possible; 3000 draws miss very few
    np.testing.assert_allclose(hits / 3000, 256 / 511, atol=0.05)  # each cell in half the masks


def full_pick(bits: np.ndarray, cumulative: np.ndarray, n_maps: int) -> np.ndarray:
    """The map pick written out: i = #{j < N - 1 : u >= cumulative[j]}, u = (bits >> 11) / 2**53."""
    u = (bits >> np.uint64(11)).astype(np.float64) / 2.0**53
    return (u[:, None] >= cumulative[None, : n_maps - 1]).sum(axis=1)


@pytest.mark.parametrize(
    "cumulative",
    [
        np.cumsum([0.2, 0.3, 0.5]),
        np.array([0.0, 0.0, 1.0]),  # maps never picked
        np.array([0.25, 0.5, 0.75, 1.0]),  # boundaries exactly at bucket edges
        np.array([2.0**-10 - 2.0**-53, 2.0**-10, 2.0**-10 + 2.0**-53, 1.0]),  # around one edge
        np.array([1e-300, 0.5, 1.0 - 2.0**-53, 1.0]),
        np.zeros(5),  # an all-zero cumulative picks the last map
        np.cumsum(np.full(16, 1 / 16)),
    ],
)
def test_pick_table_agrees_with_the_full_comparison(cumulative):
    n_maps = len(cumulative)
    table = chaos2d.pick_table(cumulative, n_maps)
    buckets = np.arange(2**chaos2d.PICK_BITS, dtype=np.uint64)
    shift = np.uint64(64 - chaos2d.PICK_BITS)
    inside = np.random.default_rng(0).integers(0, 2**63, size=(len(buckets), 8), dtype=np.uint64) >> np.uint64(
        chaos2d.PICK_BITS - 1
    )
    lowest = buckets << shift
    # Every bucket's lowest and highest draws and a few in between: a table entry must give the
    # full comparison's map for all of them; -1 only where the bucket really is split.
    draws = np.column_stack([lowest, lowest | (~np.uint64(0) >> np.uint64(chaos2d.PICK_BITS)), lowest[:, None] | inside])
    picks = full_pick(draws.ravel(), cumulative, n_maps).reshape(draws.shape)
    decided = table >= 0
    assert np.all(picks[decided] == table[decided][:, None])
    assert np.all(picks[~decided, 0] != picks[~decided, 1])
    assert decided.sum() >= len(table) - (n_maps - 1)  # at most one split bucket per boundary


def test_orbit_bounds_are_the_kept_points_bounding_box():
    xs, ys, kept, bounds = ifs2d.orbit(SQUARE[:3], np.ones(3), 5000, SEED)
    assert bounds == (xs[:kept].min(), xs[:kept].max(), ys[:kept].min(), ys[:kept].max())


def counted_image(points: ifs2d.Orbit, size: int, pad: int, patch: bool, seed: np.uint64, value: int, flip: int):
    """Binary mode the long way: count hits per pixel (nine per patch), threshold, flip in NumPy."""
    counts = np.zeros((size + 2, size + 2), np.uint32)
    points2d.stamp_counts(*points, size, pad, patch, seed, counts, False, np.zeros((1, 1)))
    return ifs2d.flip_image(np.where(counts[1:-1, 1:-1] > 0, value, 0).astype(np.uint8), flip)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    n_maps=st.integers(1, 7),
    size=st.integers(3, 70),
    n_points=st.integers(1, 3000),
    pad=st.integers(0, 3),
    patch=st.booleans(),
    flip=st.integers(0, 3),
    value=st.integers(1, 255),
)
def test_binary_masks_paint_the_same_pixels_as_the_counts(seed, n_maps, size, n_points, pad, patch, flip, value):
    rng = np.random.default_rng(seed)
    maps = ifs2d.sample_uniform_system(rng, n_maps)
    points = ifs2d.orbit(maps, ifs2d.determinant_probabilities(maps), n_points, np.uint64(seed + 1))
    masks = np.zeros((size + 2, size + 2), np.uint16)
    points2d.stamp_masks(*points, size, pad, patch, np.uint64(seed + 2), masks)
    image = np.empty((size, size), np.uint8)
    points2d.paint_binary(masks, value, flip, image)
    np.testing.assert_array_equal(image, counted_image(points, size, pad, patch, np.uint64(seed + 2), value, flip))


def test_official_paste_paints_the_same_pixels_with_keys_of_either_width():
    # render_ifs keys the points in int32 up to 2**22 points and in int64 beyond: same pixels.
    points = ifs2d.orbit(SQUARE, ifs2d.determinant_probabilities(SQUARE), 5000, SEED)
    colours = ifs2d.official_colours()
    painted = {}
    for dtype in (np.int32, np.int64):
        keys = np.zeros((44, 44), dtype)
        points2d.stamp_latest(*points, 40, 2, SEED, keys)
        for flip in range(4):
            grey, colour = np.empty((40, 40), np.uint8), np.empty((40, 40, 3), np.uint8)
            points2d.paint_latest(keys, 127, flip, grey)
            points2d.paint_latest_rgb(keys, colours, flip, colour)
            painted[dtype, flip] = grey, colour
    for flip in range(4):
        for ours, wide in zip(painted[np.int32, flip], painted[np.int64, flip]):
            np.testing.assert_array_equal(ours, wide)
        np.testing.assert_array_equal(painted[np.int32, flip][0] > 0, painted[np.int32, flip][1].any(axis=-1))


@pytest.mark.parametrize("flip", range(4))
@pytest.mark.parametrize("graded, color", [(False, False), (True, False), (False, True)])
def test_render_flip_equals_flipping_the_upright_image(flip, graded, color):
    kwargs = dict(size=40, n_points=3000, pad=2, patch=True, color=color, graded=graded, gray_value=127)
    upright = ifs2d.render_ifs(SQUARE[:3], np.ones(3), derive_rng(0, "t"), **kwargs)
    flipped = ifs2d.render_ifs(SQUARE[:3], np.ones(3), derive_rng(0, "t"), flip=flip, **kwargs)
    np.testing.assert_array_equal(flipped, ifs2d.flip_image(upright, flip))
    assert flipped.flags.c_contiguous


# --- Anderson & Farrell's sampler ---------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_maps=st.integers(2, 7))
def test_anderson_maps_are_contractive_with_sigma_factor_in_range(seed, n_maps):
    params = ifs2d.sample_anderson_system(np.random.default_rng(seed), n_maps)
    assert params.shape == (n_maps, 6)
    singular = np.linalg.svd(params[:, :4].reshape(n_maps, 2, 2), compute_uv=False)  # (n, 2), s1 >= s2
    assert np.all(singular[:, 0] <= 1 + 1e-9) and np.all(singular[:, 1] >= 0)
    sigma = (singular[:, 0] + 2 * singular[:, 1]).sum()
    assert (5 + n_maps) / 2 - 1e-9 <= sigma <= (6 + n_maps) / 2 + 1e-9
    assert np.all(np.abs(params[:, 4:]) <= 1)


def test_anderson_sigma_factor_spreads_over_its_interval():
    rng = np.random.default_rng(7)
    sigmas = []
    for _ in range(300):
        s = np.linalg.svd(ifs2d.sample_anderson_system(rng, 4)[:, :4].reshape(4, 2, 2), compute_uv=False)
        sigmas.append((s[:, 0] + 2 * s[:, 1]).sum())
    assert min(sigmas) < 4.6 and max(sigmas) > 4.9  # U(4.5, 5) for N = 4, not a constant


def test_uniform_sampler_range():
    params = ifs2d.sample_uniform_system(np.random.default_rng(3), 2000)
    assert params.shape == (2000, 6) and params.min() >= -1 and params.max() <= 1
    assert params.min() < -0.99 and params.max() > 0.99


# --- fuzz: any finite system, however divergent or degenerate, renders without a crash ----------
SPECIAL = st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e6, -1e6, 5e-324, 1e-300, 1e-12, 1e300, -1e300, 2.0])
VALUES = st.one_of(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), SPECIAL)


@st.composite
def systems(draw):
    n_maps = draw(st.integers(1, 7))
    maps = draw(hnp.arrays(np.float64, (n_maps, 6), elements=VALUES))
    probabilities = draw(hnp.arrays(np.float64, (n_maps,), elements=VALUES))
    return maps, probabilities


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    system=systems(),
    size=st.integers(8, 40),
    n_points=st.integers(1, 3000),
    pad=st.integers(0, 3),
    patch=st.booleans(),
    color=st.booleans(),
    graded=st.booleans(),
    gray_value=st.integers(1, 255),
    seed=st.integers(0, 2**32),
)
def test_fuzz_render_any_finite_system(system, size, n_points, pad, patch, color, graded, gray_value, seed):
    maps, probabilities = system
    xs, ys, kept, bounds = ifs2d.orbit(maps, probabilities, n_points, np.uint64(seed + 1))
    assert 1 <= kept <= n_points
    assert np.all(np.abs(xs[:kept]) < chaos2d.ESCAPE_BOUND) and np.all(np.abs(ys[:kept]) < chaos2d.ESCAPE_BOUND)
    assert bounds == (xs[:kept].min(), xs[:kept].max(), ys[:kept].min(), ys[:kept].max())

    image = ifs2d.render_ifs(maps, probabilities, derive_rng(seed, "fuzz"), size=size, n_points=n_points,
                             pad=pad, patch=patch, color=color, graded=graded, gray_value=gray_value)
    assert image.dtype == np.uint8
    assert image.shape == ((size, size, 3) if color else (size, size))
    # The start point is always drawn, but an official patch past the far edge is clipped (as PIL's
    # paste clips it), and with under 3 px of padding its zeros may clear what earlier points lit.
    assert image.any() or (patch and not graded and pad < 3)
    if not color and not graded:
        assert set(np.unique(image).tolist()) <= {0, gray_value}
    rate = ifs2d.filling_rate(maps, probabilities, size=size, n_points=n_points, pad=pad, seed=np.uint64(seed))
    assert 1 / size**2 <= rate <= min(1.0, n_points / size**2)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # NaN / inf determinants fall back silently
@settings(max_examples=40, deadline=None)
@given(system=systems(), poison=st.sampled_from([np.nan, np.inf, -np.inf]), where=st.integers(0, 6))
def test_fuzz_non_finite_parameters_do_not_crash(system, poison, where):
    maps, probabilities = system
    maps = maps.copy()
    maps[0, where % 6] = poison
    image = ifs2d.render_ifs(maps, ifs2d.determinant_probabilities(maps), derive_rng(0, "fuzz"), size=16,
                             n_points=500, pad=1, patch=True, color=False, graded=True, gray_value=127)
    assert image.shape == (16, 16) and image.dtype == np.uint8 and image.any()


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("value", [1e300, -1e300, 1e308, 1e160])
@pytest.mark.parametrize("graded, color", [(False, False), (True, False), (False, True)])
def test_huge_parameters_render_without_overflow_warnings(value, graded, color):
    # a * d overflows, inf - inf is NaN, the p sum overflows: every step has a silent fallback.
    maps = np.array([[value] * 6, [0.5, 0, 0, 0.5, 0, 0], [value, 0.5, -value, 0.5, value, 0]])
    probabilities = ifs2d.determinant_probabilities(maps)
    np.testing.assert_array_equal(probabilities, [1 / 3] * 3)
    for p in (probabilities, np.full(3, value)):
        image = ifs2d.render_ifs(maps, p, derive_rng(0, "huge"), size=16, n_points=500, pad=1, patch=True,
                                 color=color, graded=graded, gray_value=127)
        assert image.dtype == np.uint8 and image.any()
    assert 0 < ifs2d.filling_rate(maps, np.full(3, value), size=16, n_points=500, pad=1, seed=SEED) <= 1
