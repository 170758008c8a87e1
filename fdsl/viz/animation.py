"""Clips as animations (GIF or WebP, through Pillow), for reports and documentation: people judge
motion by watching it. A grid of clips plays as one animation, so categories can be compared
side by side, frame for frame.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fdsl.atomic import atomic_path
from fdsl.errors import check
from fdsl.samples.image import resize_rgb
from fdsl.samples.video import FRAME_RATE, check_clip

#: Animation formats by file suffix, with Pillow's save options (WebP lossless: the clip's exact pixels).
FORMATS = {".gif": ("GIF", {"optimize": False}), ".webp": ("WEBP", {"lossless": True})}
GAP = 2
BACKGROUND = 40


def clip_grid(rows: list[list[np.ndarray]], size: int) -> np.ndarray:
    """One uint8 RGB clip (T, H, W, 3) of rows of clips, each clip's frames resized to ``size`` x
    ``size``, :data:`GAP` px apart; T is the shortest clip's length."""
    check(rows and all(rows), "a clip grid needs at least one clip in every row")
    for row in rows:
        for clip in row:
            check_clip("clip", clip)
    frames = min(len(clip) for row in rows for clip in row)
    columns = max(len(row) for row in rows)
    grid = np.full((frames, len(rows) * (size + GAP) - GAP, columns * (size + GAP) - GAP, 3), BACKGROUND, np.uint8)
    for r, row in enumerate(rows):
        for c, clip in enumerate(row):
            top, left = r * (size + GAP), c * (size + GAP)
            for t in range(frames):
                grid[t, top:top + size, left:left + size] = resize_rgb(clip[t], size)
    return grid


def save_animation(clip: np.ndarray, path: Path, *, frame_rate: int = FRAME_RATE) -> None:
    """Write ``clip`` (grey or RGB uint8) as a looping animation, GIF or WebP by ``path``'s suffix."""
    path = Path(path)
    check(path.suffix.lower() in FORMATS,
          f"animation {str(path)!r} has an unknown suffix; allowed: {', '.join(FORMATS)}")
    check_clip("clip", clip)
    check(frame_rate >= 1, f"frame_rate = {frame_rate}; allowed: >= 1")
    image_format, options = FORMATS[path.suffix.lower()]
    pictures = [Image.fromarray(frame) for frame in clip]  # grey frames as "L", RGB as "RGB"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        pictures[0].save(tmp, format=image_format, save_all=True, append_images=pictures[1:],
                         duration=round(1000 / frame_rate), loop=0, **options)
