"""Family-specific checks of the 2-D contour and noise families (RCDB, VisualAtom, Perlin, Bezier)
and of their shared kernels (Perlin noise, 1-px lines), beyond the registry-wide tests."""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fdsl.data.categories import search_categories
from fdsl.errors import FdslError
from fdsl.kernels import perlin_noise as pn
from fdsl.kernels.bezier import draw_bezier_curves
from fdsl.kernels.raster2d import draw_line, draw_polyline
from fdsl.kernels.contours import CANVAS, pil_line, render_contours
from fdsl.formulas.rcdb import RCDBCategory, truncated_exponential_int
from fdsl.formulas.visualatom import VisualAtomCategory
from fdsl.registry import get_formula
from fdsl.seeding import RENDER, derive_rng

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rng(*keys: int) -> np.random.Generator:
    return derive_rng(0, RENDER, *keys)


def polar_of_drawn(image: np.ndarray, background: int, center: float) -> tuple[np.ndarray, np.ndarray]:
    """Radius and angle (from the centre, in image pixels) of every non-background pixel."""
    rows, cols = np.nonzero(image != background)
    return np.hypot(cols - center, rows - center), np.arctan2(rows - center, cols - center)


# --- Perlin noise -------------------------------------------------------------------------------
def test_noise_is_zero_at_lattice_points():
    lattice = np.arange(-300.0, 300.0)
    assert np.all(pn.perlin1(lattice) == 0.0)
    gx, gy = np.meshgrid(np.arange(-20.0, 20.0), np.arange(-20.0, 20.0))
    assert np.all(pn.perlin2(gx, gy) == 0.0)


def test_noise_is_deterministic_and_periodic():
    x = np.random.default_rng(1).uniform(-500, 500, 1000)
    y = np.random.default_rng(2).uniform(-500, 500, 1000)
    assert np.array_equal(pn.perlin1(x), pn.perlin1(x.copy()))
    np.testing.assert_allclose(pn.perlin1(x), pn.perlin1(x + pn.PERIOD), atol=1e-9)
    np.testing.assert_allclose(pn.perlin2(x, y), pn.perlin2(x + pn.PERIOD, y - pn.PERIOD), atol=1e-9)


def test_noise_is_smooth_bounded_and_centred():
    x = np.linspace(-40.0, 40.0, 400_001)  # steps of 2e-4, crossing many lattice points
    for gradient, bound in (("official", 0.96), ("textbook", 1.6)):
        v = pn.perlin1(x, gradient=gradient)
        assert np.abs(np.diff(v)).max() < 0.01  # slope <= ~20 (0.4 * 8 * 4 at most)
        assert np.abs(v).max() <= bound and v.std() > 0.2 and abs(v.mean()) < 0.05
    g = np.linspace(0.0, 16.0, 1601)
    gx, gy = np.meshgrid(g, g)
    w = pn.perlin2(gx, gy)
    assert np.abs(np.diff(w, axis=0)).max() < 0.05 and np.abs(np.diff(w, axis=1)).max() < 0.05
    assert np.abs(w).max() <= 1.0 and w.std() > 0.1 and abs(w.mean()) < 0.05


def test_official_noise_is_the_noise_packages_pnoise1():
    noise = pytest.importorskip("noise", reason="noise==1.2.2 is in the dev extra")
    x = np.linspace(-700.0, 700.0, 1401 * 7).astype(np.float32).astype(float)  # pnoise1 takes float32
    for octaves, persistence, lacunarity in ((1, 0.5, 2.0), (3, 0.5, 2.0), (5, 0.7, 4.0)):
        for repeat, base in ((1024, 0), (1024, 37), (256, 256), (10, 1), (3, 200)):
            ours = pn.perlin1(x, octaves=octaves, persistence=persistence, lacunarity=lacunarity,
                              repeat=repeat, base=base)
            theirs = [noise.pnoise1(v, octaves, persistence, lacunarity, repeat, base) for v in x.tolist()]
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


