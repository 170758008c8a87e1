"""The scene kind (e.g. PC-FractalDB scenes for 3-D detection): float32 (N, 3) points, integer
per-point instance ids (N,), float32 boxes (K, 7: centre x y z, size x y z, yaw in radians about
z) and integer box classes (K,). K may be 0. Files, in this order:

- ``<stem>.npy``: the points, float32 (N, 3), z up;
- ``<stem>.instances.npy``: the index (0..K-1) of the box each point belongs to (N,);
- ``<stem>.boxes.npy``: float32 (K, 7): centre x, y, z; full size along the box's own x, y, z
  axes; yaw, counter-clockwise from +x towards +y. A point p is in box b when
  R(-yaw) (p - centre) lies within +-size / 2 on every axis;
- ``<stem>.box_classes.npy``: the class of each box (K,);
- ``<stem>.bbox.npy``: the same boxes in the layout of VoteNet's SUN RGB-D ``<id>_bbox.npy``
  (facebookresearch/votenet, ``sunrgbd/sunrgbd_data.py``), float32 (K, 8): centre x, y, z;
  *half* sizes l, w, h (VoteNet's loader multiplies them by 2); heading = -yaw (VoteNet's
  heading turns from +x towards -y); class. With the ``.npy`` points as the scene's point cloud
  (VoteNet's ``<id>_pc.npz`` adds RGB columns), a detection codebase reads a scene from these two;
- ``<stem>.ply`` for ``SceneKind(ply=True)``: the points as a binary PLY for viewers, with
  uchar red, green, blue from the instance and an int ``instance`` property.

The last two are derived from the first four and not read back. The dataset item is a dict of
tensors named points, instances, boxes, box_classes; the gallery tile is the scene seen from
above (x right, y up), points coloured by instance and box outlines in their class colour.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fdsl.errors import FdslError, check
from fdsl.samples.base import SampleKind, check_array, check_rows, class_colours, decode_npy, encode_npy
from fdsl.samples.ply import encode_ply, vertex_array
from fdsl.samples.point_cloud import check_points, pixel_frame, scatter, to_pixels

FIELDS = ("points", "instances", "boxes", "box_classes")
#: Dots drawn per box edge: enough for a solid line on any gallery tile.
EDGE_DOTS = 256


@dataclass(frozen=True)
class Scene:
    points: np.ndarray  # float32 (N, 3)
    instances: np.ndarray  # integer (N,)
    boxes: np.ndarray  # float32 (K, 7): centre xyz, size xyz, yaw
    box_classes: np.ndarray  # integer (K,)


def box_corners_xy(boxes: np.ndarray) -> np.ndarray:
    """(K, 4, 2): each box's footprint corners, in order around it."""
    half = boxes[:, None, 3:5] / 2 * np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], np.float32)
    cos, sin = np.cos(boxes[:, 6])[:, None], np.sin(boxes[:, 6])[:, None]
    x = cos * half[..., 0] - sin * half[..., 1]
    y = sin * half[..., 0] + cos * half[..., 1]
    return boxes[:, None, :2] + np.stack([x, y], axis=-1)


def outline_dots(corners: np.ndarray) -> np.ndarray:
    """(K, 4 * EDGE_DOTS, 2): points along the four edges of each footprint."""
    t = np.linspace(0.0, 1.0, EDGE_DOTS, dtype=np.float32)[None, None, :, None]
    start, end = corners[:, :, None, :], np.roll(corners, -1, axis=1)[:, :, None, :]
    return (start + (end - start) * t).reshape(len(corners), 4 * EDGE_DOTS, 2)


def votenet_boxes(boxes: np.ndarray, box_classes: np.ndarray) -> np.ndarray:
    """float32 (K, 8) in VoteNet's SUN RGB-D ``_bbox.npy`` layout (see the module docstring)."""
    columns = [boxes[:, :3], boxes[:, 3:6] / 2, -boxes[:, 6:7], box_classes[:, None].astype(np.float32)]
    return np.concatenate(columns, axis=1).astype(np.float32)


class SceneKind(SampleKind):
    name = "scene"

    def __init__(self, *, ply: bool = False):
        self.ply = ply
        self.suffixes = (".npy", ".instances.npy", ".boxes.npy", ".box_classes.npy", ".bbox.npy") + (".ply",) * ply

    def validate(self, sample: Any) -> None:
        if not isinstance(sample, Scene):
            raise FdslError(f"a scene sample is a {type(sample).__name__}; expected Scene")
        check_points("points", sample.points)
        check_array("instances", sample.instances, integer=True, ndim=1)
        check_rows("instances", sample.instances, len(sample.points))
        check_array("boxes", sample.boxes, dtype="float32", ndim=2, width=7)
        check(bool((sample.boxes[:, 3:6] >= 0).all()), "boxes have a negative size")
        check_array("box_classes", sample.box_classes, integer=True, ndim=1)
        check_rows("box_classes", sample.box_classes, len(sample.boxes))

    def encode(self, sample: Scene) -> list[bytes]:
        blobs = [encode_npy(getattr(sample, field)) for field in FIELDS]
        blobs.append(encode_npy(votenet_boxes(sample.boxes, sample.box_classes)))
        if self.ply:
            colours = class_colours(sample.instances + 1)
            vertices = vertex_array(sample.points, red=colours[:, 0], green=colours[:, 1], blue=colours[:, 2],
                                    instance=sample.instances.astype(np.int32))
            blobs.append(encode_ply(vertices))
        return blobs

    def decode(self, blobs: list[bytes]) -> Scene:
        return Scene(*(decode_npy(blob) for blob in blobs[:len(FIELDS)]))  # the others are derived

    def training_item(self, sample: Scene) -> dict[str, Any]:
        import torch

        item = {field: np.array(getattr(sample, field)) for field in FIELDS}
        for field in ("instances", "box_classes"):
            item[field] = item[field].astype(np.int64)
        return {field: torch.from_numpy(array) for field, array in item.items()}

    def tile(self, sample: Scene, size: int) -> np.ndarray:
        canvas = np.zeros((size, size, 3), np.uint8)
        dots = outline_dots(box_corners_xy(sample.boxes))
        xy = sample.points[:, :2]
        origin, scale = pixel_frame(np.concatenate([xy, dots.reshape(-1, 2)]), size)
        scatter(canvas, xy, sample.points[:, 2], class_colours(sample.instances + 1), origin, scale)
        for box_dots, colour in zip(dots, class_colours(sample.box_classes + 1)):
            rows, columns = to_pixels(box_dots, origin, scale, size)
            canvas[rows, columns] = colour
        return canvas


    def card_fields(self, formula: Any) -> dict[str, Any]:
        return {"ply": self.ply}


SCENE = SceneKind()
PLY_SCENE = SceneKind(ply=True)
