"""Real detection data: COCO JSON and YOLO folders, read into one in-memory structure.

Both readers give a :class:`DetectionData`: the class names and, per image, its path, its size and
its instances (boxes, labels, optional masks), the targets a torchvision detector takes. Nothing
here imports torch (the dataset and transforms over it are :mod:`fdsl.data.detection_dataset`).

Labels: ``classes[0]`` is :data:`BACKGROUND`, as torchvision's detectors reserve label 0 for it;
the object classes are labels 1..K, so a detector is built with ``num_classes=len(data.classes)``.

- COCO JSON (``instances_*.json``; Lin et al., ECCV 2014, the format of cocodataset.org's
  "Data format" page): boxes ``[x, y, w, h]`` become xyxy pixels; ``segmentation`` is polygons
  (lists of x y ... pixel coordinates) or RLE (``counts`` a list, or COCO's compressed string),
  decoded with pycocotools' mask API; category ids sorted ascending become labels 1..K with their
  names. ``iscrowd`` regions are left out of the training targets and kept apart as crowd
  (:attr:`DetectionImage.crowd_boxes`, ...), which the COCO evaluation ignores as COCO does.
  Masks are read on request (``labels="masks"``), when every annotation has a segmentation.
- YOLO folders (Ultralytics' text labels, ``<stem>.txt`` beside ``<stem>.jpg``): box lines
  ``class cx cy w h`` and polygon lines ``class x1 y1 x2 y2 ...``, normalised by the image's width
  and height. Class ids are the keys of the layout's YAML ``names`` (a list or an id -> name map);
  sorted ascending they become labels 1..K, so label files that number classes differently (COCO128:
  0-79 for boxes, COCO ids 1-90 for polygons, the same names) land in one label space. A polygon
  line may hold several parts, each closed by repeating its first point (COCO128's polygons,
  traced from COCO's panoptic masks): one instance, its mask the union of the parts, its box the
  extent of its points. Masks are rasterised by pycocotools at the image's size, as COCO
  rasterises its own polygons.

Images without objects: an empty label file, or an image with no label file, is an image with no
objects (a negative example, which torchvision's detectors train on); a YAML that sets
``skip_if_label_file_missing: true`` (COCO128's polygon labels, of which only the first 100 images
have files) or ``missing_labels="skip"`` leaves images without a label file out instead, as not
annotated. A class subset (:func:`select_classes`) keeps the images it empties, unless asked to
drop them (:func:`drop_empty_images`).

Tolerance: a box edge or polygon point may lie up to :data:`EDGE_TOLERANCE` pixels outside the
image (the rounding of normalised labels, up to 5e-7 of the size in COCO128) and is clipped to it.

Bad input ends in one :class:`~fdsl.errors.FdslError` naming the file (and line or annotation):
a box outside the image or of zero area, a class id out of range, a polygon of fewer than 3
points, a label without an image (a label file whose image is missing, a JSON image entry whose
file is missing: ``orphan_labels="skip"`` skips those instead), a JSON that is not COCO (missing
keys, wrong types, ids that do not match), text that does not parse.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image
from pycocotools import mask as mask_api

from fdsl.data.config import (DetectionDataConfig, EMPTY_IMAGES, FORMATS, LABEL_KINDS, MISSING_LABELS,  # noqa: F401
                              ORPHAN_LABELS)
from fdsl.errors import FdslError, check

#: Label 0, as torchvision's detectors reserve it (their weights' ``categories`` start with it).
BACKGROUND = "__background__"
#: How far (pixels) a box edge or polygon point may lie outside the image before it is an error.
EDGE_TOLERANCE = 1.0
#: The largest width or height (and coordinate) taken: beyond, an image is no photo (PIL refuses them too).
MAX_PIXELS = 100_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: The YOLO label folder of each label kind in COCO128's layout (lightly-ai/coco128_yolo).
YOLO_TASK_FOLDERS = {"boxes": "object_detection", "masks": "instance_segmentation"}


# --- the structure ----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class DetectionImage:
    """One image and its instances. Boxes are float32 (N, 4) x0, y0, x1, y1 in pixels (x1, y1
    exclusive: a box spans its pixels' extent); labels int64 (N,) in 1..K; masks N COCO RLEs (the
    compact, lossless run-length form; :meth:`mask_array` decodes them) or None. Crowd regions are
    kept apart, for the evaluation only."""

    image_id: int
    path: Path
    width: int
    height: int
    boxes: np.ndarray
    labels: np.ndarray
    masks: tuple[dict, ...] | None = None
    crowd_boxes: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((0, 4), np.float32))
    crowd_labels: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    crowd_masks: tuple[dict, ...] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width), torch's order."""
        return self.height, self.width

    def mask_array(self) -> np.ndarray:
        """uint8 (N, H, W): 1 inside each instance's mask."""
        check(self.masks is not None, f"image {str(self.path)!r} has no masks (boxes-only labels)")
        return decode_masks(self.masks, self.height, self.width)

    def targets(self) -> dict[str, np.ndarray]:
        """``{"boxes", "labels"}`` and ``"masks"`` when the data has them: a torchvision detector's
        target as numpy arrays (crowd regions left out)."""
        targets = {"boxes": self.boxes, "labels": self.labels}
        if self.masks is not None:
            targets["masks"] = self.mask_array()
        return targets


