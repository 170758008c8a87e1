"""A PNG grid of sample categories (rows) and instances (columns), each tile drawn by the
family's sample kind."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fdsl.atomic import atomic_path
from fdsl.formulas.base import Formula

GAP = 2
LABEL_WIDTH = 44


def grid_image(rows: list[list[np.ndarray]], labels: list[str], tile: int) -> Image.Image:
    """Rows of uint8 (tile, tile, 3) tiles, each row labelled on its left."""
    n_cols = max(len(r) for r in rows)
    width = LABEL_WIDTH + n_cols * (tile + GAP)
    height = len(rows) * (tile + GAP)
    canvas = Image.new("RGB", (width, height), (40, 40, 40))
    draw = ImageDraw.Draw(canvas)
    for r, (row, label) in enumerate(zip(rows, labels)):
        y = r * (tile + GAP)
        draw.text((4, y + tile // 2 - 6), label, fill=(230, 230, 230))
        for c, tile_array in enumerate(row):
            canvas.paste(Image.fromarray(tile_array), (LABEL_WIDTH + c * (tile + GAP), y))
    return canvas


def formula_gallery(
    formula: Formula, categories: list, *, seed: int, instances: list[int], tile: int = 128
) -> Image.Image:
    """Rows = categories, columns = the given instance indices, rendered on the fly."""
    rows = [[formula.kind.tile(formula.sample(params, seed, c, i), tile) for i in instances]
            for c, params in enumerate(categories)]
    return grid_image(rows, [f"{c:05d}" for c in range(len(categories))], tile)


def save_png(image: Image.Image, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
