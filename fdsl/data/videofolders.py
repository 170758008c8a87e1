"""Folders of real videos for fine-tuning, in the UCF101 / HMDB51 layout, decoded with PyAV
(torchvision no longer decodes video).

Layout (UD810's 27 clips in ``../shared/data/ud810-actions``; UCF101 and HMDB51 as distributed)::

    root/
      action1/PS7A1P1T1.avi       class folders of videos (.avi, .mp4, .mkv, .webm, .mov)
      action2/...

Class names are the sub-folder names, sorted; a class's videos are sorted by name. Files of other
suffixes are ignored (a README beside the folders). Which videos validate, deterministic and
independent of any seed:

- **a group held out** (:func:`group_split`): a regular expression over the file name whose first
  group (else the whole match) names the video's group; the videos of ``test_group`` validate, the
  others train. UD810's ``PS7A<a>P<p>T<t>.avi`` with ``P(\\d+)`` is leave-one-person-out (its README:
  never split by trial, one person's trials are near-duplicates); UCF101's ``_g(\\d+)_`` are its groups.
- **official split files** (:func:`official_split`): UCF101's ``trainlist0N.txt`` / ``testlist0N.txt``
  (lines ``Class/v_X_g08_c01.avi [label]``) or HMDB51's ``<class>_test_splitN.txt`` (lines
  ``<video> <0|1|2>``: 1 trains, 2 tests, 0 is unused). Every listed video must exist; videos in
  no list are left out.
- otherwise the last ``holdout`` share of each class (``round(n * holdout)`` videos).

Decoding (:func:`decode_video`): each video is decoded from its start (UD810's Xvid clips have one key
frame, their first) into RGB frames whose shorter side is resized to ``short_side`` by FFmpeg's area
filter, as PyAV's ``to_ndarray`` does it. The pixels follow from the FFmpeg inside the ``av`` wheel.

Bad input ends in one :class:`fdsl.errors.FdslError` naming the file, before anything is written: a
root without class folders, a class folder without videos, a video that cannot be opened or decoded,
one with no video stream, one that decodes to fewer frames than its header lists (cut short), one
shorter than a clip's span, a split file naming a video that is not there.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from fdsl.errors import FdslError, check

log = logging.getLogger(__name__)

SUFFIXES = (".avi", ".mp4", ".mkv", ".webm", ".mov")
#: HMDB51's split files: 1 trains, 2 tests, 0 is in neither.
HMDB_TRAIN, HMDB_TEST = "1", "2"


@dataclasses.dataclass
class VideoFiles:
    """The videos of a folder in order (class, then name), their class indices and the class names."""

    root: Path
    paths: list[Path]
    targets: list[int]
    classes: list[str]


# --- the folder and its splits ------------------------------------------------------------------------
def scan_video_folder(root: str | Path) -> VideoFiles:
    """Every video of the class folders of ``root``; a one-line error for a missing root, no class
    folder, or a class folder without videos."""
    root = Path(root)
    check(root.is_dir(), f"video folder {str(root)!r} does not exist or is not a directory")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    check(bool(classes), f"video folder {str(root)!r} holds no class folders (expected root/<class>/<video>)")
    paths, targets = [], []
    for label, name in enumerate(classes):
        found = sorted(p for p in (root / name).iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
        check(bool(found), f"class folder {str(root / name)!r} holds no video ({', '.join(SUFFIXES)})")
        paths += found
        targets += [label] * len(found)
    return VideoFiles(root, paths, targets, classes)


def holdout_split(files: VideoFiles, holdout: float) -> tuple[list[int], list[int]]:
    """(training, validation) indices: the last ``round(n * holdout)`` videos of each class validate."""
    from fdsl.data.datasets import split_per_class

    return split_per_class(files.targets, lambda n: min(int(round(n * holdout)), n - 1))


def group_of(path: Path, pattern: re.Pattern) -> str:
    match = pattern.search(path.name)
    check(match is not None, f"video {str(path)!r}: its name does not match data.group '{pattern.pattern}'")
    return match.group(1) if pattern.groups else match.group(0)


def group_split(files: VideoFiles, group: str, test_group: str) -> tuple[list[int], list[int]]:
    """(training, validation) indices: the videos whose group (see the module docstring) is ``test_group`` validate."""
    pattern = re.compile(group)
    groups = [group_of(path, pattern) for path in files.paths]
    found = sorted(set(groups))
    check(test_group in found, f"data.test_group {test_group!r} is none of the groups of {str(files.root)!r} by "
                               f"'{group}': {', '.join(found)}")
    check(len(found) > 1, f"{str(files.root)!r} has one group by '{group}' ({found[0]}): nothing would be left to train on")
    val = [i for i, g in enumerate(groups) if g == test_group]
    return [i for i, g in enumerate(groups) if g != test_group], val


def official_split(files: VideoFiles, split_dir: str | Path, split: int) -> tuple[list[int], list[int]]:
    """(training, validation) indices from UCF101's or HMDB51's split files (see the module docstring)."""
    split_dir = Path(split_dir)
    check(split_dir.is_dir(), f"data.split_dir {str(split_dir)!r} does not exist or is not a directory")
    index = {path.relative_to(files.root).as_posix(): i for i, path in enumerate(files.paths)}
    ucf = split_dir / f"trainlist{split:02d}.txt", split_dir / f"testlist{split:02d}.txt"
    if ucf[0].is_file() or ucf[1].is_file():
        return tuple(listed_videos(list_file, index) for list_file in ucf)
    hmdb = sorted(split_dir.glob(f"*_test_split{split}.txt"))
    check(bool(hmdb), f"data.split_dir {str(split_dir)!r} holds neither UCF101's {ucf[0].name} and {ucf[1].name} nor "
                      f"HMDB51's <class>_test_split{split}.txt")
    train, val = [], []
    for list_file in hmdb:
        name = list_file.name.removesuffix(f"_test_split{split}.txt")
        for video, role in list_lines(list_file, fields=2):
            if role in (HMDB_TRAIN, HMDB_TEST):
                (train if role == HMDB_TRAIN else val).append(video_index(f"{name}/{video}", index, list_file))
    return sorted(train), sorted(val)


def listed_videos(list_file: Path, index: dict[str, int]) -> list[int]:
    check(list_file.is_file(), f"split file {str(list_file)!r} does not exist")
    return sorted(video_index(line[0], index, list_file) for line in list_lines(list_file, fields=1))


def list_lines(list_file: Path, *, fields: int) -> list[list[str]]:
    """The non-empty lines of a split file, each with at least ``fields`` fields."""
    lines = [line.split() for line in list_file.read_text().splitlines() if line.strip()]
    for number, line in enumerate(lines, 1):
        check(len(line) >= fields, f"split file {str(list_file)!r}, line {number}: {' '.join(line)!r} has fewer than "
                                   f"{fields} fields")
    return lines


def video_index(relative: str, index: dict[str, int], list_file: Path) -> int:
    check(relative in index, f"split file {str(list_file)!r} lists {relative!r}, which is not a video of the folder")
    return index[relative]


# --- decoding -------------------------------------------------------------------------------------
def output_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the shorter side at ``short_side`` and the aspect ratio kept."""
    scale = short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def decode_video(path: Path, short_side: int) -> np.ndarray:
    """uint8 (T, H, W, 3) RGB frames of the video, the shorter side at ``short_side``; one line naming
    the file for anything that goes wrong."""
    import av

    try:
        with av.open(str(path)) as container:
            check(bool(container.streams.video), f"video {str(path)!r} has no video stream")
            stream = container.streams.video[0]
            listed = stream.frames  # 0 when the container does not say
            width, height = output_size(stream.codec_context.width, stream.codec_context.height, short_side)
            frames = [frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
                      for frame in container.decode(stream)]
    except FdslError:
        raise
    except (av.FFmpegError, OSError, ValueError, RuntimeError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise FdslError(f"video {str(path)!r} cannot be decoded ({reason})") from None
    check(bool(frames), f"video {str(path)!r} holds no frame")
    check(len(frames) >= listed, f"video {str(path)!r} decodes to {len(frames)} of the {listed} frames its header "
                                 "lists: it is cut short or corrupt")
    return np.stack(frames)


def listed_frames(path: Path) -> int:
    """The frame count of a video's header, decoding it when the header does not say."""
    import av

    try:
        with av.open(str(path)) as container:
            check(bool(container.streams.video), f"video {str(path)!r} has no video stream")
            listed = container.streams.video[0].frames
    except FdslError:
        raise
    except (av.FFmpegError, OSError, ValueError, RuntimeError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise FdslError(f"video {str(path)!r} cannot be opened ({reason})") from None
    return listed or len(decode_video(path, 8))


def check_length(path: Path, frames: int, span: int, why: str) -> None:
    check(frames >= span, f"video {str(path)!r} has {frames} frames; a clip spans {span} ({why})")


def as_video(frames: np.ndarray) -> Any:
    """uint8 (T, H, W, 3) frames as torchvision's ``tv_tensors.Video`` (T, 3, H, W)."""
    import torch
    from torchvision import tv_tensors

    return tv_tensors.Video(torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2))))


