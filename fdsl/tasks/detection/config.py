"""Typed configs of detection training: the detector (torchvision's Faster R-CNN or Mask R-CNN with an
FPN over a timm backbone), the paired augmentation, the pre-training (formula scenes) and fine-tuning
(COCO JSON or YOLO folders) configs over the shared optimiser and loop sections
(:mod:`fdsl.train.config`), and the data of ``fdsl evaluate --task detection``."""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from fdsl.config_fields import FLAG, HELP, belongs_to, cli, field_hints
from fdsl.configs import RunConfig, Section
from fdsl.data.config import DetectionDataConfig, FormulaDataConfig
from fdsl.errors import check
from fdsl.train.config import OptimConfig, TrainConfig

#: torchvision's detectors offered here: boxes (Ren et al., NeurIPS 2015) or boxes and instance masks
#: (He et al., ICCV 2017), both with an FPN (Lin et al., CVPR 2017).
ARCHITECTURES = ("faster_rcnn", "mask_rcnn")
#: The model fields whose values shape weights: a detection checkpoint brings its own.
WEIGHT_SHAPES = ("backbone", "backbone_kwargs", "fpn_channels", "representation_size", "mask_channels",
                 "aspect_ratios")


@dataclasses.dataclass
class DetModelConfig(Section):
    """A torchvision detector over the FPN of a timm backbone (``features_only``, its last four
    feature levels, strides 4 to 32, as torchvision's ResNet FPN takes layer1-4).

    The defaults are torchvision's ``fasterrcnn_resnet50_fpn`` / ``maskrcnn_resnet50_fpn`` widths
    (FPN 256, box head 1024, mask head 4 x 256) and anchors (32-512 px, ratios 0.5, 1, 2)."""

    name: str = dataclasses.field(default="faster_rcnn", metadata=cli(
        "--model", "detector: faster_rcnn (boxes) or mask_rcnn (boxes and masks)", choices=ARCHITECTURES))
    backbone: str = dataclasses.field(default="resnet50", metadata=cli(
        "--backbone", "timm backbone (`fdsl models` lists them)"))
    #: Passed to ``timm.create_model`` for the backbone (e.g. a ResNet's ``channels``, ``stem_width``).
    backbone_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict, metadata=belongs_to("backbone"))
    #: Channels of every FPN level (and so of the RPN and RoI heads' inputs).
    fpn_channels: int = 256
    #: Width of the box head's two fully connected layers (``TwoMLPHead``).
    representation_size: int = 1024
    #: Width of the mask head's four 3x3 convolutions (``MaskRCNNHeads``) and its deconvolution.
    mask_channels: int = 256
    #: Anchor side (pixels of the detector's input) per FPN level, finest first: five levels.
    anchor_sizes: tuple[int, ...] = (32, 64, 128, 256, 512)
    aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    #: The detector's own resize of its input (``GeneralizedRCNNTransform``): the shorter side to
    #: min_size unless the longer would pass max_size. None: the data's fixed size
    #: (fine-tuning ``data.image_size``, pre-training the scenes' ``size``), so nothing is resized again.
    min_size: int | None = 800
    max_size: int | None = 1333
    #: Other keywords of torchvision's ``FasterRCNN`` / ``MaskRCNN``: proposals kept
    #: (``rpn_pre_nms_top_n_train``...), sampled RoIs (``box_batch_size_per_image``),
    #: ``box_detections_per_img``, ``box_score_thresh``...
    detector_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def masks(self) -> bool:
        return self.name == "mask_rcnn"

    def validate(self) -> None:
        check(self.name in ARCHITECTURES, f"unknown detection model {self.name!r}; valid: {', '.join(ARCHITECTURES)}")
        for name in ("fpn_channels", "representation_size", "mask_channels"):
            check(getattr(self, name) >= 1, f"model.{name} = {getattr(self, name)}; allowed: >= 1")
        check(len(self.anchor_sizes) == 5 and all(s >= 1 for s in self.anchor_sizes),
              f"model.anchor_sizes = {list(self.anchor_sizes)}; allowed: 5 sizes >= 1, one per FPN level")
        check(bool(self.aspect_ratios) and all(r > 0 for r in self.aspect_ratios),
              f"model.aspect_ratios = {list(self.aspect_ratios)}; allowed: one or more values > 0")
        for name in ("min_size", "max_size"):
            value = getattr(self, name)
            check(value is None or value >= 32, f"model.{name} = {value}; allowed: >= 32 or null")
        check((self.min_size is None) == (self.max_size is None),
              "model.min_size and model.max_size: set both, or neither (null: the data's size)")
        check(self.min_size is None or self.min_size <= self.max_size,
              f"model.min_size = {self.min_size} is above model.max_size = {self.max_size}")