@dataclasses.dataclass(frozen=True, eq=False)
class DetectionData:
    """Class names (``classes[0]`` the background) and the images, in file (or JSON) order."""

    classes: tuple[str, ...]
    images: tuple[DetectionImage, ...]
    has_masks: bool
    #: What was read, for messages and cards: the JSON file or the YOLO label folder.
    source: str

    @property
    def num_classes(self) -> int:
        """Object classes + the background: a torchvision detector's ``num_classes``."""
        return len(self.classes)

    def instance_count(self) -> int:
        return sum(len(image.labels) for image in self.images)

    def replace(self, **changes: Any) -> "DetectionData":
        return dataclasses.replace(self, **changes)


def decode_masks(rles: Sequence[dict], height: int, width: int) -> np.ndarray:
    if not rles:
        return np.zeros((0, height, width), np.uint8)
    return np.ascontiguousarray(mask_api.decode(list(rles)).transpose(2, 0, 1))


class Instances:
    """Instances of one image as they are read: boxes, labels, masks (RLEs) and crowd flags."""

    def __init__(self) -> None:
        self.boxes: list[tuple[float, float, float, float]] = []
        self.labels: list[int] = []
        self.masks: list[dict | None] = []
        self.crowd: list[bool] = []

    def add(self, box: tuple[float, float, float, float], label: int, mask: dict | None = None,
            crowd: bool = False) -> None:
        self.boxes.append(box)
        self.labels.append(label)
        self.masks.append(mask)
        self.crowd.append(crowd)

    def image(self, image_id: int, path: Path, width: int, height: int, with_masks: bool) -> DetectionImage:
        crowd = np.array(self.crowd, dtype=bool)
        boxes = np.array(self.boxes, dtype=np.float32).reshape(-1, 4)
        labels = np.array(self.labels, dtype=np.int64)
        masks = list(self.masks)

        def pick(keep: np.ndarray):
            chosen = tuple(m for m, k in zip(masks, keep) if k)
            return boxes[keep], labels[keep], (chosen if with_masks else None)

        own, crowds = pick(~crowd), pick(crowd)
        return DetectionImage(image_id, path, width, height, *own, crowd_boxes=crowds[0], crowd_labels=crowds[1],
                              crowd_masks=crowds[2])


