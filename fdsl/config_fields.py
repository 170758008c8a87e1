"""What a config dataclass declares about its fields, read from the fields themselves (no list of
names elsewhere): its sections (fields whose type is a config dataclass), its free-form mappings
(fields whose type is a ``dict``: set as a whole, never merged key by key), and the command-line
flag of a field (``dataclasses.field(metadata=cli("--model", "help"))``, see :mod:`fdsl.cli_flags`).
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any

FLAG = "cli_flag"
HELP = "cli_help"
CHOICES = "choices"
#: A field whose value belongs to a sibling field (a model's kwargs to its name, a family's options
#: to the family): a command-line value of the sibling that differs from the preset's drops it.
BELONGS_TO = "belongs_to"


def cli(flag: str, help: str = "", *, choices: tuple | None = None) -> dict[str, Any]:
    """Field metadata: this config field has the command-line option ``flag`` (values in ``choices``)."""
    return {FLAG: flag, HELP: help, **({CHOICES: tuple(choices)} if choices else {})}


def choices(values: tuple) -> dict[str, Any]:
    """Field metadata: the values a field allows (its flag offers them; ``validate`` still checks)."""
    return {CHOICES: tuple(values)}


def belongs_to(name: str) -> dict[str, Any]:
    """Field metadata: this field's value belongs to its sibling field ``name``."""
    return {BELONGS_TO: name}


def field_hints(cls: type) -> dict[str, Any]:
    """Field name -> type hint of a config dataclass (string annotations resolved)."""
    hints = typing.get_type_hints(cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


def sections(cls: type) -> dict[str, type]:
    """The fields of ``cls`` that are themselves config dataclasses (``model``, ``data``, ...)."""
    return {name: hint for name, hint in field_hints(cls).items() if dataclasses.is_dataclass(hint)}


def section_at(cls: type, path: list[str]) -> type | None:
    """The config dataclass at the dotted ``path`` of ``cls`` (``["data"]`` -> its data config), or None."""
    for part in path:
        cls = sections(cls).get(part) if cls is not None else None
    return cls


def is_free_form(hint: Any) -> bool:
    """A ``dict`` field: a mapping set as a whole (a model's kwargs, a family's options)."""
    return hint is dict or typing.get_origin(hint) is dict


def dependents(cls: type, name: str) -> list[str]:
    """The fields of ``cls`` whose value belongs to its field ``name`` (see :data:`BELONGS_TO`)."""
    return [field.name for field in dataclasses.fields(cls) if field.metadata.get(BELONGS_TO) == name]
