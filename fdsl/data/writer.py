"""Render a formula family to a folder per category, resumably, on many cores or machines.

Layout: ``out/<category:05d>/<sample stem><suffix>`` (the family's stem, the files its sample
kind writes: ``.png`` for images, an ImageFolder tree) plus ``dataset_card.json`` (resolved
config, seed, counts, kind, fdsl version, one checksum per category). Every sample is a pure
function of (seed, category, instance), so the files are byte-identical whatever the number of
workers or shards. Each file is written to a temporary name and renamed, so an interrupted run
leaves no half-written file: rerunning the same command renders only what is missing.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

import fdsl
from fdsl.atomic import TMP_GLOB, write_text_atomic
from fdsl.errors import FdslError, check
from fdsl.formulas.base import Formula
from fdsl.licensing import generated_data_license

CARD_NAME = "dataset_card.json"


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


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def category_checksums(digests: dict[int, dict[str, str]]) -> dict[str, str]:
    """One sha256 per category over its files' names and contents, in name order."""
    result = {}
    for category in sorted(digests):
        joined = "".join(f"{name}:{digest}\n" for name, digest in sorted(digests[category].items()))
        result[f"{category:05d}"] = hashlib.sha256(joined.encode()).hexdigest()
    return result


def check_instances(formula: Formula, instances: int) -> None:
    limit = formula.instances_per_category
    check(instances >= 1, f"instances = {instances}; allowed: >= 1")
    check(
        limit is None or instances <= limit,
        f"instances = {instances} exceeds the {limit} distinct instances of {formula.name} with this config",
    )


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
) -> dict[str, Any]:
    """Render ``instances`` samples of every category into ``out``; returns the dataset card."""
    out = Path(out)
    check_instances(formula, instances)
    check(workers >= 1, f"workers = {workers}; allowed: >= 1")
    check_writable(out)
    for category in range(len(categories)):
        (out / f"{category:05d}").mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(out)

    tasks = plan_tasks(len(categories), instances, shard)
    digests: dict[int, dict[str, str]] = {c: {} for c in range(len(categories))}
    todo = []
    for category, instance in tasks:
        names = formula.kind.file_names(formula.sample_stem(category, instance))
        paths = [out / f"{category:05d}" / name for name in names]
        if all(path.exists() for path in paths):
            digests[category].update({path.name: _file_digest(path) for path in paths})
        else:
            todo.append((category, instance))

    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="sample", disable=not progress, smoothing=0.1)
    for category, files in _run(todo, formula, categories, seed, out, workers):
        digests[category].update(files)
        bar.update()
    bar.close()

    card = {
        "fdsl_version": fdsl.__version__,
        "family": formula.name,
        "config": formula.config.to_dict(),
        "seed": seed,
        "categories": len(categories),
        "instances_per_category": instances,
        "kind": formula.kind.name,
        "samples": len(tasks),
        "category_source": category_source,
        "license": generated_data_license(formula.name),
        "shard": f"{shard.index}/{shard.count}",
        **formula.kind.card_fields(formula),
        "checksums": category_checksums({c: d for c, d in digests.items() if d}),
    }
    card_name = CARD_NAME if shard.is_whole else f"dataset_card.shard-{shard.index}-of-{shard.count}.json"
    write_text_atomic(out / card_name, json.dumps(card, indent=1))
    return card


def _run(todo, formula, categories, seed, out, workers):
    """Yield (category, {file name: digest}) as samples finish, in-process or on a pool of workers."""
    if workers == 1 or len(todo) <= 1:
        _init_worker(formula, categories, seed, out)
        yield from map(_render_one, todo)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, initargs=(formula, categories, seed, out)) as pool:
        chunk = max(1, min(64, len(todo) // (workers * 8)))
        yield from pool.imap_unordered(_render_one, todo, chunksize=chunk)
