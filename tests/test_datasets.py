"""Datasets: on-the-fly formula images equal the rendered files, held-out instances, folders, real data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from fdsl.data.config import FormulaDataConfig, RealDataConfig
from fdsl.data.datasets import (
    evaluation_dataset,
    formula_datasets,
    image_folder,
    load_categories,
    real_datasets,
    split_per_class,
)
from fdsl.data.writer import render_dataset
from fdsl.errors import FdslError
from fdsl.registry import formula_class, get_formula, list_formulas


def quick_data(family: str, **overrides) -> FormulaDataConfig:
    values = dict(family=family, formula=dict(formula_class(family).quick_config), categories=2, instances=2)
    values.update(overrides)
    return FormulaDataConfig(**values)


def make_image_folder(root: Path, counts: dict[str, int], size: int = 8) -> Path:
    """An ImageFolder with ``counts[class]`` PNGs per class; pixel values encode (class, index)."""
    for c, (name, count) in enumerate(sorted(counts.items())):
        (root / name).mkdir(parents=True)
        for i in range(count):
            pixels = np.full((size, size, 3), (c * 20 + i) % 256, dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:04d}.png")
    return root


#: The families that image pre-training reads, on the fly or as an ImageFolder (the other sample
#: kinds go through the on-the-fly dataset in test_sample_kinds).
IMAGE_FAMILIES = [name for name in list_formulas() if formula_class(name).kind.name == "image"]


@pytest.mark.parametrize("family", IMAGE_FAMILIES)
def test_on_the_fly_images_equal_rendered_files(family, tmp_path):
    formula = get_formula(family, **formula_class(family).quick_config)
    data = quick_data(family, instances=min(2, formula.instances_per_category or 2))
    render_dataset(formula, load_categories(formula, data), tmp_path, seed=data.seed, instances=data.instances,
                   progress=False)
    fly, _, classes = formula_datasets(data)
    folder = image_folder(tmp_path)
    assert classes == folder.classes
    position = {Path(path).relative_to(tmp_path).as_posix(): k for k, (path, _) in enumerate(folder.samples)}
    assert len(fly) == len(folder) == 2 * data.instances
    for index in range(len(fly)):
        category, instance = fly.locate(index)
        image, label = fly[index]
        on_disk, disk_label = folder[position[f"{category:05d}/{formula.sample_stem(category, instance)}.png"]]
        assert label == disk_label == category
        assert image.mode == on_disk.mode == "RGB"
        assert np.array_equal(np.asarray(image), np.asarray(on_disk))


def test_held_out_instances_follow_the_training_range():
    train, val, classes = formula_datasets(quick_data("fractaldb", categories=3, instances=4, val_instances=2))
    assert len(classes) == 3 and len(train) == 12 and len(val) == 6
    train_pairs = {train.locate(k) for k in range(len(train))}
    val_pairs = {val.locate(k) for k in range(len(val))}
    assert train_pairs == {(c, i) for c in range(3) for i in range(4)}
    assert val_pairs == {(c, i) for c in range(3) for i in (4, 5)}
    # held-out images are new images of the same category, not copies of training ones
    assert not np.array_equal(np.asarray(val[0][0]), np.asarray(train[3][0]))


def test_repeats_cycle_over_the_same_images():
    train, _, _ = formula_datasets(quick_data("fractaldb", instances=1, repeats=3))
    assert len(train) == 6
    assert [train.locate(k) for k in range(6)] == [(0, 0), (1, 0), (0, 0), (1, 0), (0, 0), (1, 0)]


def test_a_repeated_sample_is_rendered_once_and_is_the_same_image(monkeypatch):
    train, _, _ = formula_datasets(quick_data("fractaldb", instances=1, repeats=3))
    first = [np.asarray(train[k][0]) for k in range(2)]
    calls = []
    render = train.formula.sample
    monkeypatch.setattr(train.formula, "sample", lambda *args: calls.append(args) or render(*args))
    again = [np.asarray(train[k][0]) for k in range(6)]
    assert calls == []  # both categories were kept on their first showing
    assert all(np.array_equal(again[k], first[k % 2]) for k in range(6))
    fresh = render(train.categories[1], train.seed, 1, 0)
    assert np.array_equal(train.kept[1, 0], fresh) and not train.kept[1, 0].flags.writeable


def test_samples_shown_once_per_epoch_are_not_kept():
    train, _, _ = formula_datasets(quick_data("fractaldb", instances=2))
    train[0]
    assert train.kept is None


def test_too_many_instances_for_the_family_is_one_clear_error():
    with pytest.raises(FdslError, match="exceeds the 1 distinct instances of ofdb"):
        formula_datasets(quick_data("ofdb", instances=1, val_instances=1))


def test_workers_render_the_same_batches_as_the_main_process():
    from fdsl.tasks.classification.augment import build_transforms
    from fdsl.tasks.classification.config import AugmentConfig

    _, evaluation = build_transforms(AugmentConfig(img_size=32))
    train, _, _ = formula_datasets(quick_data("fractaldb", instances=3), train_transform=evaluation)
    alone = torch.cat([x for x, _ in DataLoader(train, batch_size=2, num_workers=0)])
    workers = torch.cat([x for x, _ in DataLoader(train, batch_size=2, num_workers=2)])
    assert alone.shape == (6, 3, 32, 32)
    assert torch.equal(alone, workers)


def test_rendered_folder_holds_out_the_last_files_of_each_class(tmp_path):
    make_image_folder(tmp_path, {"00000": 5, "00001": 5})
    data = FormulaDataConfig(data_dir=str(tmp_path), val_instances=2)
    train, val, classes = formula_datasets(data)
    assert classes == ["00000", "00001"]
    assert len(train) == 6 and len(val) == 4
    assert [int(np.asarray(val[k][0])[0, 0, 0]) for k in range(4)] == [3, 4, 23, 24]


def test_split_per_class_keeps_dataset_order():
    keep, hold = split_per_class([0, 1, 0, 1, 0, 1], lambda n: 1)
    assert keep == [0, 1, 2, 3] and hold == [4, 5]


def test_real_folder_holdout_subsets_and_evaluation_split(tmp_path):
    make_image_folder(tmp_path, {"cat": 10, "dog": 10})
    data = RealDataConfig(dataset=str(tmp_path), holdout=0.2, train_per_class=3)
    train, val, classes = real_datasets(data)
    assert classes == ["cat", "dog"]
    assert len(train) == 6 and len(val) == 4
    assert [label for _, label in (train[k] for k in range(6))] == [0, 0, 0, 1, 1, 1]
    held_out = evaluation_dataset(data)
    assert [int(np.asarray(held_out[k][0])[0, 0, 0]) for k in range(len(held_out))] == [8, 9, 28, 29]
    whole = evaluation_dataset(RealDataConfig(dataset=str(tmp_path), holdout=0.0))
    assert len(whole) == 20


def test_validation_folder_is_used_when_given(tmp_path):
    make_image_folder(tmp_path / "train", {"a": 4, "b": 4})
    make_image_folder(tmp_path / "val", {"a": 2, "b": 2})
    train, val, _ = real_datasets(RealDataConfig(dataset=str(tmp_path / "train"), val=str(tmp_path / "val")))
    assert len(train) == 8 and len(val) == 4


@pytest.mark.parametrize("make, message", [
    (lambda root: root / "missing", "does not exist"),
    (lambda root: (root / "empty" / "cat").mkdir(parents=True) or root / "empty", "holds no images"),
    (lambda root: root, "holds no images"),  # an empty directory: no class folders
])
def test_bad_image_folders_are_one_clear_error(tmp_path, make, message):
    with pytest.raises(FdslError, match=message):
        real_datasets(RealDataConfig(dataset=str(make(tmp_path))))


def test_unknown_dataset_name_lists_the_valid_ones():
    with pytest.raises(FdslError, match="unknown dataset 'imagenet'; valid: cifar10, cifar100"):
        real_datasets(RealDataConfig(dataset="imagenet"))


def test_instances_per_epoch_picks_one_view_per_category_per_pass_from_seed_and_epoch():
    data = quick_data("ofdb3d", categories=3, instances=12, instances_per_epoch=1, repeats=4)
    train, _, _ = formula_datasets(data)
    assert len(train) == 3 * 1 * 4
    epoch0 = [train.locate(k) for k in range(len(train))]
    assert [c for c, _ in epoch0] == [0, 1, 2] * 4  # every category once per pass
    train.set_epoch(1)
    epoch1 = [train.locate(k) for k in range(len(train))]
    assert epoch1 != epoch0  # another draw of views each epoch
    again, _, _ = formula_datasets(data)  # a fresh process (another worker, rank or a resume)
    again.set_epoch(1)
    assert [again.locate(k) for k in range(len(again))] == epoch1
    train.set_epoch(0)
    assert [train.locate(k) for k in range(len(train))] == epoch0
    views = {train.locate(k)[1] for epoch in range(20) for k in range(len(train)) if not train.set_epoch(epoch)}
    assert views == set(range(12))  # every view turns up over the epochs


def test_instances_per_epoch_is_the_same_for_any_number_of_loader_workers():
    data = quick_data("ofdb3d", categories=2, instances=12, instances_per_epoch=2)
    train, _, _ = formula_datasets(data)
    train.set_epoch(3)
    expected = [train.locate(k) for k in range(len(train))]
    assert len({i for _, i in expected[:2]}) == 2  # two different instances of category 0
    loaded = list(DataLoader(train, batch_size=None, num_workers=2, collate_fn=lambda x: x))
    assert [label for _, label in loaded] == [c for c, _ in expected]
    for (image, _), (category, instance) in zip(loaded, expected):
        sample = train.formula.sample(train.categories[category], data.seed, category, instance)
        assert np.array_equal(np.asarray(image), np.asarray(train.formula.kind.training_item(sample)))


@pytest.mark.parametrize("value", [0, 13])
def test_instances_per_epoch_out_of_range_is_one_clear_error(value):
    with pytest.raises(FdslError, match=rf"data.instances_per_epoch = {value}; allowed: 1..data.instances \(12\)"):
        formula_datasets(quick_data("ofdb3d", instances=12, instances_per_epoch=value))


def to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image).copy())


def test_instances_per_epoch_reaches_persistent_loader_workers():
    """The training loader's workers persist across epochs: each epoch's views must still be that
    epoch's (the epoch travels with every index), not the views of the epoch the workers started in."""
    from fdsl.train.distributed import Context
    from fdsl.train.loaders import TrainLoader

    data = quick_data("ofdb3d", categories=2, instances=12, instances_per_epoch=1, repeats=2)
    train, _, _ = formula_datasets(data)
    train.transform = to_tensor
    context = Context(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"))
    loader = TrainLoader(train, batch_size=1, workers=1, context=context, seed=0, timeout_s=120)

    def expected(epoch: int) -> list[bytes]:
        train.set_epoch(epoch)
        return sorted(train[k][0].numpy().tobytes() for k in range(len(train)))

    for epoch in (0, 1, 2):
        loader.start_epoch(epoch, seed=epoch)
        seen = sorted(images[0].numpy().tobytes() for images, _ in loader)
        assert seen == expected(epoch), f"epoch {epoch} showed another epoch's views"
    assert expected(0) != expected(1) or expected(1) != expected(2)  # the views do change
