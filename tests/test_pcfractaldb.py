"""PC-FractalDB objects and scenes: the official counts and normalisation, the mix list, the scene
rules (count, floor, overlap, yaw), every box holding its object's points, the files of a scene,
byte-identical renders with any number of workers, and fuzzed systems never crashing a kernel."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fdsl.data.writer import render_dataset
from fdsl.formulas.pcfractaldb import part_sizes
from fdsl.formulas.pcfractaldb_scenes import GAP
from fdsl.registry import formula_class, get_formula
from fdsl.samples.ply import decode_ply
from fdsl.seeding import derive_rng

SEED = 5


@pytest.fixture(scope="module")
def objects():
    return get_formula("pcfractaldb", **formula_class("pcfractaldb").quick_config)


@pytest.fixture(scope="module")
def scenes():
    return get_formula("pcfractaldb-scenes", **formula_class("pcfractaldb-scenes").quick_config)


def test_official_point_counts():
    assert part_sizes(10_000, 0.8) == (7_999, 1_999)  # calculate(8000) and calculate(int(1999.99...) + 1)
    assert get_formula("pcfractaldb").config.object_points == 9_998


def test_object_is_main_plus_mix_centred_by_the_budget(objects):
    params = objects.search_category(SEED, 0)
    cloud = objects.sample(params, SEED, 0, 3).points
    n_main, n_mix = part_sizes(1000, 0.8)
    assert cloud.shape == (n_main + n_mix, 3) and cloud.dtype == np.float32 and np.isfinite(cloud).all()
    # The merged cloud is shifted by its sums / budget: its mean is (1 - N / budget) x the unshifted one.
    assert np.abs(cloud.mean(axis=0)).max() < 0.01
    # Each part is min-max scaled jointly into [-1, 1], then only shifted: no axis spans more than 2.
    for part in (cloud[:n_main], cloud[n_main:]):
        assert 1.0 < (part.max(axis=0) - part.min(axis=0)).max() <= 2.0 + 1e-5
    # The main part is shared by every instance; the mix part is not.
    other = objects.sample(params, SEED, 0, 4).points
    main_a, main_b = cloud[:n_main] - cloud[:n_main].mean(0), other[:n_main] - other[:n_main].mean(0)
    np.testing.assert_allclose(main_a, main_b, atol=1e-5)
    assert not np.allclose(cloud[n_main:], other[n_main:])


def test_mix_list_is_a_permutation_shared_by_every_category(objects):
    order = [objects.mix_category(SEED, j) for j in range(objects.config.classes)]
    assert sorted(order) == list(range(objects.config.classes))
    assert order != [objects.mix_category(SEED + 1, j) for j in range(objects.config.classes)]


def boxes_hold_their_points(scene) -> bool:
    for k, box in enumerate(scene.boxes.astype(np.float64)):
        local = scene.points[scene.instances == k].astype(np.float64) - box[:3]
        cos, sin = math.cos(-box[6]), math.sin(-box[6])
        turned = np.column_stack([cos * local[:, 0] - sin * local[:, 1], sin * local[:, 0] + cos * local[:, 1],
                                  local[:, 2]])
        if not (np.abs(turned) <= box[3:6] / 2 + 1e-4).all():
            return False
    return True


@pytest.mark.parametrize("instance", range(4))
def test_every_box_holds_its_objects_points(scenes, instance):
    scene = scenes.sample(scenes.search_category(SEED, 0), SEED, 0, instance)
    assert len(scene.boxes) >= 1 and set(np.unique(scene.instances)) == set(range(len(scene.boxes)))
    assert boxes_hold_their_points(scene)


def test_scene_rules(scenes):
    for instance in range(6):
        scene = scenes.sample(scenes.search_category(SEED, 0), SEED, 0, instance)
        boxes = scene.boxes.astype(np.float64)
        assert (np.abs(boxes[:, :2]) <= 7.5).all() and np.allclose(boxes[:, 2], boxes[:, 5] / 2)  # on the floor
        assert ((boxes[:, 3] >= 0.75) & (boxes[:, 3] <= 1.25)).all()
        ratios = boxes[:, 4:6] / boxes[:, 3:4]
        assert ((ratios >= 0.9 - 1e-6) & (ratios <= 1.1 + 1e-6)).all()
        assert (np.abs(boxes[:, 6]) <= math.pi).all()
        assert ((scene.box_classes >= 0) & (scene.box_classes < scenes.config.classes)).all()
        for a in range(len(boxes)):
            for b in range(a):
                limit = 0.5 * (np.hypot(*boxes[a, 3:5]) + np.hypot(*boxes[b, 3:5])) + GAP
                assert np.hypot(*(boxes[a, :2] - boxes[b, :2])) >= limit - 1e-5


def test_object_count_is_base_plus_poisson():
    formula = get_formula("pcfractaldb-scenes", base_objects=3)
    counts = [len(formula.layout(derive_rng(0, "t", i))["boxes"]) for i in range(400)]
    assert min(counts) >= 3 and np.mean(counts) == pytest.approx(8.0, abs=0.4)


def test_scene_files_votenet_boxes_and_ply(scenes, tmp_path):
    scene = scenes.sample(scenes.search_category(SEED, 0), SEED, 0, 0)
    scenes.kind.write(scene, tmp_path, "s")
    bbox = np.load(tmp_path / "s.bbox.npy")
    assert bbox.shape == (len(scene.boxes), 8) and bbox.dtype == np.float32
    np.testing.assert_array_equal(bbox[:, 3:6] * 2, scene.boxes[:, 3:6])
    np.testing.assert_array_equal(bbox[:, 6], -scene.boxes[:, 6])
    np.testing.assert_array_equal(bbox[:, 7], scene.box_classes)
    vertices = decode_ply((tmp_path / "s.ply").read_bytes())
    np.testing.assert_array_equal(np.column_stack([vertices[a] for a in "xyz"]), scene.points)
    np.testing.assert_array_equal(vertices["instance"], scene.instances)


@pytest.mark.parametrize("name", ["pcfractaldb", "pcfractaldb-scenes"])
def test_the_same_bytes_with_any_number_of_workers(name, tmp_path):
    formula = get_formula(name, **formula_class(name).quick_config)
    categories = [formula.search_category(SEED, c) for c in range(2)]
    one = render_dataset(formula, categories, tmp_path / "one", seed=SEED, instances=3, workers=1, progress=False)
    two = render_dataset(formula, categories, tmp_path / "two", seed=SEED, instances=3, workers=2, progress=False)
    assert one["checksums"] == two["checksums"]


SYSTEMS = hnp.arrays(np.float64, st.tuples(st.integers(1, 7), st.just(13)),
                     elements=st.floats(-1e6, 1e6) | st.sampled_from([np.nan, np.inf, -np.inf, 0.0]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(main=SYSTEMS, mix=SYSTEMS, seed=st.integers(0, 2**32))
def test_fuzzed_systems_never_crash_the_kernels(objects, main, mix, seed):
    cloud = objects.mixed_cloud(main, mix, derive_rng(seed, "fuzz"))
    assert cloud.dtype == np.float32 and cloud.ndim == 2 and cloud.shape[1] == 3 and len(cloud) >= 1
    assert np.isfinite(cloud).all()
