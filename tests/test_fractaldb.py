"""FractalDB: instance decomposition and official naming, the search, official CSVs, determinism."""
from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
from PIL import Image

from fdsl.formulas.ifs_csv import read_category_csv, read_category_csvs, write_category_csvs
from fdsl.errors import FdslError
from fdsl.formulas import ifs2d
from fdsl.formulas.fractaldb import FractalDB, effective_padding
from fdsl.registry import get_formula
from fdsl.seeding import derive_rng, kernel_seed

from conftest import SMALL, SMALL_FLAGS


# --- instances ---------------------------------------------------------------------------------
def test_released_defaults():
    c = FractalDB().config
    assert (c.size, c.points, c.render_mode, c.color, c.gray_value, c.padding) == (362, 200_000, "patch", "gray", 127, 6)
    assert (c.interval, c.patch_draws, c.flips) == (0.4, 10, 4)
    assert (c.search_size, c.search_points, c.fill_rate, c.min_maps, c.max_maps) == (512, 100_000, 0.2, 2, 7)
    assert FractalDB().instances_per_category == 1000


@pytest.mark.parametrize(
    "instance, expected",
    [(0, (0, 0, 0)), (1, (0, 0, 1)), (3, (0, 0, 3)), (4, (1, 0, 0)), (99, (24, 0, 3)), (100, (0, 1, 0)),
     (537, (9, 5, 1)), (999, (24, 9, 3))],
)
def test_decompose(instance, expected):
    assert FractalDB().decompose(instance) == expected


def test_decomposition_is_a_bijection_onto_variations_draws_flips():
    formula = FractalDB()
    triples = {formula.decompose(i) for i in range(1000)}
    assert triples == {(v, d, f) for v in range(25) for d in range(10) for f in range(4)}


@pytest.mark.parametrize("instance", [-1, 1000])
def test_instance_out_of_range_is_rejected(instance):
    with pytest.raises(FdslError, match=f"instance = {instance}; allowed: 0..999"):
        FractalDB().decompose(instance)


def test_fewer_flips_and_draws_shrink_the_instance_range():
    formula = get_formula("fractaldb", flips=2, patch_draws=3)
    assert formula.instances_per_category == 150
    assert formula.decompose(149) == (24, 2, 1)
    with pytest.raises(FdslError):
        formula.decompose(150)


def test_official_names():
    formula = FractalDB()
    assert formula.sample_stem(0, 0) == "00000_00_count_0_flip0"
    assert formula.sample_stem(12, 999) == "00012_24_count_9_flip3"
    assert formula.sample_stem(345, 537) == "00345_09_count_5_flip1"
    assert len({formula.sample_stem(7, i) for i in range(1000)}) == 1000


def test_flip_codes():
    image = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(ifs2d.flip_image(image, 0), image)
    np.testing.assert_array_equal(ifs2d.flip_image(image, 1), image[::-1])  # top-bottom
    np.testing.assert_array_equal(ifs2d.flip_image(image, 2), image[:, ::-1])  # left-right
    np.testing.assert_array_equal(ifs2d.flip_image(image, 3), image[::-1, ::-1])


def test_render_applies_variation_to_a_to_f_keeps_p_and_flips(small_fractaldb, small_categories):
    formula, params = small_fractaldb, small_categories[0]
    c = formula.config
    for instance in (0, 4 * 7 + 2, 4 * 23 + 3):  # variations 0, 7, 23 with flips 0, 2, 3
        variation, _, which = formula.decompose(instance)
        expected = ifs2d.render_ifs(
            params[:, :6] * ifs2d.variation_multipliers(0.4)[variation], params[:, 6], derive_rng(1, "x"),
            size=c.size, n_points=c.points, pad=effective_padding(c.padding, c.size), patch=True, color=False,
            graded=False, gray_value=127,
        )
        got = formula.render(params, instance, derive_rng(1, "x"))
        np.testing.assert_array_equal(got, ifs2d.flip_image(expected, which))


