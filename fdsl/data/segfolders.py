"""Real segmentation data: image folders paired with label-map folders (CamVid's layout).

Layout (the SegNet release of CamVid, Badrinarayanan et al., TPAMI 2017; ``../shared/data/camvid``)::

    <root>/train/<name>.png        RGB (or any mode PIL reads) training images
    <root>/trainannot/<name>.png   the label map of each: one class id per pixel, mode "L" or "P",
                                   the same name and the same size as its image
    <root>/val/...,  <root>/valannot/...   the validation split, the same way

Bring ADE20K or Cityscapes the same way: put (or link) the images under ``train/`` and ``val/``
and their label maps under ``trainannot/`` and ``valannot/`` with the same file stems (the
extensions may differ, e.g. ``.jpg`` images with ``.png`` labels), then set ``num_classes`` and
the ids to ignore:

- CamVid: ``num_classes 11``, ``void 11`` (11 = Unlabelled, ignored in loss and score, the SegNet
  benchmark's convention; the README of the data folder).
- Cityscapes: label maps of ``trainId`` values (``*_labelTrainIds.png`` from cityscapesscripts),
  ``num_classes 19``; its ignored pixels are 255 already.
- ADE20K (SceneParsing): ``num_classes 150``, ``reduce_zero_label true`` (mmsegmentation's option:
  0 = "other" becomes 255, class k becomes k - 1).

A label value is a class (``0 .. num_classes - 1``), :data:`IGNORE` (255), or ``void``
(mapped to 255); anything else is an error naming the file. Every label map is read once when
the dataset is built, so bad data stops the run before anything is written.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from fdsl.data.config import SegFolderConfig
from fdsl.data.images import read_array, read_rgb
from fdsl.errors import FdslError, check
from fdsl.samples.image_mask import IGNORE

#: Files that count as images or label maps (lower-case suffixes).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
TRAIN, VAL = "train", "val"
#: :func:`label_lookup`'s mark of a file value that is no class, not ignored, not void.
BAD = -1


def label_lookup(data: SegFolderConfig) -> np.ndarray:
    """Table over the 256 file values: the training label (a class or 255), or ``BAD``."""
    table = np.full(256, BAD, dtype=np.int16)
    table[IGNORE] = IGNORE
    if data.reduce_zero_label:
        table[0] = IGNORE
        table[1: data.num_classes + 1] = np.arange(data.num_classes)
    else:
        table[: data.num_classes] = np.arange(data.num_classes)
    if data.void is not None:
        table[data.void] = IGNORE
    return table


def pair_files(root: Path, split: str) -> list[tuple[Path, Path]]:
    """(image, label map) paths of ``split``, sorted by name; a missing folder, an empty one or an
    image without a label file ends in one FdslError naming it."""
    images_dir, labels_dir = root / split, root / f"{split}annot"
    for folder in (images_dir, labels_dir):
        check(folder.is_dir(), f"segmentation data {str(root)!r} has no {folder.name}/ folder ({str(folder)!r}); "
                               "expected train/, trainannot/, val/, valannot/")
    images = files_by_stem(images_dir)
    check(bool(images), f"image folder {str(images_dir)!r} holds no images")
    labels = files_by_stem(labels_dir)
    pairs = []
    for stem, image in sorted(images.items()):
        label = labels.get(stem)
        check(label is not None, f"image {str(image)!r} has no label file {stem}.* in {str(labels_dir)!r}")
        pairs.append((image, label))
    return pairs


def files_by_stem(folder: Path) -> dict[str, Path]:
    """The image files of ``folder`` by stem; two files of one stem (``x.png``, ``x.bmp``) are an
    error naming both, since which one pairs would depend on the order the folder lists them."""
    found: dict[str, Path] = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        other = found.setdefault(path.stem, path)
        check(other == path, f"{str(other)!r} and {str(path)!r} share the stem {path.stem!r}; keep one of them")
    return found


def read_label(path: Path, lookup: np.ndarray, num_classes: int) -> np.ndarray:
    """uint8 (H, W) training labels of the label map ``path``; a value that is no class, not 255
    and not the void id ends in one FdslError naming the file."""
    raw = read_array(path)
    check(raw.ndim == 2, f"label map {str(path)!r} has shape {raw.shape}; expected one channel (mode L or P)")
    check(raw.dtype.kind in "iub", f"label map {str(path)!r} holds {raw.dtype} values; expected integer class ids")
    if raw.dtype != np.uint8:  # 16-bit or 32-bit label maps: values outside 0..255 are no class (nor 255)
        outside = raw[(raw < 0) | (raw > 255)]
        if outside.size:
            raise FdslError(f"label map {str(path)!r} holds class id {int(outside.flat[0])} (out of range: classes "
                            f"are 0..{num_classes - 1}, 255 ignored)")
        raw = raw.astype(np.uint8)
    labels = lookup[raw]
    if (labels == BAD).any():
        bad = np.unique(raw[labels == BAD])
        raise FdslError(f"label map {str(path)!r} holds class id {int(bad[0])} (out of range: classes are "
                        f"0..{num_classes - 1}, 255 ignored); set data.num_classes or data.void")
    return labels.astype(np.uint8)


class SegFolderDataset(Dataset):
    """Items ``{"image": PIL RGB, "mask": PIL "L"}`` (the image+mask kind's training item, so the
    same paired transforms serve SegRCDB and real data), after ``transform`` when given."""

    def __init__(self, pairs: list[tuple[Path, Path]], data: SegFolderConfig, transform=None):
        self.pairs, self.transform = pairs, transform
        self.classes = data.label_names
        self.lookup = label_lookup(data)
        for image, label in pairs:  # every file checked before training starts
            check_pair(image, label, self.lookup, data.num_classes)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int):
        image_path, label_path = self.pairs[index]
        rgb = read_rgb(image_path, what="image")
        mask = Image.fromarray(read_label(label_path, self.lookup, len(self.classes)))
        item = {"image": rgb, "mask": mask}
        return self.transform(item) if self.transform else item


def check_pair(image: Path, label: Path, lookup: np.ndarray, num_classes: int) -> None:
    labels = read_label(label, lookup, num_classes)
    width, height = read_rgb(image, what="image").size  # decoded whole: a truncated image fails here
    check(labels.shape == (height, width),
          f"label map {str(label)!r} is {labels.shape[1]}x{labels.shape[0]} but its image {image.name} is "
          f"{width}x{height}")


def seg_folder_datasets(data: SegFolderConfig, *, train_transform=None, val_transform=None
                        ) -> tuple[SegFolderDataset, SegFolderDataset, list[str]]:
    """(train, validation, class names) of ``data.dataset``; ``train_limit`` keeps the first N
    training images by file name (the same N images on every machine)."""
    data.validate()
    root = Path(data.dataset)
    check(root.is_dir(), f"segmentation data {str(root)!r} does not exist or is not a directory")
    train_pairs = pair_files(root, TRAIN)[: data.train_limit]
    val_pairs = pair_files(root, VAL)[: data.val_limit]
    train = SegFolderDataset(train_pairs, data, train_transform)
    val = SegFolderDataset(val_pairs, data, val_transform)
    return train, val, train.classes
