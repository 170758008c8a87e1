"""Point-cloud classifiers in plain torch: PointNet++ with single-scale grouping (SSG).

Source: Qi et al., "PointNet++: Deep Hierarchical Feature Learning on Point Sets in a Metric
Space", NeurIPS 2017, the classification network SSG (appendix B.1; charlesq34/pointnet2
``models/pointnet2_cls_ssg.py``): SA(512 centroids, radius 0.2, 32 neighbours, MLP 64-64-128),
SA(128, 0.4, 64, 128-128-256), SA(all, 256-512-1024), then FC 512-256 with batch norm and dropout
0.5 and a linear classifier. The neighbourhood operations (farthest-point sampling, ball query,
grouping) are small functions of batched tensors: no Python loop runs over points (farthest-point
sampling loops over the centroids it picks, each step one tensor operation over all points).

Why ours: torch-geometric 2.8 installs with torch 2.14, but its ``fps``, ``knn`` and ``radius``
need the compiled pyg-lib or torch-cluster, which have no wheel for torch 2.14 on PyPI (checked on
this machine); torch-points3d was last released in 2021.

Differences from the official code: farthest-point sampling starts at the first point (the
official CUDA kernel does too) and the point order is random anyway (resampling); a ball with fewer
than ``k`` points repeats its first neighbour, as officially. Layers are 1x1 convolutions with
batch norm, as officially. ``width`` scales every MLP for small CPU runs.
"""
from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Sequence

import torch
from torch import nn

from fdsl.errors import FdslError

#: State-dict prefix of the classifier that fine-tuning replaces when the classes change.
HEAD_PREFIX = "classifier."


# --- neighbourhood operations ----------------------------------------------------------------------
def square_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, M, N) squared distances between ``a`` (B, M, 3) and ``b`` (B, N, 3)."""
    cross = a @ b.transpose(1, 2)
    return (a.square().sum(-1)[:, :, None] + b.square().sum(-1)[:, None, :] - 2 * cross).clamp_min_(0)


@torch.no_grad()
def farthest_point_sample(xyz: torch.Tensor, count: int) -> torch.Tensor:
    """(B, count) indices of points of ``xyz`` (B, N, 3), each the farthest from those picked before
    it (the first is point 0)."""
    batch, n = xyz.shape[:2]
    rows = torch.arange(batch, device=xyz.device)
    chosen = torch.empty(batch, count, dtype=torch.long, device=xyz.device)
    nearest = torch.full((batch, n), float("inf"), dtype=xyz.dtype, device=xyz.device)
    farthest = torch.zeros(batch, dtype=torch.long, device=xyz.device)
    for step in range(count):
        chosen[:, step] = farthest
        centre = xyz[rows, farthest]  # (B, 3)
        nearest = torch.minimum(nearest, (xyz - centre[:, None]).square().sum(-1))
        farthest = nearest.argmax(dim=1)
    return chosen


@torch.no_grad()
def ball_query(xyz: torch.Tensor, centres: torch.Tensor, radius: float, k: int) -> torch.Tensor:
    """(B, M, k) indices of the first ``k`` points (by index) of ``xyz`` (B, N, 3) within ``radius``
    of each centre (B, M, 3); a ball with fewer repeats its first one (every centre should be a
    point of ``xyz``, so no ball is empty; an empty one takes point 0)."""
    n = xyz.shape[1]
    inside = square_distances(centres, xyz) <= radius * radius
    order = torch.arange(n, device=xyz.device).expand_as(inside)
    key = torch.where(inside, order, n)
    first = key.topk(min(k, n), dim=-1, largest=False, sorted=True).values  # (B, M, k')
    first = torch.where(first == n, first[..., :1], first)
    first = torch.where(first == n, 0, first)
    if first.shape[-1] < k:
        first = torch.cat([first, first[..., :1].expand(*first.shape[:2], k - first.shape[-1])], dim=-1)
    return first


def gather_points(values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """``values`` (B, N, C) at ``indices`` (B, ...) -> (B, ..., C)."""
    rows = torch.arange(len(values), device=values.device).view(-1, *([1] * (indices.dim() - 1)))
    return values[rows, indices]


# --- layers ---------------------------------------------------------------------------------------
def shared_mlp(channels: Sequence[int]) -> nn.Sequential:
    """1x1 convolutions with batch norm and ReLU over (B, C, M, k) neighbourhoods."""
    layers: list[nn.Module] = []
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        layers += [nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class SetAbstraction(nn.Module):
    """Sample ``centroids`` points by farthest-point sampling, group ``neighbours`` points within
    ``radius`` of each (coordinates relative to the centroid, plus their features), apply a shared
    MLP and max-pool each group. ``centroids`` None groups all points into one (global feature)."""

    def __init__(self, centroids: int | None, radius: float, neighbours: int, in_channels: int,
                 widths: Sequence[int]):
        super().__init__()
        self.centroids, self.radius, self.neighbours = centroids, radius, neighbours
        self.mlp = shared_mlp([in_channels + 3, *widths])

    def forward(self, xyz: torch.Tensor, features: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, 3), (B, N, C) or None -> (B, M, 3), (B, M, C')."""
        if self.centroids is None:
            centres = xyz.new_zeros(len(xyz), 1, 3)
            grouped = xyz[:, None] if features is None else torch.cat([xyz, features], dim=-1)[:, None]
        else:
            centres = gather_points(xyz, farthest_point_sample(xyz, self.centroids))
            neighbours = ball_query(xyz, centres, self.radius, self.neighbours)  # (B, M, k)
            grouped = gather_points(xyz, neighbours) - centres[:, :, None]  # (B, M, k, 3)
            if features is not None:
                grouped = torch.cat([grouped, gather_points(features, neighbours)], dim=-1)
        pooled = self.mlp(grouped.permute(0, 3, 1, 2)).amax(dim=-1)  # (B, C', M)
        return centres, pooled.transpose(1, 2)


