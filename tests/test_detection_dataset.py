"""Detection data for torch: items, paired transforms that keep boxes and masks on the image, the
collate function, and a torchvision Mask R-CNN that takes the batches (train and eval)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.ops import MultiScaleRoIAlign, masks_to_boxes

from fdsl.data.detection import read_yolo
from fdsl.data.detection_dataset import (DetectionDataset, DetectionEvalTransform, DetectionTrainTransform,
                                         collate_detection, to_original_size)
from fdsl.errors import FdslError
from fdsl.samples.image_instances import IMAGE_INSTANCES, ImageInstances, mask_extents

# Two axis-aligned rectangles as closed 4-point polygons on a 40 x 20 image: masks and boxes agree exactly.
RECTANGLES = "0 0.1 0.1 0.4 0.1 0.4 0.6 0.1 0.6\n2 0.5 0.5 0.9 0.5 0.9 0.9 0.5 0.9\n"


@pytest.fixture
def data(tmp_path):
    for stem, size in (("a", (40, 20)), ("b", (30, 30))):
        (tmp_path / "images" / "train").mkdir(parents=True, exist_ok=True)
        pixels = np.zeros((size[1], size[0], 3), np.uint8)
        pixels[:, : size[0] // 2] = 200  # the left half bright: flips show
        Image.fromarray(pixels).save(tmp_path / "images" / "train" / f"{stem}.png")
    (tmp_path / "labels" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train" / "a.txt").write_text(RECTANGLES)
    (tmp_path / "labels" / "train" / "b.txt").write_text("1 0.2 0.2 0.6 0.2 0.6 0.5\n")
    (tmp_path / "data.yaml").write_text("names: [person, car, dog]\n")
    return read_yolo(tmp_path, labels="masks")


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """The pixel extents of masks, x1 and y1 exclusive (torchvision's ``masks_to_boxes`` + 1)."""
    return masks_to_boxes(masks.as_subclass(torch.Tensor)) + torch.tensor([0.0, 0.0, 1.0, 1.0])


def test_items_are_tv_tensors_with_the_readers_targets(data):
    item = DetectionDataset(data)[0]
    assert isinstance(item["image"], tv_tensors.Image) and item["image"].shape == (3, 20, 40)
    assert isinstance(item["boxes"], tv_tensors.BoundingBoxes) and item["boxes"].canvas_size == (20, 40)
    assert isinstance(item["masks"], tv_tensors.Mask) and item["masks"].shape == (2, 20, 40)
    assert item["labels"].tolist() == [1, 3] and item["labels"].dtype == torch.int64
    assert (item["image_id"], item["orig_size"]) == (0, (20, 40))
    torch.testing.assert_close(mask_boxes(item["masks"]), item["boxes"].as_subclass(torch.Tensor))
    assert "masks" not in DetectionDataset(data, masks=False)[0]


def test_a_flip_moves_image_boxes_and_masks_together(data):
    plain, flipped = DetectionDataset(data)[0], DetectionDataset(data, DetectionTrainTransform(hflip=1.0))[0]
    assert flipped["image"].dtype == torch.float32 and float(flipped["image"].max()) <= 1.0
    torch.testing.assert_close(flipped["image"].as_subclass(torch.Tensor), plain["image"].flip(-1).float() / 255)
    assert torch.equal(flipped["masks"], plain["masks"].flip(-1))
    boxes = plain["boxes"].as_subclass(torch.Tensor)
    torch.testing.assert_close(flipped["boxes"].as_subclass(torch.Tensor),
                               torch.stack([40 - boxes[:, 2], boxes[:, 1], 40 - boxes[:, 0], boxes[:, 3]], 1))
    torch.testing.assert_close(mask_boxes(flipped["masks"]), flipped["boxes"].as_subclass(torch.Tensor))


@pytest.mark.parametrize("size, shape", [(80, (40, 80)), ((10, 20), (10, 20))])
def test_a_resize_scales_boxes_and_masks_with_the_image(data, size, shape):
    item = DetectionDataset(data, DetectionEvalTransform(size=size))[0]
    assert item["image"].shape[-2:] == shape and item["masks"].shape[-2:] == shape
    assert set(item["masks"].unique().tolist()) == {0, 1}  # nearest: no invented values
    scale = torch.tensor([shape[1] / 40, shape[0] / 20] * 2)
    torch.testing.assert_close(item["boxes"].as_subclass(torch.Tensor), DetectionDataset(data)[0]["boxes"] * scale)
    torch.testing.assert_close(mask_boxes(item["masks"]), item["boxes"].as_subclass(torch.Tensor))
    assert item["orig_size"] == (20, 40)


def test_collate_gives_lists_of_plain_tensors(data):
    dataset = DetectionDataset(data, DetectionTrainTransform(size=32))
    images, targets = collate_detection([dataset[0], (dataset[1], 5)])
    assert [tuple(image.shape) for image in images] == [(3, 16, 32), (3, 32, 32)]
    assert all(type(image) is torch.Tensor for image in images)
    assert type(targets[0]["boxes"]) is torch.Tensor and type(targets[1]["masks"]) is torch.Tensor
    assert [t["image_id"] for t in targets] == [0, 1]


def test_an_image_of_another_size_than_its_labels_is_named(data):
    Image.new("RGB", (10, 10)).save(data.images[0].path)
    with pytest.raises(FdslError, match=r"a.png' is 10x10 but its labels are for 40x20"):
        DetectionDataset(data)[0]


def test_predictions_map_back_to_the_stored_size(data):
    item = DetectionDataset(data, DetectionEvalTransform(size=80))[0]
    images, targets = collate_detection([item])
    output = {"boxes": targets[0]["boxes"], "scores": torch.ones(2), "labels": targets[0]["labels"],
              "masks": targets[0]["masks"][:, None].float()}
    [mapped] = to_original_size([output], images, targets)
    torch.testing.assert_close(mapped["boxes"], torch.from_numpy(data.images[0].boxes))
    assert mapped["masks"].shape == (2, 1, 20, 40) and mapped["image_id"] == 0
    assert torch.equal(mapped["masks"][:, 0] >= 0.5, torch.from_numpy(data.images[0].mask_array()).bool())


def tiny_mask_rcnn(num_classes: int) -> MaskRCNN:
    """Mask R-CNN on a one-layer backbone: torchvision's heads and losses, in milliseconds."""
    backbone = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=4, padding=1), torch.nn.ReLU())
    backbone.out_channels = 8
    anchors = AnchorGenerator(sizes=((8, 16),), aspect_ratios=((0.5, 1.0, 2.0),))
    return MaskRCNN(backbone, num_classes=num_classes, min_size=32, max_size=64, rpn_anchor_generator=anchors,
                    box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2), mask_roi_pool=MultiScaleRoIAlign(["0"], 14, 2))


