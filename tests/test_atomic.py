"""Atomic writes: the final file appears whole or not at all, and no temporary is left behind."""
from __future__ import annotations

import os

import pytest

from fdsl.atomic import TMP_GLOB, atomic_path, temporary_path, write_bytes_atomic, write_text_atomic


def test_writes_replace_the_file_and_leave_no_temporary(tmp_path):
    path = tmp_path / "a.json"
    write_text_atomic(path, "old")
    write_bytes_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_the_temporary_is_hidden_per_process_and_matches_the_glob(tmp_path):
    tmp = temporary_path(tmp_path / "x.png")
    assert tmp.parent == tmp_path and tmp.name.startswith(".x.png") and tmp.name.endswith(str(os.getpid()))
    assert tmp.suffix != ".png"  # a reader globbing *.png never takes a half-written file
    assert tmp.match(TMP_GLOB)


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.bin"]
