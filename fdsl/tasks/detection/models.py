"""Detectors: torchvision's Faster R-CNN (Ren et al., NeurIPS 2015) and Mask R-CNN (He et al., ICCV
2017) over a feature pyramid network (Lin et al., CVPR 2017) on a timm backbone, and their
initialisation from fdsl weights.

The backbone is ``timm.create_model(name, features_only=True, out_indices=4)``: its last four feature
levels (a ResNet's layer1-4, strides 4-32), which torchvision's ``FeaturePyramidNetwork`` turns into
five levels (the fifth by max-pooling, ``LastLevelMaxPool``), as ``resnet_fpn_backbone`` does. The
model's keys are torchvision's (``backbone.body``, ``backbone.fpn``, ``rpn``, ``roi_heads``), and
``backbone.body.<key>`` is the timm classifier's own ``<key>``: an fdsl classification run's backbone
(FractalDB, RCDB... pre-training) loads into it by name, its classifier (``fc``) left out. A detection
run's weights load whole, except the class layers (the box predictor, the mask logits) when the
classes differ, which keep their fresh initialisation.
"""
from __future__ import annotations

import logging
from collections import OrderedDict

import torch
from torch import nn

from fdsl.errors import FdslError, check
from fdsl.tasks import task_of_weights
from fdsl.tasks.classification.models import check_model_name
from fdsl.tasks.detection.config import DetModelConfig
from fdsl.train.checkpoint import Weights

log = logging.getLogger(__name__)

BODY_PREFIX = "backbone.body."
#: The layers whose shape follows the classes: new when a checkpoint's classes differ.
CLASS_LAYERS = ("roi_heads.box_predictor.", "roi_heads.mask_predictor.mask_fcn_logits.")
#: timm model_args of a classifier that do not describe its backbone.
CLASSIFIER_ARGS = frozenset({"num_classes", "global_pool", "in_chans", "drop_rate"})
#: RoIAlign's output for the box head (torchvision's MultiScaleRoIAlign default).
BOX_POOL = 7


class TimmFPN(nn.Module):
    """``body``: a timm backbone's last four feature levels; ``fpn``: torchvision's FPN over them
    (five outputs "0".."3" and "pool", ``out_channels`` each), what torchvision's detectors take."""

    def __init__(self, name: str, kwargs: dict, out_channels: int):
        import timm
        from torchvision.ops import FeaturePyramidNetwork
        from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

        super().__init__()
        self.body = timm.create_model(name, pretrained=False, features_only=True, out_indices=4, **kwargs)
        self.fpn = FeaturePyramidNetwork(self.body.feature_info.channels(), out_channels,
                                         extra_blocks=LastLevelMaxPool())
        self.out_channels = out_channels

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return self.fpn(OrderedDict((str(level), feature) for level, feature in enumerate(self.body(images))))


def create_detector(config: DetModelConfig, *, num_classes: int, min_size: int, max_size: int) -> nn.Module:
    """The detector of ``config`` for ``num_classes`` labels (the background included) at the input
    size ``min_size`` / ``max_size``; bad names or options end in one FdslError."""
    config.validate()
    check_model_name(config.backbone)
    try:
        return build(config, num_classes, min_size, max_size)
    except (TypeError, ValueError, RuntimeError, AssertionError) as error:
        raise FdslError(f"cannot build {config.name} over the backbone {config.backbone} with backbone_kwargs "
                        f"{config.backbone_kwargs} and detector_kwargs {config.detector_kwargs} "
                        f"({str(error).splitlines()[0] if str(error) else type(error).__name__})") from None


