"""Fine-tuning from fdsl or timm weights (or from scratch), and scoring a checkpoint on a dataset.

A checkpoint brings its architecture and arguments (timm's config.json); its classifier is
replaced only with ``new_head`` (DeiT's rule: drop head weights whose classes differ), and ViT
position embeddings are resampled when the fine-tuning image size changes the patch grid.
``freeze`` / ``linear_probe`` freeze the first stages or all but the classifier (:mod:`fdsl.train.freeze`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from torch import nn

import fdsl
from fdsl.data.config import RealDataConfig
from fdsl.data.datasets import evaluation_dataset, real_datasets
from fdsl.errors import FdslError, check
from fdsl.train import checkpoint, distributed
from fdsl.train.augment import build_transforms
from fdsl.train.checkpoint import Weights, load_weights, preview_names
from fdsl.train.config import AugmentConfig, FinetuneConfig, ModelConfig, TrainConfig, to_dict
from fdsl.train.engine import evaluate
from fdsl.train.freeze import apply_freezing
from fdsl.train.loaders import evaluation_loader
from fdsl.train.models import check_model_name, create_model, load_pretrained, model_config_from_checkpoint
from fdsl.train.tasks import check_weights_task
from fdsl.train.trainer import FitResult, fit, seed_init


def finetune(config: FinetuneConfig, out: str | Path, *, resume: bool = False) -> FitResult:
    """Fine-tune on ``config.data``, scoring the validation split each epoch (top-1/top-5); the
    run folder ``out`` receives config.yaml, metrics, best/ and last/ weights and state.pt."""
    config.validate()
    out = Path(out)
    context = distributed.setup(config.train.device, config.train.timeout_s)
    config, weights = resolve_init(config)
    state = checkpoint.prepare_run(out, config, resume=resume)
    train_transform, val_transform = build_transforms(config.augment)
    with distributed.primary_first():  # rank 0 downloads a named dataset before the others read it
        train_set, val_set, classes = real_datasets(config.data, train_transform=train_transform,
                                                    val_transform=val_transform)
    model = build_model(config, weights, classes)
    meta = {"task": "finetune", "fdsl_version": fdsl.__version__, "init": config.init,
            "dataset": config.data.dataset, "config": to_dict(config),
            # what the starting weights were pre-trained on, for the model card's data and licence
            "init_data": ((weights.config or {}).get("fdsl") or {}).get("data") if weights is not None else None}
    return fit(model, train_set, val_set, config=config, out=out, label_names=classes, context=context,
               state=state, meta=meta)


def resolve_init(config: FinetuneConfig) -> tuple[FinetuneConfig, Weights | None]:
    """The config with the checkpoint's own architecture (when it has a config.json), and its weights."""
    if config.init in (None, "timm"):
        check_model_name(config.model.name)
        return config, None
    weights = load_weights(config.init)
    check_weights_task(weights, "classification")
    if weights.config is None:  # bare weights: the architecture is config.model's
        check_model_name(config.model.name)
        return config, weights
    model = model_config_from_checkpoint(weights.config, img_size=config.augment.img_size,
                                         drop_path=config.model.drop_path)
    return dataclasses.replace(config, model=model), weights


#: What to do when fine-tuning meets weights trained on other classes, and when evaluating does.
NEW_HEAD_REMEDY = "pass --new-head to fine-tune with a new classifier"
EVALUATE_REMEDY = ("score them on a dataset with their classes, or fine-tune them on this one first "
                   "(fdsl finetune --init CHECKPOINT --new-head)")


def check_classes(weights: Weights, classes: list[str], *, new_head: bool, remedy: str = NEW_HEAD_REMEDY) -> None:
    """Without ``new_head`` the checkpoint must have been trained on exactly these classes."""
    names = weights.label_names
    if new_head or names is None:
        return
    check(list(names) == list(classes),
          f"checkpoint {str(weights.path)!r} was trained on {len(names)} classes ({preview_names(names)}) but the "
          f"dataset has {len(classes)} ({preview_names(classes)}); {remedy}")


def build_model(config: FinetuneConfig, weights: Weights | None, classes: list[str]) -> nn.Module:
    """The model to fine-tune, initialised from scratch, from timm's weights or from ``weights``."""
    seed_init(config.train.seed)  # the new head (or the whole model) starts the same for a given seed
    if config.init == "timm":
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
    model = create_model(config.model, num_classes=len(classes))
    if weights is not None:
        check_classes(weights, classes, new_head=config.new_head)
        load_pretrained(model, weights.state_dict, new_head=config.new_head)
    apply_freezing(model, freeze=config.freeze, linear_probe=config.linear_probe)
    return model


def evaluate_checkpoint(path: str | Path, data: RealDataConfig, *, batch_size: int = 256, workers: int = 2,
                        device: str = "auto") -> dict[str, float]:
    """Top-1/top-5 accuracy (%) and loss of fdsl (or timm-format) weights on the split that
    fine-tuning validates on (see :func:`fdsl.data.datasets.evaluation_dataset`)."""
    check(batch_size >= 1, f"batch size = {batch_size}; allowed: >= 1")
    context = distributed.setup(device)
    weights = load_weights(path)
    check_weights_task(weights, "classification")
    check(weights.config is not None,
          f"checkpoint {str(weights.path)!r} has no config.json beside it: its architecture is unknown")
    cfg = weights.config["pretrained_cfg"]
    augment = AugmentConfig(img_size=int(cfg["input_size"][-1]), interpolation=cfg.get("interpolation", "bilinear"),
                            mean=tuple(cfg["mean"]), std=tuple(cfg["std"]), eval_crop_pct=cfg.get("crop_pct", 1.0))
    dataset = evaluation_dataset(data, transform=build_transforms(augment)[1])
    check_classes(weights, dataset.classes, new_head=False, remedy=EVALUATE_REMEDY)
    kwargs = {k: v for k, v in (weights.config.get("model_args") or {}).items() if k != "num_classes"}
    model = create_model(ModelConfig(name=weights.config["architecture"], kwargs=kwargs),
                         num_classes=int(weights.config["num_classes"]))
    check(int(weights.config["num_classes"]) == len(dataset.classes),
          f"checkpoint has {weights.config['num_classes']} classes but the dataset has {len(dataset.classes)}")
    try:
        model.load_state_dict(weights.state_dict)
    except RuntimeError as error:
        raise FdslError(f"checkpoint {str(weights.path)!r} does not fit its own config.json "
                        f"({str(error).splitlines()[0]})") from None
    model.to(context.device)
    loader = evaluation_loader(dataset, batch_size=batch_size, workers=workers, context=context,
                               timeout_s=TrainConfig.timeout_s)
    return evaluate(model, loader, device=context.device)
