"""Datasets for training: formula samples on the fly, rendered folders, and real images.

- :class:`FormulaDataset` renders sample ``(seed, category, instance)`` inside ``__getitem__``, so
  DataLoader workers (and every torchrun rank through its sampler) render their own share with
  no disk; the bytes are those ``fdsl render`` writes (:meth:`Formula.sample`).
- Rendered folders and real images are read with torchvision's ``ImageFolder``; CIFAR-10/100 by
  name through torchvision (downloaded on a connected machine).
- Validation: the official FractalDB code has no held-out set. Here the validation instances of a
  category are the ``val_instances`` indices right after its training range (new parameter
  variations, patch draws or flips of the same category, never seen in training). A folder or a
  real dataset without a given split holds out the last images of each class, in file order.

Every dataset yields ``(item, label)``: for images a PIL RGB image (before ``transform``), like
``ImageFolder`` (grey formula images become three equal channels, as ``ImageFolder`` reads them);
for the other sample kinds, what the kind's ``training_item`` makes (:mod:`fdsl.samples`).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from fdsl.data.categories import load_or_search
from fdsl.data.config import FormulaDataConfig, RealDataConfig
from fdsl.data.images import read_rgb
from fdsl.errors import FdslError, check
from fdsl.formulas.base import Formula
from fdsl.registry import get_formula
from fdsl.seeding import derive_rng

log = logging.getLogger(__name__)
#: The seeding domain of the per-epoch choice of instances (``instances_per_epoch``).
EPOCH_INSTANCES = "epoch-instances"
#: Per process, the most bytes of samples a :class:`FormulaDataset` keeps when it shows them repeatedly.
CACHE_BYTES = 256 * 2**20


# --- formula samples on the fly -------------------------------------------------------------------
def epoch_draw(seed: int, epoch: int, passes: int, group: int, count: int, shown: int) -> np.ndarray:
    """``shown`` of ``count`` positions, drawn without replacement from (seed, epoch, pass, group)."""
    return derive_rng(seed, EPOCH_INSTANCES, epoch, passes, group).permutation(count)[:shown]


class FormulaDataset(Dataset):
    """Index -> (category, instance) -> ``formula.sample(params, seed, category, instance)``, made a
    training item by the family's sample kind (images: PIL RGB).

    Index ``k`` is category ``k // len(instances)`` (modulo the repeats), instance
    ``instances[k % len(instances)]``. Labels are category indices; ``classes`` are the folder names
    that ``fdsl render`` writes (``00000``, ``00001``, ...), so a model trained on the fly and one
    trained on the rendered folder share their label names.

    With ``instances_per_epoch`` m, each pass (repeat) shows m of a category's instances, drawn
    without replacement from ``(seed, epoch, pass, category)`` (:meth:`set_epoch` sets the epoch):
    3D-OFDB shows one of its 12 views per category per pass. The draw depends on no worker, rank or
    order, so every process picks the same instances and a resumed run picks what it would have.

    A sample shown more than once per epoch (``repeats`` > 1, or ``instances_per_epoch``) is rendered
    once per process and kept, up to :data:`CACHE_BYTES` of samples: 2D-OFDB's 200,000-point image
    costs about 12 ms at 32 px, more than training on it. The kept sample is the rendered one, so
    the bytes do not change.
    """

    def __init__(self, formula: Formula, categories: Sequence[Any], *, seed: int, instances: Sequence[int],
                 repeats: int = 1, transform: Callable | None = None, instances_per_epoch: int | None = None):
        check(len(categories) >= 1 and len(instances) >= 1, "a formula dataset needs >= 1 category and instance")
        check(instances_per_epoch is None or 1 <= instances_per_epoch <= len(instances),
              f"instances_per_epoch = {instances_per_epoch}; allowed: 1..{len(instances)} or None")
        self.formula, self.categories, self.seed = formula, list(categories), seed
        self.instances, self.repeats, self.transform = list(instances), repeats, transform
        self.instances_per_epoch, self.epoch = instances_per_epoch, 0
        self.classes = [f"{c:05d}" for c in range(len(self.categories))]
        self.kept: dict[tuple[int, int], Any] | None = {} if repeats > 1 or instances_per_epoch else None
        self.kept_bytes = 0

    @property
    def shown_per_pass(self) -> int:
        """Instances of each category that one pass shows."""
        return self.instances_per_epoch or len(self.instances)

    def __len__(self) -> int:
        return len(self.categories) * self.shown_per_pass * self.repeats

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose instances :meth:`locate` picks (only with ``instances_per_epoch``)."""
        self.epoch = epoch

    def locate(self, index: int) -> tuple[int, int]:
        """(category, instance) of dataset index ``index``."""
        passes, within = divmod(index, len(self.categories) * self.shown_per_pass)
        category, position = divmod(within, self.shown_per_pass)
        if self.instances_per_epoch is not None:
            position = int(self.epoch_instances(passes, category)[position])
        return category, self.instances[position]

    def epoch_instances(self, passes: int, category: int) -> np.ndarray:
        """Positions (in ``instances``) that pass ``passes`` of this epoch shows of ``category``."""
        return epoch_draw(self.seed, self.epoch, passes, category, len(self.instances), self.instances_per_epoch)


    def item(self, index: int) -> Any:
        category, instance = self.locate(index)
        return self.formula.kind.training_item(self.sample(category, instance))

    def sample(self, category: int, instance: int) -> Any:
        if self.kept is not None and (category, instance) in self.kept:
            return self.kept[category, instance]
        sample = self.formula.sample(self.categories[category], self.seed, category, instance)
        size = getattr(sample, "nbytes", None)
        if self.kept is not None and size is not None and self.kept_bytes + size <= CACHE_BYTES:
            sample.flags.writeable = False  # a transform that changed it in place would change every later showing
            self.kept[category, instance] = sample
            self.kept_bytes += size
        return sample

    def __getitem__(self, index: int):
        item = self.item(index)
        return (self.transform(item) if self.transform else item), self.locate(index)[0]


