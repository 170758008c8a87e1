"""Point-cloud weights: the model from scratch or from a point-cloud run's weights (the classifier is
new when the classes differ), their config.json, and the model back from disk with the split its
fine-tuning scored."""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from fdsl.data.pointfolders import PointFolder, PointSamples, check_point_files, scan_point_folder, split_point_files
from fdsl.errors import FdslError, check
from fdsl.tasks import check_weights_task, run_meta
from fdsl.tasks.points.config import PointFolderConfig, PointModelConfig, PointsFinetuneConfig
from fdsl.tasks.points.models import HEAD_PREFIX, POINT_MODELS, create_point_model
from fdsl.train.checkpoint import Weights, load_weights, preview_names

log = logging.getLogger(__name__)


def check_model(config) -> None:
    check(config.model.name in POINT_MODELS,
          f"unknown point-cloud model {config.model.name!r}; valid: {', '.join(POINT_MODELS)}")


def resolve_init(config: PointsFinetuneConfig) -> tuple[PointsFinetuneConfig, Weights | None]:
    """The config with the checkpoint's own architecture (from its config.json), and its weights."""
    if config.init is None:
        return config, None
    weights = load_weights(config.init)
    check_weights_task(weights, "points")
    if weights.config is None:
        return config, weights
    model = PointModelConfig(name=weights.config["architecture"], kwargs=dict(weights.config.get("model_args") or {}))
    return dataclasses.replace(config, model=model), weights


def build_model(config, classes: list[str], weights: Weights | None) -> nn.Module:
    model = create_point_model(config.model.name, num_classes=len(classes), **config.model.kwargs)
    if weights is not None:
        load_backbone(model, weights, classes)
    return model


def load_backbone(model: nn.Module, weights: Weights, classes: list[str]) -> None:
    """Load ``weights`` into ``model``; the classifier keeps its fresh initialisation when the
    checkpoint's classes differ from ``classes``. Any other weight must fit."""
    new_head = weights.label_names != list(classes)
    target = model.state_dict()
    wanted = {k for k in target if not (new_head and k.startswith(HEAD_PREFIX))}
    fitting = {k: v for k, v in weights.state_dict.items() if k in wanted and v.shape == target[k].shape}
    check(bool(fitting), f"checkpoint {str(weights.path)!r} has no weight that fits {type(model).__name__}; is it "
                         "the weights of a point-cloud run?")
    missing = sorted(wanted - fitting.keys())
    if missing:
        raise FdslError(f"checkpoint {str(weights.path)!r} does not fit {type(model).__name__}: {len(missing)} "
                        f"weights missing or of another shape, e.g. {missing[0]!r}")
    model.load_state_dict(fitting, strict=False)
    if new_head:
        log.info("new classifier for %d classes (the checkpoint had %s)", len(classes),
                 len(weights.label_names) if weights.label_names else "unknown classes")


def write_weights_config(model: nn.Module, path: Path, *, config, label_names: list[str],
                         meta: dict[str, Any]) -> None:
    """What :func:`load_model` rebuilds the model from, then fdsl's meta."""
    path.write_text(json.dumps({
        "architecture": config.model.name, "model_args": dict(config.model.kwargs), "num_classes": len(label_names),
        "label_names": list(label_names), "points": config.augment.points, "up_axis": config.augment.up_axis,
        "input": "float32 (batch, points, 3), centred, in the unit sphere", "fdsl": meta}, indent=1, default=str))


def load_model(weights: Weights) -> nn.Module:
    """The model that saved ``weights``, in eval mode."""
    check(weights.config is not None, f"checkpoint {str(weights.path)!r} has no config.json beside it")
    model = create_point_model(weights.config["architecture"], num_classes=int(weights.config["num_classes"]),
                               **(weights.config.get("model_args") or {}))
    try:
        model.load_state_dict(weights.state_dict)
    except RuntimeError as error:
        raise FdslError(f"checkpoint {str(weights.path)!r} does not fit its own config.json "
                        f"({str(error).splitlines()[0]})") from None
    return model.eval()


def load_point_model(path: str | Path) -> nn.Module:
    """The model saved by a point-cloud run (run folder, weights folder or .safetensors with its
    config.json), in eval mode."""
    weights = load_weights(path)
    check_weights_task(weights, "points")
    return load_model(weights)


def evaluation_dataset(weights: Weights, data: PointFolderConfig) -> Dataset:
    """The held-out part of each class of ``data.dataset`` (the split fine-tuning validates on), each
    object resampled to the weights' point count with the run's seed, as the run scored it."""
    files = scan_point_folder(data.dataset)
    check_point_files(files.paths)
    _, val_idx = split_point_files(files, holdout=data.holdout)
    check(bool(val_idx), f"data.holdout = {data.holdout} holds out no object of {data.dataset!r} to score")
    trained = weights.label_names or []
    check(trained == files.classes,
          f"checkpoint {str(weights.path)!r} was trained on {len(trained)} classes ({preview_names(trained)}) but "
          f"{data.dataset!r} has {len(files.classes)} ({preview_names(files.classes)})")
    seed = run_meta(weights.config).get("config", {}).get("train", {}).get("seed", 0)
    return PointSamples(PointFolder(files, val_idx), points=int(weights.config["points"]), seed=seed)
