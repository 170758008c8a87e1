"""Samples that ``fdsl render`` wrote, of any sample kind, read back for training: a folder render
(``<category>/<stem><suffix>`` for each of the kind's suffixes) or WebDataset shards (members
``<category>/<stem><suffix>`` and ``.cls``).

Each sample is decoded by its kind (:meth:`fdsl.samples.base.SampleKind.decode`) and made a training
item by it (:meth:`~fdsl.samples.base.SampleKind.training_item`), exactly as the on-the-fly dataset
makes one from the rendered array, so a run trains on the same items either way; the label is the
category. The render's files are checked against its dataset card first (every file listed, none
missing, none corrupt, its family the run's: :func:`fdsl.data.datasets.rendered_card`).

Samples are in ImageFolder's order (category, then file name) in both layouts, and validation holds
out the last ``val_instances`` of each category, so a folder and its shards split the same way. Under
torchrun each rank trains on the samples of its own tars (``rank, rank + W, ...``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from fdsl.errors import FdslError, check
from fdsl.samples.base import SampleKind


@dataclasses.dataclass(frozen=True)
class Stored:
    """Where one sample's files are: a folder and a stem, or a tar and each file's (offset, size)."""

    path: str
    stem: str | None = None
    spans: tuple[tuple[int, int], ...] = ()

    def blobs(self, kind: SampleKind) -> list[bytes]:
        if self.stem is not None:
            return [(Path(self.path) / name).read_bytes() for name in kind.file_names(self.stem)]
        with open(self.path, "rb") as handle:
            blobs = []
            for offset, size in self.spans:
                handle.seek(offset)
                blobs.append(handle.read(size))
            return blobs

    def describe(self) -> str:
        return str(Path(self.path) / self.stem) if self.stem is not None else \
            f"the sample at byte {self.spans[0][0]} of {self.path}"


class RenderedSamples(Dataset):
    """``(transform(training item), category)`` of stored samples of ``kind``.

    ``rank_local``: the items are this torchrun rank's own share already (its own tars), so the trainer
    shuffles them itself instead of splitting them again with a DistributedSampler."""

    def __init__(self, kind: SampleKind, stored: Sequence[Stored], targets: Sequence[int], classes: Sequence[str],
                 transform: Callable | None = None, rank_local: bool = False):
        self.kind, self.stored, self.targets = kind, list(stored), list(targets)
        self.classes, self.transform, self.rank_local = list(classes), transform, rank_local

    def __len__(self) -> int:
        return len(self.stored)

    def item(self, index: int) -> Any:
        where = self.stored[index]
        try:
            return self.kind.training_item(self.kind.decode(where.blobs(self.kind)))
        except FdslError:
            raise
        except Exception as error:  # a decoder's own error type: one line naming the sample
            reason = " ".join(str(error).split())
            raise FdslError(f"{where.describe()} cannot be read as a {self.kind.name} sample "
                            f"({type(error).__name__}: {reason}); check the dataset with `fdsl verify`") from None

    def __getitem__(self, index: int):
        item = self.item(index)
        return (self.transform(item) if self.transform else item), self.targets[index]


def folder_samples(root: Path, card: dict[str, Any], kind: SampleKind) -> tuple[list[Stored], list[int], list[str]]:
    """The samples of a folder render, by the files its card lists, in ImageFolder's order."""
    first = kind.suffixes[0]
    # "x.mask.png" ends with ".png" too: a sample's first file ends with no longer suffix of its kind
    longer = tuple(s for s in kind.suffixes[1:] if s.endswith(first))

    def is_first(name: str) -> bool:
        return name.endswith(first) and not name.endswith(longer)

    classes = sorted({name.split("/", 1)[0] for name in card["files"] if "/" in name and is_first(name)})
    index = {name: c for c, name in enumerate(classes)}
    stored, targets = [], []
    for name in sorted(card["files"]):
        category, _, file = name.partition("/")
        if category in index and is_first(file):
            stored.append(Stored(str(root / category), file.removesuffix(first)))
            targets.append(index[category])
    check(bool(stored), f"{str(root)!r} holds no {kind.name} samples in category folders")
    return stored, targets, classes


def tar_samples(root: Path, card: dict[str, Any], kind: SampleKind) -> tuple[list[Stored], list[int], list[int]]:
    """The samples of a render's shards, in ImageFolder's order: (where, category, tar of each)."""
    from fdsl.data.wds import SHARD_DIR, index_tar

    tars = [root / name for name in card["files"] if name.startswith(f"{SHARD_DIR}/")]
    found = []
    for t, path in enumerate(tars):
        for key, spans, label in index_tar(path, kind.suffixes, categories=card["categories"]):
            found.append((key, Stored(str(path), spans=spans), label, t))
    found.sort(key=lambda entry: entry[0])  # keys are "<category>/<stem>": ImageFolder's order
    return [s for _, s, _, _ in found], [label for _, _, label, _ in found], [t for *_, t in found]


def rendered_datasets(root: Path, card: dict[str, Any], kind: SampleKind, *, val_instances: int,
                      train_transform: Callable | None, val_transform: Callable | None
                      ) -> tuple[RenderedSamples, RenderedSamples | None, list[str]]:
    """(train, validation or None, classes) of the render in ``root`` whose checked card is ``card``."""
    from fdsl.data.datasets import split_per_class
    from fdsl.data.writer import Shard

    if card.get("format") == "wds":
        stored, targets, tar_of = tar_samples(root, card, kind)
        classes = [f"{c:05d}" for c in range(card["categories"])]
    else:
        stored, targets, classes = folder_samples(root, card, kind)
        tar_of = None
    train_idx, val_idx = split_per_class(targets, lambda n: min(val_instances, n - 1))
    process = Shard.from_torchrun()
    rank_local = tar_of is not None and not process.is_whole
    if rank_local:
        from fdsl.data.wds import rank_share

        train_idx = rank_share(train_idx, tar_of, process.index, process.count)

    def subset(indices, transform, local=False):
        return RenderedSamples(kind, [stored[i] for i in indices], [targets[i] for i in indices], classes, transform,
                               rank_local=local)

    val = subset(val_idx, val_transform) if val_instances else None
    return subset(train_idx, train_transform, rank_local), val, classes