def load_categories(formula: Formula, data: FormulaDataConfig, *, progress: bool = False) -> list[Any]:
    """The first ``data.categories`` categories, read from ``data.param_dir`` or searched from
    ``data.seed`` (the same categories as ``fdsl render`` with the same options)."""
    return load_or_search(formula, data.categories, param_dir=data.param_dir, seed=data.seed, progress=progress,
                          count_name="data.categories")


def formula_datasets(data: FormulaDataConfig, *, train_transform: Callable | None = None,
                     val_transform: Callable | None = None, progress: bool = False
                     ) -> tuple[Dataset, Dataset | None, list[str]]:
    """(train, validation or None, class names) for pre-training, on the fly or from ``data.data_dir``."""
    data.validate()
    if data.data_dir is not None:
        return _rendered_folder_datasets(data, train_transform, val_transform, progress=progress)
    formula = get_formula(data.family, **data.formula)
    end = data.instances + data.val_instances
    limit = formula.instances_per_category
    check(limit is None or end <= limit,
          f"data.instances + val_instances = {end} exceeds the {limit} distinct instances of {data.family} "
          "with this config")
    categories = load_categories(formula, data, progress=progress)
    # Render once here: it fails early on a bad config, and forked DataLoader workers inherit
    # compiled kernels instead of compiling them again every epoch.
    formula.sample(categories[0], data.seed, 0, 0)
    train_range = range(data.instances)
    train = FormulaDataset(formula, categories, seed=data.seed, instances=train_range, repeats=data.repeats,
                           transform=train_transform, instances_per_epoch=data.instances_per_epoch)
    val = None
    if data.val_instances:
        val = FormulaDataset(formula, categories, seed=data.seed, instances=range(train_range.stop, end),
                             transform=val_transform)
    return train, val, train.classes


