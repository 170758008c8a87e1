"""Models over ``timm.create_model``: names checked against timm's registry, and pre-trained
weights fitted to a fine-tuning model (new head, resized ViT position embeddings).

Fine-tuning follows DeiT: the classifier's weights are dropped when the classes change, and a
ViT's absolute position embeddings are resampled (bicubic, prefix tokens kept) when the image size
changes the patch grid.
"""
from __future__ import annotations

import difflib
import logging
from typing import Any

import timm
import torch
from torch import nn

from fdsl.errors import FdslError, check
from fdsl.tasks.classification.config import ModelConfig

log = logging.getLogger(__name__)


def check_model_name(name: str) -> None:
    """Fail unless timm knows ``name`` (an architecture, optionally ``.tag``), naming close valid ones."""
    architecture, _, tag = name.partition(".")
    if timm.is_model(architecture):
        valid_tags = [n.partition(".")[2] for n in timm.list_pretrained(f"{architecture}.*")]
        check(not tag or tag in valid_tags,
              f"unknown pretrained tag {tag!r} of {architecture}; valid: {', '.join(valid_tags) or 'none'}")
        return
    names = timm.list_models()
    close = difflib.get_close_matches(architecture, names, n=8, cutoff=0.6) or timm.list_models(f"*{architecture}*")[:8]
    hint = f"close valid names: {', '.join(close)}; " if close else ""
    raise FdslError(f"unknown model {name!r}; {hint}all {len(names)} valid names: `fdsl models` (timm.list_models())")


def create_model(config: ModelConfig, *, num_classes: int, pretrained: bool = False) -> nn.Module:
    """``timm.create_model(config.name, num_classes=..., **config.kwargs)``; bad names or options
    end in one FdslError. ``pretrained`` downloads timm's own weights (a connected machine)."""
    check_model_name(config.name)
    kwargs = dict(config.kwargs)
    if config.drop_path is not None:
        kwargs["drop_path_rate"] = config.drop_path
    try:
        return timm.create_model(config.name, pretrained=pretrained, num_classes=num_classes, **kwargs)
    except TypeError as error:
        raise FdslError(f"model {config.name!r} does not take the options {kwargs} ({error})") from None
    except (OSError, RuntimeError) as error:
        if not pretrained:
            raise
        raise FdslError(f"could not get timm's pretrained weights for {config.name!r} ({error}); "
                        "without internet fine-tune from a local checkpoint") from None


def head_prefixes(model: nn.Module) -> tuple[str, ...]:
    """State-dict prefixes of the classifier(s), from timm's pretrained_cfg (``fc``, ``head``, ...)."""
    classifier = model.pretrained_cfg.get("classifier") or ()
    names = (classifier,) if isinstance(classifier, str) else tuple(classifier)
    return tuple(f"{name}." for name in names)


def without_projection(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weights a classifier-less model (``num_classes`` 0: self-supervised weights) loads: all but
    those under its classifier's name (the projection head, MoCo's key encoder and queue)."""
    if getattr(model, "num_classes", None) != 0:
        return state_dict
    heads = head_prefixes(model)
    return {key: value for key, value in state_dict.items() if not key.startswith(heads)}


def model_config_from_checkpoint(checkpoint: dict[str, Any], *, img_size: int, drop_path: float | None) -> ModelConfig:
    """The architecture and arguments saved in a timm ``config.json``, rebuilt for fine-tuning: the
    classes come from the new data, and an architecture built with ``img_size`` (ViT) takes the
    fine-tuning size."""
    kwargs = dict(checkpoint.get("model_args") or {})
    kwargs.pop("num_classes", None)
    if "img_size" in kwargs:
        kwargs["img_size"] = img_size
    return ModelConfig(name=checkpoint["architecture"], kwargs=kwargs, drop_path=drop_path)


def load_pretrained(model: nn.Module, state_dict: dict[str, torch.Tensor], *, new_head: bool) -> None:
    """Load ``state_dict`` into ``model``: with ``new_head`` the classifier keeps its fresh init;
    ViT position embeddings are resampled to the model's grid; any other mismatch is an error."""
    target = model.state_dict()
    heads = head_prefixes(model)
    adapted = {}
    for key, value in state_dict.items():
        is_head = key.startswith(heads)
        if is_head and new_head:
            continue
        check(key in target, f"checkpoint does not fit {type(model).__name__}: unexpected weight {key!r}")
        if value.shape != target[key].shape:
            if key.endswith("pos_embed"):
                value = resample_position_embedding(model, value)
            else:
                check(not is_head, f"the checkpoint's classifier {key!r} has shape {tuple(value.shape)} but the "
                                   f"model needs {tuple(target[key].shape)}: the classes differ; pass --new-head")
                raise FdslError(f"checkpoint does not fit the model: {key!r} has shape {tuple(value.shape)}, "
                                f"the model needs {tuple(target[key].shape)}")
        adapted[key] = value
    missing = [k for k in target if k not in adapted and not (new_head and k.startswith(heads))]
    if missing:
        raise FdslError(f"checkpoint does not fit the model: {len(missing)} weights missing, e.g. {missing[0]!r}")
    model.load_state_dict(adapted, strict=not new_head)


def resample_position_embedding(model: nn.Module, pos_embed: torch.Tensor) -> torch.Tensor:
    """A ViT's (1, prefix + H*W, D) position embedding resampled to the model's patch grid."""
    from timm.layers import resample_abs_pos_embed

    grid = getattr(getattr(model, "patch_embed", None), "grid_size", None)
    check(grid is not None, f"cannot resize the position embedding of {type(model).__name__}")
    prefix = 0 if getattr(model, "no_embed_class", False) else getattr(model, "num_prefix_tokens", 1)
    old_tokens = pos_embed.shape[1] - prefix
    old_side = int(round(old_tokens ** 0.5))
    check(old_side * old_side == old_tokens, f"position embedding of {old_tokens} tokens is not a square grid")
    log.info("position embedding resized from %dx%d to %dx%d patches", old_side, old_side, *grid)
    return resample_abs_pos_embed(pos_embed, new_size=list(grid), old_size=[old_side, old_side],
                                  num_prefix_tokens=prefix, verbose=False)
