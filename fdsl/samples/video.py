"""The video kind: a clip of T frames, uint8 (T, H, W) grey or (T, H, W, 3) RGB (e.g. Video Perlin
Noise). Files:

- ``<stem>.npy``: the clip itself, the exact bytes. The dataset card hashes it, it is what
  :meth:`VideoKind.decode` reads back, and its bytes follow from the array alone (NumPy's format).
- ``<stem>.mp4`` for ``VideoKind(mp4=True)`` only: a viewing copy, H.264 (libx264, CRF
  :data:`MP4_CRF`, yuv420p, :data:`FRAME_RATE` frames per second) through PyAV, derived from the
  array and not read back. It is lossy, so it is never the data. It is off by default because its
  bytes depend on the FFmpeg and libx264 inside PyAV's wheel, not on the array alone. When it is
  written, the card hashes it like every file (so ``fdsl verify`` checks it): equal for any
  ``--workers`` and ``--shard`` with the ``av`` of constraints.txt, because the encoder runs on one
  thread with FFmpeg's bitexact flags (no version string). It was not compared across CPUs. The
  colour conversion is ours, integer arithmetic in NumPy (BT.601 limited range, 2 x 2 chroma
  averages), so FFmpeg's swscale, whose SIMD paths may round differently, is not used. H.264 in
  4:2:0 needs even sizes: an odd last row or column is repeated.

The training item is a uint8 torch tensor (T, C, H, W) with C = 3 (grey clips get three equal
channels, as the image kind makes RGB of grey images), wrapped as ``torchvision.tv_tensors.Video``:
that is what torchvision's transforms v2 take as a video ((..., T, C, H, W)), and what its video
models want after the usual float conversion and (C, T, H, W) permute. Torch is imported only
there, so rendering never imports it. The gallery tile is a strip: :data:`STRIP_FRAMES` frames
spread evenly over the clip (first to last), side by side, each resized to the tile's height,
with a dark 1-px line between them, so a gallery row shows how fast the clip changes.
"""
from __future__ import annotations

import io
from typing import Any

import numpy as np

from fdsl.errors import check
from fdsl.samples.base import SampleKind, check_array, decode_npy, encode_npy
from fdsl.samples.image import resize_rgb

#: Frames drawn in a gallery tile, spread evenly from the first to the last.
STRIP_FRAMES = 4
#: Grey value of the 1-px line between the frames of a strip.
STRIP_LINE = 40
#: Playback rate of the viewing copies (the .mp4, animations): a viewing choice, the arrays have no time unit.
FRAME_RATE = 8
#: libx264's constant rate factor: 18 is about visually lossless.
MP4_CRF = 18


def check_clip(what: str, clip: Any) -> None:
    check_array(what, clip, dtype="uint8", ndim=(3, 4))
    check(clip.ndim == 3 or clip.shape[3] == 3, f"{what} has shape {clip.shape}; expected (T, H, W) or (T, H, W, 3)")
    check(min(clip.shape[:3]) >= 1, f"{what} has shape {clip.shape}; expected at least one frame of at least 1 x 1")


def rgb_clip(clip: np.ndarray) -> np.ndarray:
    """(T, H, W, 3): a grey clip's frames as three equal channels, an RGB clip as it is."""
    return np.repeat(clip[..., None], 3, axis=-1) if clip.ndim == 3 else clip


def strip_indices(frames: int, count: int = STRIP_FRAMES) -> list[int]:
    """``min(count, frames)`` frame indices spread evenly from the first frame to the last."""
    count = min(count, frames)
    if count == 1:
        return [0]
    return [round(k * (frames - 1) / (count - 1)) for k in range(count)]


def frame_strip(clip: np.ndarray, size: int) -> np.ndarray:
    """uint8 (size, n * size + n - 1, 3): frames of :func:`strip_indices` side by side."""
    frames = [resize_rgb(clip[k], size) for k in strip_indices(len(clip))]
    line = np.full((size, 1, 3), STRIP_LINE, np.uint8)
    parts = [part for frame in frames for part in (line, frame)][1:]
    return np.concatenate(parts, axis=1)


