"""Point-cloud pre-training on a formula family (PC-FractalDB on the fly) and fine-tuning on a
folder of real objects (ModelNet10), both through :func:`fdsl.train.trainer.fit`.

Alone or under torchrun (2 CPU processes with gloo)::

    python -m torch.distributed.run --standalone --nproc_per_node 2 -m fdsl pretrain \\
        --family pcfractaldb --preset cpu-small -o runs/pc-pre

Pre-training classifies PC-FractalDB categories: each sample is a category's FractalNoiseMix cloud
rendered in the loader (:mod:`fdsl.formulas.pcfractaldb`), normalised into the unit sphere,
resampled to ``augment.points`` points and augmented (:mod:`fdsl.train.points.augment`).
Fine-tuning starts from scratch or from such a run's weights (the classifier is new when the
classes differ) and scores the held-out part of each class (OA and mAcc).
"""
from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

from torch import nn

import fdsl
from fdsl.data.datasets import formula_datasets
from fdsl.data.pointfolders import (PointFolder, PointSamples, check_point_files, scan_point_folder,
                                    split_point_files)
from fdsl.errors import FdslError, check
from fdsl.train import checkpoint, distributed
from fdsl.train.checkpoint import Weights, load_weights, preview_names
from fdsl.train.config import TrainConfig, to_dict
from fdsl.train.loaders import evaluation_loader
from fdsl.train.points.augment import build_point_augment
from fdsl.train.points.config import PointFolderConfig, PointModelConfig, PointsFinetuneConfig, PointsPretrainConfig
from fdsl.train.points.models import HEAD_PREFIX, POINT_MODELS, create_point_model
from fdsl.train.tasks import check_weights_task
from fdsl.train.trainer import FitResult, fit, seed_init

log = logging.getLogger(__name__)


# --- data -----------------------------------------------------------------------------------------
def pretrain_datasets(config: PointsPretrainConfig, *, progress: bool = False):
    """(train, validation or None, class names): formula clouds made point samples."""
    check(config.data.data_dir is None, "point-cloud pre-training renders its data on the fly; unset data.data_dir "
                                        "(a rendered folder can be fine-tuned on as a point folder)")
    base_train, base_val, classes = formula_datasets(config.data, progress=progress)
    return point_samples(base_train, base_val, config), classes


def finetune_datasets(config: PointsFinetuneConfig):
    """(train, validation or None, class names) of the point folder ``config.data.dataset``."""
    data = config.data
    files = scan_point_folder(data.dataset)
    check_point_files(files.paths)
    train_idx, val_idx = split_point_files(files, holdout=data.holdout, train_share=data.train_share,
                                           train_per_class=data.train_per_class)
    base_val = PointFolder(files, val_idx) if val_idx else None
    return point_samples(PointFolder(files, train_idx), base_val, config), files.classes


def point_samples(base_train, base_val, config):
    points, seed = config.augment.points, config.train.seed
    train = PointSamples(base_train, points=points, seed=seed, augment=build_point_augment(config.augment))
    val = PointSamples(base_val, points=points, seed=seed) if base_val is not None else None
    return train, val


# --- models and weights ---------------------------------------------------------------------------
def check_model(config: PointModelConfig) -> None:
    check(config.name in POINT_MODELS, f"unknown point-cloud model {config.name!r}; valid: {', '.join(POINT_MODELS)}")


def build_model(config: PointModelConfig, classes: int) -> nn.Module:
    return create_point_model(config.name, num_classes=classes, **config.kwargs)


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


def load_point_model(path: str | Path) -> nn.Module:
    """The model saved by a point-cloud run (run folder, weights folder or .safetensors with its
    config.json), in eval mode."""
    return point_model(load_weights(path))


def point_model(weights: Weights) -> nn.Module:
    check_weights_task(weights, "points")
    check(weights.config is not None, f"checkpoint {str(weights.path)!r} has no config.json beside it")
    model = create_point_model(weights.config["architecture"], num_classes=int(weights.config["num_classes"]),
                               **(weights.config.get("model_args") or {}))
    try:
        model.load_state_dict(weights.state_dict)
    except RuntimeError as error:
        raise FdslError(f"checkpoint {str(weights.path)!r} does not fit its own config.json "
                        f"({str(error).splitlines()[0]})") from None
    return model.eval()