# --- checks shared by both formats -------------------------------------------------------------------
def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float (JSON's integers are unbounded: a huge one is no coordinate)."""
    if is_int(value):
        return abs(value) <= MAX_PIXELS
    return isinstance(value, float) and math.isfinite(value)


def checked_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int,
                where: str) -> tuple[float, float, float, float]:
    """The box clipped to the image; one error naming ``where`` for a box of zero area or one
    outside the image (beyond :data:`EDGE_TOLERANCE`)."""
    text = f"({x0:.6g}, {y0:.6g}, {x1:.6g}, {y1:.6g})"
    check(x1 > x0 and y1 > y0, f"{where}: box {text} (x0, y0, x1, y1 in pixels) has zero area")
    inside = (x0 >= -EDGE_TOLERANCE and y0 >= -EDGE_TOLERANCE and x1 <= width + EDGE_TOLERANCE
              and y1 <= height + EDGE_TOLERANCE)
    clipped = (min(max(x0, 0.0), width), min(max(y0, 0.0), height), min(max(x1, 0.0), width),
               min(max(y1, 0.0), height))
    check(inside and clipped[2] > clipped[0] and clipped[3] > clipped[1],
          f"{where}: box {text} (x0, y0, x1, y1 in pixels) lies outside the {width}x{height} image")
    return clipped


def polygon_parts_mask(parts: list[np.ndarray], width: int, height: int, where: str) -> dict:
    """One RLE: the union of polygon ``parts`` (each (n, 2) pixel points, n >= 3) at the image's size."""
    flat = []
    for part in parts:
        check(len(part) >= 3, f"{where}: polygon of {len(part)} points; a polygon needs at least 3")
        outside = ((part < -EDGE_TOLERANCE) | (part > np.array([width, height]) + EDGE_TOLERANCE)).any()
        check(not outside, f"{where}: polygon point outside the {width}x{height} image")
        # pycocotools reads a 4-number list as a box, never as a polygon: parts have >= 6 numbers here.
        flat.append(np.clip(part, 0, [width, height]).ravel().tolist())
    return mask_api.merge(mask_api.frPyObjects(flat, height, width))


def polygon_box(parts: list[np.ndarray], width: int, height: int, where: str) -> tuple[float, float, float, float]:
    points = np.concatenate(parts)
    low, high = points.min(axis=0), points.max(axis=0)
    return checked_box(float(low[0]), float(low[1]), float(high[0]), float(high[1]), width, height, where)


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image file's header."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise FdslError(f"image {str(path)!r} cannot be read ({error})") from None


def list_images(folder: Path) -> list[Path]:
    check(folder.is_dir(), f"image folder {str(folder)!r} does not exist or is not a directory")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


# --- YOLO ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class YoloLayout:
    images: Path
    labels: Path
    config: Path


def yolo_layout(root: Path, labels: str, split: str | None = None) -> YoloLayout:
    """Where a YOLO root keeps images, label files and class names, in one of two layouts:

    - COCO128's (lightly-ai/coco128_yolo): ``images/<split>/``, and per label kind
      ``object_detection/`` (boxes) or ``instance_segmentation/`` (masks: polygons), each with
      ``config.yaml`` and ``labels/<split>/``;
    - Ultralytics': ``images/<split>/``, ``labels/<split>/`` and one ``*.yaml`` data file in the root.

    ``split`` defaults to the only folder under ``labels/``.
    """
    check(labels in LABEL_KINDS, f"unknown labels {labels!r}; valid: {', '.join(LABEL_KINDS)}")
    task_folder = root / YOLO_TASK_FOLDERS[labels]
    if (task_folder / "config.yaml").is_file():
        config, labels_root = task_folder / "config.yaml", task_folder / "labels"
    else:
        yamls = sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml"))
        check(len(yamls) == 1 and (root / "labels").is_dir(),
              f"YOLO data {str(root)!r} has neither {YOLO_TASK_FOLDERS[labels]}/config.yaml nor labels/ with one "
              f"*.yaml beside it (found {len(yamls)} YAML files)")
        config, labels_root = yamls[0], root / "labels"
    check(labels_root.is_dir(), f"YOLO data {str(root)!r} has no label folder {str(labels_root)!r}")
    splits = sorted(p.name for p in labels_root.iterdir() if p.is_dir())
    if split is None:
        check(len(splits) == 1, f"label folder {str(labels_root)!r} holds splits {splits}; choose one")
        split = splits[0]
    check(split in splits, f"label folder {str(labels_root)!r} has no split {split!r}; found {splits}")
    return YoloLayout(root / "images" / split, labels_root / split, config)