def rendered_card(root: Path, family: str, *, progress: bool = False) -> dict[str, Any] | None:
    """The card of the render in ``root`` once its files are checked against it (every file listed,
    none missing, none corrupt) and its family is ``family``; None for a folder no render made."""
    from fdsl.data.cards import RENDER_RECORD, card_paths, check_card_family, check_rendered_dataset

    if not card_paths(root) and not (root / RENDER_RECORD).exists():
        return None
    card = check_rendered_dataset(root, progress=progress)
    check_card_family(card, family, root)
    return card


def _rendered_folder_datasets(data: FormulaDataConfig, train_transform, val_transform, *, progress: bool = False):
    """A render of any sample kind (folder or shards) read back through its kind
    (:mod:`fdsl.data.rendered`); a folder that no render made is read as an ImageFolder of images."""
    from fdsl.data.rendered import rendered_datasets
    from fdsl.registry import formula_class

    root = Path(data.data_dir)
    check(root.is_dir(), f"data.data_dir {str(root)!r} does not exist or is not a directory")
    card = rendered_card(root, data.family, progress=progress)
    check(data.instances_per_epoch is None or card is None, "data.instances_per_epoch applies to data rendered on "
          "the fly or to an image folder that no render made, not to a render in data.data_dir; unset it")
    if card is not None:
        kind = formula_class(card["family"]).kind
        check(kind.name in data.kinds, f"{str(root)!r} holds {kind.name} samples; this pre-training reads "
                                       f"{' / '.join(data.kinds)} samples")
        return rendered_datasets(root, card, kind, val_instances=data.val_instances, train_transform=train_transform,
                                 val_transform=val_transform)
    check("image" in data.kinds, f"{str(root)!r} holds no dataset card: only images can be read without one")
    folder = image_folder(root)
    train_idx, val_idx = split_per_class(folder.targets, lambda n: min(data.val_instances, n - 1))
    train = Split(folder, train_idx, train_transform)
    val = Split(folder, val_idx, val_transform) if data.val_instances else None
    check_images(train, val)
    if data.instances_per_epoch is not None:
        train = EachEpochPerClass(train, data.instances_per_epoch, seed=data.seed)
    return train, val, list(folder.classes)


class EachEpochPerClass(Dataset):
    """``per_class`` images of each class of ``split`` per epoch (all of a smaller class), drawn
    without replacement from ``(seed, epoch, class)`` as :class:`FormulaDataset` draws its
    ``instances_per_epoch``: self-supervision on a large unlabeled folder with the images-per-epoch
    budget of a formula pre-training (CIFAR-10's 45,000 training images, 1,000 per class per epoch)."""

    def __init__(self, split: Split, per_class: int, *, seed: int):
        self.split, self.per_class, self.seed, self.epoch = split, per_class, seed, 0
        self.classes = split.classes
        self.by_class = list(indices_per_class(split.targets).values())
        self.shown = self.pick()

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch = epoch
            self.shown = self.pick()

    def pick(self) -> list[int]:
        shown = []
        for label, indices in enumerate(self.by_class):
            shown += [indices[i] for i in sorted(epoch_draw(self.seed, self.epoch, 0, label, len(indices), self.per_class))]
        return shown

    def __len__(self) -> int:
        return len(self.shown)

    def __getitem__(self, index: int):
        return self.split[self.shown[index]]


# --- folders and real images ----------------------------------------------------------------------
class Split(Dataset):
    """The items ``indices`` of ``base`` (which yields PIL images) with a transform of their own."""

    def __init__(self, base: Dataset, indices: Sequence[int], transform: Callable | None = None):
        self.base, self.indices, self.transform = base, list(indices), transform
        self.classes = list(base.classes)
        base_targets = _targets(base)
        self.targets = [base_targets[i] for i in self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int):
        image, label = self.base[self.indices[index]]
        return (self.transform(image) if self.transform else image), label


def _targets(dataset: Dataset) -> list[int]:
    targets = getattr(dataset, "targets", None)
    return [int(t) for t in (targets if targets is not None else dataset.labels)]


