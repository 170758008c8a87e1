"""Image classification, the task of the image families: timm models, top-1/top-5 accuracy,
timm-format weights (:mod:`fdsl.train.pretrain`, :mod:`fdsl.train.finetune`)."""
from __future__ import annotations

from fdsl.train.tasks import Objective, Task


def _losses(config, label_names: list[str]):
    from fdsl.train.augment import mixup_and_loss

    return mixup_and_loss(config.augment, len(label_names))


def _evaluate(model, loader, *, device, precision, label_names):
    from fdsl.train.engine import evaluate

    return evaluate(model, loader, device=device, precision=precision)


def _save_weights(model, directory, *, label_names, config, meta):
    from fdsl.train.checkpoint import save_weights

    save_weights(model, directory, label_names=label_names, augment=config.augment, meta=meta)


def _device_stage(config, device):
    from fdsl.train.augment import device_stage

    return device_stage(config.augment, device)


OBJECTIVE = Objective(metrics=("top1", "top5"), losses=_losses, evaluate=_evaluate, save_weights=_save_weights,
                      device_stage=_device_stage)


def _check_data(data) -> None:
    from fdsl.data.datasets import real_datasets

    real_datasets(data)


# The entry points import torch and timm when called, not when the CLI builds its parser.
def pretrain(config, out, *, resume: bool = False):
    from fdsl.train.pretrain import pretrain as run

    return run(config, out, resume=resume)


def finetune(config, out, *, resume: bool = False):
    from fdsl.train.finetune import finetune as run

    return run(config, out, resume=resume)


def evaluate_weights(path, data, **options):
    from fdsl.train.finetune import evaluate_checkpoint

    return evaluate_checkpoint(path, data, **options)


def resolve_init(config):
    from fdsl.train.finetune import resolve_init as resolve

    return resolve(config)


def _task() -> Task:
    from fdsl.data.config import RealDataConfig
    from fdsl.train.config import FinetuneConfig, PretrainConfig
    from fdsl.train.presets import FINETUNE_PRESETS, PRETRAIN_PRESETS

    return Task(name="classification", kinds=("image",), pretrain_config=PretrainConfig,
                finetune_config=FinetuneConfig, pretrain=pretrain, finetune=finetune,
                pretrain_presets=PRETRAIN_PRESETS, finetune_presets=FINETUNE_PRESETS, objective=OBJECTIVE,
                check_finetune_data=_check_data, resolve_init=resolve_init, evaluation_data=RealDataConfig,
                # evaluation scores the held-out split: how much of the rest trains does not matter
                evaluation_unused=("train_per_class",), evaluate_weights=evaluate_weights)


TASK = _task()
