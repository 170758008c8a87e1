"""Render a formula family to disk, resumably, on many cores or machines.

Two layouts (``format``):

- ``folder``: ``out/<category:05d>/<sample stem><suffix>`` (the family's stem, the files its sample
  kind writes: ``.png`` for images, an ImageFolder tree).
- ``wds``: WebDataset tar shards ``out/shards/<index:06d>.tar`` (:mod:`fdsl.data.wds`).

Beside them: the category parameters, in the family's own files (FractalDB's CSVs, ...), so the
dataset can be rendered again or extended: in ``categories/`` beside the shards, in
``categories.tar`` beside the category folders (a sub-folder would be an empty class to
torchvision's ImageFolder); and ``dataset_card.json`` (resolved config, seed, counts, kind,
fdsl version, one checksum per category for folders, and the sha256 of every file it lists, which
``fdsl verify`` checks). Every sample is a pure function of (seed, category, instance), so the
files are byte-identical whatever the number of workers or shards. Each file is written to a
temporary name and renamed, so an interrupted run leaves no half-written file: rerunning the same
command renders only what is missing. A ``--shard i/N`` render writes
``dataset_card.shard-i-of-N.json``; the one that finds all N merges them into ``dataset_card.json``
(:func:`fdsl.data.cards.merge_cards`).
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fdsl
from fdsl.atomic import TMP_GLOB, write_bytes_atomic, write_text_atomic
from fdsl.data.processes import ProgressBar, pool_start_method
from fdsl.errors import FdslError, check
from fdsl.formulas.base import Formula
from fdsl.licensing import generated_data_license
from fdsl.provenance import provenance

CARD_NAME = "dataset_card.json"
#: Where the category parameters are stored with a dataset of WebDataset shards (folder layout: CATEGORY_TAR).
CATEGORY_DIR = "categories"
FORMATS = ("folder", "wds")
CATEGORY_TAR = "categories.tar"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``: the samples whose flat index % count == index."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> "Shard":
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise FdslError(f"shard {text!r} is malformed; allowed: i/N with 0 <= i < N, e.g. 0/4") from None
        check(count >= 1 and 0 <= index < count, f"shard {text!r} is out of range; allowed: i/N with 0 <= i < N")
        return cls(index, count)

    @classmethod
    def from_torchrun(cls) -> "Shard":
        """The shard of this process under torchrun (RANK / WORLD_SIZE), else the whole dataset."""
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))

    @property
    def is_whole(self) -> bool:
        return self.count == 1


def check_writable(out: Path) -> None:
    """Fail before anything is written when ``out`` cannot become a writable directory."""
    out = Path(out)
    check(not out.exists() or out.is_dir(), f"output {str(out)!r} exists and is not a directory")
    existing = out
    while not existing.exists():
        existing = existing.parent
    check(
        existing.is_dir() and os.access(existing, os.W_OK | os.X_OK),
        f"output {str(out)!r} is not writable (no write permission on {str(existing)!r})",
    )


# Worker state, set once per process so tasks carry only (category, instance).
_job: dict[str, Any] = {}


def _init_worker(formula: Formula, categories: list, seed: int, out: Path) -> None:
    _job.update(formula=formula, categories=categories, seed=seed, out=out)


def _render_one(task: tuple[int, int]) -> tuple[int, dict[str, str]]:
    """Render and write one sample; (category, its files' name -> sha256)."""
    category, instance = task
    formula: Formula = _job["formula"]
    sample = formula.sample(_job["categories"][category], _job["seed"], category, instance)
    directory = _job["out"] / f"{category:05d}"
    return category, formula.kind.write(sample, directory, formula.sample_stem(category, instance))


def plan_tasks(n_categories: int, instances: int, shard: Shard) -> list[tuple[int, int]]:
    """(category, instance) pairs of this shard, in category-major order."""
    return [
        (c, i)
        for flat, (c, i) in enumerate((c, i) for c in range(n_categories) for i in range(instances))
        if flat % shard.count == shard.index
    ]


def _remove_stale_tmp(out: Path) -> None:
    for tmp in out.glob(f"*/{TMP_GLOB}"):
        tmp.unlink(missing_ok=True)


def file_digest(path: Path, block: int = 1 << 20) -> str:
    """sha256 of a file, read in blocks (tars are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def category_checksums(files: dict[str, str]) -> dict[str, str]:
    """One sha256 per category folder over its files' names and digests, in name order
    (``files``: relative path -> sha256; the category files are not samples and are left out)."""
    per_category: dict[str, dict[str, str]] = {}
    for path, digest in files.items():
        folder, _, name = path.partition("/")
        if name and folder != CATEGORY_DIR:
            per_category.setdefault(folder, {})[name] = digest
    result = {}
    for folder in sorted(per_category):
        joined = "".join(f"{name}:{digest}\n" for name, digest in sorted(per_category[folder].items()))
        result[folder] = hashlib.sha256(joined.encode()).hexdigest()
    return result


def check_instances(formula: Formula, instances: int) -> None:
    limit = formula.instances_per_category
    check(instances >= 1, f"instances = {instances}; allowed: >= 1")
    check(
        limit is None or instances <= limit,
        f"instances = {instances} exceeds the {limit} distinct instances of {formula.name} with this config",
    )


def check_format(data_format: str, shard_size: int) -> None:
    check(data_format in FORMATS, f"unknown format {data_format!r}; valid: {', '.join(FORMATS)}")
    check(shard_size >= 1, f"shard size = {shard_size}; allowed: >= 1")


def shard_card_name(shard: Shard) -> str:
    return CARD_NAME if shard.is_whole else f"dataset_card.shard-{shard.index}-of-{shard.count}.json"


def category_files(formula: Formula, categories: list, data_format: str) -> dict[str, bytes]:
    """The categories in the family's own files, to store with the dataset (relative path -> bytes):
    beside shards in ``categories/``; a folder layout gets them as one ``categories.tar`` (a
    sub-folder would be an empty class to torchvision's ImageFolder)."""
    from fdsl.data.wds import tar_bytes

    with tempfile.TemporaryDirectory() as staging:
        formula.write_categories(categories, Path(staging))
        files = {str(p.relative_to(staging)): p.read_bytes() for p in sorted(Path(staging).rglob("*")) if p.is_file()}
    if data_format == "wds":
        return {f"{CATEGORY_DIR}/{name}": data for name, data in files.items()}
    return {CATEGORY_TAR: tar_bytes(files.items())}


def render_configuration(formula: Formula, *, seed: int, categories: int, instances: int, data_format: str,
                         shard_size: int, category_digests: dict[str, str] | None = None) -> dict[str, Any]:
    """What decides the bytes of a render, as its card records it (:func:`fdsl.data.cards.configuration_of`);
    without ``category_digests`` (before the categories are known) all but the category files."""
    configuration = {"family": formula.name, "format": data_format, "config": formula.config.to_dict(),
                     "seed": seed, "categories": categories, "instances_per_category": instances,
                     "shard_size": shard_size if data_format == "wds" else None}
    if category_digests is not None:
        configuration["category_files"] = category_digests
    return configuration


def render_dataset(
    formula: Formula,
    categories: list,
    out: Path,
    *,
    seed: int,
    instances: int,
    workers: int = 1,
    shard: Shard = Shard(),
    category_source: str = "search",
    progress: bool = True,
    data_format: str = "folder",
    shard_size: int = 1000,
) -> dict[str, Any]:
    """Render ``instances`` samples of every category into ``out`` as ``data_format`` (``wds``:
    ``shard_size`` samples per tar); returns the dataset card (of this shard). A folder that holds
    a render of another configuration is refused before anything is written; the same one resumes."""
    from fdsl.data.cards import check_output_configuration, remove_render_record, write_render_record

    out = Path(out)
    check_instances(formula, instances)
    check(workers >= 1, f"workers = {workers}; allowed: >= 1")
    check_format(data_format, shard_size)
    check_writable(out)
    stored = category_files(formula, categories, data_format)
    files = {name: hashlib.sha256(data).hexdigest() for name, data in stored.items()}
    configuration = render_configuration(formula, seed=seed, categories=len(categories), instances=instances,
                                         data_format=data_format, shard_size=shard_size, category_digests=files)
    check_output_configuration(out, configuration)
    out.mkdir(parents=True, exist_ok=True)
    write_render_record(out, configuration)
    for name, data in stored.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(out / name, data)
    if data_format == "wds":
        from fdsl.data.wds import render_tars

        samples, sample_files = render_tars(formula, categories, out, seed=seed, instances=instances,
                                            workers=workers, shard=shard, shard_size=shard_size, progress=progress)
    else:
        samples, sample_files = render_folders(formula, categories, out, seed=seed, instances=instances,
                                               workers=workers, shard=shard, progress=progress)
    files.update(sample_files)
    card = {
        "fdsl_version": fdsl.__version__,
        "family": formula.name,
        "config": formula.config.to_dict(),
        "seed": seed,
        "categories": len(categories),
        "instances_per_category": instances,
        "kind": formula.kind.name,
        "format": data_format,
        **({"shard_size": shard_size} if data_format == "wds" else {}),
        "samples": samples,
        "category_source": category_source,
        "category_files": CATEGORY_DIR if data_format == "wds" else CATEGORY_TAR,
        "license": generated_data_license(formula.name),
        "provenance": provenance(),
        "shard": f"{shard.index}/{shard.count}",
        **formula.kind.card_fields(formula),
        **({"checksums": category_checksums(files)} if data_format == "folder" else {}),
        "files": dict(sorted(files.items())),
    }
    write_text_atomic(out / shard_card_name(shard), json.dumps(card, indent=1))
    if not shard.is_whole:
        from fdsl.data.cards import merge_when_complete

        merge_when_complete(out, shard.count)
    remove_render_record(out)
    return card


def render_folders(formula: Formula, categories: list, out: Path, *, seed: int, instances: int, workers: int,
                   shard: Shard, progress: bool) -> tuple[int, dict[str, str]]:
    """The folder layout: (samples of this shard, relative path -> sha256 of each of their files). A
    sample is rendered unless all its files exist, with the bytes a card lists where one does."""
    from fdsl.data.cards import recorded_digests

    for category in range(len(categories)):
        (out / f"{category:05d}").mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(out)
    tasks = plan_tasks(len(categories), instances, shard)
    recorded = recorded_digests(out)
    files: dict[str, str] = {}
    todo = []
    for category, instance in tasks:
        names = formula.kind.file_names(formula.sample_stem(category, instance))
        paths = [out / f"{category:05d}" / name for name in names]
        found = {f"{category:05d}/{path.name}": file_digest(path) for path in paths if path.exists()}
        if len(found) == len(paths) and all(recorded.get(name, digest) == digest for name, digest in found.items()):
            files.update(found)
        else:
            todo.append((category, instance))

    # closed on an error too, so that the error's line starts a line of its own
    with ProgressBar(total=len(tasks), initial=len(tasks) - len(todo), unit="sample", disable=not progress,
                     smoothing=0.1) as bar:
        for category, written in pool_map(_render_one, todo, workers=workers, initializer=_init_worker,
                                          initargs=(formula, categories, seed, out)):
            files.update({f"{category:05d}/{name}": digest for name, digest in written.items()})
            bar.update()
    return len(tasks), files


def pool_map(function, tasks: list, *, workers: int, initializer, initargs: tuple, ordered: bool = False):
    """Yield ``function(task)`` for every task, in-process (after ``initializer(*initargs)``) or on a
    pool of ``workers`` forked processes; in task order when ``ordered``, else as they finish."""
    if workers == 1 or len(tasks) <= 1:
        initializer(*initargs)
        yield from map(function, tasks)
        return
    context = multiprocessing.get_context(pool_start_method())
    with context.Pool(workers, initializer=initializer, initargs=initargs) as pool:
        chunk = max(1, min(64, len(tasks) // (workers * 8)))
        mapper = pool.imap if ordered else pool.imap_unordered
        yield from mapper(function, tasks, chunksize=chunk)