def test_the_gradient_sets_differ_as_documented():
    x = np.random.default_rng(4).uniform(0.0, pn.PERIOD, 200_000)
    official, textbook = pn.perlin1(x), pn.perlin1(x, gradient="textbook")
    assert abs(official.std() - 0.329) < 0.01 and abs(textbook.std() - 0.512) < 0.01
    assert 0.94 < np.abs(official).max() <= 0.953 and 1.5 < np.abs(textbook).max() <= 1.6
    # the same lattice: a cell whose two hashes both have bit 8 clear gives the same values
    assert np.count_nonzero(official == textbook) > 0.2 * x.size
    for bad in ({"gradient": "perlin"}, {"base": 257}, {"octaves": 0}, {"lacunarity": 0.5}, {"repeat": 0}):
        with pytest.raises(FdslError, match=next(iter(bad))):
            pn.perlin1(x[:3], **bad)


def test_fractal_noise_octaves():
    one = pn.fractal_noise(16, 16, frequency=3, octaves=1, persistence=0.5, offset=(1.3, 2.7))
    step = 3 / 16
    centres = (np.arange(16) + 0.5) * step
    np.testing.assert_allclose(one, pn.perlin2(1.3 + centres[None, :], 2.7 + centres[:, None]))
    many = pn.fractal_noise(64, 64, frequency=3, octaves=6, persistence=0.7, offset=(1.3, 2.7))
    assert np.abs(many).max() <= 1.0
    rough = np.abs(np.diff(many, axis=1)).mean()
    assert rough > np.abs(np.diff(pn.fractal_noise(64, 64, frequency=3, octaves=1, persistence=0.7,
                                                   offset=(1.3, 2.7)), axis=1)).mean()


# --- lines --------------------------------------------------------------------------------------
def test_line_covers_its_pixels_and_clips():
    canvas = np.zeros((20, 30), dtype=np.uint8)
    draw_line(canvas, 2.0, 3.0, 25.0, 11.0, 7)
    assert canvas[3, 2] == 7 and canvas[11, 25] == 7
    assert np.count_nonzero(canvas) == 24  # max(|dx|, |dy|) + 1, one pixel per column
    assert set(np.unique(np.nonzero(canvas)[1])) == set(range(2, 26))
    clipped = np.zeros((20, 30), dtype=np.uint8)
    draw_line(clipped, -1e9, 10.0, 1e9, 10.0, 1)
    assert np.count_nonzero(clipped) == 30 and np.all(clipped[10] == 1)
    for x0, y0, x1, y1 in [(-50, -50, -10, 60), (np.nan, 1, 2, 3), (1, 2, np.inf, 5), (1e300, 1e300, -1e300, 4)]:
        empty = np.zeros((20, 30), dtype=np.uint8)
        draw_line(empty, float(x0), float(y0), float(x1), float(y1), 1)
        assert np.count_nonzero(empty) <= 30  # nothing, or one clipped row/column


def test_pil_line_draws_pils_pixels():
    g = np.random.default_rng(3)
    for trial in range(400):
        height, width = (int(v) for v in g.integers(5, 40, 2))
        ends = g.uniform(-30.0, 70.0, 4) if trial % 2 else g.uniform(-3000.0, 3000.0, 4)
        theirs = Image.new("L", (width, height), 0)
        ImageDraw.Draw(theirs).line(tuple(ends.tolist()), fill=200, width=1)
        ours = np.zeros((height, width), dtype=np.uint8)
        pil_line(ours, *ends.tolist(), np.uint8(200))
        assert np.array_equal(ours, np.asarray(theirs)), ends
    for ends in [(np.nan, 1.0, 2.0, 3.0), (1.0, 2.0, np.inf, 5.0), (1e300, 1e300, -1e300, 4.0)]:
        empty = np.zeros((20, 30), dtype=np.uint8)
        pil_line(empty, *ends, np.uint8(1))
        assert not empty.any()


def splitmix64_greys(seed: int, contours: int, vertices: int) -> list[int]:
    """The contour greys of the kernel's splitmix64 stream: the top byte of the first of each
    contour's 1 + 2 V draws."""
    mask, greys, state = (1 << 64) - 1, [], seed
    for _ in range(contours):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        greys.append((z ^ (z >> 31)) >> 56)
        state = (state + 2 * vertices * 0x9E3779B97F4A7C15) & mask
    return greys


