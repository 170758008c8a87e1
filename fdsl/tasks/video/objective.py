"""What video classification optimises and scores.

- Loss: cross-entropy, with label smoothing (``augment.label_smoothing``).
- Scores, from one confusion matrix summed over ranks (so every rank reports the whole validation
  set): ``top1``, the % of clips whose top class is right (one clip per video, the centred window),
  and ``macc``, the mean over classes of each class's accuracy (%), as UCF101 and HMDB51 papers
  report top-1 and, for unbalanced splits, mean class accuracy. Classes without a validation clip are
  left out of the mean. The matrix itself is what :func:`confusion_matrix` returns (rows: true class).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from fdsl.train.distributed import reduce_sum
from fdsl.train.engine import Precision, SupervisedStep

METRICS = ("top1", "macc")


def train_step(config, label_names: list[str]) -> SupervisedStep:
    """Cross-entropy with the config's label smoothing, no batch transform."""
    return SupervisedStep(nn.CrossEntropyLoss(label_smoothing=config.augment.label_smoothing))


def confusion(logits: torch.Tensor, targets: torch.Tensor, classes: int) -> torch.Tensor:
    """int64 (classes, classes): clips of true class i predicted as j, of one batch."""
    pairs = targets.cpu() * classes + logits.argmax(1).cpu()
    return torch.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


def scores(matrix: torch.Tensor) -> dict[str, float]:
    """``top1`` and ``macc`` (%) of a confusion matrix."""
    totals = matrix.sum(1).double()
    right = matrix.diagonal().double()
    present = totals > 0
    top1 = 100.0 * float(right.sum()) / max(float(totals.sum()), 1.0)
    macc = 100.0 * float((right[present] / totals[present]).mean()) if bool(present.any()) else 0.0
    return {"top1": top1, "macc": macc}


@torch.no_grad()
def confusion_matrix(model: nn.Module, loader: Iterable, *, device: torch.device, precision: Precision | None = None,
                     classes: int) -> tuple[torch.Tensor, float]:
    """(the confusion matrix, the summed loss) over every clip of ``loader`` on all ranks together."""
    precision = precision or Precision()
    model.eval()
    matrix = torch.zeros(classes, classes, dtype=torch.int64)
    loss_sum = torch.zeros((), dtype=torch.float64)
    for clips, targets in loader:
        clips, targets = clips.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        with precision.autocast(device):
            logits = model(clips).float()
        loss_sum += nn.functional.cross_entropy(logits, targets, reduction="sum").double().cpu()
        matrix += confusion(logits, targets, classes)
    return reduce_sum(matrix), float(reduce_sum(loss_sum))


def evaluate(model: nn.Module, loader: Iterable, *, device: torch.device, precision: Precision | None = None,
             label_names: list[str]) -> dict[str, float]:
    """Loss, ``top1`` and ``macc`` (%) over every clip of ``loader`` on all ranks together."""
    matrix, loss_sum = confusion_matrix(model, loader, device=device, precision=precision, classes=len(label_names))
    clips = int(matrix.sum())
    return {"loss": loss_sum / max(clips, 1), **scores(matrix), "clips": clips}
