"""Command-line options generated from config dataclasses: the one way every ``fdsl`` command gets
its config flags (a family's options, the training keys).

A field becomes an option from its type: ``bool`` -> ``--x/--no-x``, ``int``/``float`` -> a number
in any spelling :func:`fdsl.numeric.to_number` reads (``1_000``, ``2e-1``), ``X | None`` -> ``X``,
``tuple[X, X]`` -> two values, ``tuple[X, ...]`` -> any number; ``dict`` fields (free-form) get no
option. A config field declares its flag with ``dataclasses.field(metadata=cli("--model", "help"))``
(:mod:`fdsl.config_fields`; it may declare ``choices``); every field of a family's config is an option named after the field.
Unset options stay ``None`` on the namespace, so they leave the preset's values alone.
"""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

from fdsl.config_fields import CHOICES, FLAG, HELP, field_hints, is_free_form
from fdsl.numeric import to_number


@dataclasses.dataclass(frozen=True)
class Option:
    """One command-line option and the config key it sets (``path``, e.g. ("model", "name"))."""

    path: tuple[str, ...]
    flag: str
    hint: Any
    help: str = ""
    choices: tuple | None = None

    @property
    def dest(self) -> str:
        return "config:" + ".".join(self.path)

    @property
    def name(self) -> str:
        return self.path[-1]


def declared_options(cls: type, path: tuple[str, ...] = (), *, exclude: tuple[str, ...] = ()) -> list[Option]:
    """The options declared with :func:`cli` by the fields of ``cls`` and of its sections, in order;
    ``exclude`` names config keys (``"init"``, ``"data.val"``) that get none."""
    options = []
    hints = field_hints(cls)
    for field in dataclasses.fields(cls):
        key = path + (field.name,)
        if ".".join(key) in exclude:
            continue
        if dataclasses.is_dataclass(hints[field.name]):
            options += declared_options(hints[field.name], key, exclude=exclude)
        elif FLAG in field.metadata:
            options.append(Option(key, field.metadata[FLAG], hints[field.name], field.metadata.get(HELP, ""),
                                  field.metadata.get(CHOICES)))
    return options


def field_options(cls: type, path: tuple[str, ...] = ()) -> list[Option]:
    """One option per field of ``cls`` (a family's config), named after the field: ``--search-size``."""
    defaults, hints = cls(), field_hints(cls)
    return [Option(path + (field.name,), "--" + field.name.replace("_", "-"), hints[field.name],
                   f"default: {getattr(defaults, field.name)}", field.metadata.get(CHOICES))
            for field in dataclasses.fields(cls) if not is_free_form(hints[field.name])]


def add_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, options: list[Option], *,
                fallback_prefix: str = "") -> list[Option]:
    """Add ``options`` to ``parser``; returns them. An option whose flag the parser already has is
    added as ``--<fallback_prefix><flag>`` instead (a family option named like a command's flag)."""
    added = []
    for option in options:
        try:
            parser.add_argument(option.flag, dest=option.dest, default=None, help=option.help, **argument_kind(option))
        except argparse.ArgumentError:
            if not fallback_prefix:
                raise
            option = dataclasses.replace(option, flag=f"--{fallback_prefix}{option.flag[2:]}")
            parser.add_argument(option.flag, dest=option.dest, default=None, help=option.help, **argument_kind(option))
        added.append(option)
    return added


def argument_kind(option: Option) -> dict[str, Any]:
    """argparse's ``type``, ``nargs`` and ``metavar`` (or ``action``) for the option's type and choices."""
    hint = optional_inner(option.hint)
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if option.choices:
        return {"type": choice_parser(option), "metavar": "{" + ",".join(map(str, option.choices)) + "}"}
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        variadic = len(args) == 2 and args[1] is Ellipsis
        return {"type": value_parser(args[0]), "nargs": "*" if variadic else len(args),
                "metavar": option.name.upper()}
    return {"type": value_parser(hint), "metavar": option.name.upper()}


def choice_parser(option: Option) -> Callable[[str], Any]:
    """A value among the option's choices; otherwise the message the configs give ("valid: a, b")."""
    def choice(text: str) -> Any:
        if text not in map(str, option.choices):
            raise argparse.ArgumentTypeError(f"unknown {option.name} {text!r}; valid: "
                                              f"{', '.join(map(str, option.choices))}")
        return next(value for value in option.choices if str(value) == text)

    return choice


def optional_inner(hint: Any) -> Any:
    """``X`` for ``X | None`` (and ``Optional[X]``), else ``hint``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return hint


def value_parser(kind: Any) -> Callable[[str], Any]:
    """The text-to-value function of one option value (numbers in any spelling of :mod:`fdsl.numeric`)."""
    if kind in (int, float):
        def number(text: str) -> int | float:
            return to_number(text, kind, "value")

        number.__name__ = kind.__name__  # argparse names the type in its error: "invalid int value: 'x'"
        return number
    return kind if isinstance(kind, type) and kind is not typing.Any else str


def option_values(args: argparse.Namespace, options: list[Option]) -> dict[str, Any]:
    """The options set on the command line as a nested dict of config keys (tuples as lists)."""
    values: dict[str, Any] = {}
    for option, value in given(args, options):
        node = values
        for part in option.path[:-1]:
            node = node.setdefault(part, {})
        node[option.name] = list(value) if isinstance(value, (list, tuple)) else value
    return values


def given(args: argparse.Namespace, options: list[Option]) -> Iterator[tuple[Option, Any]]:
    """(option, value) of every option set on the command line."""
    for option in options:
        value = getattr(args, option.dest, None)
        if value is not None:
            yield option, value
