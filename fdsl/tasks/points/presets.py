"""Point-cloud training recipes by name: a small one for a 2-core CPU, and the papers' settings.

What the paper pre-trains, and what we do: PC-FractalDB (Yamada et al., "Point Cloud Pre-training
with Natural 3D Structures", CVPR 2022) pre-trains 3-D *detection* backbones on fractal *scenes*:
PointContrast's sparse residual U-Net (MinkowskiEngine; contrastive) and VoteNet's PointNet++
backbone (supervised by the scenes' boxes), then fine-tunes on ScanNet / SUN RGB-D detection. Here
the PointNet++ SSG classifier (:mod:`fdsl.tasks.points.models`) is pre-trained to classify
PC-FractalDB *objects* by category (supervised, as FractalDB does for images) and fine-tuned on
object classification (ModelNet10). The backbone family is VoteNet's (set abstractions with
farthest-point sampling and ball query); the task and head differ, and there is no sparse
U-Net / contrastive path. Each docstring says where its figures come from.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

from fdsl.train.config import OptimConfig, TrainConfig
from fdsl.tasks.points.config import (PointAugmentConfig, PointFolderConfig, PointFormulaDataConfig, PointModelConfig,
                                      PointsFinetuneConfig, PointsPretrainConfig)

#: The narrow PointNet++ SSG of the CPU recipes: a quarter of the paper's widths, 128 / 32 centroids
#: with 16 / 32 neighbours (radii 0.2 / 0.4 as officially); 94k parameters, about 100 samples/s of
#: training on one core at 1,024 points (the paper's 512 / 128 centroids with 32 / 64 neighbours
#: train at 3 samples/s per core at full width).
CPU_POINTNET2 = {"width": 0.25, "centroids": [128, 32], "neighbours": [16, 32]}


def cpu_model() -> PointModelConfig:
    return PointModelConfig(name="pointnet2_ssg", kwargs=copy.deepcopy(CPU_POINTNET2))


def cpu_optim() -> OptimConfig:
    """AdamW lr 1e-3 (PointNet++'s Adam lr), weight decay 0.05, cosine after one warm-up epoch."""
    return OptimConfig(opt="adamw", lr=1e-3, weight_decay=0.05, sched="cosine", warmup_epochs=1, warmup_lr=1e-5,
                       min_lr=1e-5, clip_grad=1.0)


def cpu_small_pretrain() -> PointsPretrainConfig:
    """Minutes on a 2-core CPU: PC-FractalDB-100 on the fly (the official 10,000-point objects,
    resampled to 1,024; 100 categories x 20 instances, 2 held out), the narrow PointNet++, batch
    32, one torch thread and one loader worker per process (see fdsl.train.presets.cpu_small_pretrain)."""
    return PointsPretrainConfig(
        model=cpu_model(),
        data=PointFormulaDataConfig(family="pcfractaldb", formula={"points": 10_000, "classes": 1000},
                                    categories=100, instances=20, val_instances=2),
        augment=PointAugmentConfig(points=1024, label_smoothing=0.1),
        optim=cpu_optim(),
        train=TrainConfig(epochs=10, batch_size=32, workers=1, threads=1, log_interval=20),
    )


def cpu_small_finetune() -> PointsFinetuneConfig:
    """Minutes on a 2-core CPU: the narrow PointNet++ on ModelNet10 (``../shared/data/modelnet10/train``,
    the last 10% of each class held out), 1,024 points, rotation about z, scaling 0.8..1.25,
    translation 0.1, jitter 0.01; batch 32, 10 epochs, scored every epoch."""
    return PointsFinetuneConfig(
        model=cpu_model(),
        data=PointFolderConfig(dataset="../shared/data/modelnet10/train", holdout=0.1),
        augment=PointAugmentConfig(points=1024),
        optim=cpu_optim(),
        train=TrainConfig(epochs=10, batch_size=32, workers=1, threads=1, log_interval=20),
    )


def pcfractaldb_pointnet2_pretrain() -> PointsPretrainConfig:
    """The paper's data at full scale with PointNet++ SSG's own classification recipe (Qi et al.,
    NeurIPS 2017, charlesq34/pointnet2 ``train.py``): PC-FractalDB-1k (1,000 categories x 1,000
    instances of 10,000 points, the official FractalNoiseMix), 1,024 points per sample, the full
    SSG (512 / 128 centroids), Adam lr 1e-3, batch 32, lr x 0.7 every 20 epochs (``decay_step``
    200k samples at batch 32 is ~20 ModelNet40 epochs; here per epoch), 250 epochs, scaling,
    rotation and jitter. 10 instances per category held out. (The paper trains detection backbones
    instead; see the module docstring.)"""
    return PointsPretrainConfig(
        model=PointModelConfig(name="pointnet2_ssg"),
        data=PointFormulaDataConfig(family="pcfractaldb", formula={"points": 10_000, "classes": 1000},
                                    categories=1000, instances=990, val_instances=10),
        augment=PointAugmentConfig(points=1024, dropout=0.875),
        optim=OptimConfig(opt="adam", lr=1e-3, weight_decay=0.0, sched="step", decay_epochs=20, decay_rate=0.7,
                          min_lr=1e-5),
        train=TrainConfig(epochs=250, batch_size=32, workers=8),
    )


def modelnet_pointnet2_finetune() -> PointsFinetuneConfig:
    """PointNet++ SSG's ModelNet recipe (charlesq34/pointnet2 ``train.py``): 1,024 points, Adam lr
    1e-3, batch 32, lr x 0.7 every 20 epochs, 250 epochs, random point dropout up to 0.875,
    scaling 0.8..1.25, jitter 0.01 clipped to 0.05, rotation about the up axis."""
    return PointsFinetuneConfig(
        model=PointModelConfig(name="pointnet2_ssg"),
        data=PointFolderConfig(dataset="../shared/data/modelnet10/train", holdout=0.1),
        augment=PointAugmentConfig(points=1024, translate=0.0, dropout=0.875),
        optim=OptimConfig(opt="adam", lr=1e-3, weight_decay=0.0, sched="step", decay_epochs=20, decay_rate=0.7,
                          min_lr=1e-5),
        train=TrainConfig(epochs=250, batch_size=32, workers=4),
    )


PRETRAIN_PRESETS: dict[str, Callable[[], PointsPretrainConfig]] = {
    "cpu-small": cpu_small_pretrain,
    "pcfractaldb-pointnet2": pcfractaldb_pointnet2_pretrain,
}
FINETUNE_PRESETS: dict[str, Callable[[], PointsFinetuneConfig]] = {
    "cpu-small": cpu_small_finetune,
    "modelnet-pointnet2": modelnet_pointnet2_finetune,
}
