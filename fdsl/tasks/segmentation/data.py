"""Segmentation's data: SegRCDB scenes on the fly or from a render, folder or shards (pre-training; the
mask is the target, the scene's category no label), and image/label folders (fine-tuning), through
the paired transforms (:mod:`.transforms`). Every label map is read when the dataset is built."""
from __future__ import annotations

from torch.utils.data import Dataset

from fdsl.data.datasets import formula_datasets
from fdsl.data.segfolders import seg_folder_datasets
from fdsl.errors import check
from fdsl.tasks import PRETRAIN, Data
from fdsl.tasks.segmentation.transforms import build_transforms


class MaskPairs(Dataset):
    """A formula dataset's ``((image, mask), scene bucket)`` items as ``(image, mask)``: the mask
    is the target; the bucket (FormulaDataset's category) is no label here."""

    def __init__(self, scenes: Dataset):
        self.scenes = scenes

    def __len__(self) -> int:
        return len(self.scenes)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.scenes, "set_epoch"):  # scenes on the fly draw per epoch; a render's are fixed
            self.scenes.set_epoch(epoch)

    def __getitem__(self, index: int):
        return self.scenes[index][0]


def mask_label_names(family_config) -> list[str]:
    """The mask's values as classes: 0 the background, then the family's classes (SegRCDB: 0..254,
    the official configs' num_classes 255)."""
    classes = getattr(family_config, "classes", None)
    check(classes is not None, f"family {type(family_config).__name__} declares no number of mask classes")
    return [str(value) for value in range(classes + 1)]


def datasets(config, phase: str, *, progress: bool = False) -> Data:
    train_transform, val_transform = build_transforms(config.augment)
    data = config.data
    if phase != PRETRAIN:
        return Data(*seg_folder_datasets(data, train_transform=train_transform, val_transform=val_transform))
    scenes, held_out, _ = formula_datasets(data, train_transform=train_transform, val_transform=val_transform,
                                           progress=progress)
    return Data(MaskPairs(scenes), MaskPairs(held_out) if held_out is not None else None,
                mask_label_names(data.family_config()))
