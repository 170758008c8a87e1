"""WebDataset tar shards: written deterministically by ``fdsl render --format wds``, read back as
a map-style dataset for pre-training (:mod:`fdsl.data.rendered`).

Layout (the webdataset conventions, https://github.com/webdataset/webdataset): ``out/shards/
<index:06d>.tar``, plain POSIX tar files; a sample is the run of members sharing a key, its
path up to the first dot of the file name, ``<category:05d>/<sample stem>``; one member per file
of the sample kind (``<key>.png``, ``<key>.mask.png``, ...) plus ``<key>.cls``, the category as
an ASCII integer. Any webdataset reader streams them (``webdataset.WebDataset(urls)``).

Order: samples go category by category, and within a category in the order of their first file's
name, which is the order torchvision's ImageFolder lists the folder version of the same data;
tar ``t`` holds samples ``t * shard_size`` up to the next tar's. Members carry fixed metadata
(mtime 0, uid/gid 0, mode 0644, no user names), so a tar's bytes depend only on its samples, and
``--shard i/N`` renders whole tars ``i, i + N, ...``. A tar is written to a temporary name and
renamed when whole: a killed render leaves tars that are whole or absent, and rerunning renders
only the absent ones.
"""
from __future__ import annotations

import io
import math
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from fdsl.atomic import TMP_GLOB, atomic_path
from fdsl.data.processes import ProgressBar
from fdsl.errors import FdslError, check
from fdsl.formulas.base import Formula

SHARD_DIR = "shards"
LABEL_SUFFIX = ".cls"


def tar_name(index: int) -> str:
    """A tar's path relative to the dataset folder."""
    return f"{SHARD_DIR}/{index:06d}.tar"


def sample_order(formula: Formula, n_categories: int, instances: int) -> list[tuple[int, int]]:
    """Every (category, instance), category-major, then in the order of the sample's first file name."""
    first = formula.kind.suffixes[0]
    return [(c, i) for c in range(n_categories)
            for i in sorted(range(instances), key=lambda i: formula.sample_stem(c, i) + first)]


def tar_ranges(total: int, shard_size: int) -> list[range]:
    """The sample positions of each tar."""
    return [range(start, min(start + shard_size, total)) for start in range(0, total, shard_size)]


def sample_key(formula: Formula, category: int, instance: int) -> str:
    return f"{category:05d}/{formula.sample_stem(category, instance)}"


def tar_members(key: str, suffixes: Sequence[str], blobs: Sequence[bytes], label: int) -> list[tuple[str, bytes]]:
    """One sample's members (name, bytes) in name order."""
    members = [(key + suffix, blob) for suffix, blob in zip(suffixes, blobs)]
    members.append((key + LABEL_SUFFIX, str(label).encode("ascii")))
    return sorted(members)


def write_tar(path: Path, members: Iterable[tuple[str, bytes]]) -> None:
    """Write ``members`` as a tar with fixed metadata, atomically (whole or absent)."""
    with atomic_path(path) as tmp, tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        add_members(tar, members)


