"""What every formula family provides: a typed config, a category sampler and a pure renderer.

A family is a :class:`Formula` subclass registered by name (:func:`fdsl.registry.register`).
A sample (an image, an image and its mask, a point cloud...: the family's ``kind``, see
:mod:`fdsl.samples`) is a pure function of ``(params of category, instance index, generator)``,
where the generator derives from ``(seed, category, instance)`` (:mod:`fdsl.seeding`).
"""
from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, get_type_hints

import numpy as np

from fdsl.atomic import write_text_atomic
from fdsl.errors import FdslError, check
from fdsl.numeric import to_number
from fdsl.samples.base import SampleKind
from fdsl.samples.image import IMAGE
from fdsl.seeding import RENDER, SEARCH, derive_rng


@dataclasses.dataclass
class FormulaConfig:
    """Base of every family's config: ``from_dict`` rejects unknown keys, ``validate`` checks values."""

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "FormulaConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise FdslError(f"unknown option {unknown[0]!r} for {cls.__name__}; valid: {', '.join(sorted(names))}")
        kinds = cls.field_types()
        for key, value in values.items():
            if kinds[key] in (bool, str):
                check(isinstance(value, kinds[key]), f"option {key!r} = {value!r}; expected {kinds[key].__name__}")
        numbers = {k: to_number(v, kinds[k], f"option {k!r}") for k, v in values.items() if kinds[k] in (int, float)}
        config = cls(**{**values, **numbers})
        config.validate()
        return config

    @classmethod
    def field_types(cls) -> dict[str, type]:
        hints = get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}

    def validate(self) -> None:
        """Raise :class:`FdslError` naming the first bad value; subclasses extend."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    check(value in choices, f"unknown {name} {value!r}; valid: {', '.join(choices)}")


def check_range(name: str, value: float, low: float, high: float, *, low_open: bool = False) -> None:
    ok = (low < value if low_open else low <= value) and value <= high
    bracket = "(" if low_open else "["
    check(ok, f"{name} = {value!r} is out of range; allowed: {bracket}{low}, {high}]")


class Formula(ABC):
    """A formula family. Subclasses set ``Config`` and implement ``sample_category`` and ``render``."""

    name: ClassVar[str]
    Config: ClassVar[type[FormulaConfig]]
    #: Small settings (config overrides) that keep the family's look but render in milliseconds:
    #: used by the registry-wide tests, quick previews and the CPU demo.
    quick_config: ClassVar[dict[str, Any]] = {}
    #: What one sample is; writers, datasets and galleries ask it how to handle samples.
    kind: ClassVar[SampleKind] = IMAGE
    #: PIL mode of the images of image kinds: "L" (grey) or "RGB".
    image_mode: str = "L"

    def __init__(self, config: FormulaConfig | None = None):
        config = config if config is not None else self.Config()
        config.validate()
        self.config = config

    # --- categories -------------------------------------------------------------------------
    @property
    def category_count(self) -> int | None:
        """How many categories the family defines (None: as many as the search finds)."""
        return None

    @abstractmethod
    def sample_category(self, rng: np.random.Generator) -> Any | None:
        """Draw one candidate category's parameters, or None when the candidate is rejected."""

    max_search_tries: int = 100_000

    def search_category(self, seed: int, index: int) -> Any:
        """The first accepted candidate of category ``index``'s own generator (order-independent)."""
        rng = derive_rng(seed, SEARCH, index)
        for _ in range(self.max_search_tries):
            params = self.sample_category(rng)
            if params is not None:
                return params
        raise FdslError(
            f"{self.name}: no candidate accepted for category {index} after {self.max_search_tries} tries; "
            "loosen the acceptance threshold"
        )

    # --- instances --------------------------------------------------------------------------
    @property
    def instances_per_category(self) -> int | None:
        """How many distinct instances a category has (None: unlimited)."""
        return None

    @abstractmethod
    def render(self, params: Any, instance: int, rng: np.random.Generator) -> Any:
        """Sample ``instance`` of the category ``params``, of the family's ``kind`` (images: uint8,
        (H, W) for "L" or (H, W, 3) for "RGB")."""

    def sample(self, params: Any, seed: int, category: int, instance: int) -> Any:
        """The sample (seed, category, instance): the same bytes in any process, any order."""
        return self.render(params, instance, derive_rng(seed, RENDER, category, instance))

    def sample_stem(self, category: int, instance: int) -> str:
        """The file name of sample (category, instance) without suffix; the kind adds its suffixes."""
        return f"{category:05d}_{instance:05d}"

    # --- category files ---------------------------------------------------------------------
    def write_categories(self, categories: list[Any], directory: Path) -> None:
        """Save categories (default: one ``categories.json``); families with an official format override."""
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"family": self.name, "categories": [encode_json(p) for p in categories]}
        write_text_atomic(directory / "categories.json", json.dumps(payload, indent=1))

    def read_categories(self, directory: Path) -> list[Any]:
        path = Path(directory) / "categories.json"
        check(path.is_file(), f"category file {str(path)!r} does not exist; run `fdsl search {self.name}` first")
        try:
            payload = json.loads(path.read_text())
            return [self.decode_category(obj) for obj in payload["categories"]]
        except (ValueError, KeyError, TypeError) as error:
            raise FdslError(f"malformed category file {str(path)!r}: {error}") from None

    def decode_category(self, obj: Any) -> Any:
        """Turn the JSON form of one category back into params (default: as stored)."""
        return obj


def encode_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return encode_json(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {k: encode_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
