"""The 3-D fractal families (exfractaldb, mvfractaldb, ofdb3d), 2D-OFDB and the mixture: the
checks specific to them, beyond the registry-wide ones (145 variations, variance acceptance,
projection geometry, distinct views, OFDB = FractalDB's identity render, mixture labels, fuzz)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fdsl.errors import FdslError
from fdsl.formulas import ifs3d
from fdsl.registry import formula_class, get_formula
from fdsl.seeding import derive_rng

SMALL_3D = {"size": 64, "points": 3000}
FAMILIES_3D = ("exfractaldb", "mvfractaldb", "ofdb3d")


@pytest.fixture(scope="module")
def mv():
    return get_formula("mvfractaldb", **SMALL_3D)


@pytest.fixture(scope="module")
def mv_categories(mv):
    return [mv.search_category(0, i) for i in range(3)]


def sierpinski_tetrahedron() -> np.ndarray:
    """Four maps v -> v / 2 + corner / 2 toward the corners of a regular tetrahedron."""
    corners = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    rows = [np.concatenate([(0.5 * np.eye(3)).ravel(), corner / 2, [0.25]]) for corner in corners]
    return np.array(rows)


# --- variations ---------------------------------------------------------------------------------
def test_145_variations_scale_one_parameter_each():
    rows = ifs3d.variation_multipliers()
    assert rows.shape == (145, 12)
    np.testing.assert_array_equal(rows[0], np.ones(12))
    factors = {p: [] for p in range(12)}
    for row in rows[1:]:
        changed = np.flatnonzero(row != 1.0)
        assert len(changed) == 1
        factors[int(changed[0])].append(row[changed[0]])
    expected = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6]
    for p in range(12):
        np.testing.assert_allclose(factors[p], expected)


def test_a_variation_is_one_fixed_model(mv_categories):
    params = mv_categories[0]
    identity = ifs3d.point_cloud(params, 0, 500)[0].copy()
    scaled = ifs3d.point_cloud(params, 1, 500)[0].copy()  # a x 0.4 in every map
    assert not np.array_equal(identity, scaled)
    ifs3d.point_cloud(params, 2, 500)  # evict the per-thread cache
    np.testing.assert_array_equal(ifs3d.point_cloud(params.copy(), 0, 500)[0], identity)


# --- the cloud and its acceptance ---------------------------------------------------------------
def test_cloud_is_jointly_normalised_and_centred():
    points, kept = ifs3d.point_cloud(sierpinski_tetrahedron(), 0, 4000)
    cloud = points[:, :kept]
    assert kept == 4000
    np.testing.assert_allclose(cloud.mean(axis=1), 0.0, atol=1e-12)
    span = cloud.max() - cloud.min()  # joint: the widest axis spans exactly 2
    assert span == pytest.approx(2.0, abs=0.05) and (cloud.max(axis=1) - cloud.min(axis=1)).max() <= 2.0 + 1e-12


def test_variance_acceptance():
    tetra = sierpinski_tetrahedron()
    points, kept = ifs3d.point_cloud(tetra, 0, 4000)
    variances = ifs3d.axis_variances(points, kept)
    assert np.all(variances > 0.25)  # about 1/3 on each axis
    assert ifs3d.accepts(points, kept, 4000, 0.05)
    assert not ifs3d.accepts(points, kept, 4000, 0.4)
    flat = tetra.copy()
    flat[:, 6:9] = 0.0  # z' = 0: a planar cloud
    flat[:, 11] = 0.0
    points, kept = ifs3d.point_cloud(flat, 0, 4000)
    assert ifs3d.axis_variances(points, kept)[2] == 0.0 and not ifs3d.accepts(points, kept, 4000, 0.05)


def test_escaping_orbits_are_rejected():
    divergent = np.zeros((2, 13))
    divergent[:, [0, 4, 8]] = 3.0
    divergent[:, 9:12] = 1.0
    divergent[:, 12] = 0.5
    points, kept = ifs3d.point_cloud(divergent, 0, 2000)
    assert kept < 2000 and np.isfinite(points[:, :kept]).all()
    assert not ifs3d.accepts(points, kept, 2000, 0.05)


def test_searched_categories_pass_the_threshold(mv, mv_categories):
    for params in mv_categories:
        assert params.shape[1] == 13 and 2 <= len(params) <= 7
        points, kept = ifs3d.point_cloud(params, 0, mv.config.points)
        assert ifs3d.accepts(points, kept, mv.config.points, mv.config.variance)
    strict = get_formula("mvfractaldb", **SMALL_3D, variance=0.9)
    assert all(strict.sample_category(np.random.default_rng(i)) is None for i in range(20))


# --- projection geometry ------------------------------------------------------------------------
def lone_point_pixels(point, *, azimuth=0.0, elevation=0.0, size=225, fov=45.0, distance=4.0):
    """Pixels lit by one point; an odd size puts the image centre (112.5, 112.5) inside pixel
    (112, 112) rather than on a pixel border, so rounding cannot move it."""
    points = np.array(point, dtype=float).reshape(3, 1)
    image = ifs3d.render_view(points, 1, azimuth=azimuth, elevation=elevation, size=size,
                              distance=distance, fov=fov, point_size=1)
    return [tuple(rc) for rc in np.argwhere(image == 255)]


def test_the_origin_projects_to_the_centre():
    for azimuth, elevation in [(0, 0), (30, 0), (123, 45), (270, -89)]:
        assert lone_point_pixels([0, 0, 0], azimuth=azimuth, elevation=elevation) == [(112, 112)]


def test_a_known_point_projects_where_expected():
    half_width = 4.0 * math.tan(math.radians(22.5))  # the image half-width at the origin's depth
    # az = el = 0: camera on +z looking at -z, +x to the right, +y up.
    assert lone_point_pixels([0.5 * half_width, 0, 0]) == [(112, 168)]
    assert lone_point_pixels([0, 0.5 * half_width, 0]) == [(56, 112)]
    # az = 90: camera on +x; +z is now to the left of the image.
    assert lone_point_pixels([0, 0, 0.5 * half_width], azimuth=90) == [(112, 56)]
    # el = 90: camera above, looking down; up in the image is -z at az = 0.
    assert lone_point_pixels([0, 0, -0.5 * half_width], elevation=90) == [(56, 112)]
    # nearer points are magnified: x = 1 at depth 3 lands at 112.5 + 112.5 / (3 tan 22.5)
    col = int(112.5 + 112.5 * 1.0 / (3.0 * math.tan(math.radians(22.5))))
    assert lone_point_pixels([1.0, 0, 1.0]) == [(112, col)]


def test_points_behind_the_camera_or_outside_the_image_are_not_drawn():
    assert lone_point_pixels([0, 0, 5.0]) == []  # behind the camera at z = 4
    assert lone_point_pixels([3.0, 0, 0]) == []  # beyond the field of view
    points = np.array([[0.0], [0.0], [0.0]])
    image = ifs3d.render_view(points, 1, azimuth=0, elevation=0, size=9, distance=4, fov=45, point_size=3)
    assert image.sum() == 9 * 255 and image[3:6, 3:6].min() == 255


def test_azimuths_give_different_images_of_one_fractal(mv, mv_categories):
    params = mv_categories[0]
    front = mv.view(params, 0, 0.0, 0.0)
    side = mv.view(params, 0, 90.0, 0.0)
    top = mv.view(params, 0, 0.0, 60.0)
    assert not np.array_equal(front, side) and not np.array_equal(front, top)
    # a half turn mirrors the silhouette only approximately (perspective), but the cloud is the same
    assert np.count_nonzero(front) > 50 and np.count_nonzero(side) > 50


def test_the_12_mv_views_are_distinct_views_of_one_model(mv, mv_categories):
    assert mv.instances_per_category == 145 * 12
    params = mv_categories[1]
    views = [mv.render(params, v, np.random.default_rng(0)) for v in range(12)]
    digests = {view.tobytes() for view in views}
    assert len(digests) == 12
    # the generator does not matter: a view is a pure function of (category, instance)
    np.testing.assert_array_equal(views[3], mv.render(params, 3, np.random.default_rng(99)))
    assert mv.decompose(12 * 7 + 5) == (7, 5)
    assert mv.sample_stem(3, 12 * 7 + 5) == "000003_00007_005"


def test_exfractaldb_draws_a_viewpoint_per_instance(mv_categories):
    ex = get_formula("exfractaldb", **SMALL_3D)
    params = mv_categories[0]
    a = ex.sample(params, 0, 0, 0)
    b = ex.sample(params, 0, 0, 145)  # same variation, another viewpoint draw
    assert not np.array_equal(a, b)
    assert ex.decompose(145 * 3 + 10) == (10, 3)
    names = {ex.sample_stem(0, i) for i in range(1000)}
    assert len(names) == 1000
    rng = np.random.default_rng(0)
    from fdsl.formulas.exfractaldb import random_viewpoint

    elevations = [random_viewpoint(rng, 20.0)[1] for _ in range(200)]
    assert max(abs(e) for e in elevations) <= 20.0 + 1e-9


# --- OFDB ---------------------------------------------------------------------------------------
def test_ofdb_is_fractaldbs_identity_render_of_the_same_category():
    small = {"size": 48, "points": 4000, "search_size": 96, "search_points": 6000}
    ofdb = get_formula("ofdb", **small)
    fractaldb = get_formula("fractaldb", **small)
    params = ofdb.search_category(3, 1)
    np.testing.assert_array_equal(params, fractaldb.search_category(3, 1))
    identity = 2 * fractaldb.config.flips  # variation 2 (multiplier 1), patch draw 0, no flip
    assert fractaldb.decompose(identity) == (2, 0, 0)
    np.testing.assert_array_equal(
        ofdb.render(params, 0, derive_rng(7, "render", 1, 0)),
        fractaldb.render(params, identity, derive_rng(7, "render", 1, 0)),
    )
    official = get_formula("ofdb", **small, official_row0=True)  # the released data's a x 0.2
    np.testing.assert_array_equal(
        official.render(params, 0, derive_rng(7, "render", 1, 0)),
        fractaldb.render(params, 0, derive_rng(7, "render", 1, 0)),
    )
    assert ofdb.instances_per_category == 1 and ofdb.sample_stem(5, 0) == "00005_00_count_0_flip0"
    with pytest.raises(FdslError, match="instance = 1"):
        ofdb.render(params, 1, np.random.default_rng(0))


def test_ofdb3d_is_the_identity_model_from_12_azimuths(mv, mv_categories):
    ofdb3d = get_formula("ofdb3d", **SMALL_3D)
    assert ofdb3d.instances_per_category == 12
    params = mv_categories[2]
    for view in (0, 5, 11):
        np.testing.assert_array_equal(ofdb3d.sample(params, 0, 2, view), mv.sample(params, 0, 2, view))
    assert ofdb3d.sample_stem(2, 11) == "000002_00000_011"


# --- mixture ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mixture():
    return get_formula("mixture", families="fractaldb:3,mvfractaldb:4,ofdb3d:2", size=40, member_config="quick")


def test_mixture_label_ranges_are_disjoint_and_map_back(mixture):
    ranges = [mixture.label_range(f) for f in ("fractaldb", "mvfractaldb", "ofdb3d")]
    assert [(r.start, r.stop) for r in ranges] == [(0, 3), (3, 7), (7, 9)]
    assert mixture.category_count == 9
    expected = ["fractaldb"] * 3 + ["mvfractaldb"] * 4 + ["ofdb3d"] * 2
    assert [mixture.locate(c)[0] for c in range(9)] == expected
    assert [mixture.locate(c)[1] for c in range(9)] == [0, 1, 2, 0, 1, 2, 3, 0, 1]
    assert [mixture.locate(c) for c in (9, 12, 17, 20)] == [  # past the total the pattern repeats
        ("fractaldb", 3), ("mvfractaldb", 4), ("ofdb3d", 3), ("fractaldb", 8)]
    with pytest.raises(FdslError, match="category -1 is out of range"):
        mixture.locate(-1)
    assert mixture.instances_per_category == 12  # the most limited member


def test_mixture_categories_and_images_are_the_members_own(mixture):
    member = get_formula("mvfractaldb", **{**formula_class("mvfractaldb").quick_config, "size": 40})
    category = mixture.search_category(5, 4)  # label 4: mvfractaldb, its category 4 from seed 5
    assert category.family == "mvfractaldb"
    np.testing.assert_array_equal(category.params, member.search_category(5, 4))
    np.testing.assert_array_equal(mixture.sample(category, 5, 4, 3), member.sample(category.params, 5, 4, 3))
    first = mixture.search_category(5, 0)
    assert first.family == "fractaldb" and mixture.sample(first, 5, 0, 0).shape == (40, 40)


def test_members_sharing_a_search_never_share_a_fractal(mixture):
    # mvfractaldb and ofdb3d run the same 3-D search: labels 3..8 must still be 6 different fractals
    params = [mixture.search_category(0, c).params for c in range(3, 9)]
    assert len({p.tobytes() for p in params}) == 6


def test_mixture_conforms_size_and_mode(mixture):
    rgb = np.zeros((50, 30, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    grey = mixture.conform(rgb)
    assert grey.shape == (40, 40) and grey.dtype == np.uint8 and 55 <= grey.max() <= 65  # 0.299 * 200
    as_rgb = get_formula("mixture", families="fractaldb:2,ofdb3d:2", size=40, mode="RGB", member_config="quick")
    image = as_rgb.sample(as_rgb.search_category(0, 3), 0, 3, 0)
    assert image.shape == (40, 40, 3) and as_rgb.image_mode == "RGB"
    assert np.array_equal(image[..., 0], image[..., 2])


@pytest.mark.parametrize("count", [5, 11])  # a prefix (3 + 2 of 4), more than the total
def test_mixture_category_files_round_trip(mixture, tmp_path, count):
    categories = [mixture.search_category(0, i) for i in range(count)]
    mixture.write_categories(categories, tmp_path)
    assert {"fractaldb", "mixture.json", "mvfractaldb"} <= {p.name for p in tmp_path.iterdir()}
    back = mixture.read_categories(tmp_path)
    assert [c.family for c in back] == [c.family for c in categories]
    for a, b in zip(categories, back):
        np.testing.assert_array_equal(a.params, b.params)
    other = get_formula("mixture", families="fractaldb:3,mvfractaldb:5", size=40, member_config="quick")
    with pytest.raises(FdslError, match="families"):
        other.read_categories(tmp_path)


@pytest.mark.parametrize(
    "families, message",
    [
        ("fractaldb:3,nosuch:2", "unknown family 'nosuch'"),
        ("fractaldb:3,fractaldb:2", "appears twice"),
        ("fractaldb", "malformed"),
        ("fractaldb:x", "malformed"),
        ("fractaldb:\u00b2", "malformed"),
        ("fractaldb:0", "count >= 1"),
        ("fractaldb:2,mixture:2", "unknown family 'mixture'"),
    ],
)
def test_mixture_rejects_bad_specs(families, message):
    with pytest.raises(FdslError, match=message):
        get_formula("mixture", families=families)


# --- parameter files ----------------------------------------------------------------------------
def test_official_csvs_round_trip_exactly(mv, mv_categories, tmp_path):
    mv.write_categories(mv_categories, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000000.csv", "000001.csv", "000002.csv"]
    for a, b in zip(mv_categories, mv.read_categories(tmp_path)):
        np.testing.assert_array_equal(a, b)
    (tmp_path / "000001.csv").write_text("1,2,3\n")
    with pytest.raises(FdslError, match=r"000001.csv' line 1: 3 columns; allowed: 13 \(a, b, .*, l, p\)"):
        mv.read_categories(tmp_path)
    (tmp_path / "000001.csv").unlink()
    (tmp_path / "000001.csv").mkdir()  # the 2-D reader's checks apply: a folder would shift labels
    with pytest.raises(FdslError, match="000001.csv' is not a regular file"):
        mv.read_categories(tmp_path)


# --- bad values ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "family, option, value",
    [
        ("exfractaldb", "size", 4),
        ("exfractaldb", "points", 0),
        ("exfractaldb", "variance", 1.5),
        ("exfractaldb", "max_elevation", 91.0),
        ("mvfractaldb", "min_maps", 9),
        ("mvfractaldb", "point_size", 0),
        ("mvfractaldb", "views", 0),
        ("ofdb3d", "fov", 180.0),
        ("ofdb3d", "distance", 0.0),
        ("ofdb", "fill_rate", 0.0),
        ("ofdb", "render_mode", "blob"),
        ("mixture", "mode", "CMYK"),
        ("mixture", "member_config", "tiny"),
    ],
)
def test_bad_values_name_the_option(family, option, value):
    with pytest.raises(FdslError, match=option) as error:
        get_formula(family, **{option: value})
    message = str(error.value)
    assert "\n" not in message and ("allowed" in message or "valid" in message)


def test_bad_instances_raise(mv, mv_categories):
    with pytest.raises(FdslError, match="instance = 1740"):
        mv.render(mv_categories[0], 1740, np.random.default_rng(0))
    with pytest.raises(FdslError, match="instance = -1"):
        get_formula("exfractaldb").sample_stem(0, -1)
    with pytest.raises(FdslError, match=r"shape \(2, 7\)"):
        ifs3d.point_cloud(np.zeros((2, 7)), 0, 10)


# --- fuzz ---------------------------------------------------------------------------------------
any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)
systems = st.integers(1, 7).flatmap(
    lambda n: hnp.arrays(np.float64, (n, 13), elements=st.one_of(st.floats(-2, 2), any_float))
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    params=systems,
    variation=st.integers(0, 144),
    azimuth=st.floats(-1e4, 1e4),
    elevation=st.floats(-90, 90),
    size=st.integers(8, 40),
    point_size=st.integers(1, 16),
    fov=st.floats(1.0, 170.0),
    distance=st.floats(0.01, 50.0),
)
def test_fuzzed_systems_and_cameras_never_crash(params, variation, azimuth, elevation, size, point_size, fov, distance):
    points, kept = ifs3d.point_cloud(params, variation, 300)
    assert 0 <= kept <= 300 and np.isfinite(points[:, :kept]).all()
    ifs3d.accepts(points, kept, 300, 0.05)
    image = ifs3d.render_view(points, kept, azimuth=azimuth, elevation=elevation, size=size,
                              distance=distance, fov=fov, point_size=point_size)
    assert image.shape == (size, size) and image.dtype == np.uint8
    assert set(np.unique(image)) <= {0, 255}


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32), instance=st.integers(0, 144 * 12))
@pytest.mark.parametrize("family", FAMILIES_3D)
def test_fuzzed_seeds_render_every_family(family, seed, instance):
    formula = get_formula(family, size=24, points=500)
    params = ifs3d.sample_system(np.random.default_rng(seed), 2, 7)  # accepted or not
    instance %= formula.instances_per_category or 10**6
    image = formula.sample(params, seed, 0, instance)
    assert image.shape == (24, 24) and image.dtype == np.uint8
