"""FractalDB scenes: objects are FractalDB's categories, a later object hides an earlier one's pixels,
boxes are the visible masks' extents, hidden objects are dropped, and the category files and the CLI
work as for every family."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torchvision.ops import masks_to_boxes

from fdsl.errors import FdslError
from fdsl.formulas.fractaldb_scenes import SceneObject, visible_instances
from fdsl.registry import formula_class, get_formula
from fdsl.seeding import RENDER, derive_rng

SEED = 5
QUICK = formula_class("fractaldb-scenes").quick_config
QUICK_FLAGS = ["--size", "64", "--classes", "4", "--max-objects", "4", "--search-size", "128", "--search-points", "10000"]


@pytest.fixture(scope="module")
def scenes():
    formula = get_formula("fractaldb-scenes", **{**QUICK, "max_objects": 6})
    return formula, formula.search_category(SEED, 0)


def test_object_classes_are_fractaldb_categories_of_the_same_seed(scenes):
    formula, bucket = scenes
    fractaldb = get_formula("fractaldb", search_size=128, search_points=10000)
    assert len(bucket.systems) == 4
    for k, system in enumerate(bucket.systems):
        assert np.array_equal(system, fractaldb.search_category(SEED, k))
    assert formula.search_category(SEED, 3).systems is bucket.systems  # searched once, shared by every bucket


@pytest.mark.parametrize("instance", range(6))
def test_later_objects_hide_earlier_pixels_and_boxes_are_the_visible_extents(scenes, instance):
    formula, bucket = scenes
    sample = formula.sample(bucket, SEED, 0, instance)
    # The same draws, object by object: each lit pixel belongs to the last object that lights it.
    rng = derive_rng(SEED, RENDER, 0, instance)
    objects = formula.layout(rng, len(bucket.systems))
    owner = np.zeros((64, 64), np.int64)
    lit_pixels = []
    for k, obj in enumerate(objects):
        points = int(1.5 * obj.side * obj.side)
        lit = formula.objects.render_at(bucket.systems[obj.cls], obj.instance, rng, size=obj.side, points=points) > 0
        owner[obj.y: obj.y + obj.side, obj.x: obj.x + obj.side][lit] = k + 1
        lit_pixels.append(int(lit.sum()))
    assert any((owner == k + 1).sum() < lit for k, lit in enumerate(lit_pixels))  # these scenes have occlusions
    visible = [k for k in range(len(objects)) if (owner == k + 1).any()]
    assert sample.classes.tolist() == [objects[k].cls for k in visible]
    for new, k in enumerate(visible, start=1):
        assert np.array_equal(sample.instance_map == new, owner == k + 1)
    assert np.array_equal(sample.image > 0, sample.instance_map > 0)
    masks = torch.from_numpy(sample.masks())
    expected = masks_to_boxes(masks) + torch.tensor([0.0, 0.0, 1.0, 1.0])  # x1, y1 exclusive
    assert torch.equal(torch.from_numpy(sample.boxes), expected)
    formula.kind.validate(sample)


def test_scenes_hold_between_min_and_max_objects(scenes):
    formula, bucket = scenes
    counts = [len(formula.sample(bucket, SEED, 1, i).classes) for i in range(12)]
    assert max(counts) <= 6 and min(counts) >= 1 and len(set(counts)) > 1


def test_fully_hidden_objects_are_dropped_and_the_rest_renumbered():
    owner = np.zeros((10, 10), np.uint8)
    owner[0:4, 0:4] = 2  # object 0 (id 1) entirely under object 1
    owner[6:9, 5:10] = 3
    owner[9, 0] = 4  # object 3: one pixel left
    image = (owner > 0).astype(np.uint8) * 100
    objects = [SceneObject(7, 0, 4, 0, 0, 100), SceneObject(1, 0, 4, 0, 0, 100), SceneObject(2, 0, 5, 5, 5, 100),
               SceneObject(3, 0, 2, 0, 8, 100)]
    sample = visible_instances(image, owner, objects, min_visible=1)
    assert sample.classes.tolist() == [1, 2, 3]
    assert np.array_equal(sample.instance_map, np.where(owner > 0, owner - 1, 0))
    assert sample.boxes.tolist() == [[0, 0, 4, 4], [5, 6, 10, 9], [0, 9, 1, 10]]
    few = visible_instances(image, owner, objects, min_visible=2)  # a 1-pixel object is dropped too
    assert few.classes.tolist() == [1, 2] and few.instance_map[9, 0] == 0 and few.image[9, 0] == 100


def test_category_files_hold_the_classes_once_and_read_back(scenes, tmp_path):
    formula, bucket = scenes
    buckets = [formula.search_category(SEED, b) for b in range(3)]
    formula.write_categories(buckets, tmp_path)
    assert sorted(p.name for p in (tmp_path / "classes").iterdir()) == [f"0000{k}.csv" for k in range(4)]
    assert json.loads((tmp_path / "scenes.json").read_text()) == {"family": "fractaldb-scenes", "buckets": 3}
    read = formula.read_categories(tmp_path)
    assert [b.bucket for b in read] == [0, 1, 2]
    assert formula.kind.encode(formula.sample(read[2], SEED, 2, 1)) == formula.kind.encode(
        formula.sample(buckets[2], SEED, 2, 1))
    (tmp_path / "scenes.json").unlink()
    with pytest.raises(FdslError, match="scenes.json' does not exist"):
        formula.read_categories(tmp_path)


def test_released_fractaldb_csvs_serve_as_object_classes(run_cli, tmp_path):
    code, _, err = run_cli("search", "fractaldb", "--categories", "4", "--search-size", "128", "--search-points", "10000",
                           "--data-seed", str(SEED), "-o", tmp_path / "params" / "classes")
    assert code == 0, err
    (tmp_path / "params" / "scenes.json").write_text('{"buckets": 2}')
    code, out, err = run_cli("render", "fractaldb-scenes", *QUICK_FLAGS, "--param-dir", tmp_path / "params",
                             "--categories", "2", "--instances", "2", "--data-seed", str(SEED), "-o", tmp_path / "out")
    assert code == 0, err
    assert "wrote 4 image+instances samples of 2 categories" in out
    files = sorted(p.name for p in (tmp_path / "out" / "00001").iterdir())
    assert files == ["00001_00000.ids.png", "00001_00000.instances.json", "00001_00000.png",
                     "00001_00001.ids.png", "00001_00001.instances.json", "00001_00001.png"]
    searched = get_formula("fractaldb-scenes", **QUICK)
    stored = searched.kind.read(tmp_path / "out" / "00001", "00001_00001")
    again = searched.sample(searched.search_category(SEED, 1), SEED, 1, 1)
    assert searched.kind.encode(stored) == searched.kind.encode(again)
    code, out, err = run_cli("show", "fractaldb-scenes", *QUICK_FLAGS, "--categories", "2", "--instances", "3",
                             "-o", tmp_path / "show.png")
    assert code == 0 and "2 categories x 3 instances" in out, err


@pytest.mark.parametrize("options, message", [
    ({"size": 32, "min_scale": 0.2}, "under 8 pixels"),
    ({"max_objects": 300}, "max_objects <= 255"),
    ({"min_objects": 5, "max_objects": 4}, "min_objects <= max_objects"),
    ({"max_scale": 0.1}, "max_scale"),
    ({"patch_mode": "solid"}, "unknown patch_mode 'solid'"),
])
def test_bad_options_are_named(options, message):
    with pytest.raises(FdslError, match=message):
        get_formula("fractaldb-scenes", **options)
