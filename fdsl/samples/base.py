"""The contract of a sample kind, and the small helpers its modules share.

A kind encodes one sample as a fixed list of files, ``<stem><suffix>`` for each of its
``suffixes`` (the stem is the family's, e.g. FractalDB's ``00000_00_count_0_flip0``). Those
files' bytes are what the dataset card hashes, so equal bytes mean equal samples.
"""
from __future__ import annotations

import hashlib
import io
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fdsl.atomic import write_bytes_atomic
from fdsl.errors import FdslError, check


class SampleKind(ABC):
    """What one sample is. Subclasses set ``name`` and ``suffixes`` and implement the rest."""

    name: ClassVar[str]
    #: One file per suffix, written in this order after ``<stem>``.
    suffixes: tuple[str, ...]

    @abstractmethod
    def validate(self, sample: Any) -> None:
        """Raise :class:`FdslError` naming the first bad shape, dtype or value."""

    @abstractmethod
    def encode(self, sample: Any) -> list[bytes]:
        """The bytes of each file, in ``suffixes`` order (deterministic: they are hashed)."""

    @abstractmethod
    def decode(self, blobs: list[bytes]) -> Any:
        """The sample back from its files' bytes (the inverse of :meth:`encode`)."""

    @abstractmethod
    def training_item(self, sample: Any) -> Any:
        """What the on-the-fly dataset hands to a transform."""

    @abstractmethod
    def tile(self, sample: Any, size: int) -> np.ndarray:
        """A gallery tile: uint8 (size, width, 3); square (width = size) unless the kind shows
        several pictures side by side (a clip's frames)."""

    def card_fields(self, formula: Any) -> dict[str, Any]:
        """Extra dataset-card entries describing the family's samples (default: none)."""
        return {}

    def file_names(self, stem: str) -> list[str]:
        return [stem + suffix for suffix in self.suffixes]

    def write(self, sample: Any, directory: Path, stem: str) -> dict[str, str]:
        """Validate, then write each file atomically; returns file name -> sha256 of its bytes."""
        self.validate(sample)
        digests = {}
        for name, data in zip(self.file_names(stem), self.encode(sample)):
            write_bytes_atomic(Path(directory) / name, data)
            digests[name] = hashlib.sha256(data).hexdigest()
        return digests

    def read(self, directory: Path, stem: str) -> Any:
        paths = [Path(directory) / name for name in self.file_names(stem)]
        missing = [str(p) for p in paths if not p.is_file()]
        check(not missing, f"{self.name} sample {stem!r} is incomplete: {', '.join(missing)} missing")
        return self.decode([p.read_bytes() for p in paths])


# --- helpers for kinds ------------------------------------------------------------------------
def check_array(what: str, value: Any, *, ndim: int | tuple[int, ...], dtype: str | None = None,
                integer: bool = False, width: int | None = None) -> None:
    """``value`` is an ndarray with ``ndim`` dimensions (one of them, for a tuple), of ``dtype``
    (or of any integer dtype with ``integer``), last axis ``width`` when given, finite if float."""
    if not isinstance(value, np.ndarray):
        raise FdslError(f"{what} is a {type(value).__name__}; expected a numpy array")
    if dtype is not None:
        check(value.dtype == dtype, f"{what} has dtype {value.dtype}; expected {dtype}")
    if integer:
        check(value.dtype.kind in "iu", f"{what} has dtype {value.dtype}; expected an integer dtype")
    allowed = ndim if isinstance(ndim, tuple) else (ndim,)
    dims = " or ".join(map(str, allowed))
    check(value.ndim in allowed, f"{what} has shape {value.shape}; expected {dims} dimensions")
    check(width is None or value.shape[-1] == width, f"{what} has shape {value.shape}; expected {width} columns")
    check(value.dtype.kind != "f" or bool(np.isfinite(value).all()), f"{what} holds non-finite values")


def check_rows(what: str, value: np.ndarray, rows: int) -> None:
    check(value.shape[0] == rows, f"{what} has {value.shape[0]} rows; expected {rows}")


def encode_npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def decode_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def class_colours(labels: np.ndarray) -> np.ndarray:
    """A fixed, distinct-enough uint8 RGB colour per integer label (shape ``labels.shape + (3,)``)."""
    labels = np.asarray(labels, dtype=np.int64)
    # Multiplying by odd constants modulo 256 spreads neighbouring labels over the colour cube.
    channels = [(labels * 97 + 60) % 256, (labels * 57 + 140) % 256, (labels * 23 + 200) % 256]
    return np.stack(channels, axis=-1).astype(np.uint8)
