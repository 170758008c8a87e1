"""The config machinery every task shares: typed dataclasses filled from a preset, then YAML, then
command-line overrides, converted and checked against their type hints, and saved as YAML in every
run folder.

A run config (:class:`RunConfig`: a task's pre-training or fine-tuning config) is made of sections
(:class:`Section`: model, data, augment, optim, train...), each a dataclass that validates itself
and may complete itself (a family's options: every option of the family, the papers' values where
unset). Nothing here knows a task.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from fdsl.config_fields import is_free_form, sections
from fdsl.errors import FdslError, check
from fdsl.numeric import to_number


class Section:
    """Base of a config section: :meth:`validate` raises a one-line error naming the first bad value,
    :meth:`completed` returns the section with every default filled in (both: nothing by default)."""

    def validate(self) -> None:
        pass

    def completed(self):
        return self

    def describe(self) -> str:
        """The section in a few words (reports name a run's fine-tuning data with it): its fields."""
        return ", ".join(f"{f.name} {getattr(self, f.name)}" for f in dataclasses.fields(self))


@dataclasses.dataclass
class RunConfig(Section):
    """Base of every task's pre-training and fine-tuning config: validating it validates each of its
    sections, then :meth:`check` what concerns several of them."""

    def validate(self) -> None:
        for name in sections(type(self)):
            getattr(self, name).validate()
        self.check()

    def check(self) -> None:
        """Checks that span sections (subclasses extend)."""


C = TypeVar("C")


def to_dict(config: Any) -> dict[str, Any]:
    """Plain nested dict (tuples as lists), ready for YAML or JSON."""

    def plain(value):
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(config)


def from_dict(cls: type[C], values: dict[str, Any], *, where: str = "") -> C:
    """Build ``cls`` from a nested dict, converting and checking every value against the type hints."""
    check(isinstance(values, dict), f"config {section_name(where)} = {values!r}; expected a mapping of its keys")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        key = f"{where}{unknown[0]}"
        raise FdslError(f"unknown config key {key!r}; valid: {', '.join(where + n for n in names)}")
    return cls(**{name: _convert(values[name], hints[name], f"{where}{name}") for name in names if name in values})


def _convert(value: Any, hint: Any, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, key)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where=f"{key}.")
    if origin is tuple:
        check(isinstance(value, (list, tuple)), f"config {key!r} = {value!r}; expected a list")
        kinds = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        check(len(kinds) == len(value), f"config {key!r} = {value!r}; expected {len(kinds)} values")
        return tuple(_convert(v, k, key) for v, k in zip(value, kinds))
    if is_free_form(hint):
        check(isinstance(value, dict), f"config {key!r} = {value!r}; expected a mapping")
        return dict(value)
    if hint in (int, float):  # also "2e-3" (a string to YAML 1.1) and "1_000"
        number = to_number(value, hint, f"config {key!r}")
        # no setting takes an infinite or NaN value; inf would pass the checks of the form "lr > 0"
        check(math.isfinite(number), f"config {key!r} = {value!r}; allowed: a finite number")
        return number
    if hint is Any or (isinstance(hint, type) and isinstance(value, hint)):
        return value
    raise FdslError(f"config {key!r} = {value!r}; expected {getattr(hint, '__name__', hint)}")


def section_name(where: str) -> str:
    """``"data."`` -> ``"section 'data'"``; the root of a config has no prefix."""
    return f"section {where.rstrip('.')!r}" if where else "root"


def merge(base: dict[str, Any], overrides: dict[str, Any], cls: type, where: str = "") -> dict[str, Any]:
    """``base`` with ``overrides`` applied key by key: the sections of the config dataclass ``cls``
    are merged in turn; any other value, a free-form mapping included, replaces the base's. An
    empty section (``train:`` with every key commented out reads as None) changes nothing; a
    section given a value that is not a mapping is an error naming it."""
    merged = dict(base)
    parts = sections(cls)
    for key, value in overrides.items():
        if key not in parts:
            merged[key] = value
        elif value is not None:
            check(isinstance(value, dict),
                  f"config {section_name(f'{where}{key}.')} = {value!r}; expected a mapping of its keys")
            inner = merged.get(key)
            merged[key] = merge(inner if isinstance(inner, dict) else {}, value, parts[key], f"{where}{key}.")
    return merged


def parse_assignment(text: str) -> dict[str, Any]:
    """``"optim.lr=0.01"`` -> ``{"optim": {"lr": 0.01}}`` (the value is read as YAML)."""
    key, sep, raw = text.partition("=")
    check(bool(sep) and bool(key.strip()), f"override {text!r} is malformed; allowed: KEY=VALUE, e.g. optim.lr=0.01")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise FdslError(f"override {text!r}: the value is not valid YAML") from None
    return nest(key.strip().split("."), value)


def nest(path: list[str], value: Any) -> dict[str, Any]:
    """``["optim", "lr"], 0.01`` -> ``{"optim": {"lr": 0.01}}``."""
    for part in reversed(path):
        value = {part: value}
    return value


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    check(path.is_file(), f"config file {str(path)!r} does not exist")
    try:
        values = yaml.safe_load(path.read_bytes().decode("utf-8-sig")) or {}
    except OSError as error:
        raise FdslError(f"cannot read config file {str(path)!r}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise FdslError(f"config file {str(path)!r} is not UTF-8 text (byte 0x{error.object[error.start]:02x} at "
                        f"offset {error.start}); save it as UTF-8") from None
    except yaml.YAMLError as error:
        raise FdslError(f"config file {str(path)!r} is not valid YAML: {str(error).splitlines()[0]}") from None
    check(isinstance(values, dict), f"config file {str(path)!r} must hold a mapping")
    return values


def merged(base: C, *layers: dict[str, Any]) -> dict[str, Any]:
    """The values of ``base`` with each layer of overrides applied in turn (not yet checked)."""
    values = to_dict(base)
    for layer in layers:
        values = merge(values, layer, type(base))
    return values


def resolve(base: C, *layers: dict[str, Any]) -> C:
    """``base`` with each layer of overrides applied in turn, converted, type-checked, completed
    (:func:`complete`) and validated."""
    config = complete(from_dict(type(base), merged(base, *layers)))
    config.validate()
    return config


def complete(config: C) -> C:
    """``config`` with every default filled in: each section that has a ``completed()`` method (a
    family's options: every option of the family's config) returns itself complete."""
    parts = {name: complete(getattr(config, name)) for name in sections(type(config))}
    config = dataclasses.replace(config, **parts) if parts else config
    return config.completed()


def dump_yaml(config: Any) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False)
