"""Typed configs of point-cloud training: the model, the augmentations, pre-training data (a
point-cloud formula family such as PC-FractalDB) and fine-tuning data (a folder of real objects,
:mod:`fdsl.data.pointfolders`). Optimiser and loop are the shared sections
(:class:`fdsl.train.config.OptimConfig`, :class:`fdsl.train.config.TrainConfig`).
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from fdsl.config_fields import belongs_to, cli
from fdsl.configs import RunConfig, Section
from fdsl.data.config import FormulaDataConfig
from fdsl.errors import check
from fdsl.train.config import OptimConfig, TrainConfig

UP_AXES = ("x", "y", "z")


@dataclasses.dataclass
class PointModelConfig(Section):
    """A point-cloud architecture of :data:`fdsl.tasks.points.models.POINT_MODELS`; ``kwargs`` go
    to its constructor (e.g. ``width``, ``centroids``)."""

    name: str = dataclasses.field(default="pointnet2_ssg", metadata=cli("--model", "point-cloud model: pointnet2_ssg"))
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict, metadata=belongs_to("name"))


@dataclasses.dataclass
class PointAugmentConfig(Section):
    """Points per sample and the training augmentations (:mod:`fdsl.tasks.points.augment`)."""

    points: int = dataclasses.field(default=1024, metadata=cli("--points", "points per sample (resampled)"))
    rotate: bool = True
    #: The axis rotations turn about (ModelNet's meshes and PC-FractalDB scenes: z).
    up_axis: str = "z"
    scale: tuple[float, float] = (0.8, 1.25)
    translate: float = 0.1
    jitter: float = 0.01
    jitter_clip: float = 0.05
    #: Largest share of points dropped (replaced by the first point); 0: off.
    dropout: float = 0.0
    label_smoothing: float = 0.0

    def validate(self) -> None:
        check(self.points >= 16, f"augment.points = {self.points}; allowed: >= 16")
        check(self.up_axis in UP_AXES, f"augment.up_axis = {self.up_axis!r}; valid: {', '.join(UP_AXES)}")
        check(0 < self.scale[0] <= self.scale[1], f"augment.scale = {self.scale}; allowed: 0 < low <= high")
        for name in ("translate", "jitter", "jitter_clip"):
            check(getattr(self, name) >= 0, f"augment.{name} = {getattr(self, name)}; allowed: >= 0")
        for name in ("dropout", "label_smoothing"):
            check(0 <= getattr(self, name) < 1, f"augment.{name} = {getattr(self, name)}; allowed: [0, 1)")


@dataclasses.dataclass
class PointFormulaDataConfig(FormulaDataConfig):
    """Pre-training data of the ``point cloud`` kind: PC-FractalDB on the fly by default, or a
    folder it was rendered to (``data_dir``: read as a point folder, holding out the last
    ``val_instances`` of each category)."""

    kinds: ClassVar[tuple[str, ...]] = ("point cloud",)
    family: str = dataclasses.field(default="pcfractaldb", metadata=cli("--family", "formula family (`fdsl list`)"))


@dataclasses.dataclass
class PointFolderConfig(Section):
    """Fine-tuning data: a folder ``root/<class>/*.npy|*.ply|*.off`` (:mod:`fdsl.data.pointfolders`)."""

    dataset: str = dataclasses.field(default="../shared/data/modelnet10/train", metadata=cli(
        "--dataset", "folder of class sub-folders of .npy/.ply/.off point clouds"))
    holdout: float = dataclasses.field(default=0.1, metadata=cli(
        "--holdout", "share of each class held out for validation (its last files)"))
    #: Keep only this share of each class's training objects (its first ones; at least one).
    train_share: float | None = dataclasses.field(default=None, metadata=cli(
        "--train-share", "keep only this share of each class's training objects (e.g. 0.1)"))
    train_per_class: int | None = dataclasses.field(default=None, metadata=cli(
        "--train-per-class", "keep only the first N training objects of each class"))

    def validate(self) -> None:
        check(0.0 <= self.holdout < 1.0, f"data.holdout = {self.holdout}; allowed: [0, 1)")
        check(self.train_share is None or 0 < self.train_share <= 1,
              f"data.train_share = {self.train_share}; allowed: (0, 1] or null")
        check(self.train_per_class is None or self.train_per_class >= 1,
              f"data.train_per_class = {self.train_per_class}; allowed: >= 1 or null")

    def describe(self) -> str:
        """What fine-tuning trains and scores on, in a few words (study and comparison reports)."""
        kept = (f"the first {self.train_share:.0%}" if self.train_share else
                f"the first {self.train_per_class}" if self.train_per_class else "all")
        return (f"{self.dataset}, {kept} of each class's training objects, validation on the last "
                f"{self.holdout:.0%} of each class")


@dataclasses.dataclass
class PointsPretrainConfig(RunConfig):
    model: PointModelConfig = dataclasses.field(default_factory=PointModelConfig)
    data: PointFormulaDataConfig = dataclasses.field(default_factory=PointFormulaDataConfig)
    augment: PointAugmentConfig = dataclasses.field(default_factory=PointAugmentConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)


@dataclasses.dataclass
class PointsFinetuneConfig(RunConfig):
    #: The architecture from scratch; a checkpoint with a config.json brings its own.
    model: PointModelConfig = dataclasses.field(default_factory=PointModelConfig)
    #: None: from scratch; otherwise fdsl weights of a point-cloud run: a run folder, a weights
    #: folder (model.safetensors + config.json) or a .safetensors file. The classifier is new when
    #: the checkpoint's classes differ from the dataset's.
    init: str | None = dataclasses.field(default=None, metadata=cli(
        "--init", "weights of a point-cloud run (run folder, weights folder or .safetensors); default: scratch"))
    data: PointFolderConfig = dataclasses.field(default_factory=PointFolderConfig)
    augment: PointAugmentConfig = dataclasses.field(default_factory=PointAugmentConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