class VideoClips(Dataset):
    """``(transform(video), class)`` of videos: each a ``tv_tensors.Video`` (T, 3, H, W) uint8 decoded
    once up front (``videos``) or, for a :class:`Path`, decoded when drawn."""

    def __init__(self, videos: Sequence[Any], targets: Sequence[int], classes: Sequence[str], *, short_side: int,
                 transform: Callable | None = None):
        self.videos, self.targets, self.classes = list(videos), list(targets), list(classes)
        self.short_side, self.transform = short_side, transform

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int):
        video = self.videos[index]
        if isinstance(video, Path):
            video = as_video(decode_video(video, self.short_side))
        return (self.transform(video) if self.transform else video), self.targets[index]


def load_videos(paths: Sequence[Path], *, short_side: int, span: int, why: str, in_memory: bool) -> list[Any]:
    """Every video decoded (``in_memory``) or its header read, each checked to span a clip; the
    videos as :class:`VideoClips` takes them."""
    start = time.perf_counter()
    if not in_memory:
        for path in paths:
            check_length(path, listed_frames(path), span, why)
        return list(paths)
    videos = []
    for path in paths:
        frames = decode_video(path, short_side)
        check_length(path, len(frames), span, why)
        videos.append(as_video(frames))
    size = sum(v.numel() for v in videos)
    log.info("decoded %d videos (%d frames, %.1f MB at %d px) in %.1f s", len(videos), sum(len(v) for v in videos),
             size / 1e6, short_side, time.perf_counter() - start)
    return videos
