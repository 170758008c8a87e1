"""The image kind: uint8 (H, W) grey or (H, W, 3) RGB, stored as ``<stem>.png``.

The dataset item is a PIL RGB image (grey images become three equal channels, as torchvision's
``ImageFolder`` reads them); the gallery tile is the image resized bilinearly.
"""
from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from fdsl.errors import check
from fdsl.samples.base import SampleKind, check_array

# Level 1 is lossless like every level, and encodes about 2x faster than the default 6.
PNG_COMPRESS_LEVEL = 1


def encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture)


def check_image(what: str, image: Any) -> None:
    check_array(what, image, dtype="uint8", ndim=(2, 3))
    check(image.ndim == 2 or image.shape[2] == 3, f"{what} has shape {image.shape}; expected (H, W) or (H, W, 3)")


def as_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image


def resize_rgb(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` as uint8 (size, size, 3), resized bilinearly."""
    return np.asarray(Image.fromarray(as_rgb(image)).resize((size, size), Image.Resampling.BILINEAR))


class ImageKind(SampleKind):
    name = "image"
    suffixes = (".png",)

    def validate(self, sample: Any) -> None:
        check_image("image", sample)

    def encode(self, sample: np.ndarray) -> list[bytes]:
        return [encode_png(sample)]

    def decode(self, blobs: list[bytes]) -> np.ndarray:
        return decode_png(blobs[0])

    def training_item(self, sample: np.ndarray) -> Image.Image:
        return Image.fromarray(sample).convert("RGB")

    def tile(self, sample: np.ndarray, size: int) -> np.ndarray:
        return resize_rgb(sample, size)

    def card_fields(self, formula: Any) -> dict[str, Any]:
        return {"image_mode": formula.image_mode}


IMAGE = ImageKind()