def test_variations_differ_from_the_identity(small_fractaldb, small_categories):
    params = small_categories[1]
    rng = lambda: derive_rng(3, "x")  # noqa: E731  (same patch draws for both)
    identity = small_fractaldb.render(params, 4 * 2, rng())
    assert not np.array_equal(small_fractaldb.render(params, 4 * 0, rng()), identity)  # a x 0.2
    assert np.array_equal(small_fractaldb.render(params, 4 * 2, rng()), identity)


def test_color_and_point_modes(small_categories):
    params = small_categories[0]
    colour = get_formula("fractaldb", **SMALL, color="color").sample(params, 0, 0, 0)
    assert colour.shape == (48, 48, 3) and colour.dtype == np.uint8
    assert len({tuple(px) for px in colour.reshape(-1, 3) if px.any()}) > 3  # hue cycles
    point = get_formula("fractaldb", **SMALL, render_mode="point").sample(params, 0, 0, 0)
    patch = get_formula("fractaldb", **SMALL).sample(params, 0, 0, 0)
    assert set(np.unique(point).tolist()) == {0, 127}
    assert 0 < np.count_nonzero(point) < np.count_nonzero(patch)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("color", ["gray", "color"])
def test_huge_parameters_render_silently_in_every_variation(color):
    # a x 1.8 overflows 1e308 to inf; a CSV may hold such values (they are finite).
    params = np.array([[1e308, -1e308, 1e308, 1e308, 1e308, -1e308, 1e308], [0.5, 0, 0, 0.5, 0, 0, 1e308]])
    formula = get_formula("fractaldb", **SMALL, color=color, interval=0.5)  # 1 - 2K = 0: 0 x finite
    for variation in range(25):
        assert formula.render(params, 4 * variation, derive_rng(0, "huge")).any()


# --- search ------------------------------------------------------------------------------------
def test_searched_category_shape_and_probabilities(small_fractaldb, small_categories):
    for params in small_categories:
        assert params.ndim == 2 and params.shape[1] == 7 and 2 <= len(params) <= 7
        np.testing.assert_allclose(params[:, 6], ifs2d.determinant_probabilities(params[:, :6]), atol=0)
        assert np.all(np.abs(params[:, :6]) <= 1)


def test_search_accepts_exactly_the_systems_at_or_above_the_filling_rate(small_fractaldb):
    formula, c = small_fractaldb, small_fractaldb.config
    decisions = []
    for s in range(40):
        verdict = formula.sample_category(np.random.default_rng(s))
        rng = np.random.default_rng(s)  # replay: the system, then the orbit's seed
        system = formula.sample_system(rng)
        rate = ifs2d.filling_rate(system[:, :6], system[:, 6], size=c.search_size, n_points=c.search_points,
                                  pad=effective_padding(c.padding, c.search_size), seed=kernel_seed(rng))
        decisions.append(rate >= 0.2)
        assert (verdict is not None) == (rate >= 0.2)
        if verdict is not None:
            np.testing.assert_array_equal(verdict, system)
    assert any(decisions) and not all(decisions)  # both outcomes were exercised


def test_impossible_filling_rate_is_rejected_then_reported():
    # 6,000 points cannot fill all 9,216 pixels: nothing is ever accepted.
    formula = get_formula("fractaldb", **{**SMALL, "fill_rate": 1.0})
    assert all(formula.sample_category(np.random.default_rng(s)) is None for s in range(5))
    formula.max_search_tries = 5
    with pytest.raises(FdslError, match="no candidate accepted for category 3 after 5 tries"):
        formula.search_category(0, 3)


def test_search_is_order_independent_and_seeded(small_fractaldb, small_categories):
    np.testing.assert_array_equal(small_fractaldb.search_category(0, 2), small_categories[2])
    assert not np.array_equal(small_fractaldb.search_category(1, 2), small_categories[2])
    assert not np.array_equal(small_categories[0], small_categories[1])


def test_anderson_sampler_categories_are_contractive():
    formula = get_formula("fractaldb", **SMALL, sampler="anderson", fill_rate=0.05)
    params = formula.search_category(0, 0)
    norms = np.linalg.norm(params[:, :4].reshape(-1, 2, 2), ord=2, axis=(1, 2))
    assert np.all(norms <= 1 + 1e-9)


