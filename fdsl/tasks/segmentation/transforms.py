"""Paired transforms of an image and its mask, with torchvision transforms v2 (the recipe of
torchvision's references/segmentation ``presets.py``: one class for training, one for evaluation).

The input is the image+mask kind's training item ``{"image": PIL RGB, "mask": PIL "L"}`` (SegRCDB
on the fly, :mod:`fdsl.samples.image_mask`, and real folders, :mod:`fdsl.data.segfolders`); the
output is ``(image, mask)``: float32 (3, H, W) normalised, int64 (H, W) class ids. Wrapping the
mask as ``tv_tensors.Mask`` makes every geometric step move it with the image and resample it with
nearest interpolation (no invented class ids at borders), and leaves it out of the colour steps.
Nothing pads, so no pixel needs the ignore value 255; labelled 255 pixels stay 255.
"""
from __future__ import annotations

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from fdsl.tasks.segmentation.config import SegAugmentConfig


def as_tv_tensors(item: dict) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    """uint8 Image (3, H, W) and Mask (H, W) from the PIL pair."""
    image = tv_tensors.Image(torch.from_numpy(np.array(item["image"], dtype=np.uint8)).permute(2, 0, 1))
    mask = tv_tensors.Mask(torch.from_numpy(np.array(item["mask"], dtype=np.uint8)))
    return image, mask


class PairedTransform:
    """A v2 pipeline applied to image and mask together; returns plain (image, long mask) tensors."""

    def __init__(self, steps: list):
        self.pipeline = v2.Compose(steps)

    def __call__(self, item: dict) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.pipeline(*as_tv_tensors(item))
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor).long()


def to_float_normalised(augment: SegAugmentConfig) -> list:
    # The dict form converts the Image only: the mask keeps its integer ids.
    return [v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
            v2.Normalize(mean=list(augment.mean), std=list(augment.std))]


def train_transform(augment: SegAugmentConfig) -> PairedTransform:
    """Random resized crop to ``size`` (aspect range relative to the output's), horizontal flip,
    colour jitter of the image, normalisation."""
    height, width = augment.size
    aspect = width / height
    steps = [v2.RandomResizedCrop(size=(height, width), scale=augment.scale,
                                  ratio=(augment.ratio[0] * aspect, augment.ratio[1] * aspect), antialias=True)]
    if augment.hflip:
        steps.append(v2.RandomHorizontalFlip(p=augment.hflip))
    if augment.color_jitter:
        jitter = augment.color_jitter
        steps.append(v2.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter))
    return PairedTransform(steps + to_float_normalised(augment))


def eval_transform(augment: SegAugmentConfig) -> PairedTransform:
    """Resize the whole image (and mask, nearest) to ``size``; scores are measured at that size."""
    return PairedTransform([v2.Resize(size=list(augment.size), antialias=True)] + to_float_normalised(augment))


def build_transforms(augment: SegAugmentConfig) -> tuple[PairedTransform, PairedTransform]:
    return train_transform(augment), eval_transform(augment)
