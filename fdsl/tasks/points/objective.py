"""What point-cloud classification optimises and scores, and how its weights are saved.

- Loss: cross-entropy, with label smoothing (``augment.label_smoothing``).
- Scores: overall accuracy ``oa`` (% of objects right) and mean per-class accuracy ``macc`` (the
  mean over classes of each class's accuracy, %), both reported for ModelNet since PointNet (Qi et
  al., CVPR 2017, table 1). Per-class hit and object counts are summed over ranks with
  :func:`fdsl.train.distributed.reduce_sum`, so every rank gets the same numbers; classes without
  a validation object are left out of the mean.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from fdsl.train.distributed import reduce_sum
from fdsl.train.engine import Precision, SupervisedStep

#: Validation scores besides the loss; the first picks best/.
METRICS = ("oa", "macc")


def train_step(config, label_names: list[str]) -> SupervisedStep:
    """Cross-entropy with the config's label smoothing, no batch transform."""
    return SupervisedStep(nn.CrossEntropyLoss(label_smoothing=config.augment.label_smoothing))


def accuracy_scores(hits: torch.Tensor, totals: torch.Tensor) -> tuple[float, float]:
    """(overall accuracy %, mean per-class accuracy %) from per-class hit and object counts."""
    present = totals > 0
    overall = 100.0 * float(hits.sum()) / max(float(totals.sum()), 1.0)
    per_class = hits[present].double() / totals[present].double()
    return overall, 100.0 * float(per_class.mean()) if len(per_class) else 0.0


def class_counts(logits: torch.Tensor, targets: torch.Tensor, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(hits per class, objects per class) of one batch, float64."""
    right = logits.argmax(dim=1).eq(targets).double()
    hits = torch.zeros(classes, dtype=torch.float64).index_add_(0, targets.cpu(), right.cpu())
    totals = torch.bincount(targets.cpu(), minlength=classes).double()
    return hits, totals


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, *, device: torch.device, precision: Precision | None = None,
             label_names: list[str]) -> dict[str, float]:
    """Loss, ``oa`` and ``macc`` (%) over every object of ``loader`` on all ranks together."""
    precision = precision or Precision()
    model.eval()
    classes = len(label_names)
    sums = torch.zeros(1 + 2 * classes, dtype=torch.float64)  # loss sum, hits per class, objects per class
    for inputs, targets in loader:
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        with precision.autocast(device):
            logits = model(inputs).float()
        hits, totals = class_counts(logits, targets, classes)
        sums += torch.cat([nn.functional.cross_entropy(logits, targets, reduction="sum").double().cpu()[None],
                           hits, totals])
    sums = reduce_sum(sums)
    hits, totals = sums[1:1 + classes], sums[1 + classes:]
    overall, mean_class = accuracy_scores(hits, totals)
    return {"loss": float(sums[0]) / max(float(totals.sum()), 1.0), "oa": overall, "macc": mean_class,
            "samples": int(totals.sum())}
