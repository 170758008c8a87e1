"""Real detection data: the COCO JSON and YOLO readers, their options, every bad input named in one
line, a property test that no input makes them raise anything but FdslError, and COCO128 as shipped
in ../shared/data (skipped when absent)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_api

from fdsl.data.detection import (BACKGROUND, DetectionDataConfig, detection_splits, drop_empty_images,
                                 held_out_positions, parse_coco, parse_yolo_labels, read_coco, read_yolo,
                                 rle_string_counts, select_classes, split_holdout)
from fdsl.errors import FdslError

COCO128 = Path(__file__).resolve().parents[2] / "shared" / "data" / "coco128"
NAMES = ["person", "car", "dog"]


# --- synthetic data -------------------------------------------------------------------------------------
def write_image(path: Path, width: int = 40, height: int = 20) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (90, 90, 90)).save(path)
    return path


def yolo_root(root: Path, labels: dict[str, str], *, images=("a", "b"), names=None, task_folder: str | None = None,
              config_extra: str = "") -> Path:
    """A YOLO folder: images/train/<stem>.png (40 x 20) and label files; Ultralytics' layout (data.yaml,
    labels/train/), or COCO128's with ``task_folder`` (object_detection/ or instance_segmentation/)."""
    for stem in images:
        write_image(root / "images" / "train" / f"{stem}.png")
    names = names if names is not None else dict(enumerate(NAMES))
    base = root / task_folder if task_folder else root
    label_dir = base / "labels" / "train"
    label_dir.mkdir(parents=True)
    for stem, text in labels.items():
        (label_dir / f"{stem}.txt").write_text(text)
    config = "names:\n" + "".join(f"  {k}: {v}\n" for k, v in names.items()) + config_extra
    (base / ("config.yaml" if task_folder else "data.yaml")).write_text(config)
    return root


def coco_document(**changes) -> dict:
    """Two images (40 x 20), categories 3 "car" and 1 "person", three annotations (one crowd)."""
    document = {
        "images": [{"id": 7, "file_name": "a.png", "width": 40, "height": 20},
                   {"id": 9, "file_name": "b.png", "width": 40, "height": 20}],
        "categories": [{"id": 3, "name": "car"}, {"id": 1, "name": "person"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 3, "bbox": [2, 3, 10, 5], "iscrowd": 0,
             "segmentation": [[2, 3, 12, 3, 12, 8, 2, 8]]},
            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [20, 0, 10, 10], "iscrowd": 1,
             "segmentation": {"size": [20, 40], "counts": [400, 10, 10, 10, 370]}},
            {"id": 3, "image_id": 9, "category_id": 1, "bbox": [0, 0, 4, 4], "iscrowd": 0,
             "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]]},
        ],
    }
    document.update(changes)
    return document


def coco_files(root: Path, document: dict) -> Path:
    for name in ("a.png", "b.png"):
        write_image(root / "train" / name)
    path = root / "annotations" / "instances_train.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))
    return path


def annotation(index: int, **changes) -> dict:
    document = coco_document()
    document["annotations"][index].update(changes)
    return document


# --- YOLO ---------------------------------------------------------------------------------------------------
def test_yolo_boxes_become_xyxy_pixels_and_labels_after_the_background(tmp_path):
    root = yolo_root(tmp_path, {"a": "1 0.5 0.5 0.5 0.5\n\n2 0.25 0.75 0.1 0.2\n", "b": ""})
    data = read_yolo(root)
    assert data.classes == (BACKGROUND, *NAMES) and data.num_classes == 4 and not data.has_masks
    first = data.images[0]
    assert (first.path.name, first.size, first.image_id) == ("a.png", (20, 40), 0)
    np.testing.assert_allclose(first.boxes, [[10, 5, 30, 15], [8, 13, 12, 17]])
    assert first.labels.tolist() == [2, 3] and first.boxes.dtype == np.float32
    assert len(data.images[1].labels) == 0  # an empty label file: an image with no objects
    assert set(first.targets()) == {"boxes", "labels"}


