"""Classification weights: where a fine-tuning starts (scratch, timm's weights or an fdsl checkpoint,
whose architecture it takes), the model built from them, and timm's format on disk.

A checkpoint brings its architecture and arguments (timm's config.json); its classifier is replaced
only with ``new_head`` (DeiT's rule: drop head weights whose classes differ), and ViT position
embeddings are resampled when the fine-tuning image size changes the patch grid. ``freeze`` /
``linear_probe`` freeze the first stages or all but the classifier (:mod:`.freeze`). Saved weights
load in plain timm, without fdsl::

    timm.create_model("local-dir:runs/x/last", pretrained=True)
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from fdsl.data.config import RealDataConfig
from fdsl.errors import FdslError, check
from fdsl.tasks import check_weights_task
from fdsl.tasks.classification.config import AugmentConfig, FinetuneConfig, ModelConfig
from fdsl.tasks.classification.freeze import apply_freezing
from fdsl.tasks.classification.models import (create_model, load_pretrained, model_config_from_checkpoint,
                                             without_projection)
from fdsl.train.checkpoint import Weights, load_weights, preview_names


def resolve_init(config: FinetuneConfig) -> tuple[FinetuneConfig, Weights | None]:
    """The config with the checkpoint's own architecture (when it has a config.json), and its weights."""
    if config.init in (None, "timm"):
        return config, None
    weights = load_weights(config.init)
    check_weights_task(weights, "classification")
    if weights.config is None:  # bare weights: the architecture is config.model's
        return config, weights
    model = model_config_from_checkpoint(weights.config, img_size=config.augment.img_size,
                                         drop_path=config.model.drop_path)
    return dataclasses.replace(config, model=model), weights


def check_classes(weights: Weights, classes: list[str], *, new_head: bool, hint: str = "pass --new-head to "
                  "fine-tune with a new classifier") -> None:
    """Without ``new_head`` the checkpoint must have been trained on exactly these classes."""
    names = weights.label_names
    if new_head or names is None:
        return
    check(list(names) == list(classes),
          f"checkpoint {str(weights.path)!r} was trained on {len(names)} classes ({preview_names(names)}) but the "
          f"dataset has {len(classes)} ({preview_names(classes)}); {hint}")


def build_model(config, classes: list[str], weights: Weights | None) -> nn.Module:
    """The model to train: from scratch (pre-training, or fine-tuning without init), from timm's
    weights or from ``weights``, with the stages ``config`` freezes frozen."""
    if not isinstance(config, FinetuneConfig):
        model = create_model(config.model, num_classes=len(classes))
        if config.objective.self_supervised:
            from fdsl.tasks.classification.selfsup import contrastive_model

            model = contrastive_model(model, config.objective)
        return model
    if config.init == "timm":
        return timm_model(config, classes)
    model = create_model(config.model, num_classes=len(classes))
    if weights is not None:
        check_classes(weights, classes, new_head=config.new_head)
        load_pretrained(model, weights.state_dict, new_head=config.new_head)
    apply_freezing(model, freeze=config.freeze, linear_probe=config.linear_probe)
    return model


def timm_model(config: FinetuneConfig, classes: list[str]) -> nn.Module:
    from timm.models import get_pretrained_cfg

    arch = config.model.name
    pretrained = get_pretrained_cfg(arch)
    check(pretrained is not None, f"timm has no pretrained weights for {arch!r}")
    check(config.new_head or pretrained.num_classes == len(classes),
          f"timm's {arch} weights have {pretrained.num_classes} classes but the dataset has {len(classes)}; "
          "pass --new-head to fine-tune with a new classifier")
    model = create_model(config.model, num_classes=len(classes), pretrained=True)
    if config.new_head and pretrained.num_classes == len(classes):
        model.reset_classifier(len(classes))
    apply_freezing(model, freeze=config.freeze, linear_probe=config.linear_probe)
    return model


def write_weights_config(model: nn.Module, path: Path, *, config, label_names: list[str],
                         meta: dict[str, Any]) -> None:
    """timm's ``config.json`` (architecture, model_args, preprocessing) with the label names, and
    ``meta`` under ``fdsl``."""
    from timm.models._hub import save_config_for_hf

    from fdsl.train.model_card import licence_of

    augment = config.augment
    size = augment.img_size
    data_config = {"input_size": (3, size, size), "interpolation": augment.interpolation, "mean": augment.mean,
                   "std": augment.std, "crop_pct": augment.eval_crop_pct, "crop_mode": "center"}
    model_config = {"label_names": list(label_names), "fdsl": meta,
                    "pretrained_cfg": {"tag": "fdsl", "license": licence_of(meta)["id"]}}
    save_config_for_hf(model, str(path), model_config=model_config, data_config=data_config)


def load_model(weights: Weights) -> nn.Module:
    check(weights.config is not None,
          f"checkpoint {str(weights.path)!r} has no config.json beside it: its architecture is unknown")
    kwargs = {k: v for k, v in (weights.config.get("model_args") or {}).items() if k != "num_classes"}
    num_classes = int(weights.config["num_classes"])
    model = create_model(ModelConfig(name=weights.config["architecture"], kwargs=kwargs), num_classes=num_classes)
    try:
        model.load_state_dict(without_projection(model, weights.state_dict))
    except RuntimeError as error:
        raise FdslError(f"checkpoint {str(weights.path)!r} does not fit its own config.json "
                        f"({str(error).splitlines()[0]})") from None
    return model.eval()


def evaluation_dataset(weights: Weights, data: RealDataConfig) -> Dataset:
    """The split fine-tuning validates on (:func:`fdsl.data.datasets.evaluation_dataset`), through the
    evaluation transform that the weights' config.json describes."""
    from fdsl.data.datasets import evaluation_dataset as split
    from fdsl.tasks.classification.augment import build_transforms

    check(int(weights.config["num_classes"]) > 0, f"checkpoint {str(weights.path)!r} has no classifier (self-supervised "
          "pre-training); fine-tune it first (fdsl finetune --init CHECKPOINT --new-head)")
    cfg = weights.config["pretrained_cfg"]
    augment = AugmentConfig(img_size=int(cfg["input_size"][-1]), interpolation=cfg.get("interpolation", "bilinear"),
                            mean=tuple(cfg["mean"]), std=tuple(cfg["std"]), eval_crop_pct=cfg.get("crop_pct", 1.0))
    dataset = split(data, transform=build_transforms(augment)[1])
    check_classes(weights, dataset.classes, new_head=False, hint="score them on a dataset with their classes, or "
                  "fine-tune them on this one first (fdsl finetune --init CHECKPOINT --new-head)")
    check(int(weights.config["num_classes"]) == len(dataset.classes),
          f"checkpoint has {weights.config['num_classes']} classes but the dataset has {len(dataset.classes)}")
    return dataset
