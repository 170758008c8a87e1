"""Classification's data: formula images on the fly or from a rendered folder or shards (pre-training),
real images by name or as an ImageFolder (fine-tuning), through the task's transforms (a self-supervised
pre-training: two views of each training image, :mod:`.selfsup`)."""
from __future__ import annotations

from fdsl.data.datasets import formula_datasets, real_datasets
from fdsl.tasks import PRETRAIN, Data
from fdsl.tasks.classification.augment import build_transforms
from fdsl.train import distributed


def datasets(config, phase: str, *, progress: bool = False) -> Data:
    train_transform, val_transform = build_transforms(config.augment)
    if phase == PRETRAIN and config.objective.self_supervised:
        from fdsl.tasks.classification.selfsup import view_transform

        train_transform = view_transform(config.objective, config.augment)
    if phase == PRETRAIN:
        return Data(*formula_datasets(config.data, train_transform=train_transform, val_transform=val_transform,
                                      progress=progress))
    with distributed.primary_first():  # rank 0 downloads a named dataset before the others read it
        return Data(*real_datasets(config.data, train_transform=train_transform, val_transform=val_transform))
