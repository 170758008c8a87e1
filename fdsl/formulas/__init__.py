"""Formula families, one module each. Importing this package registers every built-in family:
a new family is a new module here with a ``@register("name")`` class, and nothing else changes."""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
