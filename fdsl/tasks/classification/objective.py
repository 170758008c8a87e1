"""What classification optimises and scores: cross-entropy (with timm's Mixup/CutMix and its soft
targets when set, :func:`fdsl.tasks.classification.augment.mixup_and_loss`) on ``(images, labels)``
batches, and top-1/top-5 accuracy and the loss over every rank's share of the validation images."""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from fdsl.train.distributed import reduce_sum
from fdsl.train.engine import Precision, SupervisedStep

METRICS = ("top1", "top5")


def train_step(config, label_names: list[str]):
    from fdsl.tasks.classification.augment import mixup_and_loss

    objective = getattr(config, "objective", None)
    if objective is not None and objective.self_supervised:
        from fdsl.tasks.classification.selfsup import ContrastiveStep

        return ContrastiveStep()

    mixup, loss_fn = mixup_and_loss(config.augment, len(label_names))
    return SupervisedStep(loss_fn, batch_transform=mixup)


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, *, device: torch.device, precision: Precision | None = None,
             label_names: list[str] | None = None) -> dict[str, float]:
    """Loss, top-1 and top-5 accuracy (%) over every image of ``loader`` on all ranks together; for a
    self-supervised model, its held-out k-NN score (:func:`fdsl.tasks.classification.selfsup.knn_scores`)."""
    from fdsl.tasks.classification.selfsup import contrastive_head, knn_scores

    precision = precision or Precision()
    if contrastive_head(model) is not None:
        return knn_scores(model, loader, device=device, precision=precision)
    model.eval()
    # loss sum, top-1 hits, top-5 hits, images: summed on this rank, then over ranks.
    sums = torch.zeros(4, dtype=torch.float64)
    for inputs, targets in loader:
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        with precision.autocast(device):
            logits = model(inputs)
        loss = nn.functional.cross_entropy(logits.float(), targets, reduction="sum")
        k = min(5, logits.shape[1])
        top = logits.topk(k, dim=1).indices  # (batch, k)
        hits = top.eq(targets[:, None])
        sums += torch.tensor([loss.item(), hits[:, 0].sum().item(), hits.any(dim=1).sum().item(), len(targets)],
                             dtype=torch.float64)
    loss_sum, top1, top5, count = reduce_sum(sums).tolist()
    count = max(count, 1.0)
    return {"loss": loss_sum / count, "top1": 100.0 * top1 / count, "top5": 100.0 * top5 / count,
            "images": int(count)}