# --- the classifier -------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PointNet2Args:
    """The architecture's arguments (saved as ``model_args`` in config.json)."""

    centroids: tuple[int, int] = (512, 128)
    radii: tuple[float, float] = (0.2, 0.4)
    neighbours: tuple[int, int] = (32, 64)
    widths: tuple[tuple[int, ...], ...] = ((64, 64, 128), (128, 128, 256), (256, 512, 1024))
    head: tuple[int, ...] = (512, 256)
    dropout: float = 0.5


def as_tuples(value):
    return tuple(as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


class PointNet2SSG(nn.Module):
    """PointNet++ SSG classification: (B, N, 3) points -> (B, classes) logits."""

    def __init__(self, num_classes: int, *, width: float = 1.0, **args):
        super().__init__()
        a = PointNet2Args(**{key: as_tuples(value) for key, value in args.items()})  # lists from JSON / YAML
        widths = [[max(1, int(round(w * width))) for w in stage] for stage in a.widths]
        self.stages = nn.ModuleList([
            SetAbstraction(a.centroids[0], a.radii[0], a.neighbours[0], 0, widths[0]),
            SetAbstraction(a.centroids[1], a.radii[1], a.neighbours[1], widths[0][-1], widths[1]),
            SetAbstraction(None, 0.0, 0, widths[1][-1], widths[2]),
        ])
        layers: list[nn.Module] = []
        channels = [widths[2][-1], *[max(1, int(round(w * width))) for w in a.head]]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [nn.Linear(c_in, c_out, bias=False), nn.BatchNorm1d(c_out), nn.ReLU(inplace=True),
                       nn.Dropout(a.dropout)]
        self.neck = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels[-1], num_classes)

    def forward_features(self, points: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) -> (B, C) global feature."""
        xyz, features = points, None
        for stage in self.stages:
            xyz, features = stage(xyz, features)
        return features[:, 0]

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.neck(self.forward_features(points)))


#: Architectures by name: (num_classes, **model_args) -> nn.Module.
POINT_MODELS = {"pointnet2_ssg": PointNet2SSG}


def create_point_model(name: str, *, num_classes: int, **kwargs) -> nn.Module:
    """The architecture ``name`` with ``kwargs``; an unknown name or option ends in one FdslError."""
    if name not in POINT_MODELS:
        close = difflib.get_close_matches(name, list(POINT_MODELS), n=3)
        raise FdslError(f"unknown point-cloud model {name!r}; valid: {', '.join(POINT_MODELS)}"
                        + (f" (close: {', '.join(close)})" if close else ""))
    try:
        return POINT_MODELS[name](num_classes, **kwargs)
    except TypeError as error:
        raise FdslError(f"point-cloud model {name!r} does not take the options {kwargs} ({error})") from None
