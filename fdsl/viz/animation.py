"""Clips as animations (GIF or WebP, through Pillow), for reports and documentation: people judge
motion by watching it. A grid of clips plays as one animation, so categories can be compared
side by side, frame for frame.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fdsl.atomic import atomic_path
from fdsl.errors import check
from fdsl.formulas.base import Formula
from fdsl.samples.image import resize_rgb
from fdsl.samples.video import FRAME_RATE, check_clip
from fdsl.viz.gallery import GAP, LABEL_WIDTH

#: Animation formats by file suffix: Pillow's format name.
FORMATS = {".gif": "GIF", ".webp": "WEBP"}
BACKGROUND = 40


def clip_grid(rows: list[list[np.ndarray]], size: int, labels: list[str] | None = None) -> np.ndarray:
    """One uint8 RGB clip (T, H, W, 3) of rows of clips, each clip's frames resized to ``size`` x
    ``size``, :data:`GAP` px apart, each row labelled on its left when ``labels`` are given (as in
    :func:`fdsl.viz.gallery.grid_image`); T is the shortest clip's length."""
    check(rows and all(rows), "a clip grid needs at least one clip in every row")
    check(labels is None or len(labels) == len(rows), "a clip grid needs one label per row")
    for row in rows:
        for clip in row:
            check_clip("clip", clip)
    frames = min(len(clip) for row in rows for clip in row)
    columns = max(len(row) for row in rows)
    left = LABEL_WIDTH if labels is not None else 0
    height, width = len(rows) * (size + GAP) - GAP, left + columns * (size + GAP) - GAP
    grid = np.full((frames, height, width, 3), BACKGROUND, np.uint8)
    if labels is not None:
        band = Image.new("RGB", (left, height), (BACKGROUND,) * 3)
        for r, label in enumerate(labels):
            ImageDraw.Draw(band).text((4, r * (size + GAP) + size // 2 - 6), label, fill=(230, 230, 230))
        grid[:, :, :left] = np.asarray(band)
    for r, row in enumerate(rows):
        for c, clip in enumerate(row):
            top, x = r * (size + GAP), left + c * (size + GAP)
            for t in range(frames):
                grid[t, top:top + size, x:x + size] = resize_rgb(clip[t], size)
    return grid


def formula_animation(formula: Formula, categories: list, *, seed: int, instances: list[int],
                      tile: int = 96) -> np.ndarray:
    """:func:`fdsl.viz.gallery.formula_gallery` for clip families, as a clip: rows = categories
    (labelled with their index), columns = the given instances, all playing together."""
    rows = [[formula.sample(params, seed, c, i) for i in instances] for c, params in enumerate(categories)]
    return clip_grid(rows, tile, [f"{c:05d}" for c in range(len(categories))])


def save_animation(clip: np.ndarray, path: Path, *, frame_rate: int = FRAME_RATE, quality: int | None = None) -> None:
    """Write ``clip`` (grey or RGB uint8) as a looping animation, GIF or WebP by ``path``'s suffix.
    WebP is lossless (the clip's exact pixels) unless ``quality`` (1..100) asks for a lossy one,
    several times smaller for noise textures; GIF keeps grey frames exact and quantises RGB ones."""
    path = Path(path)
    check(path.suffix.lower() in FORMATS,
          f"animation {str(path)!r} has an unknown suffix; allowed: {', '.join(FORMATS)}")
    check_clip("clip", clip)
    check(frame_rate >= 1, f"frame_rate = {frame_rate}; allowed: >= 1")
    image_format = FORMATS[path.suffix.lower()]
    check(quality is None or (image_format == "WEBP" and 1 <= quality <= 100),
          f"quality = {quality!r}; allowed: 1..100, for WebP only")
    options = {"lossless": quality is None, **({"quality": quality} if quality else {})} if image_format == "WEBP" else {}
    pictures = [Image.fromarray(frame) for frame in clip]  # grey frames as "L", RGB as "RGB"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        pictures[0].save(tmp, format=image_format, save_all=True, append_images=pictures[1:],
                         duration=round(1000 / frame_rate), loop=0, **options)
