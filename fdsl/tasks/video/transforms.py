"""Clip transforms with torchvision transforms v2 on video tensors (the recipe of torchvision's
references/video_classification ``presets.py``: one for training, one for evaluation).

The input is a ``tv_tensors.Video`` uint8 (T, 3, H, W): a formula clip (:mod:`fdsl.samples.video`) or a
decoded real video (:mod:`fdsl.data.videofolders`); the output is float32 (3, frames, size, size),
normalised, the layout torchvision's video models take once batched. v2 applies one random draw to
every frame of a Video, so a crop or flip moves the whole clip. The temporal window comes first, so
the spatial steps only touch the frames kept. Every draw comes from torch's global generator, which
fdsl reseeds per (seed, epoch, rank) in the training process and per (epoch, worker) in each loader
worker: a resumed run draws what it would have.
"""
from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from fdsl.errors import check
from fdsl.tasks.video.config import ClipConfig


class TemporalWindow:
    """``frames`` frames ``stride`` apart: a random window of the video in training, the centred one
    otherwise (a video shorter than the window is a one-line error)."""

    def __init__(self, frames: int, stride: int, *, random: bool):
        self.frames, self.stride, self.random = frames, stride, random

    def __call__(self, video: tv_tensors.Video) -> tv_tensors.Video:
        span = (self.frames - 1) * self.stride + 1
        check(len(video) >= span, f"a clip of {len(video)} frames is shorter than the {span} that {self.frames} "
                                  f"frames at stride {self.stride} span (augment.frames, augment.stride)")
        slack = len(video) - span
        start = int(torch.randint(slack + 1, ())) if self.random else slack // 2
        return tv_tensors.wrap(video[start:start + span:self.stride], like=video)

    def __repr__(self) -> str:
        return f"TemporalWindow(frames={self.frames}, stride={self.stride}, random={self.random})"


def channels_first(video: torch.Tensor) -> torch.Tensor:
    """(T, C, H, W) -> (C, T, H, W), a plain tensor (what torchvision's video models take)."""
    return video.as_subclass(torch.Tensor).permute(1, 0, 2, 3).contiguous()


def to_float_normalised(augment: ClipConfig) -> list:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(augment.mean), std=list(augment.std)),
            v2.Lambda(channels_first)]


def train_transform(augment: ClipConfig) -> v2.Compose:
    """A random temporal window, a random resized crop of every frame to ``size``, a horizontal flip, normalisation."""
    steps = [TemporalWindow(augment.frames, augment.stride, random=True),
             v2.RandomResizedCrop(size=(augment.size, augment.size), scale=augment.scale, ratio=augment.ratio,
                                  antialias=True)]
    if augment.hflip:
        steps.append(v2.RandomHorizontalFlip(p=augment.hflip))
    return v2.Compose(steps + to_float_normalised(augment))


def eval_transform(augment: ClipConfig) -> v2.Compose:
    """The centred temporal window, the shorter side resized to ``size``, the centre crop, normalisation."""
    return v2.Compose([TemporalWindow(augment.frames, augment.stride, random=False),
                       v2.Resize(size=augment.size, antialias=True), v2.CenterCrop(augment.size),
                       *to_float_normalised(augment)])


def build_transforms(augment: ClipConfig) -> tuple[v2.Compose, v2.Compose]:
    return train_transform(augment), eval_transform(augment)
