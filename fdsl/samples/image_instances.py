"""The image-and-instances kind (for detection and instance segmentation, e.g. FractalDB scenes): an
image, and per instance a class, a box and a mask. The masks never overlap (an occluded pixel
belongs to the object in front), so they are one uint8 (H, W) instance map: 0 the background,
k + 1 the pixels of instance k. Files, in this order:

- ``<stem>.png``: the image, uint8 (H, W) grey or (H, W, 3) RGB;
- ``<stem>.ids.png``: the instance map, uint8 (H, W) (so at most 255 instances);
- ``<stem>.instances.json``: ``{"classes": [c0, c1, ...], "boxes": [[x0, y0, x1, y1], ...]}``,
  instance k's class (an integer >= 0) and box in pixels, x1 and y1 exclusive: the extent of its
  mask's pixels (COCO's ``toBbox`` convention; torchvision's ``masks_to_boxes`` gives x1 - 1, y1 - 1).

The training item is the dict a detector's paired transforms and collate take (:func:`detection_item`):
a ``tv_tensors.Image``, ``BoundingBoxes`` (xyxy), int64 ``labels`` = class + 1 (torchvision's
detectors keep label 0 for the background) and a ``Mask`` per instance. The gallery tile is the
image with each instance tinted in its class colour and its box outlined in that colour.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from fdsl.errors import FdslError, check
from fdsl.samples.base import SampleKind, check_array, check_rows, class_colours
from fdsl.samples.image import as_rgb, check_image, decode_png, encode_png, resize_rgb

#: Instances a map of uint8 ids can hold.
MAX_INSTANCES = 255
OVERLAY_ALPHA = 0.45


@dataclass(frozen=True)
class ImageInstances:
    image: np.ndarray  # uint8 (H, W) or (H, W, 3)
    instance_map: np.ndarray  # uint8 (H, W): 0 background, k + 1 instance k
    classes: np.ndarray  # int64 (K,): each instance's class, >= 0
    boxes: np.ndarray  # float32 (K, 4): x0, y0, x1, y1 pixels, the extent of each instance's pixels

    def masks(self) -> np.ndarray:
        """bool (K, H, W): instance k's pixels."""
        return self.instance_map[None] == np.arange(1, len(self.classes) + 1, dtype=np.uint8)[:, None, None]


def mask_extents(instance_map: np.ndarray, count: int) -> np.ndarray:
    """float32 (count, 4): each instance's pixel extent x0, y0, x1 + 1, y1 + 1 (zeros when it has no
    pixel). Written out in numpy: the renderers that call it never import torch."""
    boxes = np.zeros((count, 4), np.float32)
    for k in range(count):
        pixels = instance_map == k + 1
        rows, columns = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
        if len(rows):
            boxes[k] = (columns[0], rows[0], columns[-1] + 1, rows[-1] + 1)
    return boxes


def detection_item(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, masks: np.ndarray | None = None,
                   **extra: Any) -> dict[str, Any]:
    """``{"image": tv_tensors.Image uint8 (3, H, W), "boxes": BoundingBoxes (N, 4) xyxy float32,
    "labels": int64 (N,), "masks": Mask uint8 (N, H, W) (when given), **extra}``: one detection
    sample for torchvision transforms v2, which move boxes and masks with the image."""
    import torch
    from torchvision import tv_tensors

    # np.array copies: the tensors never share memory with a reader's arrays or a read-only decode.
    rgb = np.array(as_rgb(image), dtype=np.uint8)
    height, width = rgb.shape[:2]
    item = {
        "image": tv_tensors.Image(torch.from_numpy(rgb).permute(2, 0, 1)),
        "boxes": tv_tensors.BoundingBoxes(torch.from_numpy(np.array(boxes, np.float32).reshape(-1, 4)),
                                          format="XYXY", canvas_size=(height, width)),
        "labels": torch.from_numpy(np.array(labels, np.int64)),
    }
    if masks is not None:
        item["masks"] = tv_tensors.Mask(torch.from_numpy(np.array(masks, dtype=np.uint8)))
    return {**item, **extra}