def official_noise_free_contours(family: str, vertices, contours, radius, oval, center, step, n1, n2, greys):
    """The official scripts' drawing (make_rcdb.py, render_VisualAtom.py) with the Perlin
    coefficient at 0, in their expressions and order: PIL lines on an RGB image, segment by segment."""
    angle = (math.pi * 2) / vertices
    absolute = family == "visualatom"  # VisualAtom's vertices hold the centre, RCDB adds it when drawing
    shift = (0.0, 0.0) if absolute else center
    xs = [math.cos(angle * k) * radius * oval[0] + (center[0] if absolute else 0.0) for k in range(vertices)]
    ys = [math.sin(angle * k) * radius * oval[1] + (center[1] if absolute else 0.0) for k in range(vertices)]
    xs.append(xs[0])
    ys.append(ys[0])
    image = Image.new("RGB", (CANVAS, CANVAS), (0, 0, 0) if absolute else (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for grey in greys:
        noise = [0.0 - 0.5 * math.sin(angle * k * n1) - 0.5 * math.sin(angle * k * n2) for k in range(vertices)]
        for k in range(vertices):
            xs[k] -= math.cos(angle * k) * (noise[k] - step)
            ys[k] -= math.sin(angle * k) * (noise[k] - step)
        xs[vertices], ys[vertices] = xs[0], ys[0]
        for k in range(vertices):
            draw.line((xs[k] + shift[0], ys[k] + shift[1], xs[k + 1] + shift[0], ys[k + 1] + shift[1]),
                      fill=(grey, grey, grey), width=1)
    return np.asarray(image)[..., 0]


@pytest.mark.parametrize("family", ["rcdb", "visualatom"])
def test_noise_free_contours_are_the_official_pixels(family):
    """With the Perlin coefficient at 0 the contours are deterministic: fdsl must draw the very
    pixels of the official code (truncated coordinates, PIL's lines, the official arithmetic)."""
    formula = get_formula(family)
    g = np.random.default_rng(11)
    for index in (1, 2, 5):
        params = formula.search_category(0, index)
        contours = min(getattr(params, "contours", getattr(params, "orbits", 0)), 25)
        radius, oval = (params.radius, (params.oval_x, params.oval_y)) if family == "visualatom" else \
            (int(g.integers(0, 101)), tuple(g.uniform(1.0, 2.0, 2).tolist()))
        n1, n2 = (params.n1, params.n2) if family == "visualatom" else (0, 0)
        center = tuple(((512 + g.integers(-400, 401, 2)) / 2).tolist())  # the official half pixels
        seed = int(g.integers(1, 2**63))
        ours = render_contours(
            np.full((CANVAS, CANVAS), 0 if family == "visualatom" else 255, dtype=np.uint8),
            vertices=params.vertices, contours=contours, radius=radius, oval=oval, center=center,
            absolute=family == "visualatom", gain=0.0, offset=0.0, step=params.step, frequencies=(n1, n2),
            gradient="official", seed=np.uint64(seed))
        official = official_noise_free_contours(family, params.vertices, contours, radius, oval, center,
                                                params.step, n1, n2, splitmix64_greys(seed, contours, params.vertices))
        assert np.count_nonzero(official != official[0, 0]) > 50
        assert np.array_equal(ours, official), (family, index)


@pytest.mark.parametrize("family", ["rcdb", "visualatom"])
def test_noise_gradient_option(family):
    official = get_formula(family, size=128)
    textbook = get_formula(family, size=128, noise_gradient="textbook")
    params = official.search_category(0, 3)
    assert official.config.noise_gradient == "official"
    assert not np.array_equal(official.sample(params, 0, 3, 0), textbook.sample(params, 0, 3, 0))
    with pytest.raises(FdslError, match="noise_gradient 'simplex'; valid: official, textbook"):
        get_formula(family, noise_gradient="simplex")


# --- RCDB ---------------------------------------------------------------------------------------
CENTRED = {"size": 256, "center_min": 256.0, "center_max": 256.0, "min_radius": 30, "max_radius": 30,
           "max_oval_rate": 1.0}


def test_rcdb_contours_radiate_and_grow_with_their_number():
    formula = get_formula("rcdb", **CENTRED)
    few = formula.render(RCDBCategory(vertices=60, contours=5, noise=2.0, step=0.05), 0, rng(0, 0))
    many = formula.render(RCDBCategory(vertices=60, contours=60, noise=2.0, step=0.05), 0, rng(0, 0))
    assert few.dtype == np.uint8 and few.shape == (256, 256)
    assert np.bincount(many.ravel()).argmax() == 255  # white background
    radius_few, _ = polar_of_drawn(few, 255, 128.0)
    radius_many, angle_many = polar_of_drawn(many, 255, 128.0)
    assert np.count_nonzero(many != 255) > 4 * np.count_nonzero(few != 255)
    # outward by c + lw per contour on average (2.05 canvas px = 1.03 image px): ~60 px for 60 contours
    assert np.percentile(radius_many, 99) > np.percentile(radius_few, 99) + 30
    assert len(np.unique(radius_many.astype(int))) > 50  # lines at many radii, not one ring
    assert len(np.unique((angle_many + np.pi) // (np.pi / 18))) >= 36  # all around the centre


def test_rcdb_category_sampler_follows_the_paper():
    formula = get_formula("rcdb")
    cats = [formula.search_category(3, i) for i in range(2000)]
    vertices = np.array([c.vertices for c in cats])
    assert vertices.min() >= 3 and vertices.max() <= 200
    # int(Exp(mean 100)) conditioned on 3..200: mean of the truncated law, computed numerically
    k = np.arange(3, 201)
    pmf = np.exp(-k / 100) - np.exp(-(k + 1) / 100)
    assert abs(vertices.mean() - (k * pmf).sum() / pmf.sum()) < 4
    assert all(1 <= c.contours <= 200 and 0 <= c.noise <= 4 and 0 <= c.step <= 0.1 for c in cats)
    assert cats[5] == formula.search_category(3, 5) != formula.search_category(4, 5)


def test_truncated_exponential_stays_in_range():
    g = np.random.default_rng(0)
    draws = [truncated_exponential_int(g, mean, 3, 5) for mean in (0.01, 1.0, 1e9) for _ in range(200)]
    assert set(draws) <= {3, 4, 5}


# --- VisualAtom ---------------------------------------------------------------------------------
def test_visualatom_orbits_carry_the_two_waves():
    formula = get_formula("visualatom", size=512, center_min=256.0, center_max=256.0)
    params = VisualAtomCategory(vertices=720, orbits=60, noise=0.0, step=0.0, radius=100, oval_x=1.0,
                                oval_y=1.0, n1=3, n2=7)
    image = formula.render(params, 0, rng(1, 0))
    assert np.bincount(image.ravel()).argmax() == 0  # black background
    radius, angle = polar_of_drawn(image, 0, 256.0)
    bins = np.minimum(((angle + np.pi) * (128 / (2 * np.pi))).astype(int), 127)
    outer = np.array([radius[bins == b].max() for b in range(128)])
    spectrum = np.abs(np.fft.rfft(outer - outer.mean()))
    assert set(np.argsort(spectrum)[-2:]) == {3, 7}
    # each orbit moves out by 0.5 sin(3 t) + 0.5 sin(7 t): 60 orbits swing the outer radius widely
    assert outer.max() - outer.min() > 60


def test_visualatom_category_sampler_follows_the_paper():
    formula = get_formula("visualatom")
    cats = [formula.search_category(0, i) for i in range(2000)]
    assert all(200 <= c.vertices <= 1000 and 1 <= c.orbits <= 200 and 10 <= c.radius <= 60 for c in cats)
    assert all(0 <= c.n1 <= 20 and 0 <= c.n2 <= 20 and (c.n1 != c.n2 or c.n1 == 0) for c in cats)
    assert len({c.n2 for c in cats}) == 21 and len({c.n1 for c in cats}) == 21
    assert all(1.0 <= c.oval_x <= 2.0 and 0.0 <= c.step <= 0.1 and 0.0 <= c.noise <= 4.0 for c in cats)


def test_visualatom_instances_differ_only_by_centre_and_draws():
    formula = get_formula("visualatom", size=64, max_orbits=20, max_vertices=300)
    params = formula.search_category(0, 0)
    a, b = formula.sample(params, 0, 0, 0), formula.sample(params, 0, 0, 1)
    assert not np.array_equal(a, b) and np.array_equal(a, formula.sample(params, 0, 0, 0))


#: sha256 of small images at seed 0 (96 px): any change to RCDB's or VisualAtom's bytes must be
#: deliberate. Last changed for the official pnoise1 gradient and PIL's truncated pixels (issue 16).
PINNED = {
    ("rcdb", 0, 0): "e7f919c8208fd1d845fcc82ff440e14a0c56ea4dd8a9b93fb381c9eb3d876395",
    ("rcdb", 7, 3): "591ca901f937be2f129c551a652d780981397050a6ec5dd11b3eec653b9cc9b9",
    ("visualatom", 0, 0): "8916bd4943f931d4023c161d57c7ffd38e333e2e2bda2609f5419d2eb36cfa2b",
    ("visualatom", 7, 3): "98dbd2be641b5e6d9b2c95030a2527428dfd9902165f22607a6e39dd2c3b16e2",
}


@pytest.mark.parametrize("family, category, instance", sorted(PINNED))
def test_contour_images_are_pinned(family, category, instance):
    formula = get_formula(family, size=96)
    image = formula.sample(formula.search_category(0, category), 0, category, instance)
    assert hashlib.sha256(image.tobytes()).hexdigest() == PINNED[family, category, instance]


# --- grid families ------------------------------------------------------------------------------
@pytest.mark.parametrize("family, variant", [("perlin", 100), ("perlin", 1296), ("bezier", 144), ("bezier", 1024)])
def test_grid_families_have_the_papers_counts(family, variant):
    formula = get_formula(family, variant=variant)
    assert formula.category_count == variant
    cells = [formula.search_category(0, i) for i in range(variant)]
    assert [c["cell"] for c in cells] == list(range(variant))
    assert len({tuple(sorted((k, v) for k, v in c.items() if k != "cell")) for c in cells}) == variant
    assert formula.search_category(7, variant - 1) == cells[-1]  # seed-independent
    with pytest.raises(FdslError, match=f"has {variant} categories"):
        formula.search_category(0, variant)
    with pytest.raises(FdslError, match="does not exist"):
        formula.search_category(0, -1)


def test_grid_search_beyond_the_grid_is_a_clear_error(run_cli, tmp_path):
    with pytest.raises(FdslError, match="Perlin-100 has 100 categories"):
        search_categories(get_formula("perlin", size=16), 101, seed=0, progress=False)
    code, _, err = run_cli("search", "bezier", "--variant", "144", "--categories", "145", "-o", tmp_path / "p")
    errors = [line for line in err.replace("\r", "\n").splitlines() if "error" in line]
    assert code == 2 and len(errors) == 1 and "Bezier-144 has 144 categories" in errors[0]


def test_grid_categories_round_trip_through_files(tmp_path):
    formula = get_formula("bezier", variant=144)
    cells = [formula.search_category(0, i) for i in (0, 77, 143)]
    formula.write_categories(cells, tmp_path)
    assert formula.read_categories(tmp_path) == cells
    with pytest.raises(FdslError, match="another variant"):
        get_formula("bezier", variant=1024).read_categories(tmp_path)


def test_perlin_frequency_sets_the_texture_scale():
    formula = get_formula("perlin", size=96)
    coarse = formula.sample(formula.search_category(0, 0), 0, 0, 0).astype(float)  # frequency 1
    fine = formula.sample(formula.search_category(0, 80), 0, 80, 0).astype(float)  # frequency 16
    assert coarse.min() == 0 and coarse.max() == 255 and fine.min() == 0 and fine.max() == 255
    assert np.abs(np.diff(coarse, axis=1)).mean() * 3 < np.abs(np.diff(fine, axis=1)).mean()


def test_bezier_curves_and_layouts():
    formula = get_formula("bezier", size=128)
    grid = formula.grid.axes

    def cell(curves, layout, degree=3, spread=0.5):
        index = 0
        for name, value in (("curves", curves), ("degree", degree), ("spread", spread), ("layout", layout)):
            index = index * len(grid[name]) + grid[name].index(value)
        return formula.search_category(0, index)

    def drawn(params, instance=0):
        image = formula.sample(params, 0, params["cell"], instance)
        assert set(np.unique(image)) <= {0, 255}
        return image

    assert np.count_nonzero(drawn(cell(16, "free"))) > 4 * np.count_nonzero(drawn(cell(1, "free")))
    for instance in range(3):
        mirror = drawn(cell(2, "mirror"), instance) > 0
        turn = drawn(cell(2, "turn"), instance) > 0
        assert (mirror & mirror[:, ::-1]).sum() > 0.8 * mirror.sum()
        assert (turn & turn[::-1, ::-1]).sum() > 0.8 * turn.sum()


def test_bezier_power_form_draws_de_casteljaus_curve():
    g = np.random.default_rng(5)
    for degree in range(1, 6):
        points = g.uniform(0, 120, size=(1, degree + 1, 2))
        fast = np.zeros((128, 128), dtype=np.uint8)
        draw_bezier_curves(fast, points, 0.5, 4096, np.uint8(255))
        length = np.hypot(*np.diff(points[0], axis=0).T).sum()
        segments = min(max(int(length * 0.5), 8), 4096)
        samples = []
        for t in np.arange(segments + 1) / segments:
            work = points[0].copy()
            for level in range(degree, 0, -1):
                work[:level] += t * (work[1:level + 1] - work[:level])
            samples.append(work[0])
        samples = np.array(samples)
        slow = np.zeros((128, 128), dtype=np.uint8)
        draw_polyline(slow, samples[:, 0].copy(), samples[:, 1].copy(), segments + 1, False, np.uint8(255))
        assert np.array_equal(fast, slow)


# --- bad values, fuzzing ------------------------------------------------------------------------
@pytest.mark.parametrize("family, option, value", [
    ("rcdb", "size", 4), ("rcdb", "min_vertices", 2), ("rcdb", "max_contours", 0),
    ("rcdb", "noise_max", float("nan")), ("rcdb", "max_oval_rate", 0.5), ("rcdb", "mean_vertices", 0.0),
    ("rcdb", "max_step", -1.0), ("visualatom", "max_frequency", -1), ("visualatom", "min_vertices", 5000),
    ("visualatom", "center_min", 600.0), ("perlin", "variant", 7), ("bezier", "variant", 100),
])
def test_bad_values_name_the_option(family, option, value):
    with pytest.raises(FdslError) as error:
        get_formula(family, **{option: value})
    message = str(error.value)
    assert option.split("_")[-1] in message and "allowed" in message and "\n" not in message


@FUZZ
@given(
    vertices=st.integers(3, 400), contours=st.integers(1, 60), noise=st.floats(0, 200), step=st.floats(0, 200),
    seed=st.integers(0, 2**32), size=st.integers(8, 48), center=st.floats(-2000, 2000),
    radius=st.integers(0, 5000), oval=st.floats(1, 100), frequencies=st.tuples(st.integers(0, 500), st.integers(0, 500)),
)
def test_contour_families_never_crash(vertices, contours, noise, step, seed, size, center, radius, oval, frequencies):
    common = {"size": size, "center_min": center, "center_max": center, "min_radius": radius,
              "max_radius": radius, "max_oval_rate": oval}
    images = [
        get_formula("rcdb", **common).render(RCDBCategory(vertices, contours, noise, step), 0, rng(seed)),
        get_formula("visualatom", **common).render(
            VisualAtomCategory(vertices, contours, noise, step, radius, oval, 1.0, *frequencies), 0, rng(seed)),
    ]
    for image in images:
        assert image.dtype == np.uint8 and image.shape == (size, size)


@FUZZ
@given(family=st.sampled_from(["perlin", "bezier"]), large=st.booleans(), index=st.integers(0, 10**6),
       seed=st.integers(0, 2**32), size=st.integers(8, 40))
def test_grid_families_never_crash(family, large, index, seed, size):
    variant = {"perlin": (100, 1296), "bezier": (144, 1024)}[family][large]
    formula = get_formula(family, size=size, variant=variant)
    params = formula.search_category(seed, index % variant)
    image = formula.sample(params, seed, index % variant, 3)
    assert image.dtype == np.uint8 and image.shape == (size, size)


@pytest.mark.parametrize("seed", [0, 1, 2**32 - 1, 2**32, 2**64 - 1, -1])
@pytest.mark.parametrize("keys", [(), (0,), (17, 5300), (2**32, 2**40 + 3, 0)])
def test_derive_rng_matches_seed_sequence_of_the_list(seed, keys):
    """derive_rng hands SeedSequence an array of uint32 words (faster); the stream must be the one
    SeedSequence makes of the plain list of ints, which every family's data were made with."""
    import zlib

    for domain in ("search", "render"):
        entropy = [seed & 0xFFFFFFFFFFFFFFFF, zlib.crc32(domain.encode()), *keys]
        expected = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
        got = derive_rng(seed, domain, *keys)
        assert np.array_equal(got.integers(0, 2**63, 16), expected.integers(0, 2**63, 16))
