"""Typed configs of segmentation training: the model (segmentation-models-pytorch over a timm
encoder), the paired augmentation, and the pre-training (SegRCDB) and fine-tuning configs over the
shared optimiser and loop sections (:mod:`fdsl.train.config`)."""
from __future__ import annotations

import dataclasses
from typing import Any

from fdsl.config_fields import belongs_to, cli
from fdsl.configs import RunConfig, Section
from fdsl.data.config import FormulaDataConfig, SegFolderConfig
from fdsl.errors import check
from fdsl.train.config import IMAGENET_MEAN, IMAGENET_STD, OptimConfig, TrainConfig

#: The decoders of segmentation-models-pytorch offered here (``smp.create_model``'s names).
ARCHITECTURES = ("fpn", "unet", "unetplusplus", "upernet", "segformer", "deeplabv3plus", "linknet", "pan")
#: smp's encoders reduce the input 32 times (5 stages), so inputs are multiples of 32.
STRIDE = 32


@dataclasses.dataclass
class SegModelConfig(Section):
    """``smp.create_model(name, encoder_name="tu-" + encoder, ...)``: a decoder of
    segmentation-models-pytorch over any timm encoder (``features_only``), never downloaded."""

    name: str = dataclasses.field(default="fpn", metadata=cli(
        "--model", "decoder (segmentation-models-pytorch): " + ", ".join(ARCHITECTURES), choices=ARCHITECTURES))
    encoder: str = dataclasses.field(default="resnet18", metadata=cli(
        "--encoder", "timm encoder (`fdsl models` lists them)"))
    #: Passed to ``timm.create_model`` for the encoder (e.g. a ResNet's ``channels``, ``stem_width``).
    encoder_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict, metadata=belongs_to("encoder"))
    #: Passed to the decoder (e.g. FPN's ``decoder_pyramid_channels``).
    decoder_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict, metadata=belongs_to("name"))

    def validate(self) -> None:
        check(self.name in ARCHITECTURES, f"unknown segmentation model {self.name!r}; valid: {', '.join(ARCHITECTURES)}")


@dataclasses.dataclass
class SegAugmentConfig(Section):
    """Paired transforms of image and mask (:mod:`fdsl.tasks.segmentation.transforms`)."""

    #: Network input (height, width); evaluation resizes to it.
    size: tuple[int, int] = (96, 128)
    #: RandomResizedCrop's area fraction of the source image.
    scale: tuple[float, float] = (0.25, 1.0)
    #: RandomResizedCrop's aspect-ratio range, relative to the aspect of ``size`` (1 = the output's).
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip: float = 0.5
    #: Brightness, contrast and saturation jitter of the image (never the mask); 0: off.
    color_jitter: float = 0.2
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def validate(self) -> None:
        check(all(side >= STRIDE and side % STRIDE == 0 for side in self.size),
              f"augment.size = {tuple(self.size)}; allowed: height and width multiples of {STRIDE} (the encoder's "
              "output stride, which smp's decoders need)")
        check(0 < self.scale[0] <= self.scale[1] <= 1, f"augment.scale = {self.scale}; allowed: 0 < low <= high <= 1")
        check(0 < self.ratio[0] <= self.ratio[1], f"augment.ratio = {self.ratio}; allowed: 0 < low <= high")
        check(0 <= self.hflip <= 1, f"augment.hflip = {self.hflip}; allowed: [0, 1]")
        check(self.color_jitter >= 0, f"augment.color_jitter = {self.color_jitter}; allowed: >= 0")


@dataclasses.dataclass
class SegFormulaDataConfig(FormulaDataConfig):
    """Pre-training data of image+mask families (SegRCDB): fields and meaning as for images."""

    kinds = ("image+mask",)  # the samples segmentation pre-trains on (:mod:`fdsl.samples.image_mask`)
    family: str = dataclasses.field(default="segrcdb", metadata=FormulaDataConfig.__dataclass_fields__["family"].metadata)


@dataclasses.dataclass
class SegPretrainConfig(RunConfig):
    model: SegModelConfig = dataclasses.field(default_factory=SegModelConfig)
    data: SegFormulaDataConfig = dataclasses.field(default_factory=SegFormulaDataConfig)
    augment: SegAugmentConfig = dataclasses.field(default_factory=SegAugmentConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)


@dataclasses.dataclass
class SegFinetuneConfig(RunConfig):
    #: The architecture when starting from scratch or from a classification encoder; a
    #: segmentation checkpoint brings its own.
    model: SegModelConfig = dataclasses.field(default_factory=SegModelConfig)
    #: None: from scratch. Otherwise fdsl weights (a run folder, a weights folder or a .safetensors
    #: file): a segmentation run's (all but the class layer when the classes differ) or a
    #: classification run's (its backbone becomes the encoder).
    init: str | None = dataclasses.field(default=None, metadata=cli(
        "--init", "fdsl weights: a segmentation run (whole model) or a classification run (encoder); "
                  "default: from scratch"))
    data: SegFolderConfig = dataclasses.field(default_factory=SegFolderConfig)
    augment: SegAugmentConfig = dataclasses.field(default_factory=SegAugmentConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
