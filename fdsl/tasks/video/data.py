"""Video data: a clip family's categories (Video Perlin Noise on the fly or from a render) for
pre-training, a folder of real videos (UD810, UCF101, HMDB51) for fine-tuning, each clip through the
task's transforms (:mod:`.transforms`). Real videos are decoded, and every one checked, before the run
folder is made."""
from __future__ import annotations

from collections.abc import Callable

from fdsl.data.datasets import formula_datasets
from fdsl.data.videofolders import (VideoClips, VideoFiles, group_split, holdout_split, load_videos, official_split,
                                    scan_video_folder)
from fdsl.errors import check
from fdsl.tasks import PRETRAIN, Data
from fdsl.tasks.video.config import ClipConfig, VideoFolderConfig
from fdsl.tasks.video.transforms import build_transforms


def datasets(config, phase: str, *, progress: bool = False) -> Data:
    train_transform, val_transform = build_transforms(config.augment)
    if phase == PRETRAIN:  # on the fly, or from a render (folder or shards) of the family
        return Data(*formula_datasets(config.data, train_transform=train_transform, val_transform=val_transform,
                                      progress=progress))
    train, val, classes = video_folder_datasets(config.data, config.augment, train_transform=train_transform,
                                                val_transform=val_transform)
    return Data(train, val, classes)


def split_indices(files: VideoFiles, data: VideoFolderConfig) -> tuple[list[int], list[int]]:
    """(training, validation) indices of ``data``'s split (:mod:`fdsl.data.videofolders`)."""
    if data.group is not None:
        return group_split(files, data.group, data.test_group)
    if data.split_dir is not None:
        return official_split(files, data.split_dir, data.split)
    return holdout_split(files, data.holdout)


def video_folder_datasets(data: VideoFolderConfig, augment: ClipConfig, *, train_transform: Callable | None = None,
                          val_transform: Callable | None = None, only_val: bool = False
                          ) -> tuple[VideoClips | None, VideoClips | None, list[str]]:
    """(train, validation or None, classes) of a video folder, every video of the split read (and,
    ``in_memory``, decoded) once; ``only_val`` reads the validation videos alone (``fdsl evaluate``)."""
    data.validate()
    files = scan_video_folder(data.dataset)
    train_idx, val_idx = split_indices(files, data)
    check(bool(train_idx) or only_val, f"the split of {data.dataset!r} leaves no video to train on")
    wanted = val_idx if only_val else sorted(train_idx + val_idx)
    videos = dict(zip(wanted, load_videos([files.paths[i] for i in wanted], short_side=augment.resize,
                                          span=augment.span, why=f"{augment.frames} frames at stride {augment.stride}",
                                          in_memory=data.in_memory)))

    def subset(indices, transform):
        return VideoClips([videos[i] for i in indices], [files.targets[i] for i in indices], files.classes,
                          short_side=augment.resize, transform=transform)

    train = None if only_val else subset(train_idx, train_transform)
    return train, subset(val_idx, val_transform) if val_idx else None, files.classes


def check_video_folder(data: VideoFolderConfig) -> None:
    """Every video of ``data``'s split read as fine-tuning reads it (decoded, at a small size, or only its
    header without ``in_memory``), so that a bad file fails before a study pre-trains; the length a
    clip needs is the recipe's and is checked when the run reads the videos."""
    video_folder_datasets(data, ClipConfig(frames=1, stride=1, size=8, resize=8))
