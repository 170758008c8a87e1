"""A PNG of detections side by side: per held-out image (rows) the ground truth, then the detections
of each set of weights (columns: e.g. scratch and pre-trained), boxes outlined and masks tinted in
their class's colour and named, detections with their score; each tile the whole image, its longer
side ``tile`` pixels. ``photos=False`` draws on grey instead of the image, for pictures that may be
published when the images may not (COCO128's Flickr photos: its README forbids redistributing them)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from fdsl.data.config import DetectionDataConfig
from fdsl.samples.base import class_colours
from fdsl.viz.gallery import GAP, save_png

HEADER = 16
MASK_ALPHA = 0.45
BLANK = 90


def draw_instances(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, names: list[str], *,
                   masks: np.ndarray | None = None, scores: np.ndarray | None = None, tile: int = 256,
                   photo: bool = True) -> np.ndarray:
    """uint8 (h, w, 3), the longer side ``tile``: ``image`` (uint8 (H, W, 3); grey without ``photo``)
    with each instance's mask (bool (N, H, W)) tinted, its box outlined and its class name (and score)
    written on black, in the class's colour."""
    colours = class_colours(labels).astype(np.float32)
    rgb = image.astype(np.float32) if photo else np.full(image.shape, BLANK, np.float32)
    for mask, colour in zip(masks if masks is not None else [], colours):
        rgb[mask] = (1 - MASK_ALPHA) * rgb[mask] + MASK_ALPHA * colour
    height, width = image.shape[:2]
    scale = tile / max(height, width)
    picture = Image.fromarray(rgb.round().astype(np.uint8)).resize((max(1, round(width * scale)),
                                                                     max(1, round(height * scale))))
    draw = ImageDraw.Draw(picture)
    for k, (box, label) in enumerate(zip(np.asarray(boxes, np.float64) * scale, labels)):
        colour = tuple(int(c) for c in colours[k])
        x0, y0, x1, y1 = box.tolist()
        draw.rectangle((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), outline=colour, width=3)
        text = names[int(label)] + (f" {scores[k]:.2f}" if scores is not None else "")
        draw.rectangle(draw.textbbox((x0 + 3, y0 + 3), text), fill=(0, 0, 0))
        draw.text((x0 + 3, y0 + 3), text, fill=colour)
    return np.asarray(picture)


def prediction_rows(weights: dict[str, str | Path], data: DetectionDataConfig, *, count: int, threshold: float,
                    tile: int, photos: bool = True) -> list[list[np.ndarray]]:
    """Per held-out image with objects (the first ``count``): the truth, then each weights' detections
    scoring at least ``threshold``."""
    from fdsl.data.detection import detection_splits
    from fdsl.data.detection_dataset import load_rgb_array
    from fdsl.tasks.detection.data import evaluation_split
    from fdsl.tasks.detection.weights import detect, load_model, saved_model_config
    from fdsl.train.checkpoint import load_weights

    loaded = [load_weights(path) for path in weights.values()]
    models = [(load_model(w), saved_model_config(w).masks, w.config["image_size"]) for w in loaded]
    _, held_out = detection_splits(data)
    names = list(held_out.classes)
    shown = [i for i, image in enumerate(held_out.images) if len(image.labels)][:count]
    rows = []
    for index in shown:
        record = held_out.images[index]
        pixels = load_rgb_array(record.path)
        row = [draw_instances(pixels, record.boxes, record.labels, names, tile=tile, photo=photos,
                              masks=record.mask_array().astype(bool) if record.masks is not None else None)]
        for model, masks, size in models:
            found = kept(detect(model, evaluation_split(held_out, size, masks)[index]), threshold)
            row.append(draw_instances(pixels, found["boxes"], found["labels"], names, scores=found["scores"],
                                      masks=found.get("masks"), tile=tile, photo=photos))
        rows.append(row)
    return rows


def kept(detections: dict[str, Any], threshold: float) -> dict[str, np.ndarray]:
    """The detections scoring at least ``threshold``, as numpy (masks thresholded at 0.5)."""
    keep = (detections["scores"] >= threshold).numpy()
    found = {key: detections[key].numpy()[keep] for key in ("boxes", "labels", "scores")}
    if "masks" in detections:
        found["masks"] = detections["masks"][:, 0].numpy()[keep] >= 0.5
    return found


def save_prediction_grid(weights: dict[str, str | Path], data: DetectionDataConfig, path: Path, *, count: int = 4,
                         threshold: float = 0.5, tile: int = 256, photos: bool = True) -> bool:
    """Write the grid (see the module docstring) to ``path``, columns headed "ground truth" and the
    weights' labels; False (nothing written) when no held-out image has an object."""
    rows = prediction_rows(weights, data, count=count, threshold=threshold, tile=tile, photos=photos)
    if not rows:
        return False
    titles = ["ground truth", *(f"{label} (score >= {threshold:g})" for label in weights)]
    heights = [max(tile.shape[0] for tile in row) for row in rows]
    canvas = Image.new("RGB", (len(titles) * (tile + GAP), HEADER + sum(h + GAP for h in heights)), (40, 40, 40))
    draw = ImageDraw.Draw(canvas)
    for c, title in enumerate(titles):
        draw.text((c * (tile + GAP) + 2, 2), title, fill=(230, 230, 230))
    top = HEADER
    for row, height in zip(rows, heights):
        for c, picture in enumerate(row):
            canvas.paste(Image.fromarray(picture), (c * (tile + GAP), top))
        top += height + GAP
    save_png(canvas, path)
    return True
