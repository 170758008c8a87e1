"""Data configs (plain dataclasses, cheap to import): formula images for pre-training, real images
for fine-tuning. The datasets they describe are built in :mod:`fdsl.data.datasets`."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from fdsl.config_fields import belongs_to, cli
from fdsl.errors import FdslError, check


@dataclasses.dataclass
class FormulaDataConfig:
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
    #: worker count, rank count or resume draws the same (3D-OFDB: 12 views, one per pass).
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
        check(per_epoch is None or 1 <= per_epoch <= self.instances,
              f"data.instances_per_epoch = {per_epoch}; allowed: 1..data.instances ({self.instances}) or null")
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
class RealDataConfig:
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
