"""The segmentation objective: per-pixel cross-entropy that ignores 255, and the scores of the
semantic-segmentation benchmarks from one confusion matrix (torchvision references/segmentation's
``ConfusionMatrix``; mmsegmentation's ``IoUMetric``):

- ``miou``: mean over classes of TP / (TP + FP + FN), in %, over the classes that occur in the
  ground truth or the prediction of the scored pixels (a class absent from both has no IoU);
- ``pixel_acc``: correctly labelled pixels / labelled pixels (global accuracy), in %.

Pixels labelled 255 (:data:`fdsl.samples.image_mask.IGNORE`: CamVid's Unlabelled, mapped there
by :mod:`fdsl.data.segfolders`) count in neither the loss nor the scores. The matrix is summed over
ranks, so every rank reports the scores of the whole validation set.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from fdsl.samples.image_mask import IGNORE
from fdsl.train.distributed import reduce_sum
from fdsl.train.engine import Precision, SupervisedStep

METRICS = ("miou", "pixel_acc")


def segmentation_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the labelled pixels; 0 (with a gradient) when a batch has none, so
    an all-ignored crop never turns into a NaN."""
    if not (targets != IGNORE).any():
        return outputs.sum() * 0.0
    return nn.functional.cross_entropy(outputs, targets, ignore_index=IGNORE)


def train_step(config, label_names: list[str]) -> SupervisedStep:
    """No batch-level mixing, plain cross-entropy over the labelled pixels."""
    return SupervisedStep(segmentation_loss)


def confusion(predictions: torch.Tensor, targets: torch.Tensor, classes: int) -> torch.Tensor:
    """int64 (classes, classes): row = true class, column = predicted, over the labelled pixels."""
    labelled = targets != IGNORE
    truth, guess = targets[labelled].long(), predictions[labelled].long()
    return torch.bincount(truth * classes + guess, minlength=classes * classes).reshape(classes, classes)


def scores(matrix: torch.Tensor) -> dict[str, float]:
    """mIoU and pixel accuracy (%) of a confusion matrix (see the module docstring)."""
    matrix = matrix.double()
    hits = matrix.diag()
    union = matrix.sum(0) + matrix.sum(1) - hits
    present = union > 0
    miou = (hits[present] / union[present]).mean().item() if present.any() else 0.0
    total = matrix.sum().item()
    return {"miou": 100.0 * miou, "pixel_acc": 100.0 * hits.sum().item() / total if total else 0.0}


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, *, device: torch.device, precision=None,
             label_names: list[str]) -> dict[str, float]:
    """Loss (mean over labelled pixels), mIoU and pixel accuracy over every image of ``loader`` on
    all ranks together."""
    precision = precision or Precision()
    classes = len(label_names)
    model.eval()
    matrix = torch.zeros(classes, classes, dtype=torch.int64)
    loss_sum = torch.zeros((), dtype=torch.float64)
    for images, masks in loader:
        images, masks = images.to(device, non_blocking=True), masks.to(device, non_blocking=True)
        with precision.autocast(device):
            logits = model(images)
        loss_sum += nn.functional.cross_entropy(logits.float(), masks, ignore_index=IGNORE, reduction="sum").item()
        matrix += confusion(logits.argmax(1), masks, classes).cpu()
    matrix = reduce_sum(matrix)
    labelled = max(matrix.sum().item(), 1)
    return {"loss": reduce_sum(loss_sum).item() / labelled, **scores(matrix), "pixels": int(labelled)}