def read_yolo_names(path: Path) -> tuple[dict[int, str], bool | None]:
    """(class id -> name, the YAML's ``skip_if_label_file_missing`` or None) of a YOLO data YAML."""
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise FdslError(f"YOLO config {str(path)!r} cannot be read ({error})") from None
    names = config.get("names") if isinstance(config, dict) else None
    if isinstance(names, list):
        names = dict(enumerate(names))
    check(isinstance(names, dict) and bool(names) and all(is_int(k) and k >= 0 for k in names)
          and all(isinstance(v, str) and v for v in names.values()),
          f"YOLO config {str(path)!r} has no 'names' list or id -> name map")
    check(len(set(names.values())) == len(names), f"YOLO config {str(path)!r} names a class twice")
    skip = config.get("skip_if_label_file_missing")
    check(skip is None or isinstance(skip, bool), f"YOLO config {str(path)!r}: skip_if_label_file_missing "
                                                  f"= {skip!r}; expected true or false")
    return dict(sorted(names.items())), skip


def parse_yolo_labels(data: bytes, path: Path, labels: str, width: int, height: int,
                      class_labels: dict[int, int]) -> Instances:
    """The instances of one YOLO label file's bytes (``labels``: "boxes" or "masks", polygon lines)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FdslError(f"label file {str(path)!r} is not UTF-8 text") from None
    instances = Instances()
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        where = f"label file {str(path)!r} line {number}"
        label = yolo_class(words[0], where, class_labels)
        values = yolo_numbers(words[1:], where)
        if labels == "boxes":
            check(len(values) == 4, f"{where}: {len(words)} columns; a box line is 'class cx cy w h' (5 columns)")
            cx, cy, w, h = values * np.array([width, height, width, height])
            instances.add(checked_box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, width, height, where), label)
        else:
            check(len(values) % 2 == 0, f"{where}: {len(values)} coordinates after the class; a polygon line is "
                                        "'class x1 y1 x2 y2 ...' (pairs)")
            check(len(values) >= 6, f"{where}: polygon of {len(values) // 2} points; a polygon needs at least 3")
            parts = polygon_parts(values.reshape(-1, 2) * np.array([width, height]))
            mask = polygon_parts_mask(parts, width, height, where)  # first: it names bad points
            instances.add(polygon_box(parts, width, height, where), label, mask)
    return instances


def yolo_class(word: str, where: str, class_labels: dict[int, int]) -> int:
    try:
        class_id = int(word)
    except ValueError:
        raise FdslError(f"{where}: class id {word[:20]!r} is not an integer") from None
    check(class_id in class_labels, f"{where}: class id {class_id} is out of range (the config names ids "
                                    f"{format_ids(class_labels)})")
    return class_labels[class_id]


def format_ids(class_labels: dict[int, int]) -> str:
    ids = sorted(class_labels)
    return f"{ids[0]}..{ids[-1]}" + ("" if len(ids) == ids[-1] - ids[0] + 1 else f", {len(ids)} of them")


def yolo_numbers(words: list[str], where: str) -> np.ndarray:
    try:
        values = np.array([float(word) for word in words], dtype=np.float64)
    except ValueError:
        raise FdslError(f"{where}: a coordinate is not a number") from None
    check(bool(np.isfinite(values).all()), f"{where}: a coordinate is NaN or infinite")
    return values


def polygon_parts(points: np.ndarray) -> list[np.ndarray]:
    """The parts of a polygon line: a part ends where a point repeats the part's first point (after
    at least 3 points); what is left at the end, unclosed, is the last part."""
    parts, start, index = [], 0, 1
    while index < len(points):
        if index - start >= 3 and (points[index] == points[start]).all():
            parts.append(points[start:index])
            start, index = index + 1, index + 2
        else:
            index += 1
    if start < len(points):
        parts.append(points[start:])
    return parts


def read_yolo(root: str | Path, *, labels: str = "boxes", split: str | None = None,
              missing_labels: str | None = None, orphan_labels: str = "error") -> DetectionData:
    """A YOLO folder (:func:`yolo_layout`) with box or polygon (``labels="masks"``) label files.

    Image ids are positions in file-name order. ``missing_labels``: "empty" (an image without a label
    file has no objects) or "skip" (it is left out, not annotated); default: the YAML's
    ``skip_if_label_file_missing``, else "empty". ``orphan_labels``: "error" or "skip" for label
    files without an image (COCO128's boxes hold two, ``000000000656.txt`` and ``000000000659.txt``).
    """
    root = Path(root)
    check(root.is_dir(), f"YOLO data {str(root)!r} does not exist or is not a directory")
    check(orphan_labels in ORPHAN_LABELS, f"unknown orphan_labels {orphan_labels!r}; valid: {', '.join(ORPHAN_LABELS)}")
    layout = yolo_layout(root, labels, split)
    names, skip_missing = read_yolo_names(layout.config)
    if missing_labels is None:
        missing_labels = "skip" if skip_missing else "empty"
    check(missing_labels in MISSING_LABELS,
          f"unknown missing_labels {missing_labels!r}; valid: {', '.join(MISSING_LABELS)}")
    class_labels = {class_id: label for label, class_id in enumerate(names, start=1)}
    images = list_images(layout.images)
    label_files = {p.stem: p for p in layout.labels.iterdir() if p.suffix == ".txt"}
    check_orphans(label_files, {p.stem for p in images}, layout.images, orphan_labels)
    read = []
    for image_id, path in enumerate(images):
        label_file = label_files.get(path.stem)
        if label_file is None and missing_labels == "skip":
            continue
        width, height = image_size(path)
        data = label_file.read_bytes() if label_file is not None else b""
        instances = parse_yolo_labels(data, label_file or path, labels, width, height, class_labels)
        read.append(instances.image(image_id, path, width, height, labels == "masks"))
    check(bool(read), f"YOLO data {str(root)!r} holds no labelled image in {str(layout.images)!r}")
    return DetectionData((BACKGROUND, *names.values()), tuple(read), labels == "masks", str(layout.labels))


def check_orphans(label_files: dict[str, Path], image_stems: set[str], images: Path, orphan_labels: str) -> None:
    orphans = sorted(stem for stem in label_files if stem not in image_stems)
    if orphans and orphan_labels == "error":
        raise FdslError(f"label file {str(label_files[orphans[0]])!r} has no image {orphans[0]}.* in "
                        f"{str(images)!r} ({len(orphans)} such files); remove them, or set orphan_labels to 'skip'")


# --- COCO JSON ----------------------------------------------------------------------------------------
def read_coco(annotation_file: str | Path, image_dir: str | Path | None = None, *, labels: str = "boxes",
              orphan_labels: str = "error") -> DetectionData:
    """A COCO ``instances_*.json`` and its image folder (default: ``<root>/<split>/`` for
    ``<root>/annotations/instances_<split>.json``, else the JSON's folder). ``labels="masks"`` reads
    the segmentations too (every annotation needs one). ``orphan_labels="skip"`` leaves out image
    entries whose file is missing (with their annotations) instead of failing."""
    path = Path(annotation_file)
    check(labels in LABEL_KINDS, f"unknown labels {labels!r}; valid: {', '.join(LABEL_KINDS)}")
    check(orphan_labels in ORPHAN_LABELS, f"unknown orphan_labels {orphan_labels!r}; valid: {', '.join(ORPHAN_LABELS)}")
    check(path.is_file(), f"COCO annotation file {str(path)!r} does not exist")
    try:
        document = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise FdslError(f"COCO annotation file {str(path)!r} is not JSON ({error})") from None
    folder = Path(image_dir) if image_dir is not None else default_image_dir(path)
    return parse_coco(document, path, folder, labels=labels, orphan_labels=orphan_labels)


def default_image_dir(annotation_file: Path) -> Path:
    stem, parent = annotation_file.stem, annotation_file.parent
    if parent.name == "annotations" and stem.startswith("instances_"):
        return parent.parent / stem[len("instances_"):]
    return parent


def parse_coco(document: Any, path: Path, image_dir: Path, *, labels: str = "boxes",
               orphan_labels: str = "error") -> DetectionData:
    """The :class:`DetectionData` of a parsed COCO JSON ``document`` (read from ``path``), its
    images in ``image_dir``. Every structural fault is an error naming the file and the entry."""
    def fail(what: str) -> FdslError:
        return FdslError(f"COCO annotation file {str(path)!r} is not COCO: {what}")

    if not isinstance(document, dict):
        raise fail(f"the top level is a {type(document).__name__}, not an object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(document.get(key), list):
            raise fail(f"'{key}' is missing or not a list")
    images = coco_images(document["images"], fail)
    categories = coco_categories(document["categories"], fail)
    check(bool(categories), f"COCO annotation file {str(path)!r} has no categories")
    category_labels = {category_id: label for label, category_id in enumerate(sorted(categories), start=1)}
    annotations = [coco_annotation(a, i, fail) for i, a in enumerate(document["annotations"])]
    with_masks = labels == "masks"
    if with_masks:
        check_coco_masks(annotations, path)
    instances = {image_id: Instances() for image_id in images}
    for index, annotation in enumerate(annotations):
        where = f"COCO annotation file {str(path)!r} annotations[{index}] (id {annotation['id']})"
        if annotation["image_id"] not in images:
            raise fail(f"annotations[{index}] refers to image id {annotation['image_id']}, which 'images' lacks")
        check(annotation["category_id"] in category_labels,
              f"{where}: category id {annotation['category_id']} is out of range (not in 'categories')")
        _, width, height = images[annotation["image_id"]]
        x, y, w, h = annotation["bbox"]
        box = checked_box(x, y, x + w, y + h, width, height, where)
        mask = coco_mask(annotation["segmentation"], width, height, where) if with_masks else None
        instances[annotation["image_id"]].add(box, category_labels[annotation["category_id"]], mask,
                                              bool(annotation["iscrowd"]))
    read = []
    for image_id, (file_name, width, height) in images.items():
        image_path = image_dir / file_name
        if not image_path.is_file():
            check(orphan_labels == "skip", f"COCO annotation file {str(path)!r} labels image {str(image_path)!r}, "
                                           "which does not exist; set orphan_labels to 'skip' to leave it out")
            continue
        read.append(instances[image_id].image(image_id, image_path, width, height, with_masks))
    check(bool(read), f"COCO annotation file {str(path)!r}: none of its images is in {str(image_dir)!r}")
    names = tuple(categories[category_id] for category_id in sorted(categories))
    return DetectionData((BACKGROUND, *names), tuple(read), with_masks, str(path))


def coco_images(entries: list, fail) -> dict[int, tuple[str, int, int]]:
    images: dict[int, tuple[str, int, int]] = {}
    for index, entry in enumerate(entries):
        ok = (isinstance(entry, dict) and is_int(entry.get("id")) and isinstance(entry.get("file_name"), str)
              and bool(entry.get("file_name")) and is_int(entry.get("width")) and is_int(entry.get("height"))
              and 1 <= entry["width"] <= MAX_PIXELS and 1 <= entry["height"] <= MAX_PIXELS)
        if not ok:
            raise fail(f"images[{index}] needs an integer 'id', a 'file_name' and integer 'width', 'height' in "
                       f"1..{MAX_PIXELS}")
        if entry["id"] in images:
            raise fail(f"images[{index}] repeats image id {entry['id']}")
        images[entry["id"]] = (entry["file_name"], entry["width"], entry["height"])
    return images


def coco_categories(entries: list, fail) -> dict[int, str]:
    categories: dict[int, str] = {}
    for index, entry in enumerate(entries):
        if not (isinstance(entry, dict) and is_int(entry.get("id")) and isinstance(entry.get("name"), str)):
            raise fail(f"categories[{index}] needs an integer 'id' and a 'name'")
        if entry["id"] in categories or entry["name"] in categories.values():
            raise fail(f"categories[{index}] repeats category id {entry['id']} or name {entry['name']!r}")
        categories[entry["id"]] = entry["name"]
    return categories


def coco_annotation(entry: Any, index: int, fail) -> dict:
    """The fields used, type-checked: id, image_id, category_id, bbox, iscrowd, segmentation."""
    if not isinstance(entry, dict):
        raise fail(f"annotations[{index}] is a {type(entry).__name__}, not an object")
    for key in ("id", "image_id", "category_id"):
        if not is_int(entry.get(key)):
            raise fail(f"annotations[{index}] needs an integer '{key}'")
    bbox = entry.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(is_number(v) for v in bbox)):
        raise fail(f"annotations[{index}] needs a 'bbox' of 4 finite numbers [x, y, w, h]")
    crowd = entry.get("iscrowd", 0)
    if crowd not in (0, 1) or isinstance(crowd, float):
        raise fail(f"annotations[{index}] has 'iscrowd' {crowd!r}; expected 0 or 1")
    segmentation = entry.get("segmentation", [])
    if not isinstance(segmentation, (list, dict)):
        raise fail(f"annotations[{index}] has a 'segmentation' that is neither polygons (a list) nor RLE (an object)")
    return {"id": entry["id"], "image_id": entry["image_id"], "category_id": entry["category_id"],
            "bbox": [float(v) for v in bbox], "iscrowd": int(crowd), "segmentation": segmentation}


def check_coco_masks(annotations: list[dict], path: Path) -> None:
    """Masks are read only when every annotation has a segmentation."""
    without = [a["id"] for a in annotations if not a["segmentation"]]
    check(not without, f"COCO annotation file {str(path)!r}: annotation id {without[0] if without else 0} has no "
                       f"segmentation ({len(without)} of {len(annotations)} have none); read boxes only (labels "
                       "'boxes')")


def coco_mask(segmentation: list | dict, width: int, height: int, where: str) -> dict:
    """One RLE from COCO polygons (a list of x y ... lists) or RLE (counts a list or a string)."""
    if isinstance(segmentation, dict):
        return rle_mask(segmentation, width, height, where)
    parts = []
    for polygon in segmentation:
        check(isinstance(polygon, list) and all(is_number(v) for v in polygon),
              f"{where}: a polygon is not a list of finite numbers")
        check(len(polygon) % 2 == 0, f"{where}: polygon of {len(polygon)} numbers; expected x y pairs")
        check(len(polygon) >= 6, f"{where}: polygon of {len(polygon) // 2} points; a polygon needs at least 3")
        parts.append(np.array(polygon, dtype=np.float64).reshape(-1, 2))
    return polygon_parts_mask(parts, width, height, where)


def rle_mask(rle: dict, width: int, height: int, where: str) -> dict:
    """A COCO RLE, checked before pycocotools sees it: its C decoder trusts the counts to sum to H x W."""
    size = rle.get("size")
    check(isinstance(size, list) and size == [height, width],
          f"{where}: RLE size {size!r} is not the image's [height, width] [{height}, {width}]")
    counts = rle.get("counts")
    if isinstance(counts, str):
        counts = rle_string_counts(counts, where)
    check(isinstance(counts, list) and all(is_int(c) and 0 <= c < 2**32 for c in counts),
          f"{where}: RLE counts are neither a list of non-negative integers nor a COCO RLE string")
    check(sum(counts) == width * height, f"{where}: RLE counts sum to {sum(counts)}, not the image's "
                                         f"{height} x {width} = {width * height} pixels")
    return mask_api.frPyObjects({"size": [height, width], "counts": counts}, height, width)


def rle_string_counts(text: str, where: str) -> list[int]:
    """The counts of COCO's compressed RLE string (pycocotools ``maskApi.c``, ``rleFrString``): each
    count in 5-bit groups, low first, as characters 48 + group, bit 5 set on every group but the
    last, bit 4 of the last the sign; from the fourth count on, stored as the difference from the
    count two before."""
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            check(position < len(text) and 48 <= ord(text[position]) < 112, f"{where}: malformed RLE string")
            group = ord(text[position]) - 48
            value |= (group & 0x1F) << shift
            more = bool(group & 0x20)
            position, shift = position + 1, shift + 5
            if not more and group & 0x10:
                value -= 1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


# --- options: classes, empty images, hold-out ---------------------------------------------------------
def select_classes(data: DetectionData, names: Sequence[str]) -> DetectionData:
    """Only the classes ``names``, relabelled 1..len(names) in that order; other objects (crowd
    regions too) are dropped, and images left without objects are kept, as negatives."""
    known = data.classes[1:]
    for name in names:
        check(name in known, f"unknown class {name!r} in {data.source}; valid: {', '.join(known)}")
    check(len(set(names)) == len(names) and bool(names), f"classes {list(names)}: name each class once, at least one")
    lookup = np.zeros(len(data.classes), np.int64)
    for label, name in enumerate(names, start=1):
        lookup[data.classes.index(name)] = label
    images = tuple(relabel(image, lookup) for image in data.images)
    return data.replace(classes=(BACKGROUND, *names), images=images)


def relabel(image: DetectionImage, lookup: np.ndarray) -> DetectionImage:
    def kept(boxes, labels, masks):
        keep = lookup[labels] > 0
        chosen = None if masks is None else tuple(m for m, k in zip(masks, keep) if k)
        return boxes[keep], lookup[labels][keep], chosen

    boxes, labels, masks = kept(image.boxes, image.labels, image.masks)
    crowd = kept(image.crowd_boxes, image.crowd_labels, image.crowd_masks)
    return dataclasses.replace(image, boxes=boxes, labels=labels, masks=masks, crowd_boxes=crowd[0],
                               crowd_labels=crowd[1], crowd_masks=crowd[2])


def drop_empty_images(data: DetectionData) -> DetectionData:
    """Only the images with at least one (non-crowd) object."""
    return data.replace(images=tuple(image for image in data.images if len(image.labels)))


def held_out_positions(count: int, share: float) -> list[int]:
    """Positions (in file order) of the held-out images: position i when floor((i + 1) share) >
    floor(i share), so they are spread evenly, floor(count x share) of them (0.2: every fifth
    image, the 5th, 10th, ...). The share is taken as the decimal it prints as, in exact arithmetic."""
    fraction = Fraction(repr(float(share)))
    return [i for i in range(count) if math.floor((i + 1) * fraction) > math.floor(i * fraction)]


def split_holdout(data: DetectionData, share: float) -> tuple[DetectionData, DetectionData]:
    """(training, held-out) images, split by file order (:func:`held_out_positions`): no seed, so
    the same images on every machine."""
    check(0.0 <= share < 1.0, f"holdout = {share}; allowed: [0, 1)")
    held = set(held_out_positions(len(data.images), share))
    train = tuple(image for i, image in enumerate(data.images) if i not in held)
    check(bool(train), f"holdout = {share} leaves no training image of {len(data.images)} in {data.source}")
    return (data.replace(images=train),
            data.replace(images=tuple(image for i, image in enumerate(data.images) if i in held)))


def read_detection_data(data: DetectionDataConfig) -> DetectionData:
    """All of ``data.dataset``, its classes selected and empty images handled (no split)."""
    data.validate()
    if data.data_format == "coco":
        read = read_coco(data.dataset, data.images, labels=data.labels, orphan_labels=data.orphan_labels)
    else:
        read = read_yolo(data.dataset, labels=data.labels, split=data.split, missing_labels=data.missing_labels,
                         orphan_labels=data.orphan_labels)
    if data.classes:
        read = select_classes(read, data.classes)
    return drop_empty_images(read) if data.empty_images == "drop" else read


def detection_splits(data: DetectionDataConfig) -> tuple[DetectionData, DetectionData]:
    """(training, held-out) data of a run: every file read and checked before anything is written."""
    return split_holdout(read_detection_data(data), data.holdout)