def tar_bytes(members: Iterable[tuple[str, bytes]]) -> bytes:
    """The bytes :func:`write_tar` writes for ``members``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add_members(tar, members)
    return buffer.getvalue()


def add_members(tar: tarfile.TarFile, members: Iterable[tuple[str, bytes]]) -> None:
    for name, data in members:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(data))


# --- rendering --------------------------------------------------------------------------------
# Worker state, set once per process so tasks carry only (category, instance).
_job: dict[str, Any] = {}


def _init_worker(formula: Formula, categories: list, seed: int) -> None:
    _job.update(formula=formula, categories=categories, seed=seed)


def _encode_one(task: tuple[int, int]) -> list[bytes]:
    category, instance = task
    formula: Formula = _job["formula"]
    sample = formula.sample(_job["categories"][category], _job["seed"], category, instance)
    formula.kind.validate(sample)
    return formula.kind.encode(sample)


def render_tars(formula: Formula, categories: list, out: Path, *, seed: int, instances: int, workers: int,
                shard, shard_size: int, progress: bool) -> tuple[int, dict[str, str]]:
    """The tars of ``shard`` (tars i, i + N, ...) that are absent, or differ from what a card lists;
    (samples of this shard, relative path -> sha256 of each of its tars)."""
    from fdsl.data.cards import recorded_digests
    from fdsl.data.writer import file_digest, pool_map

    (out / SHARD_DIR).mkdir(parents=True, exist_ok=True)
    for tmp in (out / SHARD_DIR).glob(TMP_GLOB):
        tmp.unlink(missing_ok=True)
    order = sample_order(formula, len(categories), instances)
    mine = {t: positions for t, positions in enumerate(tar_ranges(len(order), shard_size))
            if t % shard.count == shard.index}
    recorded = recorded_digests(out)
    todo = [t for t in mine if not _is_whole(out / tar_name(t), recorded.get(tar_name(t)))]
    tasks = [order[p] for t in todo for p in mine[t]]
    samples = sum(map(len, mine.values()))
    blobs = pool_map(_encode_one, tasks, workers=workers, initializer=_init_worker,
                     initargs=(formula, categories, seed), ordered=True)
    with ProgressBar(total=samples, initial=samples - len(tasks), unit="sample", disable=not progress,
                     smoothing=0.1) as bar:  # closed on an error too: the error's line starts a line of its own
        for t in todo:
            write_tar(out / tar_name(t), _members_of(formula, [order[p] for p in mine[t]], blobs, bar))
    return samples, {tar_name(t): file_digest(out / tar_name(t)) for t in sorted(mine)}


def _is_whole(path: Path, recorded_digest: str | None) -> bool:
    """A tar that exists (written whole or not at all), with the bytes a card lists for it if any."""
    from fdsl.data.writer import file_digest

    return path.exists() and (recorded_digest is None or file_digest(path) == recorded_digest)


def _members_of(formula: Formula, tasks: list[tuple[int, int]], blobs, bar) -> Iterable[tuple[str, bytes]]:
    """The members of the samples ``tasks``, taking their encoded files from the ordered ``blobs``."""
    for category, instance in tasks:
        yield from tar_members(sample_key(formula, category, instance), formula.kind.suffixes, next(blobs), category)
        bar.update()


# --- reading ----------------------------------------------------------------------------------
def split_name(name: str) -> tuple[str, str]:
    """(key, suffix) of a member name: the key ends at the first dot of the file name."""
    folder, _, base = name.rpartition("/")
    stem, dot, rest = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), dot + rest


def index_tar(path: Path, suffixes: Sequence[str], *, categories: int
              ) -> list[tuple[str, tuple[tuple[int, int], ...], int]]:
    """(key, (offset, size) of each of the ``suffixes`` members, label) of each sample in the tar at
    ``path``; a label must be a category, ``0 .. categories - 1``."""
    samples: dict[str, dict[str, Any]] = {}
    try:
        with tarfile.open(path, "r:") as tar:  # plain tars only, as fdsl and webdataset write them
            for member in tar:
                key, suffix = split_name(member.name)
                entry = samples.setdefault(key, {})
                if suffix in suffixes:
                    entry[suffix] = (member.offset_data, member.size)
                elif suffix == LABEL_SUFFIX:
                    entry["label"] = read_label(tar.extractfile(member).read(), path, key, categories)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise FdslError(f"shard {str(path)!r} cannot be read as a WebDataset tar ({' '.join(str(error).split())}); "
                        "check it with `fdsl verify`") from None
    needed = (*suffixes, "label")
    incomplete = [key for key, entry in samples.items() if any(part not in entry for part in needed)]
    check(not incomplete, f"shard {str(path)!r}: sample {incomplete[:1]} lacks one of its "
                          f"{', '.join(suffixes)} or {LABEL_SUFFIX} members")
    return [(key, tuple(entry[s] for s in suffixes), entry["label"]) for key, entry in samples.items()]


def read_label(data: bytes, path: Path, key: str, categories: int) -> int:
    """The category in a ``.cls`` member: an ASCII integer in ``0 .. categories - 1``."""
    text = data.decode("ascii", errors="replace").strip()
    check(text.isdigit() or (text.startswith("-") and text[1:].isdigit()),
          f"shard {str(path)!r}: the {LABEL_SUFFIX} member of sample {key!r} is {text[:20]!r}, not an integer")
    label = int(text)
    check(0 <= label < categories, f"shard {str(path)!r}: sample {key!r} has label {label} ({LABEL_SUFFIX}), but "
                                   f"its dataset card has {categories} categories (0..{categories - 1})")
    return label


def rank_share(indices: Sequence[int], tar_of: Sequence[int], rank: int, world_size: int) -> list[int]:
    """The ``indices`` in tars ``rank, rank + W, ...``, cut to the smallest share of any rank, so that
    every rank runs the same number of steps (the few items past it are left out)."""
    shares = [[i for i in indices if tar_of[i] % world_size == r] for r in range(world_size)]
    smallest = min(map(len, shares))
    check(smallest > 0, f"{world_size} processes but the shards give some process no training sample; "
                        "render with a smaller --shard-size or train with fewer processes")
    return shares[rank][:smallest]


def tar_count(total: int, shard_size: int) -> int:
    return math.ceil(total / shard_size)
