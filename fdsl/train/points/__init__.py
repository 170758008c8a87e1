"""Point-cloud classification: PC-FractalDB pre-training and fine-tuning on folders of real objects.

Modules: :mod:`.models` (PointNet++ SSG and its neighbourhood operations), :mod:`.augment`
(point augmentations), :mod:`.config` and :mod:`.presets` (typed configs and recipes),
:mod:`.objective` (loss, OA / mAcc, weights) and :mod:`.run` (``pretrain``, ``finetune``).
``TASK`` is what :func:`fdsl.train.tasks.get_task` returns for "points".
"""
from __future__ import annotations

from fdsl.train.points import objective
from fdsl.train.points.config import PointFolderConfig, PointsFinetuneConfig, PointsPretrainConfig
from fdsl.train.points.presets import FINETUNE_PRESETS, PRETRAIN_PRESETS
from fdsl.data.pointfolders import check_point_files, scan_point_folder
from fdsl.train.points.run import evaluate_weights, finetune, load_point_model, pretrain, resolve_init
from fdsl.train.tasks import Objective, Task



def check_point_data(data) -> None:
    """Read every object of the fine-tuning folder: a bad file fails before a study pre-trains."""
    check_point_files(scan_point_folder(data.dataset).paths)


OBJECTIVE = Objective(metrics=objective.METRICS, losses=objective.losses, evaluate=objective.evaluate,
                      save_weights=objective.save_weights)

TASK = Task(name="points", kinds=("point cloud",), pretrain_config=PointsPretrainConfig,
            finetune_config=PointsFinetuneConfig, pretrain=pretrain, finetune=finetune,
            pretrain_presets=PRETRAIN_PRESETS, finetune_presets=FINETUNE_PRESETS, objective=OBJECTIVE,
            check_finetune_data=check_point_data, resolve_init=resolve_init, evaluation_data=PointFolderConfig,
            evaluation_unused=("train_share", "train_per_class"), evaluate_weights=evaluate_weights)

__all__ = ["OBJECTIVE", "TASK", "evaluate_weights", "finetune", "load_point_model", "pretrain"]
