"""COCO's detection and instance-segmentation metrics, computed by pycocotools' ``COCOeval`` (the
reference implementation; cocodataset/cocoapi): AP (IoU 0.50:0.95), AP50, AP75 and AP for small
(< 32^2 px), medium and large (> 96^2 px) objects, for boxes and for masks, in percent.

- Ground truth: built in memory from :class:`~fdsl.data.detection.DetectionData` (image ids,
  sizes, instances; crowd regions kept as ``iscrowd`` 1, which COCO matches without penalty).
  Category ids are the labels (1..K). An object's area, which picks its size range, is its mask's
  pixel count when the data has masks (as COCO's own annotations), else its box's w x h.
- Predictions: per image ``{"image_id", "boxes" (N, 4) xyxy at the image's stored size, "scores",
  "labels", optional "masks" (N, 1, H, W) or (N, H, W) probabilities}``, e.g. a torchvision
  detector's outputs through :func:`fdsl.data.detection_dataset.to_original_size`.
  :func:`encode_predictions` turns them into numpy arrays and COCO RLE masks (thresholded at 0.5, as
  torchvision's references do): small and picklable, for ``torch.distributed.all_gather_object``;
  :func:`merge_predictions` joins the ranks' lists (an image that two ranks scored, as a
  ``DistributedSampler`` pads the last batch, counts once).
- No prediction at all gives AP 0 (pycocotools' own answer with an empty result set, whose
  ``loadRes`` cannot take an empty list); a size range with no ground-truth object gives NaN
  (pycocotools' -1: undefined).
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from pycocotools import mask as mask_api
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torchvision.ops import box_convert

from fdsl.data.detection import DetectionData, DetectionImage
from fdsl.errors import check

#: COCOeval's first six summary numbers, in its order.
SCORES = ("ap", "ap50", "ap75", "ap_small", "ap_medium", "ap_large")
#: Metric-name prefix -> pycocotools' iouType.
IOU_TYPES = {"box": "bbox", "mask": "segm"}
MASK_THRESHOLD = 0.5


def metric_names(masks: bool) -> list[str]:
    """``box_ap``, ``box_ap50``, ... and, with ``masks``, ``mask_ap``, ..."""
    prefixes = ("box", "mask") if masks else ("box",)
    return [f"{prefix}_{score}" for prefix in prefixes for score in SCORES]


# --- predictions -------------------------------------------------------------------------------------
def encode_predictions(predictions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each prediction as numpy arrays: ``boxes`` float64 (N, 4) xywh (COCO's form, by
    ``torchvision.ops.box_convert``), ``scores`` (N,), ``labels`` int64 (N,), ``masks`` N RLEs or None."""
    encoded = []
    for prediction in predictions:
        boxes = torch.as_tensor(prediction["boxes"], dtype=torch.float64).reshape(-1, 4)
        masks = prediction.get("masks")
        encoded.append({
            "image_id": int(prediction["image_id"]),
            "boxes": box_convert(boxes, "xyxy", "xywh").numpy(),
            "scores": torch.as_tensor(prediction["scores"], dtype=torch.float64).reshape(-1).numpy(),
            "labels": torch.as_tensor(prediction["labels"], dtype=torch.int64).reshape(-1).numpy(),
            "masks": None if masks is None else masks_to_rles(masks),
        })
    return encoded


def masks_to_rles(masks: Any) -> list[dict]:
    """(N, 1, H, W) or (N, H, W) probabilities or booleans -> N COCO RLEs of the pixels >= 0.5."""
    array = torch.as_tensor(masks).detach().cpu()
    if array.ndim == 4:
        array = array[:, 0]
    binary = (array >= MASK_THRESHOLD) if array.is_floating_point() else array.bool()
    if not len(binary):
        return []
    return mask_api.encode(np.asfortranarray(binary.permute(1, 2, 0).numpy().astype(np.uint8)))


