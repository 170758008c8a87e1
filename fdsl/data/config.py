"""Data configs (plain dataclasses, cheap to import): formula samples for pre-training, real images and
segmentation folders and detection data (COCO JSON, YOLO) for fine-tuning. The datasets they describe are
built in :mod:`fdsl.data.datasets`, :mod:`fdsl.data.segfolders` and :mod:`fdsl.data.detection`."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

from fdsl.config_fields import belongs_to, cli
from fdsl.configs import Section
from fdsl.errors import FdslError, check
from fdsl.samples.image_mask import IGNORE


@dataclasses.dataclass
class FormulaDataConfig(Section):
    """Pre-training data: a formula family on the fly, or a folder it was rendered to."""

    #: The sample kinds this pre-training reads (a task's data config of another kind overrides it).
    kinds: ClassVar[tuple[str, ...]] = ("image",)
    family: str = dataclasses.field(default="fractaldb", metadata=cli("--family", "formula family (`fdsl list`)"))
    #: Options of the family's own config (e.g. ``size``, ``points``); unset ones keep the papers'
    #: values. A resolved config holds every option (:meth:`completed`).
    formula: dict[str, Any] = dataclasses.field(default_factory=dict, metadata=belongs_to("family"))
    categories: int = dataclasses.field(default=1000, metadata=cli("--categories", "number of categories (classes)"))
    #: Training instances per category: indices 0 .. instances - 1.
    instances: int = dataclasses.field(default=1000, metadata=cli("--instances", "training instances per category"))
    #: Held-out instances per category, right after the training range (0: no validation).
    val_instances: int = dataclasses.field(default=0, metadata=cli(
        "--val-instances", "held-out instances per category (0: no validation)"))
    #: Passes over the training images per epoch (OFDB: one image per category, seen many times).
    repeats: int = 1
    #: Show only this many of each category's training instances per pass (None: all of them). The
    #: instances of a pass are drawn without replacement from (seed, epoch, pass, category), so any
    #: worker count, rank count or resume draws the same (3D-OFDB: 12 views, one per pass). With an
    #: image folder that no render made as ``data_dir``: this many images of each class per epoch.
    instances_per_epoch: int | None = None
    #: The data seed: categories and samples derive from it (``fdsl render --data-seed``).
    seed: int = dataclasses.field(default=0, metadata=cli(
        "--data-seed", "seed the formula images derive from (as `fdsl render --data-seed`)"))
    #: Read categories from this directory (e.g. the official FractalDB CSVs) instead of searching.
    param_dir: str | None = dataclasses.field(default=None, metadata=cli(
        "--param-dir", "read categories from this directory instead of searching"))
    #: Train on this rendered dataset instead of on the fly: an ImageFolder, or WebDataset shards
    #: (``fdsl render --format wds``; read when it holds ``shards/``). It then defines categories
    #: and instances; validation holds out the last ``val_instances`` samples of each class.
    data_dir: str | None = dataclasses.field(default=None, metadata=cli(
        "--data-dir", "train on this rendered folder instead of on the fly"))

    def validate(self) -> None:
        from fdsl.registry import formula_class, list_formulas

        check(self.family in list_formulas(), f"unknown formula family {self.family!r}; valid: {', '.join(list_formulas())}")
        usable = [name for name in list_formulas() if formula_class(name).kind.name in self.kinds]
        check(self.family in usable, f"data.family {self.family!r} makes {formula_class(self.family).kind.name} "
                                     f"samples; {' / '.join(self.kinds)} pre-training takes one of: {', '.join(usable)}")
        check(self.categories >= 1, f"data.categories = {self.categories}; allowed: >= 1")
        check(self.instances >= 1, f"data.instances = {self.instances}; allowed: >= 1")
        check(self.val_instances >= 0, f"data.val_instances = {self.val_instances}; allowed: >= 0")
        check(self.repeats >= 1, f"data.repeats = {self.repeats}; allowed: >= 1")
        per_epoch = self.instances_per_epoch
        if self.data_dir is None:
            check(per_epoch is None or 1 <= per_epoch <= self.instances,
                  f"data.instances_per_epoch = {per_epoch}; allowed: 1..data.instances ({self.instances}) or null")
        else:
            check(per_epoch is None or per_epoch >= 1, f"data.instances_per_epoch = {per_epoch}; allowed: >= 1 or null")
        self.family_config()

    def family_config(self):
        """The family's config built from ``formula`` (checked: a typo names the option)."""
        from fdsl.registry import formula_class

        try:
            return formula_class(self.family).Config.from_dict(self.formula)
        except FdslError as error:
            raise FdslError(f"data.formula of {self.family}: {error}") from None

    def completed(self) -> "FormulaDataConfig":
        """This config with every option of the family in ``formula`` (the papers' values where unset)."""
        return dataclasses.replace(self, formula=self.family_config().to_dict())


