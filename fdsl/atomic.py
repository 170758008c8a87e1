"""Atomic writes: every file fdsl saves goes to a temporary name in the same folder and is then
renamed over the final name, so a reader (or a resumed run) never sees half a file.

The temporary name is ``.<name>.tmp-<pid>``: hidden, unique per process (two processes writing
the same file never share a temporary), and without the final extension, so a reader that picks
files by extension (an ImageFolder over ``*.png``) never takes one; writers that choose a format
from the extension must be told it (``savefig(..., format="png")``). A failed write removes its
temporary; one left by a killed process matches ``TMP_GLOB`` and can be swept (the image writer
does so before it resumes).
"""
from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path


#: What every temporary name holds between the final name and the process id.
TMP_MARK = ".tmp-"
#: Matches the temporaries of any file (glob pattern, relative to their folder).
TMP_GLOB = f".*{TMP_MARK}*"
#: errno values of a full disk or an exhausted quota: the error names the file, in one line.
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def temporary_path(path: Path) -> Path:
    """This process's temporary name for ``path`` (same folder, so the rename stays atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` through (for writers that take a file name: PIL,
    matplotlib, torch, safetensors); on success it replaces ``path``, on error it is removed (a full
    disk then ends in one :class:`FdslError` naming the file; what was written before stays whole)."""
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename is None:  # a failed write() names no file
            error.filename = str(path)
        raise


def no_space_message(error: OSError, path: Path | str | None = None) -> str:
    """One line for a write that found the disk (or the quota) full."""
    where = path if path is not None else error.filename
    target = f" {str(where)!r}" if where is not None else ""
    return f"cannot write{target}: {os.strerror(error.errno)}; free some space (the files written so far are whole)"


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
