"""Segmentation pre-training on SegRCDB scenes rendered on the fly, and fine-tuning on real
image/label folders, both through :func:`fdsl.train.trainer.fit` with the segmentation objective.

Alone::

    fdsl pretrain --family segrcdb --preset cpu-small -o runs/segrcdb
    fdsl finetune --task segmentation --preset cpu-small --init runs/segrcdb -o runs/camvid

Under torchrun every rank renders its own share of each epoch (2 CPU processes, gloo)::

    torchrun --standalone --nproc_per_node 2 -m fdsl pretrain --family segrcdb --preset cpu-small -o runs/segrcdb
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from torch.utils.data import Dataset

import fdsl
from fdsl.data.datasets import formula_datasets
from fdsl.data.rendered_masks import rendered_mask_datasets
from fdsl.data.segfolders import seg_folder_datasets
from fdsl.errors import check
from fdsl.train import checkpoint, distributed
from fdsl.train.checkpoint import Weights, load_weights
from fdsl.train.config import to_dict
from fdsl.train.segmentation.config import SegFinetuneConfig, SegPretrainConfig
from fdsl.train.segmentation.objective import OBJECTIVE
from fdsl.train.segmentation.models import create_seg_model, load_init, model_config_of
from fdsl.train.segmentation.transforms import build_transforms
from fdsl.train.tasks import task_of_weights
from fdsl.train.trainer import FitResult, fit, seed_init


class MaskPairs(Dataset):
    """A formula dataset's ``((image, mask), scene bucket)`` items as ``(image, mask)``: the mask
    is the target; the bucket (FormulaDataset's category) is no label here."""

    def __init__(self, scenes: Dataset):
        self.scenes = scenes

    def __len__(self) -> int:
        return len(self.scenes)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.scenes, "set_epoch"):
            self.scenes.set_epoch(epoch)

    def __getitem__(self, index: int):
        return self.scenes[index][0]


def mask_label_names(config: SegPretrainConfig) -> list[str]:
    """The mask's values as classes: 0 the background, then the family's classes (SegRCDB: 0..254,
    the official configs' num_classes 255)."""
    family = config.data.family_config()
    check(hasattr(family, "classes"), f"family {config.data.family} declares no number of mask classes")
    return [str(value) for value in range(family.classes + 1)]


def pretrain(config: SegPretrainConfig, out: str | Path, *, resume: bool = False) -> FitResult:
    """Train ``config.model`` to predict the masks of ``config.data`` (SegRCDB on the fly, or from a
    folder that ``fdsl render`` wrote); the run folder receives config.yaml, metrics.csv (val_miou,
    val_pixel_acc on held-out scenes), last/ and best/ weights and state.pt."""
    config.validate()
    out = Path(out)
    context = distributed.setup(config.train.device, config.train.timeout_s)
    train_set, val_set, label_names = scene_datasets(config, progress=context.is_primary and sys.stderr.isatty())
    state = checkpoint.prepare_run(out, config, resume=resume)
    seed_init(config.train.seed)
    model = create_seg_model(config.model, num_classes=len(label_names))
    meta = {"task": "pretrain", "task_name": "segmentation", "fdsl_version": fdsl.__version__,
            "data": to_dict(config.data), "config": to_dict(config)}
    return fit(model, train_set, val_set, config=config, out=out, label_names=label_names, context=context,
               state=state, meta=meta, objective=OBJECTIVE)


def scene_datasets(config: SegPretrainConfig, *, progress: bool = False):
    """(train, held-out or None, mask class names): rendered on the fly, or read from ``data.data_dir``."""
    train_transform, val_transform = build_transforms(config.augment)
    data = config.data
    if data.data_dir is not None:
        return rendered_mask_datasets(data.data_dir, data.val_instances, family=data.family,
                                      train_transform=train_transform, val_transform=val_transform, progress=progress)
    scenes, held_out, _ = formula_datasets(data, train_transform=train_transform, val_transform=val_transform,
                                           progress=progress)
    return MaskPairs(scenes), MaskPairs(held_out) if held_out is not None else None, mask_label_names(config)


def resolve_init(config: SegFinetuneConfig) -> tuple[SegFinetuneConfig, Weights | None]:
    """The config with the architecture the init weights need (:func:`model_config_of`), and the weights."""
    if config.init is None:
        return config, None
    weights = load_weights(config.init)
    found = task_of_weights(weights.config)
    check(found != "points", f"{str(weights.path)!r} holds points weights, which no image model can start from; "
                             "pass --task points")
    return dataclasses.replace(config, model=model_config_of(weights, config.model)), weights


def finetune(config: SegFinetuneConfig, out: str | Path, *, resume: bool = False) -> FitResult:
    """Fine-tune on the image/label folders of ``config.data`` (from scratch, a segmentation run or
    a classification run's encoder), scoring the validation split each ``eval_interval`` epochs."""
    config.validate()
    out = Path(out)
    context = distributed.setup(config.train.device, config.train.timeout_s)
    config, weights = resolve_init(config)
    train_transform, val_transform = build_transforms(config.augment)
    # Every label map is checked here, before the run folder is touched.
    train_set, val_set, classes = seg_folder_datasets(config.data, train_transform=train_transform,
                                                      val_transform=val_transform)
    state = checkpoint.prepare_run(out, config, resume=resume)
    seed_init(config.train.seed)  # the class layer (or the whole model) starts the same for a given seed
    model = create_seg_model(config.model, num_classes=len(classes))
    if weights is not None:
        load_init(model, weights)
    meta = {"task": "finetune", "task_name": "segmentation", "fdsl_version": fdsl.__version__, "init": config.init,
            "dataset": config.data.dataset, "config": to_dict(config),
            "init_data": ((weights.config or {}).get("fdsl") or {}).get("data") if weights is not None else None}
    return fit(model, train_set, val_set, config=config, out=out, label_names=classes, context=context, state=state,
               meta=meta, objective=OBJECTIVE)