def encode_instances(classes: np.ndarray, boxes: np.ndarray) -> bytes:
    payload = {"classes": [int(c) for c in classes], "boxes": [[float(v) for v in box] for box in boxes]}
    return json.dumps(payload, separators=(",", ":")).encode()


def decode_instances(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    try:
        payload = json.loads(data)
        classes = np.array(payload["classes"], dtype=np.int64).reshape(-1)
        boxes = np.array(payload["boxes"], dtype=np.float32).reshape(-1, 4)
    except (ValueError, KeyError, TypeError) as error:
        raise FdslError(f"malformed instances file ({error})") from None
    return classes, boxes


class ImageInstancesKind(SampleKind):
    name = "image+instances"
    suffixes = (".png", ".ids.png", ".instances.json")

    def validate(self, sample: Any) -> None:
        if not isinstance(sample, ImageInstances):
            raise FdslError(f"an image+instances sample is a {type(sample).__name__}; expected ImageInstances")
        check_image("image", sample.image)
        check_array("instance_map", sample.instance_map, dtype="uint8", ndim=2)
        check(sample.instance_map.shape == sample.image.shape[:2],
              f"instance_map has shape {sample.instance_map.shape}; expected the image's {sample.image.shape[:2]}")
        check_array("classes", sample.classes, integer=True, ndim=1)
        check(len(sample.classes) <= MAX_INSTANCES, f"{len(sample.classes)} instances; allowed: <= {MAX_INSTANCES}")
        check(bool((sample.classes >= 0).all()), "classes holds a negative class")
        check_array("boxes", sample.boxes, dtype="float32", ndim=2, width=4)
        check_rows("boxes", sample.boxes, len(sample.classes))
        check(int(sample.instance_map.max(initial=0)) <= len(sample.classes),
              f"instance_map holds id {int(sample.instance_map.max())} but there are {len(sample.classes)} instances")
        pixels = np.bincount(sample.instance_map.ravel(), minlength=len(sample.classes) + 1)[1:]
        check(bool((pixels > 0).all()), "an instance has no pixel in instance_map")
        check(np.array_equal(sample.boxes, mask_extents(sample.instance_map, len(sample.classes))),
              "boxes are not the extents of the instances' pixels")

    def encode(self, sample: ImageInstances) -> list[bytes]:
        return [encode_png(sample.image), encode_png(sample.instance_map),
                encode_instances(sample.classes, sample.boxes)]

    def decode(self, blobs: list[bytes]) -> ImageInstances:
        return ImageInstances(decode_png(blobs[0]), decode_png(blobs[1]), *decode_instances(blobs[2]))

    def training_item(self, sample: ImageInstances) -> dict[str, Any]:
        return detection_item(sample.image, sample.boxes, sample.classes + 1, sample.masks().astype(np.uint8))

    def tile(self, sample: ImageInstances, size: int) -> np.ndarray:
        rgb = as_rgb(sample.image).astype(np.float32)
        ids = sample.instance_map.astype(np.int64)
        colours = class_colours(np.concatenate([[0], sample.classes])[ids]).astype(np.float32)
        covered = (ids > 0)[..., None]
        tinted = np.where(covered, (1 - OVERLAY_ALPHA) * rgb + OVERLAY_ALPHA * colours, rgb).round().astype(np.uint8)
        tile = Image.fromarray(resize_rgb(tinted, size))
        draw = ImageDraw.Draw(tile)
        scale = np.array([size / sample.image.shape[1], size / sample.image.shape[0]] * 2)
        for box, colour in zip(sample.boxes * scale, class_colours(sample.classes)):
            x0, y0, x1, y1 = box.tolist()
            draw.rectangle((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), outline=tuple(int(c) for c in colour))
        return np.asarray(tile)

    def card_fields(self, formula: Any) -> dict[str, Any]:
        return {"image_mode": formula.image_mode, "training_labels": "class + 1 (0 is the background)"}


IMAGE_INSTANCES = ImageInstancesKind()