@dataclasses.dataclass
class DetAugmentConfig(Section):
    """Training augmentation of image, boxes and masks together (torchvision references/detection's
    ``hflip`` recipe); evaluation changes nothing but the fixed size."""

    hflip: float = 0.5

    def validate(self) -> None:
        check(0 <= self.hflip <= 1, f"augment.hflip = {self.hflip}; allowed: [0, 1]")


@dataclasses.dataclass
class DetFormulaDataConfig(FormulaDataConfig):
    """Pre-training data of image+instances families (fractaldb-scenes): fields and meaning as for images."""

    kinds = ("image+instances",)  # the samples detection pre-trains on (:mod:`fdsl.samples.image_instances`)
    family: str = dataclasses.field(default="fractaldb-scenes",
                                    metadata=FormulaDataConfig.__dataclass_fields__["family"].metadata)


def check_sizes(model: DetModelConfig, fixed: int | None, what: str) -> None:
    check(model.min_size is not None or fixed is not None,
          f"model.min_size and model.max_size are null (the data's size) but {what} is not fixed; set either")


@dataclasses.dataclass
class DetPretrainConfig(RunConfig):
    model: DetModelConfig = dataclasses.field(default_factory=DetModelConfig)
    data: DetFormulaDataConfig = dataclasses.field(default_factory=DetFormulaDataConfig)
    augment: DetAugmentConfig = dataclasses.field(default_factory=DetAugmentConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def check(self) -> None:
        check_sizes(self.model, self.data.family_config().to_dict().get("size"), f"the {self.data.family} scenes' size")


@dataclasses.dataclass
class DetFinetuneConfig(RunConfig):
    #: The architecture from scratch or from a classification backbone; a detection checkpoint brings
    #: the fields that shape its weights (:data:`WEIGHT_SHAPES`).
    model: DetModelConfig = dataclasses.field(default_factory=DetModelConfig)
    #: None: from scratch. Otherwise fdsl weights (a run folder, a weights folder or a .safetensors
    #: file): a detection run's (the whole detector; its class layers only when the classes are the
    #: same) or a classification run's (its backbone, by name).
    init: str | None = dataclasses.field(default=None, metadata=cli(
        "--init", "fdsl weights: a detection run (whole detector) or a classification run (backbone); "
                  "default: from scratch"))
    data: DetectionDataConfig = dataclasses.field(default_factory=DetectionDataConfig)
    augment: DetAugmentConfig = dataclasses.field(default_factory=DetAugmentConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)

    def check(self) -> None:
        check_sizes(self.model, self.data.image_size, "data.image_size")
        check(not self.model.masks or self.data.labels == "masks",
              "model.name = mask_rcnn needs masks to learn: set data.labels to masks (--labels masks)")


def _evaluation_fields() -> list[tuple[str, Any, dataclasses.Field]]:
    """The fields of :class:`DetectionDataConfig`, each optional with the default None (its flag says so)."""
    hints = field_hints(DetectionDataConfig)

    def unset_means_the_run(metadata) -> dict:
        if HELP not in metadata or metadata[FLAG] == "--dataset":
            return dict(metadata)
        shown = re.split(r"[;(] ?default", metadata[HELP])[0].rstrip()
        return {**metadata, HELP: shown + " (unset: as the weights' fine-tuning)"}

    return [(f.name, hints[f.name] | None, dataclasses.field(default=None, metadata=unset_means_the_run(f.metadata)))
            for f in dataclasses.fields(DetectionDataConfig)]


def _resolve(self, recorded: dict[str, Any] | None) -> DetectionDataConfig:
    """The data config: each key set here, else the one the weights' fine-tuning ``recorded``, else
    the default."""
    from fdsl.configs import from_dict

    known = {f.name for f in dataclasses.fields(DetectionDataConfig)}
    values = {k: v for k, v in (recorded or {}).items() if k in known}
    values.update({k: getattr(self, k) for k in known if getattr(self, k) is not None})
    config = from_dict(DetectionDataConfig, {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()})
    config.validate()
    return config


def _validate(self) -> None:
    check(self.dataset is not None, "the detection data needs a dataset (--dataset)")


#: ``fdsl evaluate --task detection``'s data: the keys of :class:`DetectionDataConfig`, each unset by
#: default, where it means what the weights' own fine-tuning used (its classes, split and image size).
DetectionEvalDataConfig = dataclasses.make_dataclass(
    "DetectionEvalDataConfig", _evaluation_fields(), bases=(Section,),
    namespace={"resolve": _resolve, "validate": _validate, "__module__": __name__,
               "__doc__": "The detection data of ``fdsl evaluate``: a key left unset is the weights' run's."})
