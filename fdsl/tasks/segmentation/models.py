"""Segmentation models from segmentation-models-pytorch (smp) over timm encoders, and their
initialisation from fdsl weights.

smp composes a model from an encoder chosen by name (timm's through ``tu-<name>``, built with
``features_only``), a decoder and a head; ``encoder_weights=None``, so nothing is downloaded. The
encoder's state-dict keys are ``encoder.model.<timm key>``, which is how a timm classifier's
backbone (an fdsl classification run, e.g. FractalDB pre-training) drops into it unchanged: its
classifier (``fc``, ``head``) has no counterpart and is left out. A segmentation run's weights load
whole, except the class layer (``segmentation_head``) when the classes differ (SegRCDB's 255 ->
CamVid's 11), which keeps its fresh initialisation.
"""
from __future__ import annotations

import logging

import torch
from torch import nn

from fdsl.errors import FdslError, check
from fdsl.tasks import task_of_weights
from fdsl.tasks.classification.models import check_model_name
from fdsl.tasks.segmentation.config import SegModelConfig
from fdsl.train.checkpoint import Weights

log = logging.getLogger(__name__)

ENCODER_PREFIX = "encoder.model."
HEAD_PREFIX = "segmentation_head."
#: timm model_args of a classifier that do not describe its backbone (smp sets in_chans itself).
CLASSIFIER_ARGS = frozenset({"num_classes", "global_pool", "in_chans"})


def create_seg_model(config: SegModelConfig, *, num_classes: int) -> nn.Module:
    """``smp.create_model`` with the timm encoder ``config.encoder``; bad names or options end in
    one FdslError."""
    import segmentation_models_pytorch as smp

    config.validate()
    check_model_name(config.encoder)
    try:
        return smp.create_model(config.name, encoder_name=f"tu-{config.encoder}", encoder_weights=None,
                                classes=num_classes, **config.decoder_kwargs, **config.encoder_kwargs)
    except (TypeError, ValueError, RuntimeError, AssertionError) as error:
        raise FdslError(f"cannot build {config.name} over the encoder {config.encoder} with encoder_kwargs "
                        f"{config.encoder_kwargs} and decoder_kwargs {config.decoder_kwargs} "
                        f"({str(error).splitlines()[0] if str(error) else type(error).__name__})") from None


def is_segmentation(weights: Weights) -> bool:
    return task_of_weights(weights.config) == "segmentation"


def model_config_of(weights: Weights, current: SegModelConfig) -> SegModelConfig:
    """The architecture that ``weights`` need: a segmentation checkpoint's own; a classification
    checkpoint's architecture and arguments as the encoder under ``current``'s decoder; bare
    weights (no config.json): ``current``."""
    if weights.config is None:
        return current
    if is_segmentation(weights):
        saved = weights.config
        return SegModelConfig(name=saved["architecture"], encoder=saved["encoder"],
                              encoder_kwargs=dict(saved.get("encoder_kwargs") or {}),
                              decoder_kwargs=dict(saved.get("decoder_kwargs") or {}))
    kwargs = {k: v for k, v in (weights.config.get("model_args") or {}).items() if k not in CLASSIFIER_ARGS}
    return SegModelConfig(name=current.name, encoder=weights.config["architecture"], encoder_kwargs=kwargs,
                          decoder_kwargs=dict(current.decoder_kwargs))


def load_init(model: nn.Module, weights: Weights) -> None:
    """Load ``weights`` into ``model``: a whole segmentation model (its class layer only when it
    fits), or a classification backbone into the encoder."""
    if is_segmentation(weights):
        load_segmentation(model, weights)
    else:
        load_encoder(model, weights)


def load_segmentation(model: nn.Module, weights: Weights) -> None:
    target = model.state_dict()
    fitting = {k: v for k, v in weights.state_dict.items() if k in target and v.shape == target[k].shape}
    misfits = [k for k in target if k not in fitting and not k.startswith(HEAD_PREFIX)]
    if misfits:
        raise FdslError(f"segmentation weights {str(weights.path)!r} do not fit the model: {len(misfits)} weights "
                        f"missing or of another shape, e.g. {misfits[0]!r}")
    if any(k.startswith(HEAD_PREFIX) for k in target if k not in fitting):
        log.info("class layer of %s left new: its classes differ", weights.path)
    model.load_state_dict(fitting, strict=False)


def load_encoder(model: nn.Module, weights: Weights) -> None:
    """A timm classifier's weights into ``model.encoder``; every encoder weight must be found."""
    target = model.state_dict()
    encoder_keys = [k for k in target if k.startswith(ENCODER_PREFIX)]
    found = {ENCODER_PREFIX + k: v for k, v in weights.state_dict.items() if ENCODER_PREFIX + k in target}
    check(bool(found), f"no weight of {str(weights.path)!r} fits the encoder ({len(weights.state_dict)} weights, "
                       f"e.g. {next(iter(weights.state_dict), 'none')!r}; the encoder's are like "
                       f"{encoder_keys[0].removeprefix(ENCODER_PREFIX)!r}): pre-train the encoder's timm architecture")
    for key, value in found.items():
        if value.shape != target[key].shape:
            raise FdslError(f"weight {key.removeprefix(ENCODER_PREFIX)!r} of {str(weights.path)!r} has shape "
                            f"{tuple(value.shape)}, the encoder needs {tuple(target[key].shape)}: pre-train with "
                            "the same model kwargs")
    missing = [k.removeprefix(ENCODER_PREFIX) for k in encoder_keys if k not in found]
    if missing:
        raise FdslError(f"{str(weights.path)!r} lacks {len(missing)} of the encoder's {len(encoder_keys)} weights, "
                        f"e.g. {missing[0]!r}")
    model.load_state_dict(found, strict=False)
    log.info("encoder initialised from %s (%d weights)", weights.path, len(found))


def encoder_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The encoder's weights under timm's own names (as a classifier of that architecture has them)."""
    return {k.removeprefix(ENCODER_PREFIX): v for k, v in model.state_dict().items() if k.startswith(ENCODER_PREFIX)}

