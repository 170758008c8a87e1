"""Detection weights: where a fine-tuning starts (scratch, a detection run's whole detector, or a
classification run's backbone), the detector built from them, their config.json, and the detector back
from disk with its evaluation split and its detections (for pictures of predictions beside the truth,
:mod:`fdsl.viz.detection`)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from fdsl.configs import from_dict, to_dict
from fdsl.data.config import DetectionDataConfig
from fdsl.data.detection import detection_splits
from fdsl.errors import FdslError, check
from fdsl.tasks import FINETUNE, run_meta, task_of_weights
from fdsl.tasks.detection.config import WEIGHT_SHAPES, DetModelConfig
from fdsl.tasks.detection.models import CLASSIFIER_ARGS, create_detector, is_detection, load_init
from fdsl.train.checkpoint import Weights, load_weights
from fdsl.train.config import IMAGENET_MEAN, IMAGENET_STD


def model_config_of(weights: Weights, current: DetModelConfig) -> DetModelConfig:
    """The architecture that ``weights`` need: a detection checkpoint's weight-shaping fields
    (:data:`WEIGHT_SHAPES`) over ``current``'s; a classification checkpoint's architecture and
    arguments as the backbone; bare weights (no config.json): ``current``."""
    if weights.config is None:
        return current
    if is_detection(weights):
        saved = saved_model_config(weights)
        return dataclasses.replace(current, **{key: getattr(saved, key) for key in WEIGHT_SHAPES})
    kwargs = {k: v for k, v in (weights.config.get("model_args") or {}).items() if k not in CLASSIFIER_ARGS}
    return dataclasses.replace(current, backbone=weights.config["architecture"], backbone_kwargs=kwargs)


def resolve_init(config) -> tuple[Any, Weights | None]:
    """The config with the architecture the init weights need (:func:`model_config_of`), and the weights."""
    if config.init is None:
        return config, None
    weights = load_weights(config.init)
    found = task_of_weights(weights.config)  # a classifier's backbone becomes the detector's
    check(found in (None, "detection", "classification"),
          f"{str(weights.path)!r} holds {found} weights, which no detector can start from; pass --task {found}")
    return dataclasses.replace(config, model=model_config_of(weights, config.model)), weights


def fixed_size(config) -> int | None:
    """The size the data arrives at: fine-tuning's ``data.image_size``, the scenes' ``size``."""
    if isinstance(config.data, DetectionDataConfig):
        return config.data.image_size
    return config.data.family_config().to_dict().get("size")


def input_size(config) -> tuple[int, int]:
    """(min_size, max_size) of the detector's own resize: the model's, else the data's fixed size
    (then nothing is resized again)."""
    model = config.model
    if model.min_size is not None:
        return model.min_size, model.max_size
    size = fixed_size(config)
    return size, size


def build_model(config, label_names: list[str], weights: Weights | None) -> nn.Module:
    min_size, max_size = input_size(config)
    model = create_detector(config.model, num_classes=len(label_names), min_size=min_size, max_size=max_size)
    if weights is not None:
        load_init(model, weights, label_names)
    return model


def write_weights_config(model: nn.Module, path: Path, *, config, label_names: list[str],
                         meta: dict[str, Any]) -> None:
    """What rebuilds the detector and its input, then fdsl's meta."""
    min_size, max_size = input_size(config)
    path.write_text(json.dumps({
        "library": "torchvision", "architecture": config.model.name, "model": to_dict(config.model),
        "num_classes": len(label_names), "label_names": list(label_names), "input_size": [min_size, max_size],
        "image_size": fixed_size(config), "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "fdsl": meta,
    }, indent=1))


def saved_model_config(weights: Weights) -> DetModelConfig:
    return from_dict(DetModelConfig, weights.config["model"])


def load_model(weights: Weights) -> nn.Module:
    """The detector that saved ``weights``, in eval mode."""
    check(is_detection(weights), f"{str(weights.path)!r} holds no detection weights (its config.json names no "
                                 "detection run)")
    min_size, max_size = weights.config["input_size"]
    model = create_detector(saved_model_config(weights), num_classes=int(weights.config["num_classes"]),
                            min_size=min_size, max_size=max_size)
    try:
        model.load_state_dict(weights.state_dict)
    except RuntimeError as error:
        raise FdslError(f"{str(weights.path)!r} does not fit its own config.json ({str(error).splitlines()[0]})") from None
    return model.eval()


def evaluation_data(weights: Weights, data) -> DetectionDataConfig:
    """``data`` (an evaluation data config) with what it leaves unset taken from the weights' fine-tuning."""
    meta = run_meta(weights.config)
    return data.resolve(meta["config"]["data"] if meta.get("phase") == FINETUNE else None)


def evaluation_dataset(weights: Weights, data) -> Dataset:
    """The held-out split of ``data`` as the weights' run prepared it (see :func:`evaluation_data`)."""
    from fdsl.tasks.detection.data import evaluation_split

    config = evaluation_data(weights, data)
    masks = saved_model_config(weights).masks
    check(not masks or config.labels == "masks",
          f"{str(weights.path)!r} holds a Mask R-CNN: evaluate it on masks (--labels masks)")
    _, held_out = detection_splits(config)
    check(list(held_out.classes) == weights.label_names,
          f"the weights' classes ({', '.join(weights.label_names[1:4])}...: {len(weights.label_names) - 1}) are not "
          f"the data's ({', '.join(held_out.classes[1:4])}...: {len(held_out.classes) - 1}); pass --classes")
    return evaluation_split(held_out, config.image_size, masks)


@torch.no_grad()
def detect(model: nn.Module, item: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The detections of one evaluation item (its ``image``, ``orig_size``, ``image_id``) at the
    image's stored size: boxes xyxy, scores, labels, masks (N, 1, H, W) probabilities."""
    from fdsl.data.detection_dataset import plain, to_original_size

    image = plain(item["image"])
    output = model.eval()([image])[0]
    return to_original_size([output], [image], [item])[0]