@dataclasses.dataclass
class RealDataConfig(Section):
    """Fine-tuning data: a dataset name (see :data:`NAMED_DATASETS`) or an ImageFolder path."""

    dataset: str = dataclasses.field(default="cifar10", metadata=cli(
        "--dataset", "cifar10, cifar100, or an ImageFolder path"))
    #: Where named datasets are stored (and downloaded to).
    root: str = dataclasses.field(default="data", metadata=cli(
        "--data-root", "where named datasets are stored and downloaded"))
    #: Validation split: None holds out ``holdout`` of each class from train; "test" takes a named
    #: dataset's official test split; a path reads an ImageFolder.
    val: str | None = dataclasses.field(default=None, metadata=cli(
        "--val", "validation split: 'test' (named datasets) or an ImageFolder path; default: hold out part of "
                 "each class"))
    holdout: float = dataclasses.field(default=0.1, metadata=cli(
        "--holdout", "fraction of each class held out for validation"))
    #: Use only the first N training images of each class (small-data fine-tuning).
    train_per_class: int | None = dataclasses.field(default=None, metadata=cli(
        "--train-per-class", "use only the first N training images per class"))
    #: Score only the first N validation images of each class (faster evaluation every epoch).
    val_per_class: int | None = dataclasses.field(default=None, metadata=cli(
        "--val-per-class", "score only the first N validation images per class"))
    #: A file of an ImageFolder that is not a readable image (e.g. text named ``x.jpg``) stops the run
    #: with an error naming it; True checks every file once when the dataset is built (one decode
    #: each) and leaves the unreadable ones out, with a warning.
    skip_bad_images: bool = dataclasses.field(default=False, metadata=cli(
        "--skip-bad-images", "leave out (with a warning) the files of an ImageFolder that are no readable image"))

    def validate(self) -> None:
        check(0.0 <= self.holdout < 1.0, f"data.holdout = {self.holdout}; allowed: [0, 1)")
        for name in ("train_per_class", "val_per_class"):
            value = getattr(self, name)
            check(value is None or value >= 1, f"data.{name} = {value}; allowed: >= 1 or null")

    def describe(self) -> str:
        """What fine-tuning trains and scores on, in a few words (study and comparison reports)."""
        return (f"{self.dataset}, {self.train_per_class or 'all'} images per class, validation "
                f"{self.val_per_class or 'all'} held-out images per class (last {self.holdout:.0%} of each class)")


#: The 11 classes of CamVid (SegNet version), in label order (README of ../shared/data/camvid).
CAMVID_CLASSES = ("Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car",
                  "Pedestrian", "Bicyclist")


@dataclasses.dataclass
class SegFolderConfig(Section):
    """Fine-tuning data: a root holding ``train/`` + ``trainannot/`` and ``val/`` + ``valannot/``."""

    dataset: str = dataclasses.field(default="../shared/data/camvid", metadata=cli(
        "--dataset", "root with train/, trainannot/, val/, valannot/ (CamVid's layout)"))
    num_classes: int = dataclasses.field(default=11, metadata=cli(
        "--num-classes", "classes of the label maps (file values 0..N-1, or 1..N with --reduce-zero-label)"))
    #: A label value meaning "unlabelled": mapped to 255 and ignored (CamVid: 11). None: no such value.
    void: int | None = dataclasses.field(default=11, metadata=cli(
        "--void", "label value meaning unlabelled, ignored in loss and scores (CamVid: 11)"))
    #: mmsegmentation's ADE20K option: label 0 is ignored and every other label k becomes k - 1.
    reduce_zero_label: bool = dataclasses.field(default=False, metadata=cli(
        "--reduce-zero-label", "ignore label 0 and shift the others down by one (ADE20K)"))
    #: Class names in label order; empty: "0", "1", ...
    class_names: tuple[str, ...] = ()
    #: Train on the first N training images (sorted by file name); None: all of them.
    train_limit: int | None = dataclasses.field(default=None, metadata=cli(
        "--train-limit", "train on the first N training images (by file name)"))
    #: Validate on the first N validation images; None: all of them.
    val_limit: int | None = None

    def validate(self) -> None:
        check(1 <= self.num_classes <= IGNORE, f"data.num_classes = {self.num_classes}; allowed: 1..{IGNORE}")
        check(self.void is None or 0 <= self.void < 256, f"data.void = {self.void}; allowed: 0..255 or null")
        check(self.void is None or self.void not in self.class_values,
              f"data.void = {self.void} is a class id (file values {self.class_values.start}.."
              f"{self.class_values.stop - 1} are the {self.num_classes} classes); set data.void=null or an id "
              "that is no class")
        check(not self.class_names or len(self.class_names) == self.num_classes,
              f"data.class_names has {len(self.class_names)} names but data.num_classes is {self.num_classes}")
        for name in ("train_limit", "val_limit"):
            value = getattr(self, name)
            check(value is None or value >= 1, f"data.{name} = {value}; allowed: >= 1 or null")

    def describe(self) -> str:
        """What fine-tuning trains and scores on, in a few words (study and comparison reports)."""
        train = f"the first {self.train_limit}" if self.train_limit else "all"
        val = f"the first {self.val_limit}" if self.val_limit else "all"
        ignored = ", ".join(filter(None, ["255", f"{self.void}" if self.void is not None else "",
                                          "0 (reduce_zero_label)" if self.reduce_zero_label else ""]))
        return (f"{self.dataset}, {train} training images (train/), {val} validation images (val/), "
                f"{self.num_classes} classes, label {ignored} ignored")

    @property
    def class_values(self) -> range:
        """The label-file values that are classes."""
        return range(1, self.num_classes + 1) if self.reduce_zero_label else range(self.num_classes)

    @property
    def label_names(self) -> list[str]:
        return list(self.class_names) if self.class_names else [str(c) for c in range(self.num_classes)]


