"""Every preset resolves and validates, and keeps the numbers of the paper recipe it names
(FORMULAS.md and the official scripts cited in each preset's docstring)."""
from __future__ import annotations

import pytest

from fdsl.registry import get_formula
from fdsl.configs import dump_yaml, resolve
from fdsl.tasks.classification.config import FinetuneConfig, PretrainConfig
from fdsl.tasks.classification.presets import FINETUNE_PRESETS, PRETRAIN_PRESETS, finetune_preset, pretrain_preset

# preset: (model, family or dataset, categories, epochs, optimiser, lr, lr_base_batch, batch per process)
PAPER_PRETRAIN = {
    "fractaldb-resnet50": ("resnet50", "fractaldb", 1000, 90, "sgd", 0.1, 256, 256),
    "fractaldb-deit-tiny": ("deit_tiny_patch16_224", "fractaldb", 1000, 300, "adamw", 5e-4, 512, 128),
    "ofdb-vit-tiny": ("vit_tiny_patch16_224", "ofdb", 1000, 61, "adamw", 1e-3, 256, 32),
    "ofdb3d-vit-tiny": ("vit_tiny_patch16_224", "ofdb3d", 1000, 61, "adamw", 1e-3, 256, 32),
    "rcdb-vit-tiny": ("deit_tiny_patch16_224", "rcdb", 1000, 300, "adamw", 1e-3, 256, 256),
    "exfractaldb-vit-tiny": ("deit_tiny_patch16_224", "exfractaldb", 1000, 300, "adamw", 1e-3, 256, 256),
    "visualatom-vit-tiny": ("deit_tiny_patch16_224", "visualatom", 1000, 300, "adamw", 1e-3, 256, 256),
    "mvfractaldb-resnet50": ("resnet50", "mvfractaldb", 1000, 90, "sgd", 0.1, 256, 256),
    "exfractaldb21k-vit-base": ("deit_base_patch16_224", "exfractaldb", 21000, 90, "adamw", 1e-3, 8192, 64),
    "rcdb21k-vit-base": ("deit_base_patch16_224", "rcdb", 21000, 90, "adamw", 1e-3, 8192, 64),
    "visualatom21k-vit-base": ("deit_base_patch16_224", "visualatom", 21000, 90, "adamw", 1e-3, 8192, 64),
}
PAPER_FINETUNE = {
    "resnet50-cifar10": ("resnet50", "cifar10", None, 90, "sgd", 0.01, None, 256),
    "resnet50-cifar100": ("resnet50", "cifar100", None, 90, "sgd", 0.01, None, 256),
    "deit-tiny-cifar10": ("deit_tiny_patch16_224", "cifar10", None, 1000, "sgd", 0.01, None, 96),
    "deit-tiny-cifar100": ("deit_tiny_patch16_224", "cifar100", None, 1000, "sgd", 0.01, None, 96),
    "deit-tiny-imagenet100": ("deit_tiny_patch16_224", "imagenet100/train", None, 300, "adamw", 1e-3, 256, 256),
}
SMALL_OR_OURS = {"cpu-small", "cpu-small-perlin", "vit-224"}
# The augmentation of the DeiT-style recipes: (RandAugment, mixup, cutmix, smoothing, erasing, hflip)
DEIT_AUGMENT = {
    "fractaldb-deit-tiny": ("rand-m9-mstd0.5-inc1", 0.8, 1.0, 0.1, 0.25, 0.0),
    "rcdb-vit-tiny": ("rand-m9-mstd0.5-inc1", 0.8, 1.0, 0.1, 0.25, 0.0),
    "visualatom21k-vit-base": ("rand-m9-mstd0.5-inc1", 0.8, 1.0, 0.1, 0.25, 0.0),
    "ofdb3d-vit-tiny": ("rand-m9-mstd0.5-inc1", 0.8, 1.0, 0.1, 0.5, 0.5),
    "deit-tiny-cifar100": ("rand-m9-mstd0.5-inc1", 0.8, 1.0, 0.1, 0.0, 0.5),
}


def key_values(config: PretrainConfig | FinetuneConfig) -> tuple:
    data = config.data
    source = data.family if isinstance(config, PretrainConfig) else data.dataset
    categories = data.categories if isinstance(config, PretrainConfig) else None
    return (config.model.name, source, categories, config.train.epochs, config.optim.opt, config.optim.lr,
            config.optim.lr_base_batch, config.train.batch_size)


def test_every_preset_has_its_paper_numbers_in_the_table():
    assert set(PRETRAIN_PRESETS) == set(PAPER_PRETRAIN) | (SMALL_OR_OURS & set(PRETRAIN_PRESETS))
    assert set(FINETUNE_PRESETS) == set(PAPER_FINETUNE) | (SMALL_OR_OURS & set(FINETUNE_PRESETS))


@pytest.mark.parametrize("name", list(PAPER_PRETRAIN))
def test_pretraining_presets_resolve_validate_and_keep_the_papers_numbers(name):
    config = resolve(pretrain_preset(name))  # what --print-config shows, through the YAML round trip
    assert key_values(config) == PAPER_PRETRAIN[name]
    limit = get_formula(config.data.family, **config.data.formula).instances_per_category
    assert limit is None or config.data.instances + config.data.val_instances <= limit
    assert f"name: {config.model.name}" in dump_yaml(config)


@pytest.mark.parametrize("name", list(PAPER_FINETUNE))
def test_finetuning_presets_resolve_validate_and_keep_the_papers_numbers(name):
    config = resolve(finetune_preset(name))
    assert key_values(config) == PAPER_FINETUNE[name]


@pytest.mark.parametrize("name", list(DEIT_AUGMENT))
def test_deit_style_presets_keep_the_papers_augmentation(name):
    config = resolve((pretrain_preset if name in PRETRAIN_PRESETS else finetune_preset)(name))
    a = config.augment
    assert (a.auto_augment, a.mixup, a.cutmix, a.label_smoothing, a.re_prob, a.hflip) == DEIT_AUGMENT[name]
    assert a.img_size == 224 and a.interpolation == "bicubic"


def test_3d_ofdb_shows_one_view_per_category_per_pass():
    data = pretrain_preset("ofdb3d-vit-tiny").data
    assert (data.instances, data.instances_per_epoch, data.repeats) == (12, 1, 1000)


def test_resnet50_crops_follow_the_official_resize_and_crop():
    r50 = finetune_preset("resnet50-cifar10").augment
    assert round(r50.scale[0] * 256 * 256) == 224 * 224 and r50.eval_crop_pct == 224 / 256


def test_the_224_px_presets_finish_batches_on_the_device_and_the_cpu_ones_in_the_workers():
    presets = [*(pretrain_preset(n) for n in PRETRAIN_PRESETS), *(finetune_preset(n) for n in FINETUNE_PRESETS)]
    assert all(p.augment.on_device == (p.augment.img_size == 224) for p in presets)
    assert {p.augment.img_size for p in presets} == {32, 224}