def load_rgb(path: str) -> Image.Image:
    """ImageFolder's loader: the file as an RGB image (the bytes of torchvision's default loader;
    16-bit greys scaled to 8 bits, :mod:`fdsl.data.images`), or one FdslError naming the file. In a
    DataLoader worker the error is re-raised in the main process, which prints its message on one
    line (:func:`fdsl.cli.error_line`)."""
    return read_rgb(path, hint="; remove it (fine-tuning data: or skip such files with "
                               "--set data.skip_bad_images=true)")


def check_images(*splits: Dataset | None) -> None:
    """Decode every image file the splits of an ImageFolder read, once, so that an unreadable one
    (truncated, empty, no image, a link loop, a decompression bomb) stops a run before it writes
    anything, not minutes into training (CIFAR-10's JPEGs: about 0.15 ms each). Datasets held in
    memory (torchvision's CIFAR) have no files to check."""
    for split in splits:
        samples = getattr(getattr(split, "base", None), "samples", None)
        for index in (split.indices if samples is not None else ()):
            load_rgb(samples[index][0])


def is_readable_image(path: str) -> bool:
    try:
        load_rgb(path)
    except FdslError:
        return False
    return True


def image_folder(path: str | Path, *, skip_bad_images: bool = False) -> Dataset:
    """torchvision's ImageFolder over ``path`` (``class/image`` files); bad trees end in one FdslError.
    A file that is not a readable image fails when it is loaded, unless ``skip_bad_images``: then
    every file is decoded once here and the unreadable ones are left out, with a warning."""
    from torchvision.datasets import ImageFolder
    from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

    path = Path(path)
    check(path.is_dir(), f"image folder {str(path)!r} does not exist or is not a directory")
    skipped: list[str] = []

    def keep(file: str) -> bool:
        if not has_file_allowed_extension(file, IMG_EXTENSIONS):
            return False
        if is_readable_image(file):
            return True
        skipped.append(file)
        return False

    try:
        folder = ImageFolder(str(path), loader=load_rgb, is_valid_file=keep if skip_bad_images else None)
    except (FileNotFoundError, RuntimeError) as error:  # no class folders, or no image in any of them
        raise FdslError(f"image folder {str(path)!r} holds no images in class sub-folders ({error})") from None
    if skipped:
        log.warning("skipped %d unreadable image file(s) in %r: %s", len(skipped), str(path),
                    ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else ""))
    return folder


def split_per_class(targets: Sequence[int], held_out: Callable[[int], int]) -> tuple[list[int], list[int]]:
    """Per class, the last ``held_out(count)`` indices (in dataset order) go to the second list."""
    by_class = indices_per_class(targets)
    keep, hold = [], []
    for indices in by_class.values():
        cut = len(indices) - held_out(len(indices))
        keep += indices[:cut]
        hold += indices[cut:]
    return sorted(keep), sorted(hold)


def indices_per_class(targets: Sequence[int]) -> dict[int, list[int]]:
    by_class: dict[int, list[int]] = {}
    for index, target in enumerate(targets):
        by_class.setdefault(int(target), []).append(index)
    return dict(sorted(by_class.items()))


def first_per_class(indices: Sequence[int], targets: Sequence[int], limit: int | None) -> list[int]:
    """The first ``limit`` of ``indices`` of each class (all when None), in dataset order."""
    if limit is None:
        return list(indices)
    taken: dict[int, int] = {}
    chosen = []
    for index in indices:
        label = targets[index]
        if taken.get(label, 0) < limit:
            taken[label] = taken.get(label, 0) + 1
            chosen.append(index)
    return chosen


def _torchvision_cifar(name: str):
    def load(root: str, train: bool) -> Dataset:
        import torchvision.datasets

        cls = getattr(torchvision.datasets, name)
        return cls(root, train=train, download=True)

    return load


