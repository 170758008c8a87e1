"""A mixture: several registered families in one dataset, with disjoint label ranges.

``families="fractaldb:100,exfractaldb:100"`` makes 200 categories: labels 0..99 are FractalDB
and labels 100..199 are ExFractalDB, in the order given (``locate``: label -> (family, index
among that family's labels)). The counts' total is the dataset's size; labels past it repeat
the pattern, so that generic code may ask for any index.

Label ``c`` is category ``c`` of its family, searched from the same seed, and its images are
that family's own images (seed, c, instance): a mixture is the union of disjoint category slices
of the standalone datasets, brought to one size and mode. Using the label as the member's
category index (rather than its position among the member's labels) matters when members share
a category search (``fractaldb`` and ``ofdb``; ``exfractaldb``, ``mvfractaldb`` and ``ofdb3d``):
their slices are then disjoint, so no two labels hold the same fractal. Any registered family
of the image kind can be a member, the ones added later included: only the registry and the
:class:`~fdsl.formulas.base.Formula` interface are used.

Different sizes and modes are reconciled as follows:
- ``size``: members whose config has a ``size`` option render at that size directly (1-px
  detail stays 1 px); any other member's image is resampled (bilinear) to ``size`` x ``size``.
- ``mode``: "L" or "RGB" for every image; "auto" is "RGB" when any member renders RGB, else "L".
  Grey to RGB repeats the channel; RGB to grey is PIL's ITU-R 601-2 luma.
- ``member_config``: "default" (each family's paper defaults) or "quick" (each family's small
  ``quick_config``, for previews and tests).

A mixture has as many instances per category as its most limited member (e.g. 1 with ``ofdb``).
Category files: one sub-directory per member in that family's own format (FractalDB CSVs, ...)
plus ``mixture.json`` recording the families spec.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fdsl.atomic import write_text_atomic
from fdsl.errors import FdslError, check
from fdsl.formulas.base import Formula, FormulaConfig, check_choice
from fdsl.registry import formula_class, get_formula, list_formulas, register

MODES = ("auto", "L", "RGB")
MEMBER_CONFIGS = ("default", "quick")
SPEC_FILE = "mixture.json"


def parse_families(spec: str) -> list[tuple[str, int]]:
    """``"a:100,b:50"`` -> [("a", 100), ("b", 50)]; FdslError naming the bad part."""
    members = []
    for part in spec.split(","):
        name, sep, count = part.strip().partition(":")
        count = count.strip()
        check(
            bool(sep) and count.isascii() and count.isdigit(),
            f"families entry {part.strip()!r} is malformed; allowed: family:count, e.g. fractaldb:100",
        )
        members.append((name.strip(), int(count)))
    return members


@dataclasses.dataclass
class MixtureConfig(FormulaConfig):
    families: str = "fractaldb:500,exfractaldb:500"
    size: int = 224
    mode: str = "auto"
    member_config: str = "default"

    def validate(self) -> None:
        members = parse_families(self.families)
        names = [name for name, _ in members]
        valid = [n for n in list_formulas() if n != "mixture"]
        for name, count in members:
            check(name in valid, f"families: unknown family {name!r}; valid: {', '.join(valid)}")
            check(count >= 1, f"families: {name}:{count}; allowed: a count >= 1")
        duplicate = next((n for n in names if names.count(n) > 1), None)
        check(duplicate is None, f"families: {duplicate!r} appears twice; allowed: each family once")
        check(8 <= self.size <= 8192, f"size = {self.size}; allowed: 8..8192")
        check_choice("mode", self.mode, MODES)
        check_choice("member_config", self.member_config, MEMBER_CONFIGS)


@dataclasses.dataclass(frozen=True)
class MixtureCategory:
    """One category of a mixture: the member family's name and that family's own params."""

    family: str
    params: Any


def build_member(name: str, size: int, member_config: str) -> Formula:
    cls = formula_class(name)
    overrides = dict(cls.quick_config) if member_config == "quick" else {}
    if "size" in cls.Config.field_types():
        overrides["size"] = size
    return get_formula(name, **overrides)


@register("mixture")
class Mixture(Formula):
    """Several families with disjoint label ranges (families="fractaldb:100,exfractaldb:100")."""

    Config = MixtureConfig
    quick_config = {"families": "fractaldb:3,exfractaldb:3", "size": 32, "member_config": "quick"}

    def __init__(self, config: MixtureConfig | None = None):
        super().__init__(config)
        c = self.config
        spec = parse_families(c.families)
        self.members = {name: build_member(name, c.size, c.member_config) for name, _ in spec}
        self.counts = [count for _, count in spec]
        self.offsets = np.cumsum([0] + self.counts).tolist()
        self.names = [name for name, _ in spec]
        for name, member in self.members.items():  # conform() brings images, and only images, together
            check(member.kind is self.kind,
                  f"mixture member {name!r} yields {member.kind.name} samples; allowed: families of {self.kind.name}s")
        any_rgb = any(m.image_mode == "RGB" for m in self.members.values())
        self.image_mode = ("RGB" if any_rgb else "L") if c.mode == "auto" else c.mode

    # --- labels -----------------------------------------------------------------------------
    @property
    def category_count(self) -> int:
        """The total of the counts: the dataset's size, and the period of the label pattern."""
        return self.offsets[-1]

    def locate(self, category: int) -> tuple[str, int]:
        """Label -> (family, index among that family's labels).

        Labels past the total repeat the pattern (label c belongs to the member owning c mod the
        total), so generic code may ask for any index and members stay disjoint.
        """
        check(category >= 0, f"category {category} is out of range; allowed: >= 0")
        period, position = divmod(category, self.category_count)
        k = int(np.searchsorted(self.offsets, position, side="right")) - 1
        return self.names[k], period * self.counts[k] + position - self.offsets[k]

    def label_range(self, family: str) -> range:
        """The family's labels among the first ``category_count``."""
        k = self.names.index(family)
        return range(self.offsets[k], self.offsets[k + 1])

    # --- categories -------------------------------------------------------------------------
    def sample_category(self, rng: np.random.Generator) -> MixtureCategory | None:
        """A candidate of a member drawn in proportion to its count (``search_category`` instead
        takes the member that owns the index)."""
        k = int(rng.choice(len(self.names), p=np.array(self.counts) / self.category_count))
        params = self.members[self.names[k]].sample_category(rng)
        return None if params is None else MixtureCategory(self.names[k], params)

    def search_category(self, seed: int, index: int) -> MixtureCategory:
        family, _ = self.locate(index)
        return MixtureCategory(family, self.members[family].search_category(seed, index))

    def write_categories(self, categories: list[MixtureCategory], directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for family in self.names:
            part = [c.params for c in categories if c.family == family]
            if part:
                self.members[family].write_categories(part, directory / family)
        payload = {"family": self.name, "families": self.config.families, "categories": len(categories)}
        write_text_atomic(directory / SPEC_FILE, json.dumps(payload, indent=1))

    def read_categories(self, directory: Path) -> list[MixtureCategory]:
        path = Path(directory) / SPEC_FILE
        check(path.is_file(), f"category file {str(path)!r} does not exist; run `fdsl search {self.name}` first")
        try:
            payload = json.loads(path.read_text())
            stored, total = str(payload["families"]), int(payload["categories"])
        except (ValueError, KeyError, TypeError) as error:
            raise FdslError(f"malformed category file {str(path)!r}: {error}") from None
        check(
            parse_families(stored) == parse_families(self.config.families),
            f"{str(path)!r} holds families={stored!r}; allowed: the same as --families ({self.config.families!r})",
        )
        owners = [self.locate(c)[0] for c in range(total)]
        parts = {}
        for family in self.names:
            wanted = owners.count(family)
            if wanted:
                where = Path(directory) / family
                part = self.members[family].read_categories(where)
                check(len(part) >= wanted, f"{str(where)!r} holds {len(part)} categories; expected {wanted}")
                parts[family] = iter(part[:wanted])
        return [MixtureCategory(family, next(parts[family])) for family in owners]

    # --- instances --------------------------------------------------------------------------
    @property
    def instances_per_category(self) -> int | None:
        limits = [m.instances_per_category for m in self.members.values() if m.instances_per_category is not None]
        return min(limits) if limits else None

    def sample_stem(self, category: int, instance: int) -> str:
        family, _ = self.locate(category)
        return self.members[family].sample_stem(category, instance)

    def render(self, params: MixtureCategory, instance: int, rng: np.random.Generator) -> np.ndarray:
        return self.conform(self.members[params.family].render(params.params, instance, rng))

    def sample(self, params: MixtureCategory, seed: int, category: int, instance: int) -> np.ndarray:
        """The member's own image (seed, category, instance), brought to size and mode."""
        family, _ = self.locate(category)
        check(family == params.family, f"category {category} belongs to {family!r}, not {params.family!r}")
        return self.conform(self.members[family].sample(params.params, seed, category, instance))

    def conform(self, image: np.ndarray) -> np.ndarray:
        """Bring a member's image to (size, size) and the mixture's mode."""
        size = self.config.size
        mode = "L" if image.ndim == 2 else "RGB"
        if image.shape[:2] == (size, size) and mode == self.image_mode:
            return image
        picture = Image.fromarray(image)
        if picture.size != (size, size):
            picture = picture.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(picture.convert(self.image_mode))