def build(config: DetModelConfig, num_classes: int, min_size: int, max_size: int) -> nn.Module:
    from torchvision.models.detection import FasterRCNN, MaskRCNN
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

    backbone = TimmFPN(config.backbone, dict(config.backbone_kwargs), config.fpn_channels)
    anchors = AnchorGenerator(tuple((size,) for size in config.anchor_sizes),
                              (tuple(config.aspect_ratios),) * len(config.anchor_sizes))
    heads = {"rpn_anchor_generator": anchors,
             "box_head": TwoMLPHead(config.fpn_channels * BOX_POOL**2, config.representation_size),
             "box_predictor": FastRCNNPredictor(config.representation_size, num_classes)}
    if config.masks:
        width = config.mask_channels
        heads.update(mask_head=MaskRCNNHeads(config.fpn_channels, (width,) * 4, 1),
                     mask_predictor=MaskRCNNPredictor(width, width, num_classes))
    detector = MaskRCNN if config.masks else FasterRCNN
    # num_classes=None: the predictors above carry the classes (torchvision refuses both).
    return detector(backbone, None, min_size=min_size, max_size=max_size, **heads, **config.detector_kwargs)


# --- initialisation from fdsl weights ---------------------------------------------------------------
def is_detection(weights: Weights) -> bool:
    return task_of_weights(weights.config) == "detection"


def load_init(model: nn.Module, weights: Weights, label_names: list[str]) -> None:
    """Load ``weights`` into ``model``: a whole detector (its class layers only for the same classes),
    or a classification backbone into ``backbone.body``."""
    if is_detection(weights):
        load_detector(model, weights, same_classes=weights.label_names == list(label_names))
    else:
        load_backbone(model, weights)


def load_detector(model: nn.Module, weights: Weights, *, same_classes: bool) -> None:
    """Every weight of the model from ``weights``, but the class layers when the classes differ and a
    mask head the checkpoint lacks (a Faster R-CNN's weights in a Mask R-CNN)."""
    target = model.state_dict()
    new = [k for k in target if (not same_classes and k.startswith(CLASS_LAYERS))
           or (k.startswith("roi_heads.mask_") and k not in weights.state_dict)]
    loaded = {k: v for k, v in weights.state_dict.items() if k in target and k not in new}
    misfits = [k for k in target if k not in new and (k not in loaded or loaded[k].shape != target[k].shape)]
    if misfits:
        raise FdslError(f"detection weights {str(weights.path)!r} do not fit the model: {len(misfits)} weights "
                        f"missing or of another shape, e.g. {misfits[0]!r}")
    model.load_state_dict(loaded, strict=False)
    if new:
        log.info("%d weights left new (%s): %s", len(new), "class layers: the classes differ" if not same_classes
                 else "a mask head the checkpoint lacks", weights.path)


def load_backbone(model: nn.Module, weights: Weights) -> None:
    """A timm classifier's weights into ``backbone.body``; every backbone weight must be found."""
    target = model.state_dict()
    body_keys = [k for k in target if k.startswith(BODY_PREFIX)]
    found = {BODY_PREFIX + k: v for k, v in weights.state_dict.items() if BODY_PREFIX + k in target}
    check(bool(found), f"no weight of {str(weights.path)!r} fits the backbone ({len(weights.state_dict)} weights, "
                       f"e.g. {next(iter(weights.state_dict), 'none')!r}; the backbone's are like "
                       f"{body_keys[0].removeprefix(BODY_PREFIX)!r}): pre-train the backbone's timm architecture")
    for key, value in found.items():
        check(value.shape == target[key].shape,
              f"weight {key.removeprefix(BODY_PREFIX)!r} of {str(weights.path)!r} has shape {tuple(value.shape)}, "
              f"the backbone needs {tuple(target[key].shape)}: pre-train with the same backbone kwargs")
    missing = [k.removeprefix(BODY_PREFIX) for k in body_keys if k not in found]
    check(not missing, f"{str(weights.path)!r} lacks {len(missing)} of the backbone's {len(body_keys)} weights, "
                       f"e.g. {missing[0] if missing else ''!r}")
    model.load_state_dict(found, strict=False)
    log.info("backbone initialised from %s (%d weights)", weights.path, len(found))


def backbone_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The backbone's weights under timm's own names (as a classifier of that architecture has them)."""
    return {k.removeprefix(BODY_PREFIX): v for k, v in model.state_dict().items() if k.startswith(BODY_PREFIX)}


def unwrap(model: nn.Module) -> nn.Module:
    """The detector inside DistributedDataParallel (whose forward cannot give detections and losses at once)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
