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
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fdsl.samples.image_mask import IGNORE
from fdsl.train.distributed import reduce_sum
from fdsl.train.tasks import Objective

METRICS = ("miou", "pixel_acc")


def segmentation_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the labelled pixels; 0 (with a gradient) when a batch has none, so
    an all-ignored crop never turns into a NaN."""
    if not (targets != IGNORE).any():
        return outputs.sum() * 0.0
    return nn.functional.cross_entropy(outputs, targets, ignore_index=IGNORE)


def losses(config, label_names: list[str]):
    """The objective's (batch transform, loss): no batch-level mixing, plain cross-entropy."""
    return None, segmentation_loss


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
    from fdsl.train.engine import Precision

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


def save_weights(model: nn.Module, directory: Path, *, label_names: list[str], config, meta: dict[str, Any]) -> None:
    """``model.safetensors``, ``config.json`` (architecture, encoder, classes, input size, mean,
    std, and ``meta`` under ``fdsl``) and a model card, each written atomically."""
    import json

    from fdsl.atomic import write_text_atomic
    from fdsl.train.checkpoint import MODEL_CONFIG_FILE, write_tensors
    from fdsl.train.model_card import CARD_FILE
    from fdsl.train.segmentation.card import model_card

    write_tensors(directory, model)
    model_config = weights_config(config, label_names, meta)
    write_text_atomic(directory / MODEL_CONFIG_FILE, json.dumps(model_config, indent=1))
    parameters = sum(p.numel() for p in model.parameters())
    write_text_atomic(directory / CARD_FILE, model_card(model_config, directory, parameters=parameters))


def weights_config(config, label_names: list[str], meta: dict[str, Any]) -> dict[str, Any]:
    """config.json of segmentation weights: what rebuilds the model and its input, then fdsl's meta."""
    from fdsl.train.segmentation.models import SEGMENTATION

    model, augment = config.model, config.augment
    return {"task": SEGMENTATION, "library": "segmentation_models_pytorch", "architecture": model.name,
            "encoder": model.encoder, "encoder_kwargs": dict(model.encoder_kwargs),
            "decoder_kwargs": dict(model.decoder_kwargs), "num_classes": len(label_names),
            "label_names": list(label_names), "ignore_index": IGNORE, "input_size": [3, *augment.size],
            "mean": list(augment.mean), "std": list(augment.std), "fdsl": meta}


OBJECTIVE = Objective(metrics=METRICS, losses=losses, evaluate=evaluate, save_weights=save_weights)
