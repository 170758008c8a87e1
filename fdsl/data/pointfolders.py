"""Folders of real point clouds for fine-tuning, and the sampling that turns any cloud into a
training item of a fixed number of points.

Layout (ModelNet10 as shipped in ``../shared/data/modelnet10/train``; bring ModelNet40 or
ScanObjectNN the same way, one folder per class)::

    root/
      bathtub/bathtub_0001.npy     float32 or float64 (N, 3): x, y, z
      chair/chair_0001.ply         ascii or binary_little_endian PLY: the vertex x, y, z
      table/table_0001.off         OFF: the vertices (faces are ignored)

Class names are the sub-folder names, sorted; a class's files are sorted by name. A file is read
once per stem: when ``a.npy`` and ``a.ply`` both exist (``fdsl render`` writes both), the first
suffix of :data:`SUFFIXES` wins. Files of other suffixes are ignored.

Splits, deterministic and independent of any seed: the last ``holdout`` share of each class
(``round(n * holdout)`` files, as :func:`fdsl.data.datasets.split_per_class` for images) is held
out for validation; of the rest, ``train_share`` (a fraction, at least one object) or
``train_per_class`` (a count) keeps the first objects of each class (limited-data fine-tuning).

Sampling (:func:`normalise` and :func:`resample`): each cloud is centred on its mean and scaled
into the unit sphere (PointNet++'s ``pc_normalize``, Qi et al., NeurIPS 2017), then
``points`` of its points are drawn without replacement (with replacement when it has fewer) from
a generator of (seed, epoch, index), so any worker count or resume draws the same points.

Bad input ends in one :class:`fdsl.errors.FdslError` naming the file (fine-tuning reads every file
once before training, :func:`check_point_files`): not an (N, 3) array, NaN or
infinite coordinates, an unreadable file, an empty class folder, a root without class folders.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from tokenize import TokenError
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from fdsl.errors import FdslError, check
from fdsl.samples.ply import PLY_TYPES
from fdsl.seeding import derive_rng

#: Readable suffixes, in order of preference for files sharing a stem.
SUFFIXES = (".npy", ".ply", ".off")
#: Seeding domain of the per-item choice of points.
RESAMPLE_DOMAIN = "point-resample"
#: PLY type names (both spellings of the standard) -> numpy dtype codes.
PLY_DTYPES = {**{name: code for code, name in PLY_TYPES.items()},
              "int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4", "uint32": "u4",
              "float32": "f4", "float64": "f8"}


# --- reading one file -------------------------------------------------------------------------------
def read_points(path: str | Path) -> np.ndarray:
    """float32 (N, 3) points of a .npy, .ply or .off file, checked (see the module docstring)."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    check(reader is not None, f"point file {str(path)!r} has an unknown suffix; valid: {', '.join(SUFFIXES)}")
    try:
        points = reader(path)
    except FdslError:
        raise
    except (OSError, ValueError, EOFError, IndexError, KeyError, TypeError) as error:  # what numpy and the OS say
        raise FdslError(f"point file {str(path)!r} cannot be read ({' '.join(str(error).split()) or 'empty'})") from None
    return check_cloud(points, path)


def check_cloud(points: Any, path: Path) -> np.ndarray:
    points = np.asarray(points)
    check(points.ndim == 2 and points.shape[1] == 3 and len(points) >= 1 and points.dtype.kind in "iuf",
          f"point file {str(path)!r} holds an array of shape {points.shape} ({points.dtype}); expected (N, 3) "
          "real numbers with N >= 1")
    check(bool(np.isfinite(points).all()), f"point file {str(path)!r} has NaN or infinite coordinates")
    with np.errstate(over="ignore"):  # an overflow becomes inf, named below
        single = points.astype(np.float32)
    if not np.isfinite(single).all():
        largest = float(np.abs(points[~np.isfinite(single)]).max())
        raise FdslError(f"point file {str(path)!r} has a coordinate of magnitude {largest:g}, beyond float32's "
                        f"range (3.4e38)")
    return single


