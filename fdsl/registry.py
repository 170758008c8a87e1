"""Formula families by name: ``@register("name")``, ``list_formulas()``, ``get_formula(name, **config)``,
``unregister(name)``.

The CLI, datasets, writers, tests and benchmarks iterate over this registry and never name a family.

Families from other packages (plugins) join through the ``fdsl.formulas`` entry-point group. The
entry point's name is the plugin's name (shown in messages), its value a module whose import
registers one or more families with ``@register``; in the plugin's ``pyproject.toml``::

    [project.entry-points."fdsl.formulas"]
    stripes = "fdsl_stripes.families"

Plugins load lazily, on the first call that needs the list of families (not on ``import fdsl``),
after the built-in families, and then every command takes their families by name. A plugin that
fails to import, or registers nothing, is reported in one warning line naming it and left out; a
family name that is already taken (by a built-in family or another plugin) is an
:class:`~fdsl.errors.FdslError` naming both owners.
"""
from __future__ import annotations

import logging
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from fdsl.errors import FdslError

if TYPE_CHECKING:
    from fdsl.formulas.base import Formula

log = logging.getLogger(__name__)

#: The entry-point group that third-party packages register their families under.
ENTRY_POINT_GROUP = "fdsl.formulas"
PLUGIN_PREFIX = "plugin "

_FORMULAS: dict[str, type["Formula"]] = {}
#: Who registered each family: its module, or "plugin 'name' (value)" for a plugin's.
_ORIGINS: dict[str, str] = {}
#: The plugin being imported right now (its families are recorded as its own).
_loading: list[str] = []
#: Entry points already loaded (or tried), as (name, value).
_seen_plugins: set[tuple[str, str]] = set()
_families_loaded = False


class DuplicateFamilyError(FdslError):
    """A family name registered twice; the message names both owners."""


def register(name: str):
    """Class decorator adding a :class:`~fdsl.formulas.base.Formula` subclass under ``name``."""

    def add(cls):
        origin = _loading[-1] if _loading else cls.__module__
        if name in _FORMULAS:
            raise DuplicateFamilyError(f"formula family {name!r} of {origin} is already registered by {_ORIGINS[name]}")
        cls.name = name
        _FORMULAS[name] = cls
        _ORIGINS[name] = origin
        return cls

    return add


def unregister(name: str) -> type["Formula"]:
    """Remove the family ``name`` (a plugin's or a test's); returns its class."""
    if name not in _FORMULAS:
        raise FdslError(f"unknown formula family {name!r}; valid: {', '.join(sorted(_FORMULAS))}")
    _ORIGINS.pop(name, None)
    return _FORMULAS.pop(name)


def family_plugin(name: str) -> str | None:
    """The plugin that registered the family ``name`` ("plugin 'p' (module, package d)"), or None
    for a built-in family (or one registered by code that imported fdsl itself)."""
    formula_class(name)
    origin = _ORIGINS[name]
    return origin if origin.startswith(PLUGIN_PREFIX) else None


def plugin_description(entry_point: EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    package = f", package {dist.name}" if dist is not None else ""
    return f"{PLUGIN_PREFIX}{entry_point.name!r} ({entry_point.value}{package})"


def load_plugin(entry_point: EntryPoint) -> list[str]:
    """Import one plugin; returns the families it registered. A failed import is a warning, not an
    error (the other families stay usable); a taken family name is an error."""
    description = plugin_description(entry_point)
    before = set(_FORMULAS)
    _loading.append(description)
    try:
        entry_point.load()
    except DuplicateFamilyError:
        raise
    except Exception as error:  # any failure of third-party code: reported on one line, not a traceback
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        log.warning("fdsl: warning: %s failed to load and is left out: %s%s", description, type(error).__name__,
                    f": {reason}" if reason else "")
        return []
    finally:
        _loading.pop()
    added = sorted(set(_FORMULAS) - before)
    if not added:
        log.warning("fdsl: warning: %s registered no formula family (does its module use @register?)", description)
    return added


def load_plugins() -> list[str]:
    """Load every plugin of the ``fdsl.formulas`` entry-point group not loaded yet; returns the
    families they added."""
    import fdsl.formulas  # noqa: F401  (the built-in families first: a plugin cannot take their names)

    added = []
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: (ep.name, ep.value)):
        key = (entry_point.name, entry_point.value)
        if key not in _seen_plugins:
            _seen_plugins.add(key)
            added += load_plugin(entry_point)
    return added


def _load_families() -> None:
    """The built-in families, then the plugins' (once per process)."""
    global _families_loaded
    import fdsl.formulas  # noqa: F401  (importing the package registers every built-in family)

    if not _families_loaded:
        _families_loaded = True
        load_plugins()


def list_formulas() -> list[str]:
    _load_families()
    return sorted(_FORMULAS)


def formula_class(name: str) -> type["Formula"]:
    _load_families()
    if name not in _FORMULAS:
        raise FdslError(f"unknown formula family {name!r}; valid: {', '.join(sorted(_FORMULAS))}")
    return _FORMULAS[name]


def get_formula(name: str, **config) -> "Formula":
    """The family ``name`` built from its config dataclass; unset (None) options keep their defaults."""
    cls = formula_class(name)
    return cls(cls.Config.from_dict({k: v for k, v in config.items() if v is not None}))
