"""Where a command may write: one check of an output folder, made before anything is read or
written, and the one line that a failed write ends in.

The check refuses an output that cannot become a writable folder (an existing file, a path under
a file, a read-only or forbidden place) and an output that overlaps a folder the command reads:
inside (or equal to) an input, where the run's folders would become classes or stray files of the
data, or around an input that it would write into. ``os.access`` answers for the real user, so a
read-only file system is refused for root too.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fdsl.atomic import TMP_MARK
from fdsl.config_fields import FLAG, sections
from fdsl.errors import FdslError, check

#: The flags whose values name folders that a command reads (a named dataset such as ``cifar10`` is
#: no folder and is left alone).
INPUT_FLAGS = ("--dataset", "--val", "--data-dir", "--param-dir")


def check_output(out: Path, *, inputs: Mapping[str, str] | None = None, writes: Iterable[str] = ()) -> None:
    """Fail in one line unless ``out`` can become a writable folder apart from ``inputs`` (what the
    command reads, by the flag that names it). ``writes`` are the names the command writes inside
    ``out``: an input at or under one of them would be written into."""
    out = Path(out)
    existing = nearest_existing(out)
    check(existing.is_dir(), f"output {str(out)!r} is under {str(existing)!r}, which is a file, not a folder"
          if existing != out else f"output {str(out)!r} exists and is not a folder")
    check(os.access(existing, os.W_OK | os.X_OK),
          f"output {str(out)!r} is not writable ({str(existing)!r} is read-only or forbids writing)")
    for flag, path in (inputs or {}).items():
        check_apart(out, flag, Path(path), writes)


def nearest_existing(path: Path) -> Path:
    """``path`` if it exists, else its nearest ancestor that does (a file among them stops the walk)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_apart(out: Path, flag: str, source: Path, writes: Iterable[str]) -> None:
    """``out`` neither at nor under the input folder ``source``, and ``source`` not under what the
    command writes in ``out``."""
    if not source.is_dir():
        return
    real_out, real_source = Path(os.path.realpath(out)), Path(os.path.realpath(source))
    if real_out == real_source or real_source in real_out.parents:
        where = "is" if real_out == real_source else "is inside"
        raise FdslError(f"output {str(out)!r} {where} the {flag} folder {str(source)!r}: the run would write into "
                        "the data it reads; choose an output outside it")
    for name in writes:
        target = real_out / name
        if target == real_source or target in real_source.parents:
            raise FdslError(f"{flag} {str(source)!r} lies in {str(Path(out) / name)!r}, which the run writes; move "
                            "the data or choose another output")


def input_folders(config: Any) -> dict[str, str]:
    """The folders a config reads: flag -> path, for every field of its sections whose flag is one
    of :data:`INPUT_FLAGS` and whose value names an existing folder."""
    found: dict[str, str] = {}
    for name in sections(type(config)):
        section = getattr(config, name)
        found.update(input_folders(section))
        for field in dataclasses.fields(section):
            value = getattr(section, field.name)
            if field.metadata.get(FLAG) in INPUT_FLAGS and isinstance(value, str) and Path(value).is_dir():
                found[field.metadata[FLAG]] = value
    return found


def write_failure(error: OSError, folder: Path) -> str:
    """What a failed write says: the file (its final name, not the temporary it went through, see
    :mod:`fdsl.atomic`) or else ``folder``, and the system's reason."""
    path = Path(error.filename) if error.filename else Path(folder)
    if path.name.startswith(".") and TMP_MARK in path.name:
        path = path.with_name(path.name[1:path.name.index(TMP_MARK)])
    return f"cannot write {str(path)!r}: {error.strerror or error}"
