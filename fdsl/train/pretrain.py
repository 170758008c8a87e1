"""Pre-training on formula images, on the fly or from a rendered folder: :func:`pretrain`."""
from __future__ import annotations

import sys
from pathlib import Path

import fdsl
from fdsl.data.datasets import formula_datasets
from fdsl.train import checkpoint, distributed
from fdsl.train.augment import build_transforms
from fdsl.train.config import PretrainConfig, to_dict
from fdsl.train.models import check_model_name, create_model
from fdsl.train.trainer import FitResult, fit, seed_init


def pretrain(config: PretrainConfig, out: str | Path, *, resume: bool = False) -> FitResult:
    """Train ``config.model`` to classify the categories of ``config.data``; the run folder ``out``
    receives config.yaml, metrics, last/ (and best/ with held-out instances) weights and state.pt.
    Under torchrun every rank renders and trains on its own share of each epoch."""
    config.validate()
    out = Path(out)
    context = distributed.setup(config.train.device, config.train.timeout_s)
    check_model_name(config.model.name)  # before a category search that can take minutes
    state = checkpoint.prepare_run(out, config, resume=resume)
    train_transform, val_transform = build_transforms(config.augment)
    train_set, val_set, classes = formula_datasets(config.data, train_transform=train_transform,
                                                   val_transform=val_transform,
                                                   progress=context.is_primary and sys.stderr.isatty())
    seed_init(config.train.seed)
    model = create_model(config.model, num_classes=len(classes))
    meta = {"task": "pretrain", "fdsl_version": fdsl.__version__, "data": to_dict(config.data),
            "config": to_dict(config)}
    return fit(model, train_set, val_set, config=config, out=out, label_names=classes, context=context,
               state=state, meta=meta)