def read_npy(path: Path) -> np.ndarray:
    """The array of a .npy file, once its header promises no more bytes than the file holds (a cut
    file, or a header spoiled into a huge shape, would fail deep in numpy or exhaust the memory)."""
    with open(path, "rb") as handle:
        check(bool(handle.read(6)), f"point file {str(path)!r} is empty (0 bytes)")
        handle.seek(0)
        check(handle.read(6) == b"\x93NUMPY", f"point file {str(path)!r} cannot be read (not a .npy file: no NUMPY "
                                              "header)")
        handle.seek(0)
        shape, dtype = npy_header(handle, path)
        body = path.stat().st_size - handle.tell()
    needed = math.prod(shape) * dtype.itemsize
    check(needed <= body, f"point file {str(path)!r} is cut short: its header promises {shape} {dtype} values "
                          f"({needed} bytes) but {body} bytes follow")
    return np.load(path, allow_pickle=False)


def npy_header(handle, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) that the header of an open .npy file declares (its dictionary is Python syntax)."""
    try:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(handle)
    except (ValueError, SyntaxError, TokenError, EOFError, OSError):
        raise FdslError(f"point file {str(path)!r} cannot be read (its .npy header is not a valid one)") from None
    return shape, dtype


def ascii_text(data: bytes, path: Path, what: str) -> str:
    """``data`` as ASCII text, or one line naming the file and the first byte that is not ASCII."""
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as error:
        raise FdslError(f"point file {str(path)!r} is not {what} (byte 0x{data[error.start]:02x} at offset "
                        f"{error.start} is not ASCII text)") from None


def read_ply(path: Path) -> np.ndarray:
    """x, y, z of the ``vertex`` element of an ascii or binary little-endian PLY file."""
    data = path.read_bytes()
    head, sep, body = data.partition(b"end_header")
    check(data.startswith(b"ply") and bool(sep), f"point file {str(path)!r} is not a PLY file (no ply header)")
    body = body[1:] if body.startswith(b"\n") else body[2:]  # the header ends with \n (or \r\n)
    fmt, vertex_count, fields = parse_ply_header(ascii_text(head, path, "a PLY file").splitlines(), path)
    if fmt == "ascii":
        lines = ascii_text(body, path, "an ascii PLY file").splitlines()[:vertex_count]
        check(len(lines) == vertex_count, f"point file {str(path)!r} declares {vertex_count} vertices but holds "
                                          f"{len(lines)} lines of them")
        return ply_columns(np.loadtxt(lines, ndmin=2), fields, path)
    check(fmt == "binary_little_endian", f"point file {str(path)!r} is PLY {fmt}; readable: ascii, binary_little_endian")
    layout = np.dtype([(name, "<" + code) for name, code in fields])
    check(len(body) >= vertex_count * layout.itemsize,
          f"point file {str(path)!r} declares {vertex_count} vertices ({vertex_count * layout.itemsize} bytes) but "
          f"holds {len(body)} bytes after its header")
    vertices = np.frombuffer(body, dtype=layout, count=vertex_count)
    return np.stack([vertices[axis] for axis in "xyz"], axis=1)


def ply_columns(rows: np.ndarray, fields: list[tuple[str, str]], path: Path) -> np.ndarray:
    check(rows.shape[1] >= len(fields), f"point file {str(path)!r}: a vertex line holds {rows.shape[1]} numbers; "
                                        f"the header declares {len(fields)} properties")
    names = [name for name, _ in fields]
    return rows[:, [names.index(axis) for axis in "xyz"]]


def parse_ply_header(lines: list[str], path: Path) -> tuple[str, int, list[tuple[str, str]]]:
    """(format, vertex count, [(property, dtype code)]) of a PLY whose first element is ``vertex``."""
    fmt, count, fields, element = "", 0, [], None
    for line in lines:
        words = line.split()
        if words[:1] == ["format"]:
            check(len(words) >= 2, f"point file {str(path)!r}: the PLY format line names no format")
            fmt = words[1]
        elif words[:1] == ["element"]:
            check(len(words) == 3 and words[2].isdigit(),
                  f"point file {str(path)!r}: PLY header line {line.strip()!r}; expected 'element <name> <count>'")
            check(element is not None or words[1] == "vertex",
                  f"point file {str(path)!r}: the first PLY element is {words[1]!r}; expected 'vertex'")
            element = words[1]
            count = int(words[2]) if element == "vertex" else count
        elif words[:1] == ["property"] and element == "vertex":
            check(len(words) == 3 and words[1] in PLY_DTYPES,
                  f"point file {str(path)!r}: vertex property {line.strip()!r} unsupported; expected "
                  "'property <number type> <name>'")
            fields.append((words[-1], PLY_DTYPES[words[1]]))
    names = [name for name, _ in fields]
    check(all(axis in names for axis in "xyz"), f"point file {str(path)!r}: the PLY vertices lack x, y or z")
    return fmt, count, fields


def read_off(path: Path) -> np.ndarray:
    """The vertices of an OFF mesh. ModelNet's files sometimes glue the counts to the keyword
    (``OFF490 518 0``); that form is read too."""
    text = ascii_text(path.read_bytes(), path, "an OFF file")
    lines = [line.split("#")[0].strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    check(bool(lines) and lines[0].startswith("OFF"), f"point file {str(path)!r} is not an OFF file (no OFF keyword)")
    start = 1 if lines[0][3:].strip() else 2
    counts = (lines[0][3:] if start == 1 else " ".join(lines[1:2])).split()
    if len(counts) < 2 or not all(word.isdigit() for word in counts[:2]):
        found = f" (it reads {' '.join(counts)!r})" if counts else ""
        raise FdslError(f"point file {str(path)!r}: the OFF header holds no vertex and face counts{found}")
    vertices, faces = int(counts[0]), int(counts[1])
    body = lines[start:]
    check(len(body) >= vertices + faces, f"point file {str(path)!r} declares {vertices} vertices and {faces} faces "
                                         f"but holds {len(body)} lines after its header")
    rows = [line.split() for line in body[:vertices]]
    short = [k for k, row in enumerate(rows) if len(row) < 3]
    check(not short, f"point file {str(path)!r}: vertex {short[:1]} holds fewer than 3 coordinates")
    return np.array([row[:3] for row in rows], dtype=np.float64)


READERS: dict[str, Callable[[Path], np.ndarray]] = {".npy": read_npy, ".ply": read_ply, ".off": read_off}


# --- folders and splits -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PointFiles:
    """The files of a point folder: paths, their class indices and the class names."""

    paths: list[Path]
    targets: list[int]
    classes: list[str]


def scan_point_folder(root: str | Path) -> PointFiles:
    """Every readable file under ``root/<class>/`` (see the module docstring)."""
    root = Path(root)
    check(root.is_dir(), f"point folder {str(root)!r} does not exist or is not a directory")
    classes = sorted(entry.name for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("."))
    check(bool(classes), f"point folder {str(root)!r} has no class sub-folders (expected root/<class>/*.npy|.ply|.off)")
    paths, targets = [], []
    for label, name in enumerate(classes):
        files = class_files(root / name)
        check(bool(files), f"class folder {str(root / name)!r} holds no {', '.join(SUFFIXES)} file")
        paths += files
        targets += [label] * len(files)
    return PointFiles(paths, targets, classes)


def check_point_files(paths: Sequence[Path]) -> None:
    """Read every file once, so that a bad one stops a run before training, not minutes into it
    (ModelNet10's 3,991 .npy files: 0.6 s)."""
    for path in paths:
        read_points(path)


def class_files(folder: Path) -> list[Path]:
    """The point files of one class folder, one per stem (the preferred suffix), sorted by name."""
    chosen: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        suffix = path.suffix.lower()
        if suffix not in READERS or not path.is_file() or path.name.startswith("."):
            continue
        known = chosen.get(path.stem)
        if known is None or SUFFIXES.index(suffix) < SUFFIXES.index(known.suffix.lower()):
            chosen[path.stem] = path
    return [chosen[stem] for stem in sorted(chosen)]


def split_point_files(files: PointFiles, *, holdout: float, train_share: float | None = None,
                      train_per_class: int | None = None) -> tuple[list[int], list[int]]:
    """(training, validation) indices into ``files``: per class, the last ``round(n * holdout)``
    are held out (at most n - 1), and of the others the first ``train_share`` / ``train_per_class`` are kept."""
    check(0.0 <= holdout < 1.0, f"holdout = {holdout}; allowed: [0, 1)")
    check(train_share is None or 0.0 < train_share <= 1.0, f"train_share = {train_share}; allowed: (0, 1] or null")
    check(train_per_class is None or train_per_class >= 1, f"train_per_class = {train_per_class}; allowed: >= 1")
    train, val = [], []
    for label in range(len(files.classes)):
        indices = [i for i, target in enumerate(files.targets) if target == label]
        cut = len(indices) - min(int(round(len(indices) * holdout)), len(indices) - 1)  # >= 1 to train on
        keep = cut if train_share is None else max(1, int(round(cut * train_share)))
        if train_per_class is not None:
            keep = min(keep, train_per_class)
        train += indices[:keep]
        val += indices[cut:]
    return train, val


class PointFolder(Dataset):
    """Files of a point folder -> (float32 tensor (N, 3) as stored, class index)."""

    def __init__(self, files: PointFiles, indices: Sequence[int]):
        self.paths = [files.paths[i] for i in indices]
        self.targets = [files.targets[i] for i in indices]
        self.classes = list(files.classes)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(read_points(self.paths[index])), self.targets[index]


# --- normalising and resampling -------------------------------------------------------------------
def normalise(points: torch.Tensor) -> torch.Tensor:
    """Centred on the mean and scaled so the farthest point is at distance 1 (unit sphere)."""
    centred = points - points.mean(dim=0, keepdim=True)
    radius = centred.norm(dim=1).max()
    if not torch.isfinite(radius) or (radius == 0 and bool(centred.any())):
        return normalise_wide(points)
    return centred / radius if radius > 0 else centred


def normalise_wide(points: torch.Tensor) -> torch.Tensor:
    """:func:`normalise` in float64, for clouds whose float32 squares overflow (coordinates past
    about 1e19) or vanish (below about 1e-23), which would make them all zeros or leave them unscaled."""
    wide = points.double()
    centred = wide - wide.mean(dim=0, keepdim=True)
    radius = centred.norm(dim=1).max()
    return (centred / radius if radius > 0 else centred).to(points.dtype)


def resample(points: torch.Tensor, count: int, rng: np.random.Generator) -> torch.Tensor:
    """``count`` rows of ``points`` (N, 3): without replacement when N >= count, else all N in
    random order followed by ``count - N`` drawn with replacement."""
    n = len(points)
    if n >= count:
        chosen = rng.choice(n, size=count, replace=False)
    else:
        chosen = np.concatenate([rng.permutation(n), rng.integers(0, n, size=count - n)])
    return points[torch.from_numpy(chosen)]


def as_points(item: Any) -> torch.Tensor:
    """The (N, 3) float tensor of a dataset item: a tensor, an array, or a point-cloud kind's dict."""
    if isinstance(item, dict):
        item = item["points"]
    return torch.as_tensor(item, dtype=torch.float32)


class PointSamples(Dataset):
    """Any dataset of point clouds -> (float32 tensor (points, 3), label): normalised into the unit
    sphere, resampled from (seed, epoch, index), then ``augment`` (a callable on (points, 3))."""

    def __init__(self, base: Dataset, *, points: int, seed: int, augment: Callable | None = None):
        check(points >= 1, f"points = {points}; allowed: >= 1")
        self.base, self.points, self.seed, self.augment = base, points, seed, augment
        self.classes = list(base.classes)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.base)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        item, label = self.base[index]
        rng = derive_rng(self.seed, RESAMPLE_DOMAIN, self.epoch, index)
        points = resample(normalise(as_points(item)), self.points, rng)
        return (self.augment(points) if self.augment else points), int(label)