def test_images_without_a_label_file_have_no_objects_unless_the_yaml_skips_them(tmp_path):
    data = read_yolo(yolo_root(tmp_path / "empty", {"a": "0 0.5 0.5 0.2 0.2\n"}))
    assert [len(image.labels) for image in data.images] == [1, 0]
    skipping = yolo_root(tmp_path / "skip", {"a": "0 0.5 0.5 0.2 0.2\n"}, config_extra="skip_if_label_file_missing: true\n")
    assert [image.path.stem for image in read_yolo(skipping).images] == ["a"]
    assert len(read_yolo(skipping, missing_labels="empty").images) == 2


def test_polygon_parts_are_one_instance_whose_mask_is_their_union(tmp_path):
    # Two squares, each closed by repeating its first point: one instance of class 2.
    left = "0.1 0.1 0.3 0.1 0.3 0.6 0.1 0.6 0.1 0.1"
    right = "0.6 0.2 0.9 0.2 0.9 0.9 0.6 0.9 0.6 0.2"
    root = yolo_root(tmp_path, {"a": f"2 {left} {right}\n", "b": "0 0.5 0.5 0.6 0.5 0.5 0.9\n"},
                     task_folder="instance_segmentation")
    write_image(root / "images" / "train" / "c.png")  # COCO128's layout keeps images outside the task folder
    data = read_yolo(root, labels="masks")
    assert data.has_masks and [len(image.labels) for image in data.images] == [1, 1, 0]
    image = data.images[0]
    np.testing.assert_allclose(image.boxes, [[4, 2, 36, 18]], atol=1e-5)
    masks = image.mask_array()
    assert masks.shape == (1, 20, 40) and masks.dtype == np.uint8
    # 8 x 10 and 12 x 14 pixels, as pycocotools rasterises the squares; nothing between them.
    assert masks[0, :, 4:12].sum() == pytest.approx(80, abs=12) and masks[0, :, 24:].sum() == pytest.approx(168, abs=16)
    assert masks[0, :, 14:22].sum() == 0


def test_class_numberings_of_box_and_polygon_labels_meet_in_one_label_space(tmp_path):
    boxes = read_yolo(yolo_root(tmp_path / "boxes", {"a": "2 0.5 0.5 0.2 0.2\n"}))
    polygons = read_yolo(yolo_root(tmp_path / "polygons", {"a": "18 0.4 0.4 0.6 0.4 0.6 0.6\n"},
                                   names={1: "person", 3: "car", 18: "dog"}), labels="masks")
    assert boxes.classes == polygons.classes == (BACKGROUND, "person", "car", "dog")
    assert boxes.images[0].labels.tolist() == polygons.images[0].labels.tolist() == [3]


def test_ultralytics_names_may_be_a_list(tmp_path):
    root = yolo_root(tmp_path, {"a": "1 0.5 0.5 0.2 0.2\n"})
    (root / "data.yaml").write_text("names: [person, car, dog]\n")
    assert read_yolo(root).images[0].labels.tolist() == [2]


def test_edges_just_outside_the_image_are_clipped(tmp_path):
    data = read_yolo(yolo_root(tmp_path, {"a": "0 0.5000005 0.5 1.000001 0.5\n"}))
    np.testing.assert_allclose(data.images[0].boxes, [[0, 5, 40, 15]])


# --- COCO JSON ---------------------------------------------------------------------------------------------
def test_coco_boxes_masks_crowd_and_categories(tmp_path):
    data = read_coco(coco_files(tmp_path, coco_document()), labels="masks")
    assert data.classes == (BACKGROUND, "person", "car") and data.has_masks  # sorted by category id
    first, second = data.images
    assert (first.image_id, second.image_id, first.path) == (7, 9, tmp_path / "train" / "a.png")
    np.testing.assert_allclose(first.boxes, [[2, 3, 12, 8]])
    assert first.labels.tolist() == [2] and second.labels.tolist() == [1]
    # The crowd region is apart: not a training target, kept for the evaluation.
    np.testing.assert_allclose(first.crowd_boxes, [[20, 0, 30, 10]])
    assert first.crowd_labels.tolist() == [1]
    crowd = mask_api.decode(first.crowd_masks[0])
    assert crowd.sum() == 20 and crowd[:, 20].sum() == 10 and crowd[:, 21].sum() == 10
    assert first.mask_array().sum() == pytest.approx(50, abs=15)
    boxes_only = read_coco(tmp_path / "annotations" / "instances_train.json")
    assert not boxes_only.has_masks and boxes_only.images[0].masks is None


