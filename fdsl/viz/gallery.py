"""A PNG grid of sample categories (rows) and instances (columns)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fdsl.atomic import atomic_path
from fdsl.formulas.base import Formula

GAP = 2
LABEL_WIDTH = 44


def as_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image


def grid_image(rows: list[list[np.ndarray]], labels: list[str], tile: int) -> Image.Image:
    n_cols = max(len(r) for r in rows)
    width = LABEL_WIDTH + n_cols * (tile + GAP)
    height = len(rows) * (tile + GAP)
    canvas = Image.new("RGB", (width, height), (40, 40, 40))
    draw = ImageDraw.Draw(canvas)
    for r, (row, label) in enumerate(zip(rows, labels)):
        y = r * (tile + GAP)
        draw.text((4, y + tile // 2 - 6), label, fill=(230, 230, 230))
        for c, image in enumerate(row):
            tile_image = Image.fromarray(as_rgb(image)).resize((tile, tile), Image.Resampling.BILINEAR)
            canvas.paste(tile_image, (LABEL_WIDTH + c * (tile + GAP), y))
    return canvas


def formula_gallery(
    formula: Formula, categories: list, *, seed: int, instances: list[int], tile: int = 128
) -> Image.Image:
    """Rows = categories, columns = the given instance indices, rendered on the fly."""
    rows = [[formula.image(params, seed, c, i) for i in instances] for c, params in enumerate(categories)]
    return grid_image(rows, [f"{c:05d}" for c in range(len(categories))], tile)


def save_png(image: Image.Image, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
