"""Things registered by name, built-in or from other packages: formula families (``@register("name")``,
``list_formulas()``, ``get_formula(name, **config)``, ``unregister(name)``) and training tasks
(:mod:`fdsl.tasks`). The CLI, datasets, writers, runs, tests and benchmarks iterate over these
registries and never name a family or a task.

Other packages (plugins) join through an entry-point group: ``fdsl.formulas`` for families,
``fdsl.tasks`` for tasks. The entry point's name is the plugin's name (shown in messages), its value
a module whose import registers one or more entries; in the plugin's ``pyproject.toml``::

    [project.entry-points."fdsl.formulas"]
    stripes = "fdsl_stripes.families"

Plugins load lazily, on the first call that needs the list (not on ``import fdsl``), after the
built-in entries, and then every command takes theirs by name. A plugin that fails to import, or
registers nothing, is reported in one warning line naming it and left out; a name that is already
taken (by a built-in entry or another plugin) is an :class:`~fdsl.errors.FdslError` naming both owners.
"""
from __future__ import annotations

import importlib
import logging
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from fdsl.errors import FdslError

if TYPE_CHECKING:
    from fdsl.formulas.base import Formula

log = logging.getLogger(__name__)

PLUGIN_PREFIX = "plugin "
#: The plugin being imported right now, whichever registry imports it: a module may register families
#: and tasks at once, and each is recorded as that plugin's.
_loading: list[str] = []


class DuplicateNameError(FdslError):
    """A name registered twice; the message names both owners."""




class Registry:
    """Classes by name: the built-in ones (registered by importing ``builtins``), then the plugins of
    the entry-point group ``group``."""

    def __init__(self, what: str, group: str, builtins: tuple[str, ...]):
        self.what, self.group, self.builtins = what, group, builtins
        self.entries: dict[str, type] = {}
        #: Who registered each entry: its module, or "plugin 'name' (value)" for a plugin's.
        self.origins: dict[str, str] = {}
        self.seen_plugins: set[tuple[str, str]] = set()
        self.loaded = False

    def register(self, name: str):
        """Class decorator adding ``cls`` under ``name`` (and setting ``cls.name``)."""

        def add(cls):
            origin = _loading[-1] if _loading else cls.__module__
            if name in self.entries:
                raise DuplicateNameError(f"{self.what} {name!r} of {origin} is already registered by "
                                         f"{self.origins[name]}")
            cls.name = name
            self.entries[name] = cls
            self.origins[name] = origin
            return cls

        return add

    def unregister(self, name: str) -> type:
        if name not in self.entries:
            raise FdslError(f"unknown {self.what} {name!r}; valid: {', '.join(sorted(self.entries))}")
        self.origins.pop(name, None)
        return self.entries.pop(name)

    def plugin_of(self, name: str) -> str | None:
        """The plugin that registered ``name`` ("plugin 'p' (module, package d)"), or None for a
        built-in entry (or one registered by code that imported fdsl itself)."""
        self.get(name)
        origin = self.origins[name]
        return origin if origin.startswith(PLUGIN_PREFIX) else None

    def load_plugin(self, entry_point: EntryPoint) -> list[str]:
        """Import one plugin; returns what it registered. A failed import is a warning, not an error
        (the other entries stay usable); a taken name is an error."""
        description = plugin_description(entry_point)
        before = set(self.entries)
        _loading.append(description)
        try:
            entry_point.load()
        except DuplicateNameError:
            raise
        except Exception as error:  # any failure of third-party code: reported on one line, not a traceback
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            log.warning("fdsl: warning: %s failed to load and is left out: %s%s", description, type(error).__name__,
                        f": {reason}" if reason else "")
            return []
        finally:
            _loading.pop()
        added = sorted(set(self.entries) - before)
        if not any(origin == description for origin in self.origins.values()):  # its import may have come first
            log.warning("fdsl: warning: %s registered no %s (does its module use @register?)", description, self.what)
        return added

    def load_plugins(self) -> list[str]:
        """Load every plugin of the group not loaded yet; returns the names they added."""
        self.load_builtins()  # first: a plugin cannot take their names
        added = []
        for entry_point in sorted(entry_points(group=self.group), key=lambda ep: (ep.name, ep.value)):
            key = (entry_point.name, entry_point.value)
            if key not in self.seen_plugins:
                self.seen_plugins.add(key)
                added += self.load_plugin(entry_point)
        return added

    def load_builtins(self) -> None:
        for module in self.builtins:
            importlib.import_module(module)

    def load(self) -> None:
        """The built-in entries, then the plugins' (once per process)."""
        self.load_builtins()
        if not self.loaded:
            self.loaded = True
            self.load_plugins()

    def names(self) -> list[str]:
        self.load()
        return sorted(self.entries)

    def get(self, name: str) -> Any:
        self.load()
        if name not in self.entries:
            raise FdslError(f"unknown {self.what} {name!r}; valid: {', '.join(sorted(self.entries))}")
        return self.entries[name]


def plugin_description(entry_point: EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    package = f", package {dist.name}" if dist is not None else ""
    return f"{PLUGIN_PREFIX}{entry_point.name!r} ({entry_point.value}{package})"


#: Formula families (importing ``fdsl.formulas`` registers every built-in one).
FAMILIES = Registry("formula family", "fdsl.formulas", ("fdsl.formulas",))
#: The entry-point group that third-party packages register their families under.
ENTRY_POINT_GROUP = FAMILIES.group


def register(name: str):
    """Class decorator adding a :class:`~fdsl.formulas.base.Formula` subclass under ``name``."""
    return FAMILIES.register(name)


def unregister(name: str) -> type["Formula"]:
    """Remove the family ``name`` (a plugin's or a test's); returns its class."""
    return FAMILIES.unregister(name)


def family_plugin(name: str) -> str | None:
    return FAMILIES.plugin_of(name)


def load_plugins() -> list[str]:
    """Load every family plugin not loaded yet; returns the families they added."""
    return FAMILIES.load_plugins()


def list_formulas() -> list[str]:
    return FAMILIES.names()


def formula_class(name: str) -> type["Formula"]:
    return FAMILIES.get(name)


def get_formula(name: str, **config) -> "Formula":
    """The family ``name`` built from its config dataclass; unset (None) options keep their defaults."""
    cls = formula_class(name)
    return cls(cls.Config.from_dict({k: v for k, v in config.items() if v is not None}))
