"""A PNG of segmentation predictions side by side: per validation image (rows) the image, its
ground truth, and the prediction of each set of weights (columns: e.g. scratch and pre-trained),
classes in fixed colours and ignored pixels black."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fdsl.data.segfolders import SegFolderConfig, seg_folder_datasets
from fdsl.samples.base import class_colours
from fdsl.samples.image_mask import IGNORE
from fdsl.viz.gallery import GAP, save_png

from PIL import Image, ImageDraw

HEADER = 16


def coloured(mask: np.ndarray) -> np.ndarray:
    colours = class_colours(mask)
    colours[mask == IGNORE] = 0
    return colours


def denormalised(image: torch.Tensor, mean, std) -> np.ndarray:
    rgb = image * torch.tensor(std)[:, None, None] + torch.tensor(mean)[:, None, None]
    return (rgb.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def prediction_rows(weights: dict[str, str | Path], data: SegFolderConfig, indices: list[int]) -> list[list[np.ndarray]]:
    """Per image index: [image, ground truth, prediction of each weights], uint8 (H, W, 3) each,
    at the input size of the first weights (all must share it)."""
    from fdsl.tasks.segmentation.transforms import eval_transform
    from fdsl.tasks.segmentation.weights import input_augment, load_model, predict
    from fdsl.train.checkpoint import load_weights

    loaded = {label: load_weights(path) for label, path in weights.items()}
    models = {label: (load_model(w), w) for label, w in loaded.items()}
    augment = input_augment(next(iter(models.values()))[1])
    _, val, _ = seg_folder_datasets(data, val_transform=eval_transform(augment))
    rows = []
    for index in indices:
        image, mask = val[index]
        row = [denormalised(image, augment.mean, augment.std), coloured(mask.numpy())]
        row += [coloured(predict(model, image[None])[0].numpy()) for model, _ in models.values()]
        rows.append(row)
    return rows


def save_prediction_grid(weights: dict[str, str | Path], data: SegFolderConfig, indices: list[int], path: Path) -> None:
    """Write the grid (see the module docstring) to ``path``, columns headed image, truth, and the labels."""
    rows = prediction_rows(weights, data, indices)
    height, width = rows[0][0].shape[:2]
    titles = ["image", "ground truth", *weights]
    canvas = Image.new("RGB", (len(titles) * (width + GAP), HEADER + len(rows) * (height + GAP)), (40, 40, 40))
    draw = ImageDraw.Draw(canvas)
    for c, title in enumerate(titles):
        draw.text((c * (width + GAP) + 2, 2), title, fill=(230, 230, 230))
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            canvas.paste(Image.fromarray(tile), (c * (width + GAP), HEADER + r * (height + GAP)))
    save_png(canvas, path)
