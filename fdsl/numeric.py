"""Numbers read from config files, whatever their spelling.

PyYAML reads YAML 1.1, in which ``2e-1`` and ``1e3`` (no dot) are strings, not floats. A value that a
config declares ``int`` or ``float`` is converted here, wherever it comes from (a preset, a YAML file,
``--set``, a study file, a family's options), so that any spelling Python reads as a number works.
"""
from __future__ import annotations

from typing import Any

from fdsl.errors import FdslError


def to_number(value: Any, kind: type, where: str) -> int | float:
    """``value`` (a number or a numeric string such as ``"2e-1"``, ``"1_000"``) as ``kind`` (int or
    float). An int takes only whole numbers (``1e3`` is 1000, ``2.5`` is an error). Anything else:
    one-line FdslError ``"<where> = <value>; expected <kind>"``."""
    number = _parse(value)
    if number is not None and kind is float:
        return float(number)
    if number is not None and kind is int and (isinstance(number, int) or number.is_integer()):
        return int(number)
    raise FdslError(f"{where} = {value!r}; expected {kind.__name__}")


def _parse(value: Any) -> int | float | None:
    if isinstance(value, bool):  # True is an int to Python, never a number to a config
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        for parse in (int, float):
            try:
                return parse(value)
            except ValueError:
                continue
    return None