def evaluate_weights(path: str | Path, data: PointFolderConfig, *, batch_size: int = 32, workers: int = 0,
                     device: str = "cpu") -> dict[str, float]:
    """Loss, OA and mAcc (%) of the weights in ``path`` on the held-out part of each class of the
    point folder ``data.dataset`` (the split fine-tuning validates on), each object resampled to
    the weights' point count with the run's seed, as the run scored it."""
    from fdsl.train.points.objective import evaluate

    check(batch_size >= 1, f"batch size = {batch_size}; allowed: >= 1")
    context = distributed.setup(device)
    weights = load_weights(path)
    model = point_model(weights)
    files = scan_point_folder(data.dataset)
    check_point_files(files.paths)
    _, val_idx = split_point_files(files, holdout=data.holdout)
    check(bool(val_idx), f"data.holdout = {data.holdout} holds out no object of {data.dataset!r} to score")
    trained = weights.label_names or []
    check(trained == files.classes,
          f"checkpoint {str(weights.path)!r} was trained on {len(trained)} classes ({preview_names(trained)}) but "
          f"{data.dataset!r} has {len(files.classes)} ({preview_names(files.classes)})")
    seed = ((weights.config.get("fdsl") or {}).get("config") or {}).get("train", {}).get("seed", 0)
    val = PointSamples(PointFolder(files, val_idx), points=int(weights.config["points"]), seed=seed)
    loader = evaluation_loader(val, batch_size=batch_size, workers=workers, context=context,
                               timeout_s=TrainConfig.timeout_s)
    return evaluate(model.to(context.device), loader, device=context.device, label_names=files.classes)


# --- entry points ---------------------------------------------------------------------------------
def pretrain(config: PointsPretrainConfig, out: str | Path, *, resume: bool = False) -> FitResult:
    """Classify the categories of ``config.data`` (PC-FractalDB on the fly); the run folder ``out``
    receives config.yaml, metrics.csv, last/ (and best/ with held-out instances) and state.pt."""
    from fdsl.train.points import OBJECTIVE

    config.validate()
    check_model(config.model)  # before a category search that can take minutes
    out = Path(out)
    context = distributed.setup(config.train.device, config.train.timeout_s)
    state = checkpoint.prepare_run(out, config, resume=resume)
    (train_set, val_set), classes = pretrain_datasets(config, progress=context.is_primary and sys.stderr.isatty())
    seed_init(config.train.seed)
    model = build_model(config.model, len(classes))
    meta = {"task": "pretrain", "fdsl_version": fdsl.__version__, "data": to_dict(config.data),
            "config": to_dict(config)}
    return fit(model, train_set, val_set, config=config, out=out, label_names=classes, context=context,
               state=state, meta=meta, objective=OBJECTIVE)


def finetune(config: PointsFinetuneConfig, out: str | Path, *, resume: bool = False) -> FitResult:
    """Fine-tune on the point folder ``config.data.dataset`` from scratch or from ``config.init``,
    scoring the held-out objects each epoch (OA, mAcc)."""
    from fdsl.train.points import OBJECTIVE

    config.validate()
    out = Path(out)
    context = distributed.setup(config.train.device, config.train.timeout_s)
    config, weights = resolve_init(config)
    check_model(config.model)
    state = checkpoint.prepare_run(out, config, resume=resume)
    (train_set, val_set), classes = finetune_datasets(config)
    seed_init(config.train.seed)  # the new head (or the whole model) starts the same for a given seed
    model = build_model(config.model, len(classes))
    if weights is not None:
        load_backbone(model, weights, classes)
    init_data = ((weights.config or {}).get("fdsl") or {}).get("data") if weights is not None else None
    meta = {"task": "finetune", "fdsl_version": fdsl.__version__, "init": config.init,
            "dataset": config.data.dataset, "config": to_dict(config), "init_data": init_data}
    return fit(model, train_set, val_set, config=config, out=out, label_names=classes, context=context,
               state=state, meta=meta, objective=OBJECTIVE)
