"""FractalDB's parameter files: one CSV per category, one row per map, 7 columns a, b, c, d, e, f, p
with no header, named ``00000.csv``, ``00001.csv``, ... (the released FractalDB-1k format).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fdsl.errors import FdslError, check

N_COLUMNS = 7


def format_row(row: np.ndarray) -> str:
    # repr of a float round-trips exactly, so a CSV re-renders bit-identical images.
    return ",".join(repr(float(v)) for v in row)


def write_category_csvs(categories: list[np.ndarray], directory: Path) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for index, params in enumerate(categories):
        path = directory / f"{index:05d}.csv"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(format_row(row) + "\n" for row in params))
        tmp.replace(path)


def read_category_csv(path: Path) -> np.ndarray:
    """One category's (N, 7) parameters; any malformed content raises FdslError naming the file."""
    rows = []
    with open(path, newline="") as handle:
        for line_number, fields in enumerate(csv.reader(_text_lines(path, handle)), start=1):
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != N_COLUMNS:
                raise FdslError(
                    f"malformed CSV {str(path)!r} line {line_number}: {len(fields)} columns; "
                    f"allowed: {N_COLUMNS} (a, b, c, d, e, f, p)"
                )
            try:
                values = [float(f) for f in fields]
            except ValueError:
                raise FdslError(f"malformed CSV {str(path)!r} line {line_number}: non-numeric value in {fields}") from None
            check(
                all(np.isfinite(values)),
                f"malformed CSV {str(path)!r} line {line_number}: non-finite value in {fields}",
            )
            rows.append(values)
    check(len(rows) >= 1, f"malformed CSV {str(path)!r}: no rows; allowed: one row per map")
    return np.array(rows, dtype=np.float64)


def _text_lines(path: Path, handle):
    """The file's lines; a file that is not text (e.g. binary) is a malformed CSV, not a crash."""
    try:
        yield from handle
    except UnicodeDecodeError as error:
        raise FdslError(
            f"malformed CSV {str(path)!r}: not UTF-8 text ({error.reason}); allowed: rows a, b, c, d, e, f, p"
        ) from None


def read_category_csvs(directory: Path) -> list[np.ndarray]:
    """All ``*.csv`` of a directory in name order (the official 00000.csv ... naming sorts right).

    Every match must be a file (or a link to one): a category's label is its position in this
    order, so skipping, say, a folder named ``00000.csv`` would silently shift every label after it.
    """
    directory = Path(directory)
    check(directory.is_dir(), f"category directory {str(directory)!r} does not exist")
    paths = sorted(directory.glob("*.csv"))
    check(len(paths) > 0, f"category directory {str(directory)!r} holds no .csv files")
    for path in paths:
        check(
            path.is_file(),
            f"category CSV {str(path)!r} is not a regular file (a folder or a broken link); "
            "allowed: one CSV file per category",
        )
    return [read_category_csv(path) for path in paths]
