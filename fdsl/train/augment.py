"""Augmentation and loss from an :class:`AugmentConfig`, all through timm: ``create_transform``
(RandomResizedCrop, flips, colour jitter or RandAugment, random erasing), ``Mixup`` (mixup and
CutMix on whole batches) and the matching loss (soft targets under mixup, else label smoothing)."""
from __future__ import annotations

from collections.abc import Callable

from PIL import Image, ImageOps
from torch import nn

from fdsl.train.config import AugmentConfig


def build_transforms(augment: AugmentConfig) -> tuple[Callable, Callable]:
    """(training transform, evaluation transform) from PIL images to normalised tensors."""
    from timm.data import create_transform

    common = dict(input_size=augment.img_size, interpolation=augment.interpolation, mean=augment.mean, std=augment.std)
    train = create_transform(
        is_training=True, scale=augment.scale, ratio=augment.ratio, hflip=augment.hflip, vflip=augment.vflip,
        color_jitter=augment.color_jitter, auto_augment=augment.auto_augment, re_prob=augment.re_prob,
        re_mode=augment.re_mode, **common,
    )
    evaluation = create_transform(is_training=False, crop_pct=augment.eval_crop_pct, **common)
    _allow_zero_bit_posterize(train)
    return train, evaluation


def _posterize(image: Image.Image, bits_to_keep: int, **_) -> Image.Image:
    """Posterize that keeps 0..8 bits. timm's increasing posterize (RandAugment ``inc1``, as in
    DeiT's ``rand-m9-mstd0.5-inc1``) asks for 0 bits at the top magnitude, which Pillow < 13 turned
    into a black image and Pillow >= 13 rejects with a ValueError that would stop training."""
    if bits_to_keep >= 8:
        return image
    if bits_to_keep <= 0:
        return Image.new(image.mode, image.size)
    return ImageOps.posterize(image, bits_to_keep)


def _allow_zero_bit_posterize(transform) -> None:
    from timm.data.auto_augment import RandAugment

    for step in getattr(transform, "transforms", ()):
        if isinstance(step, RandAugment):
            for op in step.ops:
                if op.name.startswith("Posterize"):
                    op.aug_fn = _posterize


def mixup_and_loss(augment: AugmentConfig, num_classes: int) -> tuple[Callable | None, nn.Module]:
    """timm's Mixup (None when off) and the training loss that fits its targets."""
    from timm.data import Mixup
    from timm.loss import SoftTargetCrossEntropy

    if augment.mixup > 0 or augment.cutmix > 0:
        mixup = Mixup(mixup_alpha=augment.mixup, cutmix_alpha=augment.cutmix,
                      label_smoothing=augment.label_smoothing, num_classes=num_classes)
        return mixup, SoftTargetCrossEntropy()
    return None, nn.CrossEntropyLoss(label_smoothing=augment.label_smoothing)
