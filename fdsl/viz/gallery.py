"""A PNG grid of sample categories (rows) and instances (columns), each tile drawn by the
family's sample kind."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fdsl.atomic import atomic_path
from fdsl.formulas.base import Formula

GAP = 2
#: The gap after a column of wide tiles (strips of several pictures), so that strips stand apart.
STRIP_GAP = 8
LABEL_WIDTH = 44


def grid_image(rows: list[list[np.ndarray]], labels: list[str], tile: int) -> Image.Image:
    """Rows of uint8 (tile, width, 3) tiles, each row labelled on its left. A column is as wide as
    its widest tile (square for most kinds; a clip's tile is a strip of frames) and followed by
    :data:`GAP` px, or :data:`STRIP_GAP` after strips."""
    n_cols = max(len(r) for r in rows)
    widths = [max(row[c].shape[1] for row in rows if c < len(row)) for c in range(n_cols)]
    ends = np.cumsum([w + (GAP if w <= tile else STRIP_GAP) for w in widths]).tolist()
    lefts = [LABEL_WIDTH + end for end in [0, *ends[:-1]]]
    width = LABEL_WIDTH + ends[-1]
    height = len(rows) * (tile + GAP)
    canvas = Image.new("RGB", (width, height), (40, 40, 40))
    draw = ImageDraw.Draw(canvas)
    for r, (row, label) in enumerate(zip(rows, labels)):
        y = r * (tile + GAP)
        draw.text((4, y + tile // 2 - 6), label, fill=(230, 230, 230))
        for c, tile_array in enumerate(row):
            canvas.paste(Image.fromarray(tile_array), (lefts[c], y))
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
