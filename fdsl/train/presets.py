"""Training recipes by name: the papers' pre-training recipes, and small ones for a CPU.

Each preset is a function returning a fresh typed config; YAML files and command-line options
override any field (``fdsl pretrain --preset cpu-small --set optim.lr=0.002``). Each docstring
names the paper whose official code gives the figures; where a value is open, it says what we
chose and why.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

from fdsl.data.config import FormulaDataConfig, RealDataConfig
from fdsl.errors import FdslError
from fdsl.train.config import AugmentConfig, FinetuneConfig, ModelConfig, OptimConfig, PretrainConfig, TrainConfig

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
        augment=AugmentConfig(img_size=224, scale=(FRACTALDB_CROP_AREA, FRACTALDB_CROP_AREA), ratio=(1.0, 1.0),
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
        augment=AugmentConfig(img_size=224, hflip=0.0, color_jitter=0.4, auto_augment="rand-m9-mstd0.5-inc1",
                              interpolation="bicubic", re_prob=0.25, mixup=0.8, cutmix=1.0, label_smoothing=0.1,
                              eval_crop_pct=0.875),
        optim=OptimConfig(opt="adamw", lr=5e-4, lr_base_batch=512, weight_decay=0.05, sched="cosine",
                          warmup_epochs=5, warmup_lr=1e-6, min_lr=1e-5),
        train=TrainConfig(epochs=300, batch_size=128, workers=8),
    )


def ofdb_vit_tiny() -> PretrainConfig:
    """2D-OFDB-1k (Nakamura et al., ICCV 2023): one image per category (the ``ofdb`` family: one
    362 px, 200k-point FractalDB patch render of the identity variation) and heavy augmentation for
    a long time: ViT-Tiny, AdamW lr 1e-3, RandomResizedCrop (0.08, 1), horizontal and vertical
    flips, RandAugment, random erasing 0.5, mixup/cutmix, ~240k iterations.

    Each epoch shows every image 1,000 times; at a global batch of 1,024 (8 processes x 128, our
    assumption: the paper's batch size is not in our notes) 246 epochs are ~240k iterations. There
    is no held-out instance: a category has one image.
    """
    return PretrainConfig(
        model=ModelConfig(name="vit_tiny_patch16_224", drop_path=0.1),
        data=FormulaDataConfig(family="ofdb", categories=1000, instances=1, repeats=1000),
        augment=AugmentConfig(img_size=224, hflip=0.5, vflip=0.5, auto_augment="rand-m9-mstd0.5-inc1",
                              interpolation="bicubic", re_prob=0.5, mixup=0.8, cutmix=1.0, label_smoothing=0.1,
                              eval_crop_pct=0.875),
        optim=OptimConfig(opt="adamw", lr=1e-3, lr_base_batch=1024, weight_decay=0.05, sched="cosine",
                          warmup_epochs=5, warmup_lr=1e-6, min_lr=1e-5),
        train=TrainConfig(epochs=246, batch_size=128, workers=8),
    )


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
        augment=AugmentConfig(img_size=224, auto_augment="rand-m9-mstd0.5-inc1", interpolation="bicubic",
                              re_prob=0.25, mixup=0.8, cutmix=1.0, label_smoothing=0.1, eval_crop_pct=0.875),
        optim=OptimConfig(opt="adamw", lr=5e-4, lr_base_batch=512, weight_decay=0.05, sched="cosine",
                          warmup_epochs=5, warmup_lr=1e-6, min_lr=1e-5),
        train=TrainConfig(epochs=100, batch_size=128, workers=8),
    )


PRETRAIN_PRESETS: dict[str, Callable[[], PretrainConfig]] = {
    "fractaldb-resnet50": fractaldb_resnet50,
    "fractaldb-deit-tiny": fractaldb_deit_tiny,
    "ofdb-vit-tiny": ofdb_vit_tiny,
    "cpu-small": cpu_small_pretrain,
    "cpu-small-perlin": cpu_small_perlin_pretrain,
}
FINETUNE_PRESETS: dict[str, Callable[[], FinetuneConfig]] = {
    "cpu-small": cpu_small_finetune,
    "vit-224": vit_finetune_224,
}


def pretrain_preset(name: str) -> PretrainConfig:
    if name not in PRETRAIN_PRESETS:
        raise FdslError(f"unknown pre-training preset {name!r}; valid: {', '.join(PRETRAIN_PRESETS)}")
    return PRETRAIN_PRESETS[name]()


def finetune_preset(name: str) -> FinetuneConfig:
    if name not in FINETUNE_PRESETS:
        raise FdslError(f"unknown fine-tuning preset {name!r}; valid: {', '.join(FINETUNE_PRESETS)}")
    return FINETUNE_PRESETS[name]()


@dataclasses.dataclass(frozen=True)
class DemoRecipe:
    """What ``fdsl demo`` runs: a pre-training preset, a fine-tuning preset, the fine-tuning data
    size and the seeds compared (the transfer study tunes these, not code), and how it uses the
    cores: ``processes`` DDP processes pre-train (torchrun's engine, gloo on a CPU; the preset's
    batch is split between them, so the global batch is the recipe's) and ``jobs`` fine-tuning runs
    go at a time."""

    pretrain: str = "cpu-small"
    finetune: str = "cpu-small"
    train_per_class: int = 100
    seeds: tuple[int, ...] = (0, 1, 2)
    processes: int = 2
    jobs: int = 2


DEMO = DemoRecipe()
