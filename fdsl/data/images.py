"""Reading image files, the one way every training reader does it (ImageFolders, segmentation
folders, their label maps, rendered scenes): the whole file is decoded at once, since PIL reads
lazily and a truncated file would pass a look at its header and fail minutes into training; any
file PIL cannot read ends in one :class:`FdslError` naming it.

Pixels become RGB as torchvision's default loader makes them (``convert("RGB")``), except 16-bit
greys, which that conversion clips to white: they are scaled to 8 bits (``round(v * 255 / 65535)``).
Images of 32-bit integer or float pixels have no range to scale from, and are refused.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from fdsl.errors import FdslError

#: What PIL raises for a file it cannot read as an image (not one, truncated, too large, a bad header;
#: a header spoiled into a huge size can fail the allocation).
IMAGE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error, MemoryError,
                Image.DecompressionBombError)
#: PIL modes of 16-bit greys (PNG, TIFF).
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def read_rgb(path: str | Path | BinaryIO, *, what: str = "image file", name: str | None = None,
             hint: str = "") -> Image.Image:
    """The image in ``path`` (a file name, or an open file called ``name``) as a decoded PIL RGB
    image; ``what`` names the file and ``hint`` ends the message of an error."""
    shown = str(path) if name is None else name
    try:
        with Image.open(path) as image:
            image.load()
            return as_rgb(image, shown, what, hint)
    except FdslError:  # a ValueError, but about the pixels, and said already
        raise
    except IMAGE_ERRORS as error:
        raise FdslError(f"{what} {shown!r} cannot be read ({reason(error)}){hint}") from None


def read_array(path: str | Path, *, what: str = "label map") -> np.ndarray:
    """The pixel values in ``path`` as stored (label maps: one class id per pixel)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image)
    except IMAGE_ERRORS as error:
        raise FdslError(f"{what} {str(path)!r} cannot be read ({reason(error)})") from None


def as_rgb(image: Image.Image, path: str | Path, what: str, hint: str = "") -> Image.Image:
    if image.mode in SIXTEEN_BIT or (image.mode == "I" and image.format == "PNG"):  # older PIL: 16-bit PNG as I
        return Image.fromarray(scaled_to_8_bits(np.asarray(image), path, what, hint)).convert("RGB")
    if image.mode in ("I", "F"):
        raise FdslError(f"{what} {str(path)!r} holds 32-bit {'integer' if image.mode == 'I' else 'float'} pixels "
                        f"(mode {image.mode}), which have no range to read as colours: save it with 8 or 16 bits{hint}")
    return image.convert("RGB")


def scaled_to_8_bits(values: np.ndarray, path: str | Path, what: str, hint: str = "") -> np.ndarray:
    wide = values.astype(np.int64)
    if wide.size and (wide.min() < 0 or wide.max() > 65535):
        raise FdslError(f"{what} {str(path)!r} holds pixel values outside 0..65535 ({int(wide.min())}.."
                        f"{int(wide.max())}): save it with 8 or 16 bits{hint}")
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def reason(error: BaseException) -> str:
    """Why PIL could not read a file, on one line."""
    if isinstance(error, UnidentifiedImageError):
        return "not an image format PIL knows"
    if isinstance(error, OSError) and error.strerror:  # the OS's words, without the file name said already
        return error.strerror
    text = " ".join(str(error).split())
    return text or type(error).__name__
