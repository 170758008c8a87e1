"""Training recipes by name: the papers' pre-training recipes, and small ones for a CPU.

Each preset is a function returning a fresh typed config; YAML files and command-line options
override any field (``fdsl pretrain --preset cpu-small --set optim.lr=0.002``). Each docstring
names the paper whose official code gives the figures; where a value is open, it says what we
chose and why.

The 224 px presets set ``augment.on_device``: loader workers send uint8 crops and each batch is
normalised and erased on the training device, as timm's training script (the base of the CVPR
2022/2023 and ICCV 2023 code) does with its prefetcher. The images are the per-image ones to float
rounding; a loader core feeds 1.2-1.4 times more images (``benchmarks/bench_loader.py``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

from fdsl.data.config import FormulaDataConfig, RealDataConfig
from fdsl.tasks.classification.config import AugmentConfig, FinetuneConfig, ModelConfig, PretrainConfig
from fdsl.train.config import OptimConfig, TrainConfig

#: Released FractalDB: 362 px images; a random 224 px crop of them is a RandomResizedCrop whose
#: area is fixed at (224/362)^2 with aspect ratio 1 (so no resizing happens).
FRACTALDB_CROP_AREA = (224 / 362) ** 2
#: An 11th patch draw (instances 1000..1099) gives FractalDB held-out instances without changing
#: instances 0..999, which are the released data's 25 variations x 10 draws x 4 flips.
FRACTALDB_WITH_HELD_OUT = {"patch_draws": 11}

#: The small ViT of the CPU recipes: timm's ViT at 32 px, 4 px patches (8 x 8 tokens), width 96,
#: depth 4, 3 heads, MLP ratio 2 (0.33M parameters; see TRANSFER_PROTOTYPES.md for its speed).
CPU_VIT = ModelConfig(
    name="vit_tiny_patch16_224",
    kwargs={"img_size": 32, "patch_size": 4, "embed_dim": 96, "depth": 4, "num_heads": 3, "mlp_ratio": 2.0},
)


def fractaldb_resnet50() -> PretrainConfig:
    """FractalDB-1k ResNet-50 (Kataoka et al., ACCV 2020; official PyTorch code): SGD lr 0.1
    (the code's value; the paper's text says 0.01), momentum 0.9, weight decay 1e-4, batch 256,
    90 epochs, lr x0.1 at epochs 30 and 60, random 224 px crops of the 362 px images, no other
    augmentation. Grey images as released (colour was slightly better for ResNet in the paper).

    ``train.batch_size`` is per process: keep batch_size x processes = 256, or the learning rate
    follows the global batch linearly (lr_base_batch = 256).
    """
    return PretrainConfig(
        model=ModelConfig(name="resnet50"),
        data=FormulaDataConfig(family="fractaldb", formula=dict(FRACTALDB_WITH_HELD_OUT), categories=1000,
                               instances=1000, val_instances=20),
        augment=AugmentConfig(img_size=224, on_device=True,
                              scale=(FRACTALDB_CROP_AREA, FRACTALDB_CROP_AREA), ratio=(1.0, 1.0),
                              hflip=0.0, color_jitter=None, eval_crop_pct=224 / 362),
        optim=OptimConfig(opt="sgd", lr=0.1, lr_base_batch=256, weight_decay=1e-4, momentum=0.9,
                          sched="multistep", decay_milestones=(30, 60), decay_rate=0.1),
        train=TrainConfig(epochs=90, batch_size=256, workers=8),
    )


def fractaldb_deit_tiny() -> PretrainConfig:
    """FractalDB-1k DeiT-Tiny (Nakashima et al., AAAI 2022; DeiT's recipe in timm): 300 epochs,
    AdamW lr 5e-4 x batch/512, weight decay 0.05, cosine with 5 warm-up epochs, drop-path 0.1,
    RandAugment rand-m9-mstd0.5-inc1, colour jitter 0.4 (timm disables it under RandAugment, as in
    DeiT), no flip, mixup 0.8 / cutmix 1.0, label smoothing 0.1, random erasing 0.25. Grey
    FractalDB (better than colour for DeiT). DeiT's bicubic interpolation and 0.875 eval crop."""
    return PretrainConfig(
        model=ModelConfig(name="deit_tiny_patch16_224", drop_path=0.1),
        data=FormulaDataConfig(family="fractaldb", formula=dict(FRACTALDB_WITH_HELD_OUT), categories=1000,
                               instances=1000, val_instances=20),
        augment=AugmentConfig(img_size=224, on_device=True,
                              hflip=0.0, color_jitter=0.4, auto_augment="rand-m9-mstd0.5-inc1",
                              interpolation="bicubic", re_prob=0.25, mixup=0.8, cutmix=1.0, label_smoothing=0.1,
                              eval_crop_pct=0.875),
        optim=OptimConfig(opt="adamw", lr=5e-4, lr_base_batch=512, weight_decay=0.05, sched="cosine",
                          warmup_epochs=5, warmup_lr=1e-6, min_lr=1e-5),
        train=TrainConfig(epochs=300, batch_size=128, workers=8),
    )


def ofdb_augment() -> AugmentConfig:
    """OFDB's heavy augmentation (ryoo-nakamura/OFDB ``pre-train.sh``): RandomResizedCrop (0.08, 1),
    ratio 3/4..4/3, horizontal and vertical flips, RandAugment rand-m9-mstd0.5-inc1 (colour jitter
    0.4 is passed too; timm turns it off under RandAugment), random erasing 0.5, mixup 0.8 /
    cutmix 1.0 (switch 0.5), label smoothing 0.1."""
    return AugmentConfig(img_size=224, on_device=True, hflip=0.5, vflip=0.5, auto_augment="rand-m9-mstd0.5-inc1",
                         interpolation="bicubic", re_prob=0.5, mixup=0.8, cutmix=1.0, label_smoothing=0.1,
                         eval_crop_pct=0.875)


def ofdb_optim() -> OptimConfig:
    """OFDB's optimiser: AdamW lr 1e-3 at the official global batch of 256 (8 processes x 32),
    weight decay 0.05, cosine, 5 warm-up epochs."""
    return OptimConfig(opt="adamw", lr=1e-3, lr_base_batch=256, weight_decay=0.05, sched="cosine",
                       warmup_epochs=5, warmup_lr=1e-6, min_lr=1e-5)


def ofdb_vit_tiny() -> PretrainConfig:
    """2D-OFDB-1k (Nakamura et al., ICCV 2023): one image per category (the ``ofdb`` family: one
    362 px, 200k-point FractalDB patch render of the identity variation), ViT-Tiny, heavy
    augmentation for a long time (:func:`ofdb_augment`, :func:`ofdb_optim`). Target: the paper's
    abstract says OFDB "performs better than the original dataset where instances were explicitly
    generated", i.e. above FractalDB-1k (:func:`fractaldb_deit_tiny`'s fine-tuned 96.8 / 81.6 on
    CIFAR-10 / 100) in its ViT-Tiny fine-tuning table; that table's own figures are not in our
    notes (FORMULAS.md) or the official README, so no number is pinned here.

    ~240k iterations (FORMULAS.md) at the official global batch 256: an epoch here shows each image
    1,000 times (1M images, 3,906 iterations), so 61 epochs are 238k iterations. The official
    script asks for 80,000 epochs of 1,000 images (312k iterations): ``--set train.epochs=80``.
    ``train.batch_size`` is per process (32 x 8 processes, as officially); the learning rate
    follows the global batch linearly. There is no held-out instance: a category has one image.
    """
    return PretrainConfig(
        model=ModelConfig(name="vit_tiny_patch16_224", drop_path=0.1),
        data=FormulaDataConfig(family="ofdb", categories=1000, instances=1, repeats=1000),
        augment=ofdb_augment(),
        optim=ofdb_optim(),
        train=TrainConfig(epochs=61, batch_size=32, workers=8),
    )


def ofdb3d_vit_tiny() -> PretrainConfig:
    """3D-OFDB-1k (Nakamura et al., ICCV 2023): one 3-D fractal per category rendered from 12
    azimuths (the ``ofdb3d`` family); each pass shows *one random view* per category
    (``data.instances_per_epoch = 1``; the official README: "load one image per directory"),
    drawn from (seed, epoch, pass, category). Recipe as :func:`ofdb_vit_tiny` (the official
    ``pre-train.sh`` trains both with the same options). Target: as :func:`ofdb_vit_tiny` (the
    abstract's claim covers both OFDBs); the 3D-OFDB-1k figures of the paper's table are not in our
    notes or the official README, so no number is pinned here."""
    config = ofdb_vit_tiny()
    config.data = FormulaDataConfig(family="ofdb3d", categories=1000, instances=12, instances_per_epoch=1,
                                    repeats=1000)
    return config


def contour_vit_tiny(family: str, formula: dict | None = None) -> PretrainConfig:
    """The CVPR 2022 ViT-Tiny pre-training of 1k-category contour data (Kataoka et al.; official
    ``exe_scripts/exe_rcdb_1k.sh`` and ``exe_exfractaldb_1k.sh`` of masora1030/
    CVPR2022-Pretrained-ViT-PyTorch): 300 epochs, AdamW lr 1e-3 at a global batch of 256 (4 GPUs x 64),
    weight decay 0.05, cosine with 5 warm-up epochs, drop-path 0.1, RandAugment rand-m9-mstd0.5-inc1,
    no flip, mixup 0.8 / cutmix 1.0, label smoothing 0.1, random erasing 0.25 (pixel), bicubic,
    224 px. The scripts also pass ``--repeated-aug`` (DeiT's repeated augmentation), which fdsl does
    not implement. 1,000 instances per category, 20 more held out."""
    return PretrainConfig(
        model=ModelConfig(name="deit_tiny_patch16_224", drop_path=0.1),
        data=FormulaDataConfig(family=family, formula=dict(formula or {}), categories=1000, instances=1000,
                               val_instances=20),
        augment=AugmentConfig(img_size=224, on_device=True,
                              hflip=0.0, color_jitter=0.4, auto_augment="rand-m9-mstd0.5-inc1",
                              interpolation="bicubic", re_prob=0.25, mixup=0.8, cutmix=1.0, label_smoothing=0.1,
                              eval_crop_pct=0.875),
        optim=OptimConfig(opt="adamw", lr=1e-3, lr_base_batch=256, weight_decay=0.05, sched="cosine",
                          warmup_epochs=5, warmup_lr=1e-6, min_lr=1e-5),
        train=TrainConfig(epochs=300, batch_size=256, workers=16),
    )


def rcdb_vit_tiny() -> PretrainConfig:
    """RCDB-1k with ViT-Tiny (Kataoka et al., CVPR 2022; :func:`contour_vit_tiny`). Target: the
    paper's ViT-Tiny table of 1k-category pre-training as the founding talk shows it
    (``../shared/seeds``, "Task difficulty matters"): RCDB-1k fine-tuned to 97.0 / 82.2 / 86.5 / 98.9
    on CIFAR-10 / CIFAR-100 / Cars / Flowers (FractalDB-1k with DeiT-Tiny: 96.8 / 81.6)."""
    return contour_vit_tiny("rcdb")


def exfractaldb_vit_tiny() -> PretrainConfig:
    """ExFractalDB-1k with ViT-Tiny (Kataoka et al., CVPR 2022; :func:`contour_vit_tiny`): 3-D
    fractals from random viewpoints, 145 variations per category. Target: the paper's ViT-Tiny
    table of 1k-category pre-training as the founding talk shows it: ExFractalDB-1k fine-tuned to
    97.2 / 81.8 / 87.0 / 98.9 on CIFAR-10 / CIFAR-100 / Cars / Flowers."""
    return contour_vit_tiny("exfractaldb")


def visualatom_vit_tiny() -> PretrainConfig:
    """VisualAtom-1k with ViT-Tiny (Takashima et al., CVPR 2023; official scripts/pretrain.sh of
    masora1030/CVPR2023-FDSL-on-VisualAtom): the CVPR 2022 recipe (:func:`contour_vit_tiny`) with
    VisualAtom's warm-up of 5,000 iterations from lr 1e-6 and min lr 1e-5: at a global batch of 256
    an epoch of VisualAtom-1k is 3,906 iterations, so 1 warm-up epoch (whole epochs here). Target:
    the paper's ViT-Tiny table of 1k-category pre-training; the figure is not in our notes, so it is
    not pinned here."""
    config = contour_vit_tiny("visualatom")
    config.optim.warmup_epochs = 1
    return config


def contour_vit_base_21k(family: str, *, warmup_epochs: int = 5) -> PretrainConfig:
    """The 21k-category ViT-Base pre-training of the official scripts/pretrain.sh (CVPR 2022 and
    CVPR 2023 repositories): deit_base_patch16_224, 21,000 categories x 1,000 instances, 90 epochs,
    AdamW lr 1e-3 at a global batch of 8,192 (128 GPUs x 64), weight decay 0.05, cosine, the same
    augmentation as :func:`contour_vit_tiny`. ``train.batch_size`` is per process (64)."""
    config = contour_vit_tiny(family)
    config.model = ModelConfig(name="deit_base_patch16_224", drop_path=0.1)
    config.data.categories = 21000
    config.optim.lr_base_batch = 8192
    config.optim.warmup_epochs = warmup_epochs
    config.train.epochs, config.train.batch_size = 90, 64
    return config


def exfractaldb21k_vit_base() -> PretrainConfig:
    """ExFractalDB-21k with ViT-Base (Kataoka et al., CVPR 2022; :func:`contour_vit_base_21k`).
    Target: 82.7% top-1 fine-tuned on ImageNet-1k (the paper's abstract: FDSL above ImageNet-21k's
    81.8% under the same conditions)."""
    return contour_vit_base_21k("exfractaldb")


def rcdb21k_vit_base() -> PretrainConfig:
    """RCDB-21k with ViT-Base (Kataoka et al., CVPR 2022; :func:`contour_vit_base_21k`). Target:
    82.4% top-1 fine-tuned on ImageNet-1k (the founding talk's ImageNet-1k figure: ImageNet-21k
    81.8%, ExFractalDB-21k 82.7%, RCDB-21k 82.4%)."""
    return contour_vit_base_21k("rcdb")


def visualatom21k_vit_base() -> PretrainConfig:
    """VisualAtom-21k with ViT-Base (Takashima et al., CVPR 2023; :func:`contour_vit_base_21k`,
    warm-up 5,000 iterations: at 8,192 images per step and 21M images an epoch is 2,563 iterations,
    so 2 warm-up epochs). Target: 83.7% top-1 fine-tuned on ImageNet-1k (the paper's abstract)."""
    return contour_vit_base_21k("visualatom", warmup_epochs=2)


def mvfractaldb_resnet50() -> PretrainConfig:
    """MV-FractalDB-1k with ResNet-50 (Yamada et al., IROS 2021; official data code
    ryosuke-yamada/3dfractaldb ``mvfractaldb/``): 1,000 categories x 145 variations x 12 views at
    224 px. The official repository has no pre-training script (it points to RotationNet for the
    multi-view experiments), so the recipe is FractalDB's ResNet-50 one (:func:`fractaldb_resnet50`:
    SGD lr 0.1, momentum 0.9, wd 1e-4, batch 256, 90 epochs, x0.1 at 30 and 60) on whole 224 px
    images (no crop: the renders are already 224 px). Instances 0..1715 train (143 variations x 12
    views), the last 2 variations (24 images) are held out. Target: the paper's multi-view
    recognition table (RotationNet, ModelNet40); the figure is not in our notes, so it is not
    pinned here."""
    config = fractaldb_resnet50()
    config.data = FormulaDataConfig(family="mvfractaldb", categories=1000, instances=1716, val_instances=24)
    config.augment = AugmentConfig(img_size=224, on_device=True,
                                   scale=(1.0, 1.0), ratio=(1.0, 1.0), hflip=0.0, color_jitter=None)
    return config


def cpu_small_pretrain() -> PretrainConfig:
    """Minutes on a 2-core CPU: the small ViT on FractalDB-100 rendered on the fly at 32 px
    (100 categories x 100 instances, 10 held out per category), 32 epochs (320k images: the transfer
    study's best FractalDB recipe, docs/RESULTS.md; 16 epochs gave no gain over scratch). Grey
    (better than colour for DeiT in the paper) with density shading, 2,000 points: a render costs
    about 0.26 ms of CPU (0.11 ms to read the same PNG). One core trains per process (one torch
    thread: a second one mostly spins and stalls when the loader or anything else needs the core;
    use torchrun's processes for more cores) and one loader worker renders and augments (under 1 ms
    per image, against about 3.5 ms of training)."""
    return PretrainConfig(
        model=dataclasses.replace(CPU_VIT, kwargs=dict(CPU_VIT.kwargs)),
        data=FormulaDataConfig(
            family="fractaldb",
            formula={"size": 32, "points": 2000, "graded": True, "search_size": 128, "search_points": 10000},
            categories=100, instances=100, val_instances=10,
        ),
        augment=AugmentConfig(img_size=32, scale=(0.35, 1.0), hflip=0.5, color_jitter=None, label_smoothing=0.1),
        optim=OptimConfig(opt="adamw", lr=1e-3, weight_decay=0.05, sched="cosine", warmup_epochs=1,
                          warmup_lr=1e-5, min_lr=1e-5, clip_grad=1.0),
        train=TrainConfig(epochs=32, batch_size=128, workers=1, threads=1, log_interval=20),
    )


def cpu_small_perlin_pretrain() -> PretrainConfig:
    """The transfer study's winner on a CPU (docs/RESULTS.md): ``cpu-small`` with Perlin-100 instead of
    FractalDB (Kataoka et al., IJCV 2022's Perlin baseline; the grid is ours, :mod:`fdsl.formulas.perlin`),
    32 px, 32 epochs."""
    config = cpu_small_pretrain()
    config.data = FormulaDataConfig(family="perlin", formula={"size": 32, "variant": 100}, categories=100,
                                    instances=100, val_instances=10)
    return config


def cpu_small_finetune() -> FinetuneConfig:
    """Minutes on a 2-core CPU: the small ViT fine-tuned on 32 px images (CIFAR-10 by default) for
    30 epochs, AdamW lr 5e-4, batch 64, cosine after one warm-up epoch, label smoothing 0.1, random
    crops (area 0.6..1) and flips; 200 validation images per class are scored every 5 epochs and
    after the last (the transfer study's protocol, docs/RESULTS.md). One torch thread and one
    loader worker, as in the cpu-small pre-training."""
    return FinetuneConfig(
        model=dataclasses.replace(CPU_VIT, kwargs=dict(CPU_VIT.kwargs)),
        data=RealDataConfig(dataset="cifar10", holdout=0.1, val_per_class=200),
        augment=AugmentConfig(img_size=32, scale=(0.6, 1.0), hflip=0.5, color_jitter=None, label_smoothing=0.1),
        optim=OptimConfig(opt="adamw", lr=5e-4, weight_decay=0.05, sched="cosine", warmup_epochs=1,
                          warmup_lr=1e-5, min_lr=1e-5, clip_grad=1.0),
        train=TrainConfig(epochs=30, batch_size=64, workers=1, threads=1, log_interval=20, eval_interval=5),
    )


def vit_finetune_224() -> FinetuneConfig:
    """A DeiT-style fine-tuning recipe at 224 px for ViT/DeiT checkpoints (our choice, not a
    paper's table): AdamW lr 5e-4 x batch/512, weight decay 0.05, cosine, 5 warm-up epochs,
    RandAugment, mixup 0.8 / cutmix 1.0, label smoothing 0.1, random erasing 0.25, 100 epochs."""
    return FinetuneConfig(
        model=ModelConfig(name="deit_tiny_patch16_224", drop_path=0.1),
        data=RealDataConfig(dataset="cifar10", holdout=0.1),
        augment=AugmentConfig(img_size=224, on_device=True,
                              auto_augment="rand-m9-mstd0.5-inc1", interpolation="bicubic",
                              re_prob=0.25, mixup=0.8, cutmix=1.0, label_smoothing=0.1, eval_crop_pct=0.875),
        optim=OptimConfig(opt="adamw", lr=5e-4, lr_base_batch=512, weight_decay=0.05, sched="cosine",
                          warmup_epochs=5, warmup_lr=1e-6, min_lr=1e-5),
        train=TrainConfig(epochs=100, batch_size=128, workers=8),
    )


def resnet50_cifar(dataset: str) -> FinetuneConfig:
    """ResNet-50 fine-tuning of FractalDB (Kataoka et al., ACCV 2020; official ``finetuning/args.py``
    of hirokatsukataoka16/FractalDB-Pretrained-ResNet-PyTorch): SGD lr 0.01, momentum 0.9, weight
    decay 1e-4, batch 256, 90 epochs, images resized to 256 and randomly cropped to 224 (a
    RandomResizedCrop of fixed area (224/256)^2 here), centre crop 224 of 256 to evaluate. The step
    schedule (x0.1 at 30 and 60) and the horizontal flip are the pre-training code's (our assumption
    for fine-tuning). Scored on the official test split. Targets (FORMULAS.md, the seeds' tables):
    FractalDB-1k 93.4 (CIFAR-10) / 75.7 (CIFAR-100); scratch 87.6 / 62.7."""
    crop_area = (224 / 256) ** 2
    return FinetuneConfig(
        model=ModelConfig(name="resnet50"),
        data=RealDataConfig(dataset=dataset, val="test"),
        augment=AugmentConfig(img_size=224, on_device=True, scale=(crop_area, crop_area), ratio=(1.0, 1.0), hflip=0.5,
                              color_jitter=None, eval_crop_pct=224 / 256),
        optim=OptimConfig(opt="sgd", lr=0.01, weight_decay=1e-4, momentum=0.9, sched="multistep",
                          decay_milestones=(30, 60), decay_rate=0.1),
        train=TrainConfig(epochs=90, batch_size=256, workers=8),
    )


def deit_tiny_cifar(dataset: str) -> FinetuneConfig:
    """DeiT-Tiny fine-tuning of FractalDB (Nakashima et al., AAAI 2022; official
    ``scripts/finetune_on_cifar10.sh`` and configs of nakashima-kodai/FractalDB-Pretrained-ViT-PyTorch;
    the CVPR 2023 and ICCV 2023 repositories use the same options): SGD momentum 0.9, lr 0.01,
    weight decay 1e-4, batch 96, 1,000 epochs, cosine with 10 warm-up epochs from 1e-6 to a minimum
    of 1e-5, no drop-path, 224 px bicubic, RandAugment rand-m9-mstd0.5-inc1, flip 0.5, no random
    erasing, mixup 0.8 / cutmix 1.0, label smoothing 0.1. Scored on the official test split.
    Targets (FORMULAS.md): FractalDB-1k 96.8 (CIFAR-10) / 81.6 (CIFAR-100); scratch 78.3 / 57.7."""
    return FinetuneConfig(
        model=ModelConfig(name="deit_tiny_patch16_224", drop_path=0.0),
        data=RealDataConfig(dataset=dataset, val="test"),
        augment=AugmentConfig(img_size=224, on_device=True,
                              hflip=0.5, color_jitter=0.4, auto_augment="rand-m9-mstd0.5-inc1",
                              interpolation="bicubic", re_prob=0.0, mixup=0.8, cutmix=1.0, label_smoothing=0.1,
                              eval_crop_pct=0.875),
        optim=OptimConfig(opt="sgd", lr=0.01, weight_decay=1e-4, momentum=0.9, sched="cosine",
                          warmup_epochs=10, warmup_lr=1e-6, min_lr=1e-5),
        train=TrainConfig(epochs=1000, batch_size=96, workers=10),
    )


def deit_tiny_imagenet100() -> FinetuneConfig:
    """DeiT-Tiny fine-tuning on ImageNet-100 as an ImageFolder (``imagenet100/train/<class>/...``,
    ``imagenet100/val/<class>/...``; point ``--dataset`` and ``--val`` elsewhere as needed), with
    the ImageNet fine-tuning options of the CVPR 2022 scripts (``exe_scripts/exe_rcdb_1k.sh``):
    AdamW lr 1e-3 at a global batch of 256, weight decay 0.05, cosine with 5 warm-up epochs, 300
    epochs, drop-path 0.1, RandAugment rand-m9-mstd0.5-inc1, mixup 0.8 / cutmix 1.0, label
    smoothing 0.1, random erasing 0.25. Target: the FractalDB-ViT table's IN100 column (Nakashima et
    al., AAAI 2022, as the founding talk shows it): FractalDB-1k 87.3, FractalDB-10k 88.1, scratch 73.2
    with DeiT-Tiny. The contour papers' IN100 figures are not in our notes, so none of theirs is pinned."""
    return FinetuneConfig(
        model=ModelConfig(name="deit_tiny_patch16_224", drop_path=0.1),
        data=RealDataConfig(dataset="imagenet100/train", val="imagenet100/val"),
        augment=AugmentConfig(img_size=224, on_device=True,
                              hflip=0.5, color_jitter=0.4, auto_augment="rand-m9-mstd0.5-inc1",
                              interpolation="bicubic", re_prob=0.25, mixup=0.8, cutmix=1.0, label_smoothing=0.1,
                              eval_crop_pct=0.875),
        optim=OptimConfig(opt="adamw", lr=1e-3, lr_base_batch=256, weight_decay=0.05, sched="cosine",
                          warmup_epochs=5, warmup_lr=1e-6, min_lr=1e-5),
        train=TrainConfig(epochs=300, batch_size=256, workers=16),
    )


PRETRAIN_PRESETS: dict[str, Callable[[], PretrainConfig]] = {
    "fractaldb-resnet50": fractaldb_resnet50,
    "fractaldb-deit-tiny": fractaldb_deit_tiny,
    "ofdb-vit-tiny": ofdb_vit_tiny,
    "ofdb3d-vit-tiny": ofdb3d_vit_tiny,
    "rcdb-vit-tiny": rcdb_vit_tiny,
    "exfractaldb-vit-tiny": exfractaldb_vit_tiny,
    "visualatom-vit-tiny": visualatom_vit_tiny,
    "mvfractaldb-resnet50": mvfractaldb_resnet50,
    "exfractaldb21k-vit-base": exfractaldb21k_vit_base,
    "rcdb21k-vit-base": rcdb21k_vit_base,
    "visualatom21k-vit-base": visualatom21k_vit_base,
    "cpu-small": cpu_small_pretrain,
    "cpu-small-perlin": cpu_small_perlin_pretrain,
}
FINETUNE_PRESETS: dict[str, Callable[[], FinetuneConfig]] = {
    "cpu-small": cpu_small_finetune,
    "vit-224": vit_finetune_224,
    "resnet50-cifar10": lambda: resnet50_cifar("cifar10"),
    "resnet50-cifar100": lambda: resnet50_cifar("cifar100"),
    "deit-tiny-cifar10": lambda: deit_tiny_cifar("cifar10"),
    "deit-tiny-cifar100": lambda: deit_tiny_cifar("cifar100"),
    "deit-tiny-imagenet100": deit_tiny_imagenet100,
}


def pretrain_preset(name: str) -> PretrainConfig:
    from fdsl.tasks import PRETRAIN, get_task

    return get_task("classification").preset(PRETRAIN, name)


def finetune_preset(name: str) -> FinetuneConfig:
    from fdsl.tasks import FINETUNE, get_task

    return get_task("classification").preset(FINETUNE, name)


@dataclasses.dataclass(frozen=True)
class DemoRecipe:
    """What ``fdsl demo`` runs: a pre-training preset, a fine-tuning preset, the fine-tuning data
    size and the seeds compared (the transfer study tunes these, not code), and how it uses the
    cores: ``processes`` DDP processes pre-train (torchrun's engine, gloo on a CPU; the preset's
    batch is split between them, so the global batch is the recipe's) and ``jobs`` fine-tuning runs
    go at a time."""

    task: str = "classification"
    pretrain: str = "cpu-small"
    finetune: str = "cpu-small"
    train_per_class: int = 100
    seeds: tuple[int, ...] = (0, 1, 2)
    processes: int = 2
    jobs: int = 2


DEMO = DemoRecipe()
