"""Point-cloud data: a point-cloud family's categories (PC-FractalDB on the fly or from a render) for
pre-training, a folder of real objects (ModelNet10) for fine-tuning; each object normalised into the unit sphere,
resampled to ``augment.points`` points and augmented (:mod:`.augment`)."""
from __future__ import annotations

from fdsl.data.datasets import formula_datasets
from fdsl.data.pointfolders import PointFolder, PointSamples, check_point_files, scan_point_folder, split_point_files
from fdsl.tasks import PRETRAIN, Data
from fdsl.tasks.points.augment import build_point_augment


def datasets(config, phase: str, *, progress: bool = False) -> Data:
    if phase == PRETRAIN:  # on the fly, or from a render (folder or shards) of the family
        train, val, classes = formula_datasets(config.data, progress=progress)
        return Data(*point_samples(train, val, config), classes)
    data = config.data
    files = scan_point_folder(data.dataset)
    check_point_files(files.paths)
    train_idx, val_idx = split_point_files(files, holdout=data.holdout, train_share=data.train_share,
                                           train_per_class=data.train_per_class)
    val = PointFolder(files, val_idx) if val_idx else None
    return Data(*point_samples(PointFolder(files, train_idx), val, config), files.classes)


def point_samples(base_train, base_val, config):
    points, seed = config.augment.points, config.train.seed
    train = PointSamples(base_train, points=points, seed=seed, augment=build_point_augment(config.augment))
    val = PointSamples(base_val, points=points, seed=seed) if base_val is not None else None
    return train, val
