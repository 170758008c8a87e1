"""The point-cloud kind (e.g. PC-FractalDB): float32 (N, 3) points and, when the kind is
``PointCloudKind(labelled=True)``, integer per-point labels (N,); stored as ``<stem>.npy`` and
``<stem>.labels.npy``, plus, for ``PointCloudKind(ply=True)``, a binary ``<stem>.ply`` of the same
points for viewers (x, y, z float32, and an int ``label`` property when labelled), derived from
the arrays and not read back.

The dataset item is ``{"points": float32 tensor (N, 3)}`` plus ``"labels"`` (int64 (N,)); the
gallery tile shows the object from three viewpoints at one scale, in a 2 x 2 grid: from the
front (x right, z up), from the side (y right, z up), from above (x right, y up); the fourth cell
stays dark. Orthographic, nearer points drawn last, grey by depth (or coloured by label).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fdsl.errors import FdslError, check
from fdsl.samples.base import SampleKind, check_array, check_rows, class_colours, decode_npy, encode_npy
from fdsl.samples.ply import encode_ply, vertex_array

#: Fraction of a tile left empty on each side of the drawing.
MARGIN = 0.05


@dataclass(frozen=True)
class PointCloud:
    points: np.ndarray  # float32 (N, 3)
    labels: np.ndarray | None = None  # integer (N,)


def check_points(what: str, points: Any) -> None:
    check_array(what, points, dtype="float32", ndim=2, width=3)
    check(len(points) >= 1, f"{what} is empty; expected at least one point")


def pixel_frame(xy: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """(origin, scale) mapping the bounding square of ``xy`` (M, 2) into a ``size`` tile with a margin."""
    low, high = xy.min(axis=0), xy.max(axis=0)
    extent = float(max(high - low)) or 1.0
    scale = (size - 1) * (1 - 2 * MARGIN) / extent
    origin = (low + high) / 2 - (size - 1) / 2 / scale
    return origin, scale


def to_pixels(xy: np.ndarray, origin: np.ndarray, scale: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of plane points, y pointing up, clipped to the tile."""
    columns = np.clip(np.round((xy[:, 0] - origin[0]) * scale), 0, size - 1).astype(np.intp)
    rows = np.clip(np.round((size - 1) - (xy[:, 1] - origin[1]) * scale), 0, size - 1).astype(np.intp)
    return rows, columns


def scatter(canvas: np.ndarray, xy: np.ndarray, depth: np.ndarray, colours: np.ndarray,
            origin: np.ndarray, scale: float) -> None:
    """Draw one pixel per point into ``canvas`` (size, size, 3), farthest first so near ones win."""
    order = np.argsort(depth, kind="stable")
    rows, columns = to_pixels(xy[order], origin, scale, canvas.shape[0])
    canvas[rows, columns] = colours[order]


#: (right, up, toward the viewer) axes of the tile's three views: front, side, top.
VIEWS = (
    np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], np.float32),
    np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], np.float32),
    np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32),
)


def three_views(points: np.ndarray, labels: np.ndarray | None, size: int) -> np.ndarray:
    """uint8 (size, size, 3): :data:`VIEWS` in a 2 x 2 grid, every view at the same scale."""
    canvas = np.zeros((size, size, 3), np.uint8)
    cell = size // 2
    projected = [points @ view.T for view in VIEWS]  # (N, 3): right, up, depth
    scale = min(pixel_frame(p[:, :2], cell)[1] for p in projected)
    for k, p in enumerate(projected):
        low, high = p[:, :2].min(axis=0), p[:, :2].max(axis=0)
        origin = (low + high) / 2 - (cell - 1) / 2 / scale
        colours = class_colours(labels) if labels is not None else depth_grey(p[:, 2])
        row, column = divmod(k, 2)
        scatter(canvas[row * cell:(row + 1) * cell, column * cell:(column + 1) * cell], p[:, :2], p[:, 2],
                colours, origin, scale)
    return canvas


def depth_grey(depth: np.ndarray) -> np.ndarray:
    """uint8 RGB greys from 90 (far) to 255 (near)."""
    span = float(depth.max() - depth.min()) or 1.0
    grey = (90 + 165 * (depth - depth.min()) / span).astype(np.uint8)
    return np.repeat(grey[:, None], 3, axis=1)


class PointCloudKind(SampleKind):
    name = "point cloud"

    def __init__(self, *, labelled: bool = False, ply: bool = False):
        self.labelled, self.ply = labelled, ply
        self.suffixes = (".npy", ".labels.npy")[:1 + labelled] + (".ply",) * ply

    def validate(self, sample: Any) -> None:
        if not isinstance(sample, PointCloud):
            raise FdslError(f"a point-cloud sample is a {type(sample).__name__}; expected PointCloud")
        check_points("points", sample.points)
        if not self.labelled:
            check(sample.labels is None, "point labels given to an unlabelled point-cloud kind")
            return
        check_array("labels", sample.labels, integer=True, ndim=1)
        check_rows("labels", sample.labels, len(sample.points))

    def encode(self, sample: PointCloud) -> list[bytes]:
        arrays = [sample.points, sample.labels] if self.labelled else [sample.points]
        blobs = [encode_npy(array) for array in arrays]
        if self.ply:
            extra = {"label": sample.labels.astype(np.int32)} if self.labelled else {}
            blobs.append(encode_ply(vertex_array(sample.points, **extra)))
        return blobs

    def decode(self, blobs: list[bytes]) -> PointCloud:
        arrays = [decode_npy(blob) for blob in blobs[:1 + self.labelled]]  # the .ply is derived
        return PointCloud(arrays[0], arrays[1] if self.labelled else None)

    def training_item(self, sample: PointCloud) -> dict[str, Any]:
        import torch

        item = {"points": torch.from_numpy(np.array(sample.points))}
        if self.labelled:
            item["labels"] = torch.from_numpy(sample.labels.astype(np.int64))
        return item

    def tile(self, sample: PointCloud, size: int) -> np.ndarray:
        return three_views(sample.points, sample.labels if self.labelled else None, size)

    def card_fields(self, formula: Any) -> dict[str, Any]:
        return {"point_labels": self.labelled, "ply": self.ply}


POINT_CLOUD = PointCloudKind()
LABELLED_POINT_CLOUD = PointCloudKind(labelled=True)
PLY_POINT_CLOUD = PointCloudKind(ply=True)