# --- CSV --------------------------------------------------------------------------------------
def test_csv_round_trip_is_exact(tmp_path, small_categories):
    write_category_csvs(small_categories, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00000.csv", "00001.csv", "00002.csv"]
    lines = (tmp_path / "00001.csv").read_text().splitlines()
    assert len(lines) == len(small_categories[1]) and all(len(line.split(",")) == 7 for line in lines)
    assert not lines[0][0].isalpha()  # no header
    for written, read in zip(small_categories, read_category_csvs(tmp_path)):
        np.testing.assert_array_equal(written, read)  # bit-exact, not approximately


OFFICIAL_STYLE = (
    # np.savetxt-style exponents, Windows line ends, spaces after commas and a trailing blank line:
    "2.500000000000000000e-01,-3.000000000000000000e-01,1.200000000000000000e-01,"
    "4.500000000000000000e-01,-5.000000000000000000e-02,2.000000000000000000e-01,6.0e-01\r\n"
    "-0.4, 0.1, 0.35, 0.3, 0.5, -0.25, 0.4\r\n"
    "\r\n"
)


def test_reads_a_hand_written_official_csv(tmp_path):
    (tmp_path / "00000.csv").write_bytes(OFFICIAL_STYLE.encode())
    params = read_category_csv(tmp_path / "00000.csv")
    np.testing.assert_array_equal(
        params, [[0.25, -0.3, 0.12, 0.45, -0.05, 0.2, 0.6], [-0.4, 0.1, 0.35, 0.3, 0.5, -0.25, 0.4]]
    )


@pytest.mark.parametrize("kind", ["folder", "broken link"])
def test_a_csv_named_entry_that_is_not_a_file_is_reported_by_name(tmp_path, run_cli, small_categories, kind):
    write_category_csvs(small_categories[:2], tmp_path / "params")
    odd = tmp_path / "params" / "00002.csv"
    if kind == "folder":
        odd.mkdir()
    else:
        odd.symlink_to(tmp_path / "missing.csv")
    message = f"category CSV {str(odd)!r} is not a regular file (a folder or a broken link)"
    with pytest.raises(FdslError, match=re.escape(message)):
        read_category_csvs(tmp_path / "params")
    code, _, err = run_cli("render", "fractaldb", "--param-dir", tmp_path / "params", "--categories", "2",
                           "--instances", "1", "-o", tmp_path / "out", *SMALL_FLAGS)
    assert code != 0 and err.splitlines() == [f"fdsl: error: {message}; allowed: one CSV file per category"]


def test_a_link_to_a_csv_file_is_read(tmp_path, small_categories):
    write_category_csvs(small_categories[:1], tmp_path / "elsewhere")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "00000.csv").symlink_to(tmp_path / "elsewhere" / "00000.csv")
    np.testing.assert_array_equal(read_category_csvs(tmp_path / "params")[0], small_categories[0])


def test_official_csv_renders_through_the_cli_like_the_library(tmp_path, run_cli):
    params_dir = tmp_path / "params"
    params_dir.mkdir()
    (params_dir / "00000.csv").write_bytes(OFFICIAL_STYLE.encode())
    (params_dir / "00001.csv").write_text("0.5,0,0,0.5,0,0,1\n0.5,0,0,0.5,0.5,0,1\n0.5,0,0,0.5,0,0.5,1\n")
    code, _, err = run_cli("render", "fractaldb", "--param-dir", params_dir, "--categories", "2",
                           "--instances", "5", "-o", tmp_path / "out", *SMALL_FLAGS)
    assert code == 0, err
    formula = get_formula("fractaldb", **SMALL)
    params = read_category_csvs(params_dir)
    for category in range(2):
        for instance in range(5):
            path = tmp_path / "out" / f"{category:05d}" / f"{formula.sample_stem(category, instance)}.png"
            np.testing.assert_array_equal(np.asarray(Image.open(path)), formula.sample(params[category], 0, category,
                                                                                      instance))


