"""Image classification, the task of the image families: timm models pre-trained on formula images
(on the fly, from a rendered folder or shards) and fine-tuned on real images, scored by top-1/top-5
accuracy, saved in timm's format.

Modules: :mod:`.config` and :mod:`.presets` (typed configs and the papers' recipes), :mod:`.models`
(timm models, checkpoint fitting) and :mod:`.freeze`, :mod:`.augment` (timm's transforms or their v2
recipe, Mixup), :mod:`.data`, :mod:`.objective` (loss, top-1/top-5), :mod:`.weights` (init, timm's
config.json, evaluation) and :mod:`.card`.
"""
from __future__ import annotations

import dataclasses

from fdsl.data.config import RealDataConfig
from fdsl.tasks import PRETRAIN, Task, lazy, register_task
from fdsl.tasks.classification.config import FinetuneConfig, PretrainConfig

PACKAGE = "fdsl.tasks.classification"


@register_task("classification")
class Classification(Task):
    pretrain_config = PretrainConfig
    finetune_config = FinetuneConfig
    evaluation_data = RealDataConfig
    evaluation_unused = ("train_per_class",)  # evaluation scores the held-out split
    eval_batch_size = 256
    metrics = ("top1", "top5")
    unit = "images"
    pipeline_tag = "image-classification"

    def presets(self, phase):
        from fdsl.tasks.classification.presets import FINETUNE_PRESETS, PRETRAIN_PRESETS

        return PRETRAIN_PRESETS if phase == PRETRAIN else FINETUNE_PRESETS

    def check_model(self, config):
        from fdsl.tasks.classification.models import check_model_name

        check_model_name(config.model.name)

    def check_finetune_data(self, data):
        from fdsl.data.datasets import real_datasets

        real_datasets(data)

    def comparison_recipe(self, config):
        return dataclasses.replace(config, new_head=True)  # the checkpoints' classes are not the data's

    def loader_stage(self, config, device):
        from fdsl.tasks.classification.augment import device_stage

        objective = getattr(config, "objective", None)
        if objective is not None and objective.self_supervised:
            return None  # lightly's view transforms finish each view in the loader workers
        return device_stage(config.augment, device)

    resolve_init = lazy(f"{PACKAGE}.weights", "resolve_init")
    datasets = lazy(f"{PACKAGE}.data", "datasets")
    build_model = lazy(f"{PACKAGE}.weights", "build_model")
    train_step = lazy(f"{PACKAGE}.objective", "train_step")
    evaluate = lazy(f"{PACKAGE}.objective", "evaluate")
    write_weights_config = lazy(f"{PACKAGE}.weights", "write_weights_config")
    model_card = lazy(f"{PACKAGE}.card", "model_card")
    load_model = lazy(f"{PACKAGE}.weights", "load_model")
    evaluation_dataset = lazy(f"{PACKAGE}.weights", "evaluation_dataset")
