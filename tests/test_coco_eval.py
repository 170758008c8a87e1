"""COCO metrics through pycocotools: perfect predictions score 100, shifted boxes less, no prediction
0, a case computed by hand, crowd regions ignored, predictions merged from several ranks."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_api

from fdsl.data.coco_eval import coco_ground_truth, coco_metrics, encode_predictions, merge_predictions, metric_names
from fdsl.data.detection import BACKGROUND, DetectionData, DetectionImage
from fdsl.errors import FdslError

SIZE = 200  # images of 200 x 200


def rectangle_rle(box) -> dict:
    mask = np.zeros((SIZE, SIZE), np.uint8, order="F")
    x0, y0, x1, y1 = (int(v) for v in box)
    mask[y0:y1, x0:x1] = 1
    return mask_api.encode(mask)


def image(image_id: int, boxes, labels, crowd_boxes=(), crowd_labels=()) -> DetectionImage:
    return DetectionImage(
        image_id, Path(f"{image_id}.png"), SIZE, SIZE, np.array(boxes, np.float32).reshape(-1, 4),
        np.array(labels, np.int64), tuple(rectangle_rle(b) for b in boxes),
        np.array(crowd_boxes, np.float32).reshape(-1, 4), np.array(crowd_labels, np.int64),
        tuple(rectangle_rle(b) for b in crowd_boxes))


@pytest.fixture
def data() -> DetectionData:
    """Three images: large, medium and small objects of two classes, and a crowd region."""
    images = (
        image(1, [[0, 0, 120, 100], [130, 130, 190, 190]], [1, 2], crowd_boxes=[[130, 0, 200, 60]], crowd_labels=[1]),
        image(2, [[10, 10, 50, 50], [100, 100, 110, 110]], [1, 1]),
        image(5, [[20, 30, 140, 150]], [2]),
    )
    return DetectionData((BACKGROUND, "person", "car"), images, True, "test")


def truth_predictions(data: DetectionData, shift: float = 0.0, masks: bool = True) -> list[dict]:
    predictions = []
    for record in data.images:
        prediction = {"image_id": record.image_id, "boxes": torch.from_numpy(record.boxes) + shift,
                      "scores": torch.linspace(0.9, 0.5, len(record.labels)), "labels": torch.from_numpy(record.labels)}
        if masks:
            prediction["masks"] = torch.from_numpy(record.mask_array())[:, None].float()
        predictions.append(prediction)
    return encode_predictions(predictions)


def test_perfect_predictions_score_100_and_ignore_the_crowd(data):
    scores = coco_metrics(data, truth_predictions(data))
    assert list(scores) == metric_names(masks=True)
    assert all(value == pytest.approx(100.0) for value in scores.values()), scores
    # A detection on the crowd region is no false positive (COCO matches it to the crowd and ignores it).
    predictions = truth_predictions(data, masks=False)
    first = predictions[0]
    predictions[0] = {**first, "boxes": np.concatenate([first["boxes"], [[135, 5, 60, 50]]]),
                      "scores": np.append(first["scores"], 0.95), "labels": np.append(first["labels"], 1)}
    assert coco_metrics(data, predictions, masks=False)["box_ap"] == pytest.approx(100.0)


def test_shifted_boxes_score_lower(data):
    perfect = coco_metrics(data, truth_predictions(data), masks=False)
    shifted = coco_metrics(data, truth_predictions(data, shift=4.0, masks=False), masks=False)
    assert shifted["box_ap"] < perfect["box_ap"] and shifted["box_ap75"] < 100.0
    assert shifted["box_ap_small"] < shifted["box_ap_large"]  # 4 px moves a 10 px box the most


def test_no_prediction_scores_0_and_a_range_without_objects_is_nan(data):
    scores = coco_metrics(data, [])
    assert all(value == 0.0 for value in scores.values()), scores
    one_size = data.replace(images=data.images[2:])  # one large object only
    scores = coco_metrics(one_size, [], masks=False)
    assert scores["box_ap"] == 0.0 and math.isnan(scores["box_ap_small"]) and math.isnan(scores["box_ap_medium"])


def test_a_case_computed_by_hand():
    """Two objects of one class on one image; one detection overlaps the first at IoU 0.78 (score 0.9),
    one hits nothing (0.8). COCO's AP interpolates precision at 101 recall points 0, 0.01, ..., 1: the
    recall reaches 0.5 at precision 1 and never more, so 51 of them have precision 1 and the rest 0,
    AP = 51 / 101 at every IoU threshold that 0.78 passes: 0.50 .. 0.75, 6 of the 10."""
    data = DetectionData((BACKGROUND, "thing"), (image(1, [[0, 0, 100, 100], [150, 150, 190, 190]], [1, 1]),), True,
                         "hand")
    detections = encode_predictions([{"image_id": 1, "boxes": torch.tensor([[0.0, 0.0, 100.0, 78.0],
                                                                            [110.0, 0.0, 140.0, 30.0]]),
                                      "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([1, 1])}])
    scores = coco_metrics(data, detections, masks=False)
    assert scores["box_ap50"] == pytest.approx(100 * 51 / 101)
    assert scores["box_ap75"] == pytest.approx(100 * 51 / 101)
    assert scores["box_ap"] == pytest.approx(100 * 0.6 * 51 / 101)
    # The 100 x 100 object is large (> 96^2 px), the 40 x 40 one medium: only the large one is found.
    assert scores["box_ap_large"] == pytest.approx(100 * 0.6)
    assert scores["box_ap_medium"] == 0.0 and math.isnan(scores["box_ap_small"])


def test_rank_lists_merge_into_the_one_rank_result(data):
    predictions = truth_predictions(data, shift=3.0)
    one_rank = coco_metrics(data, predictions)
    # A DistributedSampler pads: rank 1 scores image 1 again.
    ranks = [predictions[0::2], predictions[1::2] + [predictions[0]]]
    merged = merge_predictions(ranks)
    assert [p["image_id"] for p in merged] == [1, 2, 5]
    assert coco_metrics(data, merged) == one_rank


def test_the_ground_truth_keeps_crowd_regions_and_mask_areas(data):
    truth = coco_ground_truth(data, masks=True)
    crowd = [a for a in truth.dataset["annotations"] if a["iscrowd"]]
    assert len(crowd) == 1 and crowd[0]["area"] == 70 * 60
    assert [a["id"] for a in truth.dataset["annotations"]] == list(range(1, 7))  # ids from 1: 0 means unmatched
    assert len(coco_ground_truth(data, masks=False).dataset["annotations"][0]) == 6  # no segmentation


def test_predictions_that_do_not_fit_the_data_are_named(data):
    wrong_image = truth_predictions(data, masks=False)
    wrong_image[0]["image_id"] = 99
    with pytest.raises(FdslError, match="image id 99, which test lacks"):
        coco_metrics(data, wrong_image, masks=False)
    with pytest.raises(FdslError, match="the prediction for image id 1 has no masks"):
        coco_metrics(data, truth_predictions(data, masks=False))
    boxes_only = data.replace(has_masks=False)
    with pytest.raises(FdslError, match="no masks to score mask AP"):
        coco_metrics(boxes_only, truth_predictions(data), masks=True)
