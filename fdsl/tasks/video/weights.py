"""Video weights: where a fine-tuning starts (scratch, a video run's whole network, or a 2-D ResNet of
an image classification run, inflated), the model built from them, their config.json, and the model
back from disk with the split its fine-tuning scored.

A video run's weights bring their architecture; an image run's bring the depth and widths the
inflated network must have (:func:`fdsl.tasks.video.models.image_resnet_layout`) and the 2-D
network's max-pool after the stem, while the convolution (``r3d`` or ``mc3``) is the config's. The
classifier is new whenever the checkpoint's classes differ from the data's.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from fdsl.errors import FdslError, check
from fdsl.tasks import task_of_weights
from fdsl.tasks.video.config import ClipConfig, VideoFinetuneConfig, VideoFolderConfig, VideoModelConfig
from fdsl.tasks.video.models import (HEAD_PREFIX, INFLATABLE, create_video_model, image_resnet_layout,
                                     inflated_state, parse_name)
from fdsl.train.checkpoint import Weights, load_weights, preview_names

log = logging.getLogger(__name__)
#: Tasks whose weights a video fine-tuning starts from.
INIT_TASKS = ("video", "classification")


def check_model(config) -> None:
    parse_name(config.model.name)


def is_image_weights(weights: Weights) -> bool:
    """A 2-D network's weights: an image classification run's, or bare weights with a 2-D stem."""
    found = task_of_weights(weights.config)
    if found is not None:
        return found == "classification"
    stem = weights.state_dict.get("conv1.weight")
    return stem is not None and stem.ndim == 4


def resolve_init(config: VideoFinetuneConfig) -> tuple[VideoFinetuneConfig, Weights | None]:
    """The config with the architecture the init weights need, and the weights (None from scratch)."""
    if config.init is None:
        return config, None
    weights = load_weights(config.init)
    found = task_of_weights(weights.config)
    check(found in (None, *INIT_TASKS),
          f"{str(weights.path)!r} holds {found} weights, which no video model can start from; pass --task {found}")
    if is_image_weights(weights):
        model = inflated_model_config(weights, config.model)
    elif weights.config is not None:
        model = VideoModelConfig(name=weights.config["architecture"], kwargs=dict(weights.config.get("model_args") or {}))
    else:
        model = config.model
    return dataclasses.replace(config, model=model), weights


def inflated_model_config(weights: Weights, current: VideoModelConfig) -> VideoModelConfig:
    """``current``'s convolution at the depth and widths of the 2-D ResNet in ``weights``, with its stem's max-pool."""
    conv, _ = parse_name(current.name)
    check(conv in INFLATABLE, f"{current.name} factors its kernels into (2+1)D ones: a 2-D network inflates into "
                              f"{' or '.join(INFLATABLE)} (--model {INFLATABLE[0]}_18)")
    layout = image_resnet_layout(weights.state_dict, str(weights.path))
    kwargs = {**current.kwargs, "widths": layout["widths"], "stem_width": layout["stem_width"], "stem_pool": True}
    return VideoModelConfig(name=f"{conv}_{layout['depth']}", kwargs=kwargs)


def build_model(config, label_names: list[str], weights: Weights | None) -> nn.Module:
    model = create_model(config.model, num_classes=len(label_names))
    if weights is not None:
        load_init(model, weights, label_names)
    return model


def create_model(model: VideoModelConfig, *, num_classes: int) -> nn.Module:
    try:
        return create_video_model(model.name, num_classes=num_classes, **model.kwargs)
    except (TypeError, ValueError) as error:
        if isinstance(error, FdslError):
            raise
        raise FdslError(f"cannot build {model.name} with {model.kwargs} ({error})") from None


def load_init(model: nn.Module, weights: Weights, label_names: list[str]) -> None:
    """``weights`` into ``model``: a 2-D ResNet inflated, or a video network whole; the classifier keeps
    its fresh initialisation when the checkpoint's classes differ from ``label_names``."""
    new_head = weights.label_names != list(label_names)
    target = model.state_dict()
    if is_image_weights(weights):
        state = inflated_state(weights.state_dict, target, source=str(weights.path), new_head=new_head)
        log.info("I3D-inflated the 2-D ResNet %s (%d weights)", weights.path, len(state))
    else:
        state = fitting_state(weights, target, new_head=new_head)
    model.load_state_dict(state, strict=not new_head)
    if new_head:
        log.info("new classifier for the %d classes of the data (the checkpoint's: %s)", len(label_names),
                 preview_names(weights.label_names) if weights.label_names else "unknown")