def test_compressed_and_list_rles_give_the_same_mask(tmp_path):
    mask = np.zeros((20, 40), np.uint8, order="F")
    mask[3:9, 5:30] = 1
    mask[12:, 33:] = 1
    compressed = mask_api.encode(mask)
    as_string = {"size": [20, 40], "counts": compressed["counts"].decode()}
    document = coco_document()
    document["annotations"][1]["segmentation"] = as_string
    data = read_coco(coco_files(tmp_path, document), labels="masks")
    assert np.array_equal(mask_api.decode(data.images[0].crowd_masks[0]), mask)


@given(st.lists(st.integers(0, 1), min_size=1, max_size=300), st.integers(1, 30))
@settings(max_examples=40, deadline=None)
def test_the_rle_string_reader_inverts_pycocotools(bits, height):
    width = -(-len(bits) // height)
    mask = np.zeros(height * width, np.uint8)
    mask[: len(bits)] = bits
    mask = mask.reshape(width, height).T  # column-major, as COCO runs go
    counts = rle_string_counts(mask_api.encode(np.asfortranarray(mask))["counts"].decode(), "test")
    runs = np.repeat(np.arange(len(counts)) % 2, counts).astype(np.uint8)
    assert np.array_equal(runs.reshape(width, height).T, mask)


def test_a_missing_image_is_skipped_on_request(tmp_path):
    path = coco_files(tmp_path, coco_document())
    (tmp_path / "train" / "b.png").unlink()
    assert [image.image_id for image in read_coco(path, orphan_labels="skip").images] == [7]


# --- options ---------------------------------------------------------------------------------------------------
def test_a_class_subset_relabels_drops_other_objects_and_keeps_emptied_images(tmp_path):
    data = read_coco(coco_files(tmp_path, coco_document()), labels="masks")
    cars = select_classes(data, ["car"])
    assert cars.classes == (BACKGROUND, "car")
    assert [image.labels.tolist() for image in cars.images] == [[1], []]
    assert len(cars.images[0].masks) == 1 and len(cars.images[0].crowd_labels) == 0  # the person crowd goes too
    assert [image.image_id for image in drop_empty_images(cars).images] == [7]
    people = select_classes(data, ["person"])
    assert [image.labels.tolist() for image in people.images] == [[], [1]] and people.images[0].crowd_labels.tolist() == [1]
    with pytest.raises(FdslError, match="unknown class 'cat'.*valid: person, car"):
        select_classes(data, ["cat"])


def test_the_held_out_images_are_spread_evenly_by_file_order():
    assert held_out_positions(10, 0.2) == [4, 9]  # every fifth image
    assert held_out_positions(128, 0.2) == list(range(4, 128, 5))
    assert held_out_positions(7, 0.0) == []
    assert held_out_positions(3, 0.5) == [1]
    assert len(held_out_positions(1000, 0.1)) == 100 and len(held_out_positions(100, 0.3)) == 30


def test_a_run_reads_splits_and_selects_through_its_config(tmp_path):
    root = yolo_root(tmp_path, {stem: "0 0.5 0.5 0.2 0.2\n" if stem in "ace" else "1 0.5 0.5 0.2 0.2\n"
                                for stem in "abcdefghij"}, images=tuple("abcdefghij"))
    config = DetectionDataConfig(dataset=str(root), classes=("person",), holdout=0.2)
    train, held = detection_splits(config)
    assert [i.path.stem for i in held.images] == ["e", "j"] and len(train.images) == 8
    assert train.classes == (BACKGROUND, "person")
    dropped = DetectionDataConfig(dataset=str(root), classes=("person",), holdout=0.5, empty_images="drop")
    train, held = detection_splits(dropped)
    assert [i.path.stem for i in train.images + held.images] == ["a", "e", "c"]
    assert "every image at position i" in config.describe()
    with pytest.raises(FdslError, match="holdout"):
        split_holdout(train, 1.0)


def test_a_json_dataset_is_read_as_coco(tmp_path):
    path = coco_files(tmp_path, coco_document())
    train, held = detection_splits(DetectionDataConfig(dataset=str(path), labels="masks", holdout=0.5))
    assert [i.image_id for i in train.images] == [7] and [i.image_id for i in held.images] == [9]
    assert train.has_masks and DetectionDataConfig(dataset=str(path)).data_format == "coco"
    with pytest.raises(FdslError, match="data.empty_images = 'maybe'; valid: keep, drop"):
        detection_splits(DetectionDataConfig(dataset=str(path), empty_images="maybe"))


# --- bad input: one line naming the file ---------------------------------------------------------------------
BAD_YOLO = {
    "box outside the image": ("boxes", "0 0.9 0.5 0.5 0.5\n", "a.txt' line 1: box .* lies outside the 40x20 image"),
    "box of zero area": ("boxes", "0 0.5 0.5 0 0.5\n", "a.txt' line 1: box .* has zero area"),
    "class id out of range": ("boxes", "0 0.5 0.5 0.2 0.2\n3 0.5 0.5 0.2 0.2\n",
                              r"a.txt' line 2: class id 3 is out of range \(the config names ids 0..2\)"),
    "class id not a number": ("boxes", "person 0.5 0.5 0.2 0.2\n", "a.txt' line 1: class id 'person' is not an"),
    "wrong column count": ("boxes", "0 0.5 0.5 0.2\n", "a.txt' line 1: 4 columns; a box line is 'class cx cy w h'"),
    "not a number": ("boxes", "0 0.5 x 0.2 0.2\n", "a.txt' line 1: a coordinate is not a number"),
    "not finite": ("boxes", "0 0.5 nan 0.2 0.2\n", "a.txt' line 1: a coordinate is NaN"),
    "polygon of 2 points": ("masks", "0 0.1 0.1 0.5 0.5\n", "a.txt' line 1: polygon of 2 points; a polygon needs"),
    "polygon part of 2 points": ("masks", "0 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.1 0.7 0.7 0.8 0.8\n",
                                 "a.txt' line 1: polygon of 2 points"),
    "odd coordinates": ("masks", "0 0.1 0.1 0.5 0.5 0.3\n", "a.txt' line 1: 5 coordinates after the class"),
    "polygon outside": ("masks", "0 0.1 0.1 1.5 0.1 0.5 0.5\n", "a.txt' line 1: polygon point outside"),
    "binary": ("boxes", b"\xff\xfe\x00", "a.txt' is not UTF-8 text"),
}


@pytest.mark.parametrize("labels, content, message", BAD_YOLO.values(), ids=BAD_YOLO.keys())
def test_bad_yolo_labels_are_named(tmp_path, labels, content, message):
    root = yolo_root(tmp_path, {})
    path = root / "labels" / "train" / "a.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(FdslError, match=message):
        read_yolo(root, labels=labels)


def test_a_label_without_an_image_is_named(tmp_path):
    root = yolo_root(tmp_path, {"a": "", "zz": "0 0.5 0.5 0.2 0.2\n"})
    with pytest.raises(FdslError, match=r"label file '.*zz.txt' has no image zz\.\* in .*orphan_labels"):
        read_yolo(root)
    assert len(read_yolo(root, orphan_labels="skip").images) == 2


def test_a_yolo_folder_without_names_is_named(tmp_path):
    root = yolo_root(tmp_path, {"a": ""})
    (root / "data.yaml").write_text("train: images\n")
    with pytest.raises(FdslError, match="data.yaml' has no 'names'"):
        read_yolo(root)


BAD_COCO = {
    "not an object": ([1, 2], "is not COCO: the top level is a list"),
    "no images": (coco_document(images=None), "'images' is missing or not a list"),
    "no annotations key": ({k: v for k, v in coco_document().items() if k != "annotations"}, "'annotations' is missing"),
    "image without size": (coco_document(images=[{"id": 7, "file_name": "a.png"}]), r"images\[0\] needs"),
    "string id": (annotation(0, image_id="7"), r"annotations\[0\] needs an integer 'image_id'"),
    "bbox of 3": (annotation(0, bbox=[1, 2, 3]), r"annotations\[0\] needs a 'bbox' of 4 finite numbers"),
    "bbox of text": (annotation(0, bbox=[1, 2, "3", 4]), r"annotations\[0\] needs a 'bbox'"),
    "crowd 2": (annotation(0, iscrowd=2), r"annotations\[0\] has 'iscrowd' 2"),
    "unknown image": (annotation(0, image_id=8), r"annotations\[0\] refers to image id 8, which 'images' lacks"),
    "repeated image id": (coco_document(images=[{"id": 7, "file_name": "a.png", "width": 4, "height": 4}] * 2),
                          "repeats image id 7"),
    "category out of range": (annotation(0, category_id=2), r"annotations\[0\] \(id 1\): category id 2 is out of"),
    "box outside": (annotation(0, bbox=[35, 3, 10, 5]), r"annotations\[0\] \(id 1\): box .* lies outside the 40x20"),
    "zero area": (annotation(2, bbox=[0, 0, 0, 4]), r"annotations\[2\] \(id 3\): box .* has zero area"),
    "polygon of 2 points": (annotation(0, segmentation=[[2, 3, 12, 3]]), "polygon of 2 points"),
    "polygon of text": (annotation(0, segmentation=[["2", 3, 12, 3, 5, 5]]), "not a list of finite numbers"),
    "segmentation a number": (annotation(0, segmentation=5), "neither polygons"),
    "rle of another size": (annotation(1, segmentation={"size": [10, 40], "counts": [400]}), "RLE size"),
    "rle counts short": (annotation(1, segmentation={"size": [20, 40], "counts": [400, 10]}), "sum to 410"),
    "rle string malformed": (annotation(1, segmentation={"size": [20, 40], "counts": "\x7f0"}), "malformed RLE"),
    "masks missing": (annotation(2, segmentation=[]), r"annotation id 3 has no segmentation \(1 of 3"),
}


@pytest.mark.parametrize("document, message", BAD_COCO.values(), ids=BAD_COCO.keys())
def test_bad_coco_files_are_named(tmp_path, document, message):
    path = coco_files(tmp_path, document)
    with pytest.raises(FdslError, match=message) as error:
        read_coco(path, labels="masks")
    assert "instances_train.json" in str(error.value) and "\n" not in str(error.value)


def test_a_labelled_image_that_is_missing_is_named(tmp_path):
    path = coco_files(tmp_path, coco_document())
    (tmp_path / "train" / "b.png").unlink()
    with pytest.raises(FdslError, match=r"labels image '.*b.png', which does not exist"):
        read_coco(path)


def test_files_that_are_not_json_are_named(tmp_path):
    path = coco_files(tmp_path, coco_document())
    path.write_bytes(b"\x89PNG not json")
    with pytest.raises(FdslError, match="instances_train.json' is not JSON"):
        read_coco(path)


# --- nothing but FdslError, whatever the bytes ------------------------------------------------------------------
CLASSES = {0: 1, 1: 2, 5: 3}
NUMBER_WORDS = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-3, 8).map(str),
                         st.sampled_from(["", "0.5", "-0", "1e999", "x", "0x1", "１", "nan"]))
