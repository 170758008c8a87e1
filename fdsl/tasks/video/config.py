"""Typed configs of video classification: the model (a video ResNet), the clip the network sees and
its augmentation, pre-training data (a clip family such as Video Perlin Noise) and fine-tuning data (a
folder of real videos, :mod:`fdsl.data.videofolders`), over the shared optimiser and loop sections
(:mod:`fdsl.train.config`)."""
from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar

from fdsl.config_fields import belongs_to, cli
from fdsl.configs import RunConfig, Section
from fdsl.data.config import FormulaDataConfig
from fdsl.errors import FdslError, check
from fdsl.train.config import IMAGENET_MEAN, IMAGENET_STD, OptimConfig, TrainConfig


@dataclasses.dataclass
class VideoModelConfig(Section):
    """A video ResNet of :data:`fdsl.tasks.video.models.VIDEO_MODELS` (``r3d_18``, ``mc3_18``,
    ``r2plus1d_18``, other depths); ``kwargs``: ``widths`` (four stage widths), ``stem_width``,
    ``stem_pool`` (:func:`fdsl.tasks.video.models.create_video_model`)."""

    name: str = dataclasses.field(default="r3d_18", metadata=cli(
        "--model", "video ResNet: r3d_N, mc3_N or r2plus1d_N with N in 10, 18, 34, 50, 101, 152"))
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict, metadata=belongs_to("name"))

    def validate(self) -> None:
        from fdsl.tasks.video.models import parse_name

        parse_name(self.name)


