"""Write-then-rename: a reader never sees half a file, and an interrupted writer leaves only a
temporary file (``.<name>.tmp-<pid>``) that the next run removes."""
from __future__ import annotations

import os
from pathlib import Path

TMP_MARK = ".tmp-"


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