LINES = st.lists(st.lists(NUMBER_WORDS, max_size=12).map(" ".join), max_size=6).map("\n".join)


def parse_or_fail(data: bytes, labels: str) -> None:
    try:
        parse_yolo_labels(data, Path("fuzz.txt"), labels, 40, 20, CLASSES)
    except FdslError as error:
        assert "fuzz.txt" in str(error)


@given(st.binary(max_size=200), st.sampled_from(["boxes", "masks"]))
@settings(max_examples=150, deadline=None)
def test_random_bytes_in_a_label_file_raise_only_fdsl_errors(data, labels):
    parse_or_fail(data, labels)


@given(LINES, st.integers(0, 40), st.sampled_from(["boxes", "masks"]))
@settings(max_examples=150, deadline=None)
def test_truncated_lines_and_wrong_column_counts_raise_only_fdsl_errors(text, cut, labels):
    parse_or_fail(text.encode()[: len(text) - cut], labels)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12)
FIELDS = {"images": ["id", "file_name", "width", "height"], "categories": ["id", "name"],
          "annotations": ["id", "image_id", "category_id", "bbox", "iscrowd", "segmentation"]}


@st.composite
def mutated_coco(draw) -> dict:
    """A valid document with one field of one entry replaced by a random JSON value (or removed)."""
    document = coco_document()
    section = draw(st.sampled_from(sorted(FIELDS)))
    entry = draw(st.integers(0, len(document[section]) - 1))
    key = draw(st.sampled_from(FIELDS[section]))
    value = draw(st.none() | JSON_VALUES)
    if value is None:
        document[section][entry].pop(key, None)
    else:
        document[section][entry][key] = value
    return document


