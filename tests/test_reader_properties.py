"""The folder readers take any bytes: random ones, valid files cut short or with a byte changed, arrays
of the wrong shape or type. They return data or raise one FdslError of one line (exit status 2 at
the command line), never another exception."""
from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fdsl.data.images import read_rgb
from fdsl.data.pointfolders import read_points
from fdsl.data.segfolders import SegFolderConfig, label_lookup, read_label
from fdsl.data.rendered import RenderedSamples, Stored
from fdsl.data.wds import index_tar, tar_bytes
from fdsl.samples.image import IMAGE
from fdsl.errors import FdslError

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_only_in_one_line(read: Callable[[Path], object], name: str, data: bytes) -> None:
    """``read`` of a file ``name`` holding ``data`` returns, or fails with a one-line FdslError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            read(path)
        except FdslError as error:
            assert "\n" not in str(error) and str(path) in str(error), str(error)


def image_bytes(pixels: np.ndarray, image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format)
    return buffer.getvalue()


def spoiled(valid: bytes):
    """``valid`` cut short, with one byte changed, or both."""
    return st.tuples(st.integers(0, len(valid)), st.integers(0, max(len(valid) - 1, 0)), st.integers(0, 255)).map(
        lambda cut_at_value: _spoil(valid, *cut_at_value))


def _spoil(valid: bytes, cut: int, at: int, value: int) -> bytes:
    data = bytearray(valid)
    if data:
        data[at] = value
    return bytes(data[:cut]) if cut % 2 else bytes(data)  # odd cuts truncate, even ones keep the length


SMALL_PIXELS = {
    "PNG": np.arange(48, dtype=np.uint8).reshape(4, 4, 3),
    "JPEG": np.arange(48, dtype=np.uint8).reshape(4, 4, 3),
    "BMP": np.arange(16, dtype=np.uint8).reshape(4, 4),
    "TIFF": np.arange(16, dtype=np.uint16).reshape(4, 4) * 4000,
    "GIF": np.arange(16, dtype=np.uint8).reshape(4, 4),
}
SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "TIFF": ".tif", "GIF": ".gif"}


# --- images and masks -------------------------------------------------------------------------------
@FAST
@given(data=st.binary(max_size=200), suffix=st.sampled_from(sorted(SUFFIX.values())))
def test_random_bytes_as_an_image(data, suffix):
    read_only_in_one_line(read_rgb, "x" + suffix, data)


@pytest.mark.parametrize("image_format", sorted(SMALL_PIXELS))
@FAST
@given(choice=st.data())
def test_a_spoiled_image(image_format, choice):
    valid = image_bytes(SMALL_PIXELS[image_format], image_format)
    read_only_in_one_line(read_rgb, "x" + SUFFIX[image_format], choice.draw(spoiled(valid)))


LOOKUP = label_lookup(SegFolderConfig(num_classes=3, void=3))


def read_mask(path: Path) -> np.ndarray:
    return read_label(path, LOOKUP, 3)


@FAST
@given(data=st.binary(max_size=200))
def test_random_bytes_as_a_label_map(data):
    read_only_in_one_line(read_mask, "x.png", data)


MASKS = st.one_of(
    st.tuples(st.integers(1, 4), st.integers(1, 4)).map(lambda hw: np.zeros(hw, np.uint8)),
    st.tuples(st.integers(1, 4), st.integers(1, 4)).map(lambda hw: np.full(hw + (3,), 1, np.uint8)),  # RGB
    st.integers(-70000, 70000).map(lambda v: np.full((2, 3), v, np.int32)),  # mode I, any value
    st.integers(0, 65535).map(lambda v: np.full((2, 3), v, np.uint16)),
    st.floats(-1e6, 1e6).map(lambda v: np.full((2, 3), v, np.float32)),  # mode F
)


@FAST
@given(mask=MASKS, choice=st.data())
def test_a_label_map_of_any_shape_and_type_or_spoiled(mask, choice):
    valid = image_bytes(mask, "TIFF")
    read_only_in_one_line(read_mask, "x.tif", valid)
    read_only_in_one_line(read_mask, "x.tif", choice.draw(spoiled(valid)))


# --- point files ------------------------------------------------------------------------------------
def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


ARRAYS = st.one_of(
    st.tuples(st.integers(0, 5), st.integers(0, 5)).map(lambda shape: np.ones(shape, np.float32)),
    st.integers(0, 3).map(lambda n: np.ones((n, 3, 2), np.float64)),
    st.sampled_from([np.float64(1e39), np.ones((2, 3), np.complex64), np.ones((2, 3), bool),
                     np.array([["a", "b", "c"]]), np.zeros(3, dtype=[("x", "f4"), ("y", "f4"), ("z", "f4")]),
                     np.array([[1e300, 0, 0]]), np.array([[np.nan, 0, 0]])]),
)


@FAST
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".npy", ".ply", ".off"]))
def test_random_bytes_as_a_point_file(data, suffix):
    read_only_in_one_line(read_points, "x" + suffix, data)


@FAST
@given(array=ARRAYS, choice=st.data())
def test_a_point_array_of_any_shape_and_type_or_spoiled(array, choice):
    valid = npy_bytes(array)
    read_only_in_one_line(read_points, "x.npy", valid)
    read_only_in_one_line(read_points, "x.npy", choice.draw(spoiled(valid)))


POINT_TEXTS = {
    ".off": b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n",
    ".ply": b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\n"
            b"end_header\n0 0 0\n1 2 3\n",
    "binary.ply": b"ply\nformat binary_little_endian 1.0\nelement vertex 2\nproperty float x\nproperty float y\n"
                  b"property float z\nend_header\n" + np.arange(6, dtype="<f4").tobytes(),
}


@pytest.mark.parametrize("kind", sorted(POINT_TEXTS))
@FAST
@given(choice=st.data())
def test_a_spoiled_off_or_ply_file(kind, choice):
    suffix = ".ply" if kind.endswith("ply") else ".off"
    read_only_in_one_line(read_points, "x" + suffix, choice.draw(spoiled(POINT_TEXTS[kind])))


# --- shard members ----------------------------------------------------------------------------------
def index(path: Path):
    samples = index_tar(path, (".png",), categories=3)
    dataset = RenderedSamples(IMAGE, [Stored(str(path), spans=spans) for _, spans, _ in samples],
                              [label for *_, label in samples], ["0", "1", "2"])
    return [dataset.item(k) for k in range(len(dataset))]


VALID_TAR = tar_bytes([("00000/a.cls", b"0"), ("00000/a.png", image_bytes(SMALL_PIXELS["PNG"], "PNG")),
                       ("00001/b.cls", b"1"), ("00001/b.png", image_bytes(SMALL_PIXELS["BMP"], "PNG"))])


@FAST
@given(choice=st.data())
def test_a_spoiled_shard(choice):
    read_only_in_one_line(index, "000000.tar", choice.draw(spoiled(VALID_TAR)))


@FAST
@given(label=st.binary(max_size=8), image=st.binary(max_size=100))
def test_shard_members_of_any_bytes(label, image):
    read_only_in_one_line(index, "000000.tar", tar_bytes([("00000/a.cls", label), ("00000/a.png", image)]))
