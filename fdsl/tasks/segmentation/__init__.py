"""Semantic segmentation, the task of the image+mask families (SegRCDB): segmentation-models-pytorch
models over timm encoders, pre-trained on formula scenes and fine-tuned on image/label folders, scored
by mIoU and pixel accuracy.

Modules: :mod:`.config` and :mod:`.presets`, :mod:`.models` (smp over timm, init from fdsl weights),
:mod:`.transforms` (paired image+mask transforms), :mod:`.data`, :mod:`.objective` (loss, confusion
matrix scores), :mod:`.weights` (init, config.json, evaluation, predictions) and :mod:`.card`.

Alone, or under torchrun (every rank renders its own share of each epoch)::

    fdsl pretrain --family segrcdb --preset cpu-small -o runs/segrcdb
    fdsl finetune --task segmentation --preset cpu-small --init runs/segrcdb -o runs/camvid
"""
from __future__ import annotations

from fdsl.data.config import SegFolderConfig
from fdsl.tasks import PRETRAIN, Task, lazy, register_task
from fdsl.tasks.segmentation.config import SegFinetuneConfig, SegPretrainConfig

PACKAGE = "fdsl.tasks.segmentation"


@register_task("segmentation")
class Segmentation(Task):
    pretrain_config = SegPretrainConfig
    finetune_config = SegFinetuneConfig
    evaluation_data = SegFolderConfig
    evaluation_unused = ("train_limit",)
    eval_batch_size = 8
    metrics = ("miou", "pixel_acc")
    unit = "pixels"
    pipeline_tag = "image-segmentation"

    def presets(self, phase):
        from fdsl.tasks.segmentation.presets import FINETUNE_PRESETS, PRETRAIN_PRESETS

        return PRETRAIN_PRESETS if phase == PRETRAIN else FINETUNE_PRESETS

    def check_finetune_data(self, data):
        from fdsl.data.segfolders import seg_folder_datasets

        seg_folder_datasets(data)  # reads every label map: bad data fails before a study pre-trains

    resolve_init = lazy(f"{PACKAGE}.weights", "resolve_init")
    datasets = lazy(f"{PACKAGE}.data", "datasets")
    build_model = lazy(f"{PACKAGE}.weights", "build_model")
    train_step = lazy(f"{PACKAGE}.objective", "train_step")
    evaluate = lazy(f"{PACKAGE}.objective", "evaluate")
    write_weights_config = lazy(f"{PACKAGE}.weights", "write_weights_config")
    model_card = lazy(f"{PACKAGE}.card", "model_card")
    load_model = lazy(f"{PACKAGE}.weights", "load_model")
    evaluation_dataset = lazy(f"{PACKAGE}.weights", "evaluation_dataset")