def fitting_state(weights: Weights, target: dict[str, Any], *, new_head: bool) -> dict[str, Any]:
    """A video network's weights, each of the model's shape; the classifier left out with ``new_head``."""
    wanted = [k for k in target if not (new_head and k.startswith(HEAD_PREFIX))]
    misfits = [k for k in wanted if k not in weights.state_dict or weights.state_dict[k].shape != target[k].shape]
    if misfits:
        raise FdslError(f"checkpoint {str(weights.path)!r} does not fit the video model: {len(misfits)} weights "
                        f"missing or of another shape, e.g. {misfits[0]!r}")
    return {k: weights.state_dict[k] for k in wanted}


def write_weights_config(model: nn.Module, path: Path, *, config, label_names: list[str],
                         meta: dict[str, Any]) -> None:
    """What :func:`load_model` rebuilds the model from and its input, then fdsl's meta."""
    clip = config.augment
    path.write_text(json.dumps({
        "library": "torchvision", "architecture": config.model.name, "model_args": dict(config.model.kwargs),
        "num_classes": len(label_names), "label_names": list(label_names),
        "frames": clip.frames, "stride": clip.stride, "size": clip.size, "resize": clip.resize,
        "mean": list(clip.mean), "std": list(clip.std),
        "input": f"float32 (batch, 3, {clip.frames}, {clip.size}, {clip.size}): RGB clips of {clip.frames} frames "
                 f"{clip.stride} apart, normalised by mean and std", "fdsl": meta}, indent=1, default=str))


def load_model(weights: Weights) -> nn.Module:
    """The video model that saved ``weights``, in eval mode."""
    check(weights.config is not None, f"checkpoint {str(weights.path)!r} has no config.json beside it")
    saved = weights.config
    model = create_model(VideoModelConfig(name=saved["architecture"], kwargs=dict(saved.get("model_args") or {})),
                         num_classes=int(saved["num_classes"]))
    try:
        model.load_state_dict(weights.state_dict)
    except RuntimeError as error:
        raise FdslError(f"checkpoint {str(weights.path)!r} does not fit its own config.json "
                        f"({str(error).splitlines()[0]})") from None
    return model.eval()


def load_video_model(path: str | Path) -> nn.Module:
    """The model saved by a video run (run folder, weights folder or .safetensors with its config.json), in eval mode."""
    from fdsl.tasks import check_weights_task

    weights = load_weights(path)
    check_weights_task(weights, "video")
    return load_model(weights)


def input_clip(weights: Weights) -> ClipConfig:
    """The clip the weights take: frames, stride, size, the decoding size, mean and std."""
    saved = weights.config
    return ClipConfig(frames=int(saved["frames"]), stride=int(saved["stride"]), size=int(saved["size"]),
                      resize=int(saved["resize"]), mean=tuple(saved["mean"]), std=tuple(saved["std"]))


def evaluation_dataset(weights: Weights, data: VideoFolderConfig) -> Dataset:
    """The validation split of ``data`` as the fine-tuning scored it: the weights' clip, the centred
    window and the centre crop."""
    from fdsl.tasks.video.data import video_folder_datasets
    from fdsl.tasks.video.transforms import eval_transform

    check(weights.config is not None and "frames" in weights.config,
          f"{str(weights.path)!r} holds no video weights (its config.json gives no clip)")
    clip = input_clip(weights)
    _, val, classes = video_folder_datasets(data, clip, val_transform=eval_transform(clip), only_val=True)
    check(val is not None, f"the split of {data.dataset!r} holds out no video to score")
    trained = weights.label_names or []
    check(trained == classes, f"checkpoint {str(weights.path)!r} was trained on {len(trained)} classes "
                              f"({preview_names(trained)}) but {data.dataset!r} has {len(classes)} "
                              f"({preview_names(classes)})")
    return val
