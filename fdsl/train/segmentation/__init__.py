"""Semantic segmentation, the task of the image+mask families (SegRCDB): segmentation-models-pytorch
models over timm encoders, pre-trained on formula scenes and fine-tuned on image/label folders
(:mod:`.run`), scored by mIoU and pixel accuracy (:mod:`.objective`)."""
from __future__ import annotations

from fdsl.train.segmentation.objective import OBJECTIVE
from fdsl.data.segfolders import SegFolderConfig, seg_folder_datasets
from fdsl.train.segmentation.config import SEG_KIND, SegFinetuneConfig, SegPretrainConfig
from fdsl.train.segmentation.presets import FINETUNE_PRESETS, PRETRAIN_PRESETS
from fdsl.train.segmentation.predict import evaluate_weights
from fdsl.train.segmentation.run import finetune, pretrain, resolve_init
from fdsl.train.tasks import Task

TASK = Task(name="segmentation", kinds=(SEG_KIND,), pretrain_config=SegPretrainConfig,
            finetune_config=SegFinetuneConfig, pretrain=pretrain, finetune=finetune,
            pretrain_presets=PRETRAIN_PRESETS, finetune_presets=FINETUNE_PRESETS, objective=OBJECTIVE,
            check_finetune_data=seg_folder_datasets,  # reads every label map: bad data fails before pre-training
            resolve_init=resolve_init, evaluation_data=SegFolderConfig, evaluation_unused=("train_limit",),
            evaluate_weights=evaluate_weights)