@dataclasses.dataclass
class ClipConfig(Section):
    """The clip the network sees (``frames`` frames ``stride`` apart at ``size`` x ``size``) and its
    augmentation with torchvision transforms v2 on video tensors (:mod:`fdsl.tasks.video.transforms`).
    Training takes a random window of the video and a random resized crop; evaluation the centred
    window and the centre crop, after resizing the shorter side to ``size``."""

    frames: int = dataclasses.field(default=16, metadata=cli("--clip-frames", "frames per clip"))
    stride: int = dataclasses.field(default=1, metadata=cli(
        "--clip-stride", "frame step within a clip (a clip spans (frames - 1) x stride + 1 frames)"))
    size: int = dataclasses.field(default=112, metadata=cli("--clip-size", "clip height and width in pixels"))
    #: Real videos are decoded once with their shorter side at this many pixels; crops are taken from
    #: those frames (torchvision's video reference resizes to 128 x 171 for 112 px crops).
    resize: int = 128
    #: RandomResizedCrop's area fraction and aspect-ratio range.
    scale: tuple[float, float] = (0.5, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: float = 0.5
    #: ImageNet's, which the 2-D networks that fdsl inflates were trained with.
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    label_smoothing: float = 0.0

    @property
    def span(self) -> int:
        """Frames of the video that one clip spans."""
        return (self.frames - 1) * self.stride + 1

    def validate(self) -> None:
        check(self.frames >= 1, f"augment.frames = {self.frames}; allowed: >= 1")
        check(self.stride >= 1, f"augment.stride = {self.stride}; allowed: >= 1")
        check(self.size >= 8, f"augment.size = {self.size}; allowed: >= 8")
        check(self.resize >= self.size, f"augment.resize = {self.resize}; allowed: >= augment.size ({self.size})")
        check(0 < self.scale[0] <= self.scale[1] <= 1, f"augment.scale = {self.scale}; allowed: 0 < low <= high <= 1")
        check(0 < self.ratio[0] <= self.ratio[1], f"augment.ratio = {self.ratio}; allowed: 0 < low <= high")
        check(0 <= self.hflip <= 1, f"augment.hflip = {self.hflip}; allowed: [0, 1]")
        check(0 <= self.label_smoothing < 1, f"augment.label_smoothing = {self.label_smoothing}; allowed: [0, 1)")


@dataclasses.dataclass
class VideoFormulaDataConfig(FormulaDataConfig):
    """Pre-training data of the ``video`` kind: Video Perlin Noise on the fly by default, or a render of it."""

    kinds: ClassVar[tuple[str, ...]] = ("video",)
    family: str = dataclasses.field(default="vpn", metadata=cli("--family", "formula family (`fdsl list`)"))


@dataclasses.dataclass
class VideoFolderConfig(Section):
    """Fine-tuning data: class folders of videos (UCF101 / HMDB51 layout, :mod:`fdsl.data.videofolders`)
    and which of them validate: a group held out (``group``, a regular expression over the file name
    whose first group names it, and ``test_group``), an official split (``split_dir``, ``split``), or
    else the last ``holdout`` of each class."""

    dataset: str = dataclasses.field(default="../shared/data/ud810-actions", metadata=cli(
        "--dataset", "folder of class folders of videos (.avi, .mp4, ...)"))
    holdout: float = dataclasses.field(default=0.1, metadata=cli(
        "--holdout", "share of each class held out (its last files), without --group or --split-dir"))
    group: str | None = dataclasses.field(default=None, metadata=cli(
        "--group", r"regular expression over file names whose first group is the video's group (UD810's person: "
                   r"'P(\d+)')"))
    test_group: str | None = dataclasses.field(default=None, metadata=cli(
        "--test-group", "the group held out for validation (leave one group out)"))
    split_dir: str | None = dataclasses.field(default=None, metadata=cli(
        "--split-dir", "folder of official split files: UCF101's trainlist0N.txt/testlist0N.txt or HMDB51's "
                       "<class>_test_splitN.txt"))
    split: int = dataclasses.field(default=1, metadata=cli("--split", "which official split (1, 2, 3)"))
    #: Decode every video once before training and keep its frames in memory (UD810's 27 clips: 37 MB
    #: at 80 px); False decodes each video when one of its clips is drawn (UCF101, HMDB51).
    in_memory: bool = True

    def validate(self) -> None:
        check(0.0 <= self.holdout < 1.0, f"data.holdout = {self.holdout}; allowed: [0, 1)")
        check((self.group is None) == (self.test_group is None),
              "data.group and data.test_group go together (--group PATTERN --test-group NAME)")
        check(self.group is None or self.split_dir is None, "data.group and data.split_dir are two splits; set one")
        check(self.split >= 1, f"data.split = {self.split}; allowed: >= 1")
        if self.group is not None:
            try:
                re.compile(self.group)
            except re.error as error:
                raise FdslError(f"data.group = '{self.group}' is not a regular expression ({error})") from None

    def describe(self) -> str:
        """What fine-tuning trains and scores on, in a few words (study and comparison reports)."""
        if self.group is not None:
            return f"{self.dataset}, group {self.test_group!r} of '{self.group}' held out for validation"
        if self.split_dir is not None:
            return f"{self.dataset}, official split {self.split} of {self.split_dir}"
        return f"{self.dataset}, validation on the last {self.holdout:.0%} of each class"


@dataclasses.dataclass
class VideoPretrainConfig(RunConfig):
    model: VideoModelConfig = dataclasses.field(default_factory=VideoModelConfig)
    data: VideoFormulaDataConfig = dataclasses.field(default_factory=VideoFormulaDataConfig)
    augment: ClipConfig = dataclasses.field(default_factory=ClipConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)


@dataclasses.dataclass
class VideoFinetuneConfig(RunConfig):
    #: The architecture from scratch; a video checkpoint brings its own, a 2-D one its depth and widths.
    model: VideoModelConfig = dataclasses.field(default_factory=VideoModelConfig)
    #: None: from scratch. Otherwise fdsl weights (a run folder, a weights folder or a .safetensors
    #: file): a video run's (the whole network; the classifier new when the classes differ) or an
    #: image classification run's 2-D ResNet, inflated (I3D).
    init: str | None = dataclasses.field(default=None, metadata=cli(
        "--init", "fdsl weights: a video run (whole network) or a 2-D ResNet classification run (inflated, I3D); "
                  "default: from scratch"))
    data: VideoFolderConfig = dataclasses.field(default_factory=VideoFolderConfig)
    augment: ClipConfig = dataclasses.field(default_factory=ClipConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
