"""Point-cloud augmentations: composable transforms of one (N, 3) float tensor, like image ones.

Sources: PointNet++ (Qi et al., NeurIPS 2017; charlesq34/pointnet2 ``provider.py``): rotation
about the up axis, jitter N(0, 0.01) clipped to 0.05, random point dropout (a share U(0, 0.875)
of the points replaced by the first one, so the shape is kept); DGCNN (Wang et al., TOG 2019):
anisotropic scaling U(2/3, 3/2) per axis and translation U(-0.2, 0.2) per axis.

Every draw comes from torch's global generator, which fdsl reseeds per (seed, epoch, rank) in
the training process and per (epoch, worker) in each loader worker (:mod:`fdsl.train.loaders`):
the same seed gives the same run, whatever was drawn in earlier epochs.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

AXES = "xyz"


class RotateUp:
    """A rotation by U(0, 2 pi) about the up axis (0, 1, 2 for x, y, z)."""

    def __init__(self, up_axis: int):
        self.up_axis = up_axis

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        angle = float(torch.rand(())) * 2 * math.pi
        cos, sin = math.cos(angle), math.sin(angle)
        first, second = [axis for axis in range(3) if axis != self.up_axis]
        rotation = torch.eye(3, dtype=points.dtype)
        rotation[first, first], rotation[first, second] = cos, -sin
        rotation[second, first], rotation[second, second] = sin, cos
        return points @ rotation.T


class ScaleAxes:
    """Each axis scaled by its own U(low, high)."""

    def __init__(self, low: float, high: float):
        self.low, self.high = low, high

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        return points * (self.low + (self.high - self.low) * torch.rand(3, dtype=points.dtype))


class Translate:
    """Each axis shifted by its own U(-shift, shift)."""

    def __init__(self, shift: float):
        self.shift = shift

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        return points + self.shift * (2 * torch.rand(3, dtype=points.dtype) - 1)


class Jitter:
    """Independent N(0, sigma) noise per coordinate, clipped to [-clip, clip]."""

    def __init__(self, sigma: float, clip: float):
        self.sigma, self.clip = sigma, clip

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        return points + (self.sigma * torch.randn_like(points)).clamp(-self.clip, self.clip)


class DropPoints:
    """A share U(0, max_share) of the points replaced by the first point (the count stays N)."""

    def __init__(self, max_share: float):
        self.max_share = max_share

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        share = float(torch.rand(())) * self.max_share
        dropped = torch.rand(len(points)) < share
        return torch.where(dropped[:, None], points[:1], points)


class Compose:
    def __init__(self, transforms: Sequence[Callable[[torch.Tensor], torch.Tensor]]):
        self.transforms = list(transforms)

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        for transform in self.transforms:
            points = transform(points)
        return points

    def __repr__(self) -> str:
        return f"Compose({', '.join(type(t).__name__ for t in self.transforms)})"


def build_point_augment(augment) -> Compose | None:
    """The training transform of a :class:`fdsl.tasks.points.config.PointAugmentConfig` (None
    when every augmentation is off)."""
    transforms: list[Callable] = []
    if augment.rotate:
        transforms.append(RotateUp(AXES.index(augment.up_axis)))
    if tuple(augment.scale) != (1.0, 1.0):
        transforms.append(ScaleAxes(*augment.scale))
    if augment.translate > 0:
        transforms.append(Translate(augment.translate))
    if augment.jitter > 0:
        transforms.append(Jitter(augment.jitter, augment.jitter_clip))
    if augment.dropout > 0:
        transforms.append(DropPoints(augment.dropout))
    return Compose(transforms) if transforms else None
