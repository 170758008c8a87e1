"""Segmentation weights: where a fine-tuning starts (scratch, a segmentation run's whole model, or a
classification run's backbone as the encoder), the model built from them, their config.json, and the
model back from disk with its evaluation split and predicted masks (for pictures of scratch against
pre-trained predictions, :mod:`fdsl.viz.segmentation`)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from fdsl.data.config import SegFolderConfig
from fdsl.errors import FdslError, check
from fdsl.samples.image_mask import IGNORE
from fdsl.tasks import task_of_weights
from fdsl.tasks.segmentation.config import SegAugmentConfig, SegFinetuneConfig, SegModelConfig
from fdsl.tasks.segmentation.models import create_seg_model, is_segmentation, load_init, model_config_of
from fdsl.train.checkpoint import Weights, load_weights


def resolve_init(config: SegFinetuneConfig) -> tuple[SegFinetuneConfig, Weights | None]:
    """The config with the architecture the init weights need (:func:`model_config_of`), and the weights."""
    if config.init is None:
        return config, None
    weights = load_weights(config.init)
    found = task_of_weights(weights.config)  # a classifier's backbone becomes the encoder
    check(found in (None, "segmentation", "classification"),
          f"{str(weights.path)!r} holds {found} weights, which no segmentation model can start from; pass --task {found}")
    return dataclasses.replace(config, model=model_config_of(weights, config.model)), weights


def build_model(config, label_names: list[str], weights: Weights | None) -> nn.Module:
    model = create_seg_model(config.model, num_classes=len(label_names))
    if weights is not None:
        load_init(model, weights)
    return model


def write_weights_config(model: nn.Module, path: Path, *, config, label_names: list[str],
                         meta: dict[str, Any]) -> None:
    """What rebuilds the model and its input, then fdsl's meta."""
    model_config, augment = config.model, config.augment
    path.write_text(json.dumps({
        "library": "segmentation_models_pytorch", "architecture": model_config.name, "encoder": model_config.encoder,
        "encoder_kwargs": dict(model_config.encoder_kwargs), "decoder_kwargs": dict(model_config.decoder_kwargs),
        "num_classes": len(label_names), "label_names": list(label_names), "ignore_index": IGNORE,
        "input_size": [3, *augment.size], "mean": list(augment.mean), "std": list(augment.std), "fdsl": meta,
    }, indent=1))


def load_model(weights: Weights) -> nn.Module:
    """The segmentation model that saved ``weights``, in eval mode."""
    check(is_segmentation(weights), f"{str(weights.path)!r} holds no segmentation weights (its config.json names "
                                    "no segmentation run)")
    saved = weights.config
    model = create_seg_model(SegModelConfig(name=saved["architecture"], encoder=saved["encoder"],
                                            encoder_kwargs=saved["encoder_kwargs"],
                                            decoder_kwargs=saved["decoder_kwargs"]), num_classes=saved["num_classes"])
    try:
        model.load_state_dict(weights.state_dict)
    except RuntimeError as error:
        raise FdslError(f"{str(weights.path)!r} does not fit its own config.json ({str(error).splitlines()[0]})") from None
    return model.eval()


def input_augment(weights: Weights) -> SegAugmentConfig:
    """The evaluation input of the weights: their size, mean and std."""
    saved = weights.config
    return SegAugmentConfig(size=tuple(saved["input_size"][1:]), mean=tuple(saved["mean"]), std=tuple(saved["std"]))


def evaluation_dataset(weights: Weights, data: SegFolderConfig) -> Dataset:
    """The validation split of ``data`` at the weights' input size."""
    from fdsl.data.segfolders import seg_folder_datasets
    from fdsl.tasks.segmentation.transforms import eval_transform

    _, val, classes = seg_folder_datasets(data, val_transform=eval_transform(input_augment(weights)))
    check(len(classes) == weights.config["num_classes"],
          f"the weights have {weights.config['num_classes']} classes but the data has {len(classes)}")
    return val


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """int64 (N, H, W) class per pixel of normalised (N, 3, H, W) images."""
    return model(images).argmax(1)