def test_a_torchvision_detector_takes_the_batches(data):
    torch.manual_seed(0)
    model = tiny_mask_rcnn(data.num_classes)
    loader = torch.utils.data.DataLoader(DetectionDataset(data, DetectionTrainTransform(size=48)), batch_size=2,
                                         collate_fn=collate_detection)
    images, targets = next(iter(loader))
    losses = model(images, targets)
    assert {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg"} <= set(losses)
    sum(losses.values()).backward()
    model.eval()
    with torch.no_grad():
        outputs = model(images)
    assert len(to_original_size(outputs, images, targets)) == 2


def test_formula_scenes_give_the_same_items(data):
    instance_map = np.zeros((16, 24), np.uint8)
    instance_map[2:6, 3:9], instance_map[8:15, 10:20] = 1, 2
    sample = ImageInstances(instance_map * 100, instance_map, np.array([4, 0]), mask_extents(instance_map, 2))
    item = DetectionTrainTransform(size=48, hflip=0.0)(IMAGE_INSTANCES.training_item(sample))
    assert item["labels"].tolist() == [5, 1]  # classes + 1: 0 is the background
    assert item.keys() == DetectionDataset(data)[0].keys() - {"image_id", "orig_size"}
    torch.testing.assert_close(mask_boxes(item["masks"]), item["boxes"].as_subclass(torch.Tensor))
    images, targets = collate_detection([(item, 3)])
    model = tiny_mask_rcnn(6)
    assert "loss_mask" in model(images, targets)
