"""The FractalDB parameter files, shared by the 2-D and 3-D IFS families: one CSV per category
named by its index (``00000.csv``, ``00001.csv``, ...), one row per map, no header, the map's
parameters then its selection probability p.

- 2-D (FractalDB-1k, Kataoka et al., ACCV 2020; hirokatsukataoka16/FractalDB-Pretrained-ResNet-PyTorch):
  7 columns a, b, c, d, e, f, p; 5-digit names.
- 3-D (MV-FractalDB, Yamada et al., IROS 2021; ryosuke-yamada/3dfractaldb): 13 columns a..l, p;
  6-digit names.
"""
from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np

from fdsl.atomic import write_text_atomic
from fdsl.errors import FdslError, check


@dataclasses.dataclass(frozen=True)
class CsvLayout:
    """The columns of one row and the digits of the file names."""

    columns: tuple[str, ...]
    digits: int

    @property
    def column_list(self) -> str:
        return ", ".join(self.columns)


IFS2D_CSV = CsvLayout(("a", "b", "c", "d", "e", "f", "p"), digits=5)
IFS3D_CSV = CsvLayout((*"abcdefghijkl", "p"), digits=6)


def format_row(row: np.ndarray) -> str:
    # repr of a float round-trips exactly, so a CSV re-renders bit-identical images.
    return ",".join(repr(float(v)) for v in row)


def write_category_csvs(categories: list[np.ndarray], directory: Path, layout: CsvLayout = IFS2D_CSV) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for index, params in enumerate(categories):
        text = "".join(format_row(row) + "\n" for row in params)
        write_text_atomic(directory / f"{index:0{layout.digits}d}.csv", text)


def read_category_csv(path: Path, layout: CsvLayout = IFS2D_CSV) -> np.ndarray:
    """One category's (N, columns) parameters; any malformed content raises FdslError naming the file."""
    rows = []
    width = len(layout.columns)
    with open(path, newline="") as handle:
        for line_number, fields in enumerate(csv.reader(_text_lines(path, handle, layout)), start=1):
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != width:
                raise FdslError(
                    f"malformed CSV {str(path)!r} line {line_number}: {len(fields)} columns; "
                    f"allowed: {width} ({layout.column_list})"
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


def _text_lines(path: Path, handle, layout: CsvLayout):
    """The file's lines; a file that is not text (e.g. binary) is a malformed CSV, not a crash."""
    try:
        yield from handle
    except UnicodeDecodeError as error:
        raise FdslError(
            f"malformed CSV {str(path)!r}: not UTF-8 text ({error.reason}); allowed: rows {layout.column_list}"
        ) from None


def read_category_csvs(directory: Path, layout: CsvLayout = IFS2D_CSV) -> list[np.ndarray]:
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
    return [read_category_csv(path, layout) for path in paths]
