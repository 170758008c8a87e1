"""The image-and-mask kind (for segmentation, e.g. SegRCDB): an image as in
:mod:`fdsl.samples.image` and a uint8 (H, W) per-pixel class mask, 0 the background and
:data:`IGNORE` (255) the pixels a loss ignores; stored as ``<stem>.png`` and ``<stem>.mask.png``.

The dataset item is ``{"image": PIL RGB, "mask": PIL "L"}``, ready for paired transforms; the
gallery tile is the image with each class coloured over it (ignored pixels white).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from fdsl.errors import FdslError, check
from fdsl.samples.base import SampleKind, class_colours
from fdsl.samples.image import as_rgb, check_image, decode_png, encode_png, resize_rgb

IGNORE = 255
#: How much of a class's colour covers the image where the mask holds that class.
OVERLAY_ALPHA = 0.6


@dataclass(frozen=True)
class ImageMask:
    image: np.ndarray  # uint8 (H, W) or (H, W, 3)
    mask: np.ndarray  # uint8 (H, W): class per pixel, 0 background, 255 ignore


def overlay(sample: ImageMask) -> np.ndarray:
    """uint8 (H, W, 3): the image, with every non-background pixel blended with its class colour."""
    rgb = as_rgb(sample.image).astype(np.float32)
    colours = class_colours(sample.mask).astype(np.float32)
    colours[sample.mask == IGNORE] = 255.0
    covered = (sample.mask != 0)[..., None]
    blended = np.where(covered, (1 - OVERLAY_ALPHA) * rgb + OVERLAY_ALPHA * colours, rgb)
    return blended.round().astype(np.uint8)


class ImageMaskKind(SampleKind):
    name = "image+mask"
    suffixes = (".png", ".mask.png")

    def validate(self, sample: Any) -> None:
        if not isinstance(sample, ImageMask):
            raise FdslError(f"an image+mask sample is a {type(sample).__name__}; expected ImageMask")
        check_image("image", sample.image)
        check_image("mask", sample.mask)
        check(sample.mask.ndim == 2, f"mask has shape {sample.mask.shape}; expected (H, W)")
        check(sample.mask.shape == sample.image.shape[:2],
              f"mask has shape {sample.mask.shape}; expected the image's {sample.image.shape[:2]}")

    def encode(self, sample: ImageMask) -> list[bytes]:
        return [encode_png(sample.image), encode_png(sample.mask)]

    def decode(self, blobs: list[bytes]) -> ImageMask:
        return ImageMask(decode_png(blobs[0]), decode_png(blobs[1]))

    def training_item(self, sample: ImageMask) -> dict[str, Image.Image]:
        return {"image": Image.fromarray(sample.image).convert("RGB"), "mask": Image.fromarray(sample.mask)}

    def tile(self, sample: ImageMask, size: int) -> np.ndarray:
        return resize_rgb(overlay(sample), size)

    def card_fields(self, formula: Any) -> dict[str, Any]:
        return {"image_mode": formula.image_mode, "mask_ignore": IGNORE}


IMAGE_MASK = ImageMaskKind()