#: Detection data (:mod:`fdsl.data.detection`): the choices of its config's keys.
LABEL_KINDS = ("boxes", "masks")
FORMATS = ("auto", "coco", "yolo")
EMPTY_IMAGES = ("keep", "drop")
ORPHAN_LABELS = ("error", "skip")
MISSING_LABELS = ("empty", "skip")


@dataclasses.dataclass
class DetectionDataConfig(Section):
    """Real detection data for fine-tuning: a YOLO folder or a COCO JSON, and how to use it (read by
    :func:`fdsl.data.detection.read_detection_data`)."""

    dataset: str = dataclasses.field(default="../shared/data/coco128", metadata=cli(
        "--dataset", "a YOLO folder (COCO128's layout or Ultralytics') or a COCO instances_*.json file"))
    #: "auto": a .json file is COCO, a folder YOLO.
    format: str = dataclasses.field(default="auto", metadata=cli("--data-format", "coco, yolo or auto",
                                                                  choices=FORMATS))
    #: What is trained: "boxes" (Faster R-CNN) or "masks" (Mask R-CNN; YOLO's polygon labels).
    labels: str = dataclasses.field(default="boxes", metadata=cli("--labels", "boxes or masks", choices=LABEL_KINDS))
    #: COCO's image folder (default: next to the annotations, see :func:`read_coco`).
    images: str | None = None
    #: YOLO's split folder (default: the only one).
    split: str | None = None
    #: Train on these class names only (empty: every class).
    classes: tuple[str, ...] = dataclasses.field(default=(), metadata=cli(
        "--classes", "train on these class names only, e.g. person (default: every class)"))
    #: Share of the images held out for validation, spread evenly in file order (0.2: every fifth).
    holdout: float = dataclasses.field(default=0.2, metadata=cli("--holdout", "share of images held out"))
    #: Images without objects (in the data, or after ``classes``): kept as negatives, or dropped.
    empty_images: str = dataclasses.field(default="keep", metadata=cli("--empty-images", "keep or drop",
                                                                        choices=EMPTY_IMAGES))
    #: Label files (or JSON image entries) whose image is missing: an error, or skipped.
    orphan_labels: str = dataclasses.field(default="error", metadata=cli(
        "--orphan-labels", "label files without an image: error or skip", choices=ORPHAN_LABELS))
    #: YOLO images without a label file: no objects ("empty"), or left out ("skip"); None: the YAML's say.
    missing_labels: str | None = None
    #: The longer image side after resizing (the transforms resize boxes and masks with it); None: as stored.
    image_size: int | None = dataclasses.field(default=None, metadata=cli(
        "--image-size", "longer image side after resizing (CPU runs); default: as stored"))

    def validate(self) -> None:
        for name, allowed in (("format", FORMATS), ("labels", LABEL_KINDS), ("empty_images", EMPTY_IMAGES),
                              ("orphan_labels", ORPHAN_LABELS)):
            value = getattr(self, name)
            check(value in allowed, f"data.{name} = {value!r}; valid: {', '.join(allowed)}")
        check(self.missing_labels is None or self.missing_labels in MISSING_LABELS,
              f"data.missing_labels = {self.missing_labels!r}; valid: {', '.join(MISSING_LABELS)} or null")
        check(0.0 <= self.holdout < 1.0, f"data.holdout = {self.holdout}; allowed: [0, 1)")
        check(self.image_size is None or self.image_size >= 16, f"data.image_size = {self.image_size}; allowed: >= 16")

    @property
    def data_format(self) -> str:
        if self.format != "auto":
            return self.format
        return "coco" if Path(self.dataset).suffix.lower() == ".json" else "yolo"

    def describe(self) -> str:
        classes = ", ".join(self.classes) if self.classes else "all classes"
        return (f"{self.dataset} ({self.data_format}, {self.labels}), {classes}, every image at position i with "
                f"floor((i + 1) x {self.holdout}) > floor(i x {self.holdout}) held out, empty images "
                f"{'kept' if self.empty_images == 'keep' else 'dropped'}")