# --- determinism ------------------------------------------------------------------------------
def test_image_is_a_pure_function_of_seed_category_instance(small_categories):
    params = small_categories[0]
    first = get_formula("fractaldb", **SMALL)
    images = [first.sample(params, 5, 0, i).tobytes() for i in range(8)]
    # A fresh object, the reverse order and a bigger render in between change nothing.
    second = get_formula("fractaldb", **SMALL)
    get_formula("fractaldb", size=64, points=50_000).sample(params, 5, 0, 0)
    assert [second.sample(params, 5, 0, i).tobytes() for i in reversed(range(8))] == images[::-1]
    assert first.sample(params, 6, 0, 0).tobytes() != images[0]  # seed
    assert first.sample(params, 5, 1, 0).tobytes() != images[0]  # category key, same params
    assert len(set(images)) == 8  # instances


def test_bounding_box_is_stretched_to_the_padding():
    square = np.array([[0.5, 0, 0, 0.5, e, f, 0.25] for e in (0, 0.5) for f in (0, 0.5)])
    image = get_formula("fractaldb", size=32, points=400, render_mode="point").sample(square, 0, 0, 8)
    lit = np.argwhere(image)
    assert lit.min(axis=0).tolist() == [2, 2] and lit.max(axis=0).tolist() == [29, 29]  # padding 32 // 16


def test_pinned_reference_image():
    # Pins the kernel's random stream, the patch masks and the rasterisation at a fixed seed.
    # A deliberate change of the algorithm updates this digest (and breaks reproducibility of
    # datasets rendered before it: say so in the changelog).
    square = np.array([[0.5, 0, 0, 0.5, e, f, 0.25] for e in (0, 0.5) for f in (0, 0.5)])
    image = get_formula("fractaldb", size=32, points=400).sample(square, 0, 0, 8)
    assert np.count_nonzero(image) == 754
    assert hashlib.sha256(image.tobytes()).hexdigest() == (
        "9e8c37fade40841d17d12f54027084875c742a52df54fd54b4abb88a2146cfb4"
    )


FERN = np.array([[0.0, 0.0, 0.0, 0.16, 0.0, 0.0, 0.01], [0.85, 0.04, -0.04, 0.85, 0.0, 1.6, 0.85],
                 [0.2, -0.26, 0.23, 0.22, 0.0, 1.6, 0.07], [-0.15, 0.28, 0.26, 0.24, 0.0, 0.44, 0.07]])


@pytest.mark.parametrize(
    "instance, filled, digest",
    [
        (0, 5494, "8f79ae7d460add1350f7e8ffb2aef32df29c2b7cea389152bc0998124023fa07"),
        (1, 5468, "28962aa2a3efbf16fe87f054788cf2eb32c5458f85768684e1a8cdb4bda96483"),
        (2, 5480, "7fa87cf42f126c2a7a473f470f7885c8a59f6e12f66f270319d69bc57d01b02b"),
        (3, 5476, "fd4a6703eccfcd82bc29850b25e3d4792e291fafb38797746e6dd3c54e73c2b3"),
        (537, 28747, "952868f03ab52c4945005a7e603ea5596b28de6c4837a4b67020f232e0d7de84"),
    ],
)
def test_pinned_released_settings_images(instance, filled, digest):
    # The released settings (362 px, 200k points, patches, grey 127) over the four flips and a
    # variation, pinned before the binary renderer was optimised: the fast path must keep every byte.
    image = FractalDB().sample(FERN, 0, 0, instance)
    assert np.count_nonzero(image) == filled
    assert hashlib.sha256(image.tobytes()).hexdigest() == digest


@pytest.mark.parametrize(
    "mode, digest",
    [
        ({"graded": True}, "0295df88f2416efd5f0a456d14857253ec713900aa0c5d4981adef1d90b48b00"),
        ({"color": "color"}, "305afd872dff2e06873fe822452d437b512ac5a4fd67c30d98b90dfc40cb5eb3"),
    ],
)
def test_pinned_graded_and_colour_images(mode, digest):
    image = get_formula("fractaldb", size=64, points=5000, **mode).sample(FERN, 0, 0, 7)
    assert hashlib.sha256(image.tobytes()).hexdigest() == digest
