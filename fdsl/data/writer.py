"""Render a formula family to an ImageFolder tree of PNGs, resumably, on many cores or machines.

Layout: ``out/<category:05d>/<instance name>.png`` plus ``dataset_card.json`` (resolved config,
seed, counts, fdsl version, one checksum per category). Every image is a pure function of
(seed, category, instance), so the files are byte-identical whatever the number of workers or
shards. Each file is written to a temporary name and renamed, so an interrupted run leaves no
half-written image: rerunning the same command renders only what is missing.
"""
from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

import fdsl
from fdsl.errors import FdslError, check
from fdsl.formulas.base import Formula, write_text_atomic

CARD_NAME = "dataset_card.json"
TMP_MARK = ".tmp-"
# Level 1 is lossless like every level, and encodes about 2x faster than the default 6.
PNG_COMPRESS_LEVEL = 1


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``: the images whose flat index % count == index."""

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


def encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


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


def _render_one(task: tuple[int, int]) -> tuple[int, str, str]:
    category, instance = task
    formula: Formula = _job["formula"]
    image = formula.image(_job["categories"][category], _job["seed"], category, instance)
    data = encode_png(image)
    name = formula.instance_name(category, instance)
    write_bytes_atomic(_job["out"] / f"{category:05d}" / name, data)
    return category, name, hashlib.sha256(data).hexdigest()


def plan_tasks(n_categories: int, instances: int, shard: Shard) -> list[tuple[int, int]]:
    """(category, instance) pairs of this shard, in category-major order."""
    return [
        (c, i)
        for flat, (c, i) in enumerate((c, i) for c in range(n_categories) for i in range(instances))
        if flat % shard.count == shard.index
    ]


def _remove_stale_tmp(out: Path) -> None:
    for tmp in out.glob(f"*/.*{TMP_MARK}*"):
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
    """Render ``instances`` images of every category into ``out``; returns the dataset card."""
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
        path = out / f"{category:05d}" / formula.instance_name(category, instance)
        if path.exists():
            digests[category][path.name] = _file_digest(path)
        else:
            todo.append((category, instance))

    bar = ProgressBar(total=len(tasks), initial=len(tasks) - len(todo), unit="img", disable=not progress,
                      smoothing=0.1)
    for category, name, digest in _run(todo, formula, categories, seed, out, workers):
        digests[category][name] = digest
        bar.update()
    bar.close()

    card = {
        "fdsl_version": fdsl.__version__,
        "family": formula.name,
        "config": formula.config.to_dict(),
        "seed": seed,
        "categories": len(categories),
        "instances_per_category": instances,
        "images": len(tasks),
        "category_source": category_source,
        "shard": f"{shard.index}/{shard.count}",
        "image_mode": formula.image_mode,
        "checksums": category_checksums({c: d for c, d in digests.items() if d}),
    }
    card_name = CARD_NAME if shard.is_whole else f"dataset_card.shard-{shard.index}-of-{shard.count}.json"
    write_text_atomic(out / card_name, json.dumps(card, indent=1))
    return card


class ProgressBar(tqdm):
    """tqdm without its monitor thread, so that the process stays single-threaded and safe to fork."""

    monitor_interval = 0


def pool_start_method() -> str:
    """"fork" while this process runs a single thread: the workers start at once with the kernels
    already compiled, and no other thread can hold a lock across the fork. With other threads
    alive (issue 15: a child forked then can hang), a forkserver, which is single-threaded."""
    if threading.active_count() == 1 or "forkserver" not in multiprocessing.get_all_start_methods():
        return "fork"
    return "forkserver"


def _run(todo, formula, categories, seed, out, workers):
    """Yield (category, name, digest) as images finish, in-process or on a pool of workers."""
    if workers == 1 or len(todo) <= 1:
        _init_worker(formula, categories, seed, out)
        yield from map(_render_one, todo)
        return
    context = multiprocessing.get_context(pool_start_method())
    with context.Pool(workers, initializer=_init_worker, initargs=(formula, categories, seed, out)) as pool:
        chunk = max(1, min(64, len(todo) // (workers * 8)))
        yield from pool.imap_unordered(_render_one, todo, chunksize=chunk)


def search_categories(formula: Formula, count: int, *, seed: int, workers: int = 1, progress: bool = True) -> list:
    """Category ``i`` is the first accepted candidate of its own generator, whatever the workers."""
    check(count >= 1, f"categories = {count}; allowed: >= 1")
    check(workers >= 1, f"workers = {workers}; allowed: >= 1")
    indices = range(count)
    bar = ProgressBar(total=count, unit="cat", disable=not progress, desc="search")
    if workers == 1 or count == 1:
        found = []
        for i in indices:
            found.append(formula.search_category(seed, i))
            bar.update()
    else:
        with multiprocessing.get_context(pool_start_method()).Pool(workers) as pool:
            found = []
            for params in pool.imap(_SearchTask(formula, seed), indices, chunksize=1):
                found.append(params)
                bar.update()
    bar.close()
    return found


class _SearchTask:
    def __init__(self, formula: Formula, seed: int):
        self.formula, self.seed = formula, seed

    def __call__(self, index: int):
        return self.formula.search_category(self.seed, index)