def parse_document_or_fail(document, image_dir: Path) -> None:
    try:
        parse_coco(document, Path("fuzz.json"), image_dir, labels="masks")
    except FdslError as error:
        assert "fuzz.json" in str(error)


@given(st.one_of(JSON_VALUES, st.dictionaries(st.sampled_from(["images", "annotations", "categories"]), JSON_VALUES)))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_json_raises_only_fdsl_errors(tmp_path, document):
    parse_document_or_fail(document, tmp_path)


@given(mutated_coco())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_coco_with_a_random_field_raises_only_fdsl_errors(tmp_path, document):
    parse_document_or_fail(document, tmp_path)


# --- COCO128, as the shared folder holds it ----------------------------------------------------------------------
needs_coco128 = pytest.mark.skipif(not COCO128.is_dir(), reason="../shared/data/coco128 is not here")


@pytest.fixture(scope="module")
def coco128():
    return {"boxes": read_yolo(COCO128, orphan_labels="skip"), "masks": read_yolo(COCO128, labels="masks")}


@needs_coco128
def test_coco128_counts_are_the_readme_s(coco128):
    boxes, masks = coco128["boxes"], coco128["masks"]
    assert (len(boxes.images), boxes.instance_count(), len(masks.images), masks.instance_count()) == (128, 929, 100, 746)
    assert boxes.classes == masks.classes and len(boxes.classes) == 81 and boxes.classes[1] == "person"
    assert sum(int((image.labels == 1).sum()) for image in boxes.images) == 254
    assert sum(int((image.labels == 1).sum()) for image in masks.images) == 209
    assert [len(i.labels) for i in boxes.images if i.path.stem in ("000000000250", "000000000508")] == [0, 0]
    assert masks.images[-1].path.stem == "000000000536"  # the last 28 have no polygon file: not annotated


@needs_coco128
def test_coco128_box_and_polygon_classes_agree(coco128):
    """The README's check: polygons whose box overlaps a box label at IoU >= 0.7 name the same class."""
    from torchvision.ops import box_iou
    import torch

    boxes = {image.path.stem: image for image in coco128["boxes"].images}
    agree = overlapping = 0
    for image in coco128["masks"].images:
        other = boxes[image.path.stem]
        if not len(image.labels) or not len(other.labels):
            continue
        iou = box_iou(torch.from_numpy(image.boxes), torch.from_numpy(other.boxes))
        best, match = iou.max(dim=1)
        overlapping += int((best >= 0.7).sum())
        agree += int(((best >= 0.7) & (torch.from_numpy(image.labels) == torch.from_numpy(other.labels)[match])).sum())
    assert agree == overlapping == 701


@needs_coco128
def test_coco128_orphan_box_files_are_named_unless_skipped():
    with pytest.raises(FdslError, match=r"000000000656.txt' has no image .* \(2 such files\)"):
        read_yolo(COCO128)