# --- the .mp4 viewing copy ----------------------------------------------------------------------
def yuv420_planes(frame: np.ndarray) -> np.ndarray:
    """One uint8 RGB frame (H, W, 3), H and W even, as PyAV's yuv420p array: the Y, U and V planes
    one after the other, as (H * 3 / 2, W) rows. BT.601 limited range in integers
    (Y = 16 + (66 R + 129 G + 25 B + 128) >> 8, ...), chroma from the rounded mean of each 2 x 2 block."""
    r, g, b = (frame[..., k].astype(np.int32) for k in range(3))
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128
    v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128
    height, width = y.shape

    def quarter(plane: np.ndarray) -> np.ndarray:
        blocks = plane.reshape(height // 2, 2, width // 2, 2).sum(axis=(1, 3))
        return (blocks + 2) >> 2

    planes = [y, quarter(u), quarter(v)]
    return np.concatenate([plane.ravel() for plane in planes]).astype(np.uint8).reshape(-1, width)


def even_sized(clip: np.ndarray) -> np.ndarray:
    """RGB ``clip`` (T, H, W, 3) with its last row and column repeated where H or W is odd."""
    pad_rows, pad_columns = clip.shape[1] % 2, clip.shape[2] % 2
    return np.pad(clip, ((0, 0), (0, pad_rows), (0, pad_columns), (0, 0)), mode="edge")


def encode_mp4(clip: np.ndarray, *, frame_rate: int = FRAME_RATE, crf: int = MP4_CRF) -> bytes:
    """The H.264 .mp4 of a grey or RGB uint8 clip (see the module docstring), deterministic for one PyAV build."""
    import av

    rgb = even_sized(rgb_clip(clip))
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        container.flags |= av.container.Flags.bitexact.value  # no muxer version string
        stream = container.add_stream("libx264", rate=frame_rate)
        stream.width, stream.height, stream.pix_fmt = rgb.shape[2], rgb.shape[1], "yuv420p"
        stream.codec_context.thread_count = 1  # x264's output depends on its thread count
        stream.codec_context.flags |= av.codec.context.Flags.bitexact.value
        stream.options = {"crf": str(crf)}
        for frame in rgb:
            for packet in stream.encode(av.VideoFrame.from_ndarray(yuv420_planes(frame), format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():  # flush the encoder's delayed frames
            container.mux(packet)
    return buffer.getvalue()


def mp4_encoder() -> str:
    """What decides the .mp4 bytes besides the array: PyAV's version and the libavcodec inside it."""
    import av

    return f"PyAV {av.__version__}, libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))}, libx264"


class VideoKind(SampleKind):
    name = "video"

    def __init__(self, *, mp4: bool = False):
        self.mp4 = mp4
        self.suffixes = (".npy", ".mp4") if mp4 else (".npy",)

    def validate(self, sample: Any) -> None:
        check_clip("clip", sample)

    def encode(self, sample: np.ndarray) -> list[bytes]:
        return [encode_npy(sample)] + ([encode_mp4(sample)] if self.mp4 else [])

    def decode(self, blobs: list[bytes]) -> np.ndarray:
        return decode_npy(blobs[0])  # the .mp4 is derived

    def training_item(self, sample: np.ndarray) -> Any:
        import torch
        from torchvision import tv_tensors

        frames = np.ascontiguousarray(rgb_clip(sample).transpose(0, 3, 1, 2))  # (T, C, H, W)
        return tv_tensors.Video(torch.from_numpy(frames))

    def tile(self, sample: np.ndarray, size: int) -> np.ndarray:
        return frame_strip(sample, size)

    def card_fields(self, formula: Any) -> dict[str, Any]:
        if not self.mp4:
            return {"mp4": False}
        return {"mp4": True, "mp4_frame_rate": FRAME_RATE, "mp4_crf": MP4_CRF, "mp4_encoder": mp4_encoder()}


VIDEO = VideoKind()
MP4_VIDEO = VideoKind(mp4=True)
