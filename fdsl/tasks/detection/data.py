"""Detection's data: formula scenes of the image+instances kind on the fly or from a render (pre-training;
the scene's bucket is no label), and COCO JSON or YOLO folders (fine-tuning: every label read and checked
when the datasets are built, :mod:`fdsl.data.detection`), through paired transforms that move boxes
and masks with the image (:mod:`fdsl.data.detection_dataset`)."""
from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from fdsl.data.datasets import formula_datasets
from fdsl.data.detection import BACKGROUND, DetectionData, detection_splits
from fdsl.data.detection_dataset import DetectionDataset, DetectionEvalTransform, DetectionTrainTransform
from fdsl.errors import check
from fdsl.tasks import PRETRAIN, Data


class SceneItems(Dataset):
    """A formula dataset's ``(item, scene bucket)`` as the item, with its ``image_id`` (the index) and
    ``orig_size`` (the scene's size: scenes are not resized), as real detection items have them."""

    def __init__(self, scenes: Dataset):
        self.scenes = scenes

    def __len__(self) -> int:
        return len(self.scenes)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.scenes, "set_epoch"):  # scenes on the fly draw per epoch; a render's are fixed
            self.scenes.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.scenes[index][0]
        return {**item, "image_id": index, "orig_size": tuple(item["image"].shape[-2:])}


def scene_label_names(family_config) -> list[str]:
    """The background, then the family's object classes (labels = class + 1, the kind's training item)."""
    classes = getattr(family_config, "classes", None)
    check(classes is not None, f"family {type(family_config).__name__} declares no number of object classes")
    return [BACKGROUND, *(str(value) for value in range(classes))]


def real_datasets(data, *, hflip: float, masks: bool) -> tuple[DetectionDataset, DetectionDataset, list[str]]:
    """(training, held-out, label names) of a COCO JSON or YOLO folder, at ``data.image_size``."""
    train, held_out = detection_splits(data)
    check(bool(held_out.images), f"data.holdout = {data.holdout} holds out no image of {len(train.images)} in "
                                 f"{data.dataset}: detection scores need a held-out share")
    return (DetectionDataset(train, DetectionTrainTransform(size=data.image_size, hflip=hflip), masks=masks),
            evaluation_split(held_out, data.image_size, masks), list(train.classes))


def evaluation_split(held_out: DetectionData, image_size: int | None, masks: bool) -> DetectionDataset:
    return DetectionDataset(held_out, DetectionEvalTransform(size=image_size), masks=masks)


def datasets(config, phase: str, *, progress: bool = False) -> Data:
    masks = config.model.masks
    if phase != PRETRAIN:
        return Data(*real_datasets(config.data, hflip=config.augment.hflip, masks=masks))
    scenes, held_out, _ = formula_datasets(config.data, train_transform=DetectionTrainTransform(hflip=config.augment.hflip),
                                           val_transform=DetectionEvalTransform(), progress=progress)
    return Data(SceneItems(scenes), SceneItems(held_out) if held_out is not None else None,
                scene_label_names(config.data.family_config()))
