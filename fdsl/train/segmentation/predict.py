"""Segmentation weights back from disk: the model that a weights folder's config.json describes,
its scores on a validation split, and its predicted masks (for pictures of scratch against
pre-trained predictions, :mod:`fdsl.viz.segmentation`)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from fdsl.data.segfolders import SegFolderConfig, seg_folder_datasets
from fdsl.errors import FdslError, check
from fdsl.train import distributed
from fdsl.train.checkpoint import Weights, load_weights
from fdsl.train.config import TrainConfig
from fdsl.train.loaders import evaluation_loader
from fdsl.train.segmentation.config import SegAugmentConfig, SegModelConfig
from fdsl.train.segmentation.models import create_seg_model, is_segmentation
from fdsl.train.segmentation.objective import evaluate
from fdsl.train.segmentation.transforms import eval_transform
from fdsl.train.tasks import check_weights_task


def load_model(path: str | Path) -> tuple[nn.Module, Weights]:
    """The segmentation model saved in ``path`` (a run folder: its last/; a weights folder), in eval mode."""
    weights = load_weights(path)
    check_weights_task(weights, "segmentation")
    check(is_segmentation(weights), f"{str(weights.path)!r} holds no segmentation weights (its config.json has no "
                                    "task 'image-segmentation')")
    saved = weights.config
    model = create_seg_model(SegModelConfig(name=saved["architecture"], encoder=saved["encoder"],
                                            encoder_kwargs=saved["encoder_kwargs"],
                                            decoder_kwargs=saved["decoder_kwargs"]), num_classes=saved["num_classes"])
    try:
        model.load_state_dict(weights.state_dict)
    except RuntimeError as error:
        raise FdslError(f"{str(weights.path)!r} does not fit its own config.json ({str(error).splitlines()[0]})") from None
    return model.eval(), weights


def input_augment(weights: Weights) -> SegAugmentConfig:
    """The evaluation input of the weights: their size, mean and std."""
    saved = weights.config
    return SegAugmentConfig(size=tuple(saved["input_size"][1:]), mean=tuple(saved["mean"]), std=tuple(saved["std"]))


def evaluate_weights(path: str | Path, data: SegFolderConfig, *, batch_size: int = 8, workers: int = 0,
                     device: str = "cpu") -> dict[str, float]:
    """Loss, mIoU and pixel accuracy (%) of the weights in ``path`` on the validation split of
    ``data`` (alone or under torchrun, each rank scoring its share)."""
    check(batch_size >= 1, f"batch size = {batch_size}; allowed: >= 1")
    context = distributed.setup(device)
    model, weights = load_model(path)
    _, val, classes = seg_folder_datasets(data, val_transform=eval_transform(input_augment(weights)))
    check(len(classes) == weights.config["num_classes"],
          f"the weights have {weights.config['num_classes']} classes but the data has {len(classes)}")
    loader = evaluation_loader(val, batch_size=batch_size, workers=workers, context=context,
                               timeout_s=TrainConfig.timeout_s)
    return evaluate(model.to(context.device), loader, device=context.device, label_names=classes)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """int64 (N, H, W) class per pixel of normalised (N, 3, H, W) images."""
    return model(images).argmax(1)