def merge_predictions(per_rank: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One list of the ranks' encoded predictions, by image id; an image scored by several ranks
    (the sampler's padding repeats images) is kept from the first."""
    merged: dict[int, dict[str, Any]] = {}
    for predictions in per_rank:
        for prediction in predictions:
            merged.setdefault(prediction["image_id"], prediction)
    return [merged[image_id] for image_id in sorted(merged)]


# --- ground truth ----------------------------------------------------------------------------------------
def coco_ground_truth(data: DetectionData, *, masks: bool) -> COCO:
    """pycocotools' COCO object of ``data``, in memory (see the module docstring)."""
    check(not masks or data.has_masks, f"{data.source} has no masks to score mask AP against")
    annotations: list[dict] = []
    for image in data.images:
        annotations += image_annotations(image, masks, first_id=len(annotations) + 1)
    dataset = {
        "images": [{"id": image.image_id, "width": image.width, "height": image.height,
                    "file_name": image.path.name} for image in data.images],
        "categories": [{"id": label, "name": name} for label, name in enumerate(data.classes[1:], start=1)],
        "annotations": annotations,
    }
    return coco_object(dataset)


def image_annotations(image: DetectionImage, masks: bool, first_id: int) -> list[dict]:
    """COCO annotations of the image's objects, then its crowd regions. Ids start at ``first_id``
    >= 1: COCOeval marks an unmatched detection with id 0."""
    groups = [(image.boxes, image.labels, image.masks, 0), (image.crowd_boxes, image.crowd_labels,
                                                            image.crowd_masks, 1)]
    annotations = []
    for boxes, labels, rles, crowd in groups:
        for k, (box, label) in enumerate(zip(boxes.astype(np.float64), labels)):
            x0, y0, x1, y1 = box.tolist()
            annotation = {"id": first_id + len(annotations), "image_id": image.image_id,
                          "category_id": int(label), "bbox": [x0, y0, x1 - x0, y1 - y0],
                          "area": (x1 - x0) * (y1 - y0), "iscrowd": crowd}
            if masks:
                annotation["segmentation"] = rles[k]
                annotation["area"] = float(mask_api.area(rles[k]))
            annotations.append(annotation)
    return annotations


def coco_object(dataset: dict) -> COCO:
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco.createIndex()
    return coco


# --- scores ------------------------------------------------------------------------------------------------
def coco_metrics(data: DetectionData, predictions: Sequence[dict[str, Any]], *,
                 masks: bool | None = None) -> dict[str, float]:
    """Box (and, with ``masks``, mask) AP of ``predictions`` (encoded, merged) against ``data``, in
    percent: ``box_ap``, ``box_ap50``, ``box_ap75``, ``box_ap_small``, ``box_ap_medium``,
    ``box_ap_large``, then the same ``mask_*``. ``masks`` defaults to whether the data has them."""
    masks = data.has_masks if masks is None else masks
    check_predictions(data, predictions, masks)
    scores = {}
    for prefix in ("box", "mask") if masks else ("box",):
        ground_truth = coco_ground_truth(data, masks=prefix == "mask")
        results = coco_results(predictions, prefix)
        stats = evaluate(ground_truth, results, IOU_TYPES[prefix])
        scores.update({f"{prefix}_{name}": value for name, value in zip(SCORES, stats)})
    return scores


def check_predictions(data: DetectionData, predictions: Sequence[dict[str, Any]], masks: bool) -> None:
    image_ids = {image.image_id for image in data.images}
    labels = range(1, data.num_classes)
    for prediction in predictions:
        image_id = prediction["image_id"]
        check(image_id in image_ids, f"a prediction is for image id {image_id}, which {data.source} lacks")
        bad = [int(v) for v in prediction["labels"] if int(v) not in labels]
        check(not bad, f"a prediction for image id {image_id} has label {bad[:1]}; the data's labels are "
                       f"1..{data.num_classes - 1}")
        check(not masks or prediction["masks"] is not None, f"the prediction for image id {image_id} has no masks")


def coco_results(predictions: Sequence[dict[str, Any]], prefix: str) -> list[dict]:
    """COCO's result list: one entry per detection, with its box (``box``) or its mask (``mask``:
    then without the box, so that COCO takes the mask's area for the size ranges)."""
    results = []
    for prediction in predictions:
        for k, (score, label) in enumerate(zip(prediction["scores"], prediction["labels"])):
            entry = {"image_id": prediction["image_id"], "category_id": int(label), "score": float(score)}
            if prefix == "box":
                entry["bbox"] = [float(v) for v in prediction["boxes"][k]]
            else:
                entry["segmentation"] = prediction["masks"][k]
            results.append(entry)
    return results


def evaluate(ground_truth: COCO, results: list[dict], iou_type: str) -> list[float]:
    """COCOeval's six AP numbers in percent (NaN for pycocotools' -1, a range without objects)."""
    with contextlib.redirect_stdout(io.StringIO()):
        detections = ground_truth.loadRes(results) if results else empty_results(ground_truth)
        evaluator = COCOeval(ground_truth, detections, iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [float("nan") if value < 0 else 100.0 * float(value) for value in evaluator.stats[: len(SCORES)]]


def empty_results(ground_truth: COCO) -> COCO:
    """A result set with no detection (``loadRes`` fails on an empty list)."""
    return coco_object({"images": ground_truth.dataset["images"], "categories": ground_truth.dataset["categories"],
                        "annotations": []})
