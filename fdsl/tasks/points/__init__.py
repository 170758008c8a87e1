"""Point-cloud classification: PC-FractalDB pre-training and fine-tuning on folders of real objects
(ModelNet10), scored by overall and mean class accuracy.

Modules: :mod:`.config` and :mod:`.presets`, :mod:`.models` (PointNet++ SSG and its neighbourhood
operations), :mod:`.augment` (point augmentations), :mod:`.data`, :mod:`.objective` (loss, OA/mAcc),
:mod:`.weights` (init, config.json, evaluation) and :mod:`.card`.

Alone or under torchrun (2 CPU processes with gloo)::

    python -m torch.distributed.run --standalone --nproc_per_node 2 -m fdsl pretrain \\
        --family pcfractaldb --preset cpu-small -o runs/pc-pre
"""
from __future__ import annotations

from fdsl.tasks import PRETRAIN, Task, lazy, register_task
from fdsl.tasks.points.config import PointFolderConfig, PointsFinetuneConfig, PointsPretrainConfig

PACKAGE = "fdsl.tasks.points"


@register_task("points")
class Points(Task):
    pretrain_config = PointsPretrainConfig
    finetune_config = PointsFinetuneConfig
    evaluation_data = PointFolderConfig
    evaluation_unused = ("train_share", "train_per_class")
    metrics = ("oa", "macc")
    pipeline_tag = "point-cloud-classification"

    def presets(self, phase):
        from fdsl.tasks.points.presets import FINETUNE_PRESETS, PRETRAIN_PRESETS

        return PRETRAIN_PRESETS if phase == PRETRAIN else FINETUNE_PRESETS

    def check_finetune_data(self, data):
        from fdsl.data.pointfolders import check_point_files, scan_point_folder

        check_point_files(scan_point_folder(data.dataset).paths)  # every object: a bad file fails before pre-training

    check_model = lazy(f"{PACKAGE}.weights", "check_model")
    resolve_init = lazy(f"{PACKAGE}.weights", "resolve_init")
    datasets = lazy(f"{PACKAGE}.data", "datasets")
    build_model = lazy(f"{PACKAGE}.weights", "build_model")
    train_step = lazy(f"{PACKAGE}.objective", "train_step")
    evaluate = lazy(f"{PACKAGE}.objective", "evaluate")
    write_weights_config = lazy(f"{PACKAGE}.weights", "write_weights_config")
    model_card = lazy(f"{PACKAGE}.card", "model_card")
    load_model = lazy(f"{PACKAGE}.weights", "load_model")
    evaluation_dataset = lazy(f"{PACKAGE}.weights", "evaluation_dataset")
