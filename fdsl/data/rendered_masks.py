"""Image+mask samples that ``fdsl render`` wrote to a folder (SegRCDB from disk), for segmentation
pre-training: ``<root>/<category>/<stem>.png`` with ``<stem>.mask.png`` and the dataset card
(:mod:`fdsl.samples.image_mask`). As for rendered images, validation holds out the last
``val_instances`` samples of each category folder (in file order), and the classes are the mask
values the card's family config allows (SegRCDB: 0 background, 1..``classes``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image
from torch.utils.data import Dataset

from fdsl.data.images import read_array, read_rgb
from fdsl.errors import FdslError, check

MASK_SUFFIX = ".mask.png"


class RenderedMasks(Dataset):
    """``(image, mask)`` after ``transform`` of the training item ``{"image": RGB, "mask": "L"}``."""

    def __init__(self, stems: list[Path], transform=None):
        self.stems, self.transform = stems, transform

    def __len__(self) -> int:
        return len(self.stems)

    def __getitem__(self, index: int):
        stem = self.stems[index]
        image = read_rgb(stem.with_name(stem.name + ".png"), what="rendered image")
        mask = Image.fromarray(read_array(stem.with_name(stem.name + MASK_SUFFIX), what="rendered mask")).convert("L")
        item = {"image": image, "mask": mask}
        return self.transform(item) if self.transform else item


def read_mask_card(root: Path) -> dict[str, Any]:
    """The dataset card of ``root``, checked to describe image+mask samples in folders."""
    from fdsl.data.cards import finished_card

    card = finished_card(root)
    check(card.get("kind") == "image+mask", f"{str(root)!r} holds {card.get('kind')} samples; segmentation "
                                            "pre-training reads image+mask samples")
    check(card.get("format", "folder") == "folder", f"{str(root)!r} is in the {card.get('format')} format; "
                                                     "segmentation pre-training reads folders (--format folder)")
    return card


def category_stems(root: Path) -> list[list[Path]]:
    """Per category folder (sorted), the sample stems (sorted); an image without its mask is an error."""
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    stems = []
    for folder in folders:
        masks = sorted(p for p in folder.iterdir() if p.name.endswith(MASK_SUFFIX))
        found = [m.with_name(m.name.removesuffix(MASK_SUFFIX)) for m in masks]
        images = {p.name.removesuffix(".png") for p in folder.glob("*.png") if not p.name.endswith(MASK_SUFFIX)}
        lonely = sorted(images - {s.name for s in found})
        if lonely:
            raise FdslError(f"image {str(folder / (lonely[0] + '.png'))!r} has no mask file {lonely[0]}{MASK_SUFFIX}")
        stems.append(found)
    check(any(stems), f"{str(root)!r} holds no image+mask samples in category folders")
    return stems


def rendered_mask_datasets(data_dir: str, val_instances: int, *, family: str, train_transform=None,
                           val_transform=None, progress: bool = False
                           ) -> tuple[RenderedMasks, RenderedMasks | None, list[str]]:
    """(train, validation or None, mask class names) of a rendered image+mask folder of ``family``,
    its files checked against its card first."""
    from fdsl.data.cards import check_card_family, check_rendered_dataset

    root = Path(data_dir)
    check(root.is_dir(), f"data.data_dir {str(root)!r} does not exist or is not a directory")
    card = read_mask_card(root)
    check_card_family(card, family, root)
    check_rendered_dataset(root, progress=progress)
    train, val = [], []
    for stems in category_stems(root):
        cut = len(stems) - min(val_instances, len(stems) - 1)
        train += stems[:cut]
        val += stems[cut:]
    classes = int(card["config"]["classes"])
    names = [str(value) for value in range(classes + 1)]
    held_out = RenderedMasks(val, val_transform) if val_instances else None
    return RenderedMasks(train, train_transform), held_out, names
