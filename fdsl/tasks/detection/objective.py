"""The detection objective: the detector's own losses, summed (torchvision references/detection's
``train_one_epoch``), and COCO's scores of its detections on held-out images (pycocotools' COCOeval,
:mod:`fdsl.data.coco_eval`).

- Training: ``model(images, targets)`` returns the loss dict of the RPN (``loss_objectness``,
  ``loss_rpn_box_reg``) and the RoI heads (``loss_classifier``, ``loss_box_reg``, and with masks
  ``loss_mask``); the step minimises their sum and logs each (``loss_mask`` is 0 without masks).
- Evaluation, one image at a time (so that the scores do not depend on the batch size or the number of
  ranks: a batch pads its images to one size, which changes the features near their edges): the
  detections, mapped back to the stored image size, and the same loss terms as in training with the
  backbone in evaluation mode, their RoI sampling seeded by the image id. Every rank scores its share
  (with rank 0's BatchNorm statistics, those of the saved weights);
  the predictions are gathered (``torch.distributed.all_gather_object``) and rank 0 runs COCOeval
  against the stored annotations (real data: crowd regions ignored as COCO does) or the scenes' own
  targets, and shares the scores. Box AP first (it picks ``best/``), AP50, AP75, AP by object size,
  and the same for masks when masks are trained (NaN otherwise, and where a size has no object).
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fdsl.data.coco_eval import coco_metrics, encode_predictions, masks_to_rles, merge_predictions
from fdsl.data.detection import DetectionData, DetectionImage
from fdsl.data.detection_dataset import to_original_size
from fdsl.tasks import Step
from fdsl.tasks.detection import LOSS_TERMS, METRICS
from fdsl.tasks.detection.models import unwrap
from fdsl.train.engine import Precision

TARGET_KEYS = ("boxes", "labels")


def targets_on(device: torch.device, targets: list[dict[str, Any]], masks: bool) -> list[dict[str, torch.Tensor]]:
    """The targets a detector trains on (boxes, labels, and masks when it has a mask head), on ``device``."""
    keys = TARGET_KEYS + (("masks",) if masks else ())
    return [{key: target[key].to(device, non_blocking=True) for key in keys} for target in targets]


class DetectionStep:
    """A batch of (images, targets) lists to the sum of the detector's losses, and each term."""

    def __init__(self, masks: bool):
        self.masks = masks

    def __call__(self, model: nn.Module, batch, device: torch.device, precision: Precision) -> Step:
        images, targets = batch
        images = [image.to(device, non_blocking=True) for image in images]
        with precision.autocast(device):
            losses = model(images, targets_on(device, targets, self.masks))
        terms = {term: losses[term].detach() if term in losses else 0.0 for term in LOSS_TERMS}
        return Step(sum(losses.values()), len(images), terms)


def train_step(config, label_names: list[str]) -> DetectionStep:
    return DetectionStep(config.model.masks)


# --- evaluation -----------------------------------------------------------------------------------------
@contextlib.contextmanager
def heads_training(model: nn.Module):
    """The RPN and RoI heads in training mode (they compute losses only then), the backbone not."""
    heads = (model.rpn, model.roi_heads)
    try:
        for head in heads:
            head.training = True
        yield
    finally:
        for head in heads:
            head.training = False


def detect_with_losses(model: nn.Module, image: torch.Tensor, target: dict[str, torch.Tensor], *,
                       seed: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One image's detections (at the image's size) and loss terms, from one pass of the backbone
    (torchvision's ``GeneralizedRCNN.forward``, taken apart: its eval mode gives no losses)."""
    size = [tuple(image.shape[-2:])]
    images, targets = model.transform([image], [target])
    features = model.backbone(images.tensors)
    proposals, _ = model.rpn(images, features)
    detections, _ = model.roi_heads(features, proposals, images.image_sizes)
    detections = model.transform.postprocess(detections, images.image_sizes, size)[0]
    with heads_training(model), torch.random.fork_rng(devices=[image.device] if image.is_cuda else []):
        torch.manual_seed(seed)  # the RoI sampling, the same for an image on any rank and in any run
        proposals, rpn_losses = model.rpn(images, features, targets)
        _, head_losses = model.roi_heads(features, proposals, images.image_sizes, targets)
    return detections, {**rpn_losses, **head_losses}


def ground_truth_image(target: dict[str, Any], masks: bool) -> DetectionImage:
    """A scene's target as the COCO ground truth (its image id, size, boxes, labels, mask RLEs)."""
    height, width = (int(v) for v in target["orig_size"])
    return DetectionImage(int(target["image_id"]), Path(f"scene-{int(target['image_id'])}"), width, height,
                          target["boxes"].numpy(), target["labels"].numpy(),
                          tuple(masks_to_rles(target["masks"])) if masks else None)


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, *, device: torch.device, precision=None,
             label_names: list[str]) -> dict[str, float]:
    """Loss (mean over images of the summed terms), COCO box and mask scores (%) and the image count,
    over every image of ``loader`` on all ranks together (see the module docstring)."""
    precision = precision or Precision()
    model = unwrap(model)
    model.eval()
    share_buffers(model)
    masks = model.roi_heads.has_mask()
    stored = getattr(getattr(loader, "dataset", None), "data", None)  # a real split's annotations
    predictions, truth, loss_sum = [], [], 0.0
    for images, targets in loader:
        for image, target in zip(images, targets):
            with precision.autocast(device):
                output, losses = detect_with_losses(model, image.to(device), targets_on(device, [target], masks)[0],
                                                    seed=int(target["image_id"]))
            loss_sum += sum(value.item() for value in losses.values())
            output = {key: (value.float() if value.is_floating_point() else value).cpu() for key, value in output.items()}
            predictions += encode_predictions(to_original_size([output], [image], [target]))
            if not isinstance(stored, DetectionData):
                truth.append(ground_truth_image(target, masks))
    return scores_over_ranks(predictions, truth, loss_sum, stored, masks, label_names)


def share_buffers(model: nn.Module) -> None:
    """Under torchrun, rank 0's buffers (BatchNorm's running statistics) on every rank. DDP gives every
    forward rank 0's, but each rank's last training step updated its own since: without this, each rank
    would score its share with other statistics than the weights rank 0 saves."""
    import torch.distributed as dist

    if dist.is_initialized():
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


def scores_over_ranks(predictions: list, truth: list, loss_sum: float, stored: DetectionData | None, masks: bool,
                      label_names: list[str]) -> dict[str, float]:
    """Every rank's predictions (and scene ground truth) gathered; rank 0 scores them, every rank returns it."""
    import torch.distributed as dist

    gathered = [(predictions, truth, loss_sum)]
    if dist.is_initialized():
        gathered = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, (predictions, truth, loss_sum))
    result = [None]
    if not dist.is_initialized() or dist.get_rank() == 0:
        merged = merge_predictions([part[0] for part in gathered])
        if isinstance(stored, DetectionData):
            data = stored.replace(images=tuple(i for i in stored.images if i.image_id in {p["image_id"] for p in merged}))
        else:
            data = DetectionData(tuple(label_names), tuple(sorted((image for part in gathered for image in part[1]),
                                                                  key=lambda image: image.image_id)), masks, "scenes")
        scores = coco_metrics(data, merged, masks=masks)
        count = len(data.images)
        result = [{"loss": sum(part[2] for part in gathered) / max(count, 1),
                   **{m: scores.get(m, math.nan) for m in METRICS}, "images": count}]
    if dist.is_initialized():
        dist.broadcast_object_list(result, src=0)
    return result[0]
