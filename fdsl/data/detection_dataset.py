"""Detection data for torch: a Dataset over :class:`~fdsl.data.detection.DetectionData`, the collate
function torchvision's detectors take, paired transforms, and predictions mapped back to the
images' stored size for the COCO evaluation.

An item is a dict (:func:`fdsl.samples.image_instances.detection_item`, the same for real data and
formula scenes): ``image`` (``tv_tensors.Image`` uint8 (3, H, W)), ``boxes`` (``BoundingBoxes`` xyxy
pixels), ``labels`` (int64, 1..K), ``masks`` (``Mask`` uint8 (N, H, W), with mask labels), and for
real data ``image_id`` and ``orig_size`` (the stored (height, width)). The transforms (torchvision
transforms v2, as its references/detection ``presets.py``) resize and flip the image, the boxes and
the masks together (masks with nearest interpolation) and turn the image into float32 in [0, 1]:
torchvision's detectors normalise inside the model. :func:`collate_detection` gives (list of image
tensors, list of target dicts), what ``model(images, targets)`` takes.

Resizing is the transforms' (``size``): the reader keeps every file's stored size, and the COCO
evaluation compares predictions with the stored annotations, so :func:`to_original_size` maps a
model's outputs back first. (A torchvision detector's own ``min_size`` / ``max_size`` resize inside
the model, and back, instead.)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from fdsl.data.detection import DetectionData
from fdsl.errors import FdslError, check
from fdsl.samples.image_instances import detection_item


class DetectionDataset(Dataset):
    """Items of :class:`DetectionData`'s images (see the module docstring), after ``transform``.

    ``masks``: whether items carry masks (default: when the data has them). An image whose decoded
    size differs from the recorded one (a COCO JSON that does not match its files) stops with one
    line naming the file.
    """

    def __init__(self, data: DetectionData, transform=None, *, masks: bool | None = None):
        check(not masks or data.has_masks, f"{data.source} has no masks (boxes-only labels)")
        self.data, self.transform = data, transform
        self.masks = data.has_masks if masks is None else masks
        self.classes = list(data.classes)

    def __len__(self) -> int:
        return len(self.data.images)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.data.images[index]
        pixels = load_rgb_array(record.path)
        check(pixels.shape[:2] == record.size,
              f"image {str(record.path)!r} is {pixels.shape[1]}x{pixels.shape[0]} but its labels are for "
              f"{record.width}x{record.height}")
        masks = record.mask_array() if self.masks else None
        item = detection_item(pixels, record.boxes, record.labels, masks, image_id=record.image_id,
                              orig_size=record.size)
        return self.transform(item) if self.transform else item


def load_rgb_array(path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise FdslError(f"image file {str(path)!r} cannot be read ({error})") from None


def collate_detection(batch: Sequence[Any]) -> tuple[list[torch.Tensor], list[dict[str, Any]]]:
    """(images, targets) as torchvision's detectors take them: a list of (3, H, W) tensors (sizes may
    differ) and a list of dicts of plain tensors (``boxes``, ``labels``, ``masks``...) and the
    other entries as they are. An entry may also be ``(item, label)`` as a formula dataset yields
    it; the label (a scene bucket) is dropped."""
    images, targets = [], []
    for entry in batch:
        item = entry[0] if isinstance(entry, tuple) else entry
        images.append(plain(item["image"]))
        targets.append({key: plain(value) for key, value in item.items() if key != "image"})
    return images, targets


def plain(value: Any) -> Any:
    """A tv_tensor as a plain tensor (what the models' own code expects); anything else as it is."""
    return value.as_subclass(torch.Tensor) if isinstance(value, torch.Tensor) else value


def resize_step(size: int | tuple[int, int] | None) -> list:
    """None: no resize; an int: the longer side to ``size``, keeping the aspect; (h, w): exactly."""
    if size is None:
        return []
    if isinstance(size, int):
        return [v2.Resize(size=None, max_size=size, antialias=True)]
    return [v2.Resize(size=list(size), antialias=True)]


#: The image to float32 in [0, 1]; masks and boxes keep their types.
TO_FLOAT = v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True)


class DetectionTrainTransform:
    """Resize (see :func:`resize_step`), horizontal flip with probability ``hflip``, float image."""

    def __init__(self, *, size: int | tuple[int, int] | None = None, hflip: float = 0.5):
        flip = [v2.RandomHorizontalFlip(p=hflip)] if hflip else []
        self.pipeline = v2.Compose(resize_step(size) + flip + [TO_FLOAT])

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        return self.pipeline(item)


class DetectionEvalTransform:
    """Resize (see :func:`resize_step`), float image."""

    def __init__(self, *, size: int | tuple[int, int] | None = None):
        self.pipeline = v2.Compose(resize_step(size) + [TO_FLOAT])

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        return self.pipeline(item)


def to_original_size(outputs: Sequence[dict[str, torch.Tensor]], images: Sequence[torch.Tensor],
                     targets: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """A detector's outputs (boxes, scores, labels, masks (N, 1, h, w) probabilities) for ``images``,
    mapped to each target's ``orig_size``, with its ``image_id``: ready for
    :func:`fdsl.data.coco_eval.encode_predictions`."""
    mapped = []
    for output, image, target in zip(outputs, images, targets):
        height, width = image.shape[-2:]
        orig_height, orig_width = (int(v) for v in target["orig_size"])
        scale = output["boxes"].new_tensor([orig_width / width, orig_height / height] * 2)
        prediction = {"image_id": int(target["image_id"]), "boxes": output["boxes"] * scale,
                      "scores": output["scores"], "labels": output["labels"]}
        if "masks" in output:
            masks = output["masks"]
            if masks.shape[-2:] != (orig_height, orig_width) and len(masks):
                masks = torch.nn.functional.interpolate(masks, size=(orig_height, orig_width), mode="bilinear",
                                                        align_corners=False)
            prediction["masks"] = masks
        mapped.append(prediction)
    return mapped