#: Real datasets by name: (root, train split?) -> a dataset of (PIL image, label) with ``classes``.
NAMED_DATASETS: dict[str, Callable[[str, bool], Dataset]] = {
    "cifar10": _torchvision_cifar("CIFAR10"),
    "cifar100": _torchvision_cifar("CIFAR100"),
}


def looks_like_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.startswith(".") or Path(name).exists()


def check_dataset_name(name: str) -> None:
    """Fail unless ``name`` is a known dataset or looks like a path to an ImageFolder."""
    check(name in NAMED_DATASETS or looks_like_path(name),
          f"unknown dataset {name!r}; valid: {', '.join(NAMED_DATASETS)}, or a path to an ImageFolder directory")


def _named(name: str, root: str, train: bool) -> Dataset:
    try:
        return NAMED_DATASETS[name](root, train)
    except (OSError, RuntimeError) as error:  # no internet (URLError is an OSError), or a bad download
        raise FdslError(
            f"could not load dataset {name!r} into {root!r} ({error}); without internet pass an ImageFolder path "
            "instead, e.g. ../shared/data/cifar10/train"
        ) from None


def real_base(data: RealDataConfig, *, train: bool = True) -> Dataset:
    """The dataset named or pointed at by ``data.dataset`` (its train split unless ``train`` is False)."""
    check_dataset_name(data.dataset)
    if data.dataset in NAMED_DATASETS:
        return _named(data.dataset, data.root, train)
    check(train, f"dataset {data.dataset!r} is an ImageFolder and has no test split; pass a validation folder")
    return image_folder(data.dataset, skip_bad_images=data.skip_bad_images)


def real_datasets(data: RealDataConfig, *, train_transform: Callable | None = None,
                  val_transform: Callable | None = None) -> tuple[Dataset, Dataset | None, list[str]]:
    """(train, validation or None, class names) for fine-tuning, following ``data.val``."""
    data.validate()
    base = real_base(data)
    targets = _targets(base)
    if data.val is None:
        train_idx, val_idx = split_per_class(targets, lambda n: int(round(n * data.holdout)))
        val_base = base
    else:
        train_idx, val_idx = list(range(len(base))), None
        val_base = _validation_base(data)
    train_idx = first_per_class(train_idx, targets, data.train_per_class)
    train = Split(base, train_idx, train_transform)
    if val_idx is None:
        val_idx = range(len(val_base))
    if not len(val_idx):
        if not data.skip_bad_images:
            check_images(train)
        return train, None, train.classes
    val_targets = _targets(val_base)
    check(list(val_base.classes) == train.classes,
          f"validation classes {list(val_base.classes)[:5]}... differ from training classes {train.classes[:5]}...")
    val = Split(val_base, first_per_class(val_idx, val_targets, data.val_per_class), val_transform)
    if not data.skip_bad_images:  # skipping decoded every file already
        check_images(train, val)
    return train, val, train.classes


def evaluation_dataset(data: RealDataConfig, *, transform: Callable | None = None) -> Dataset:
    """The split that fine-tuning validates on (``data.val``, else the held-out part of each class);
    with ``holdout`` 0 and no ``val``, the whole dataset."""
    data.validate()
    if data.val is not None:
        base = _validation_base(data)
        indices: Sequence[int] = range(len(base))
    else:
        base = real_base(data)
        indices = split_per_class(_targets(base), lambda n: int(round(n * data.holdout)))[1] if data.holdout else range(len(base))
    check(len(indices) > 0, f"no images to evaluate in {data.dataset!r} (holdout {data.holdout})")
    split = Split(base, first_per_class(indices, _targets(base), data.val_per_class), transform)
    if not data.skip_bad_images:
        check_images(split)
    return split


def _validation_base(data: RealDataConfig) -> Dataset:
    if data.val == "test":
        check(data.dataset in NAMED_DATASETS,
              f"val = 'test' needs a named dataset ({', '.join(NAMED_DATASETS)}); {data.dataset!r} is a folder")
        return _named(data.dataset, data.root, False)
    return image_folder(data.val, skip_bad_images=data.skip_bad_images)
