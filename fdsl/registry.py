"""Formula families by name: ``@register("name")``, ``list_formulas()``, ``get_formula(name, **config)``,
``unregister(name)``.

The CLI, datasets, writers, tests and benchmarks iterate over this registry and never name a family.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from fdsl.errors import FdslError

if TYPE_CHECKING:
    from fdsl.formulas.base import Formula

_FORMULAS: dict[str, type["Formula"]] = {}


def register(name: str):
    """Class decorator adding a :class:`~fdsl.formulas.base.Formula` subclass under ``name``."""

    def add(cls):
        if name in _FORMULAS:
            raise ValueError(f"formula family {name!r} is already registered by {_FORMULAS[name].__module__}")
        cls.name = name
        _FORMULAS[name] = cls
        return cls

    return add


def unregister(name: str) -> type["Formula"]:
    """Remove the family ``name`` (a plugin's or a test's); returns its class."""
    if name not in _FORMULAS:
        raise FdslError(f"unknown formula family {name!r}; valid: {', '.join(sorted(_FORMULAS))}")
    return _FORMULAS.pop(name)


def _load_builtin_families() -> None:
    import fdsl.formulas  # noqa: F401  (importing the package registers every built-in family)


def list_formulas() -> list[str]:
    _load_builtin_families()
    return sorted(_FORMULAS)


def formula_class(name: str) -> type["Formula"]:
    _load_builtin_families()
    if name not in _FORMULAS:
        raise FdslError(f"unknown formula family {name!r}; valid: {', '.join(sorted(_FORMULAS))}")
    return _FORMULAS[name]


def get_formula(name: str, **config) -> "Formula":
    """The family ``name`` built from its config dataclass; unset (None) options keep their defaults."""
    cls = formula_class(name)
    return cls(cls.Config.from_dict({k: v for k, v in config.items() if v is not None}))
